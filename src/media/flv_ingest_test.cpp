#include "media/flv_ingest.hpp"

#include <gtest/gtest.h>

#include "media/aac.hpp"
#include "media/testing/h264_fixtures.hpp"

namespace meshcast::media {
namespace {

using testing::k_pps;
using testing::k_sps_1920x1080;
using testing::k_sps_640x360;
const core::bytes k_idr{0x65, 0x88, 0x84, 0x00};
const core::bytes k_slice{0x41, 0x9a, 0x02};
const core::bytes k_aud{0x09, 0xf0};

// Feeds one publishing session's tags the way FFmpeg sends them and collects what comes out.
class ingest : public ::testing::Test {
 protected:
  void metadata(bool video, bool audio) { in.on_metadata({video, audio, 640, 360, 30}); }
  void video_header(const core::bytes& sps = k_sps_640x360) {
    ok(in.on_video(0, make_avc_sequence_header_tag(sps, k_pps)));
  }
  void audio_header(int rate = 44100) {
    ok(in.on_audio(0, make_aac_sequence_header_tag(aac::make_lc_audio_specific_config(rate, 2))));
  }
  void keyframe(std::uint32_t ts, std::int32_t cts = 0) {
    ok(in.on_video(ts, make_avc_nalu_tag(true, cts, {k_idr})));
  }
  void inter(std::uint32_t ts, std::int32_t cts = 0) {
    ok(in.on_video(ts, make_avc_nalu_tag(false, cts, {k_slice})));
  }
  void aac(std::uint32_t ts) { ok(in.on_audio(ts, make_aac_raw_tag(core::bytes{0x21, 0x10, 0x04}))); }
  void ok(const core::result<void>& r) { ASSERT_TRUE(r) << r.error().message; }

  void drain() {
    while (auto e = in.poll()) out.push_back(std::move(*e));
  }
  std::vector<flv_config_event> configs() {
    drain();
    std::vector<flv_config_event> c;
    for (const auto& e : out) {
      if (const auto* x = std::get_if<flv_config_event>(&e)) c.push_back(*x);
    }
    return c;
  }
  std::vector<frame> frames() {
    drain();
    std::vector<frame> f;
    for (const auto& e : out) {
      if (const auto* x = std::get_if<frame>(&e)) f.push_back(*x);
    }
    return f;
  }

  flv_ingest in;
  std::vector<flv_ingest_event> out;
};

core::bytes annex_b(std::initializer_list<core::bytes> nals) {
  core::bytes out;
  for (const auto& n : nals) {
    core::put_be32(out, 1);
    core::append(out, n);
  }
  return out;
}

TEST_F(ingest, frames_are_held_until_both_announced_configs_are_known) {
  metadata(true, true);
  video_header();
  keyframe(0);
  EXPECT_TRUE(configs().empty());
  EXPECT_FALSE(in.started());
  audio_header();
  const auto c = configs();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].changed);
  ASSERT_TRUE(c[0].config.video && c[0].config.audio);
  EXPECT_EQ(c[0].config.video->width, 640);
  EXPECT_EQ(c[0].config.video->height, 360);
  EXPECT_EQ(c[0].config.video->frame_rate, 30);
  EXPECT_EQ(c[0].config.audio->sample_rate, 44100);
  EXPECT_EQ(c[0].config.audio->channels, 2);
  EXPECT_EQ(frames().size(), 1u);
  ASSERT_TRUE(std::holds_alternative<flv_config_event>(out[0]));  // config first, then frames
}

TEST_F(ingest, keyframe_without_in_band_parameter_sets_gets_sps_and_pps_in_front) {
  metadata(true, false);
  video_header();
  keyframe(0);
  inter(33);
  const auto f = frames();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_TRUE(f[0].keyframe);
  EXPECT_EQ(f[0].data, annex_b({k_sps_640x360, k_pps, k_idr}));
  EXPECT_FALSE(f[1].keyframe);
  EXPECT_EQ(f[1].data, annex_b({k_slice}));
}

TEST_F(ingest, parameter_sets_go_after_an_access_unit_delimiter) {
  metadata(true, false);
  video_header();
  ok(in.on_video(0, make_avc_nalu_tag(true, 0, {k_aud, k_idr})));
  EXPECT_EQ(frames().at(0).data, annex_b({k_aud, k_sps_640x360, k_pps, k_idr}));
}

TEST_F(ingest, keyframe_carrying_its_own_sps_is_left_alone) {
  metadata(true, false);
  video_header();
  ok(in.on_video(0, make_avc_nalu_tag(true, 0, {k_sps_640x360, k_pps, k_idr})));
  EXPECT_EQ(frames().at(0).data, annex_b({k_sps_640x360, k_pps, k_idr}));
}

TEST_F(ingest, idr_flagged_inter_in_flv_is_still_a_keyframe) {
  metadata(true, false);
  video_header();
  ok(in.on_video(0, make_avc_nalu_tag(false, 0, {k_idr})));
  EXPECT_TRUE(frames().at(0).keyframe);
}

TEST_F(ingest, timestamps_become_90khz_and_pts_adds_the_composition_time) {
  metadata(true, true);
  video_header();
  audio_header();
  keyframe(1000, 66);
  aac(1010);
  const auto f = frames();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].dts, 90'000);
  EXPECT_EQ(f[0].pts, 90'000 + 66 * 90);
  EXPECT_EQ(f[1].kind, track_kind::audio);
  EXPECT_EQ(f[1].pts, 1010 * 90);
  EXPECT_EQ(f[1].dts, 1010 * 90);
  EXPECT_EQ(f[1].data, (core::bytes{0x21, 0x10, 0x04}));
}

TEST_F(ingest, rtmp_timestamp_wrap_keeps_counting_up) {
  metadata(true, false);
  video_header();
  keyframe(0xffffffe0u);
  inter(0x10);
  inter(0x08);  // a little back in time stays a little back, not 2^32 ahead
  const auto f = frames();
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[1].dts - f[0].dts, 0x30 * 90);
  EXPECT_EQ(f[2].dts - f[1].dts, -8 * 90);
}

TEST_F(ingest, video_only_announcement_starts_without_waiting_for_audio) {
  metadata(true, false);
  video_header();
  ASSERT_EQ(configs().size(), 1u);
  EXPECT_FALSE(configs()[0].config.audio);
}

TEST_F(ingest, announced_track_that_never_comes_stops_holding_after_one_second) {
  metadata(true, true);
  video_header();
  for (std::uint32_t ts = 0; ts < 1000; ts += 100) inter(ts);
  EXPECT_FALSE(in.started());
  inter(1000);
  EXPECT_TRUE(in.started());
  const auto c = configs();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].config.audio);
  EXPECT_EQ(frames().size(), 11u);
}

TEST_F(ingest, without_metadata_both_tracks_are_awaited) {
  audio_header();
  aac(0);
  EXPECT_FALSE(in.started());
  video_header();
  EXPECT_TRUE(in.started());
}

TEST_F(ingest, holding_is_bounded_by_frame_count) {
  in = flv_ingest(flv_ingest_settings{.max_hold_ms = 1000, .max_hold_frames = 5,
                                      .max_hold_bytes = 1 << 20});
  metadata(true, true);
  audio_header();
  for (int i = 0; i < 4; ++i) aac(0);
  EXPECT_FALSE(in.started());
  aac(0);
  EXPECT_TRUE(in.started());
}

TEST_F(ingest, new_sequence_header_with_a_different_sps_reports_a_config_change) {
  metadata(true, false);
  video_header(k_sps_640x360);
  keyframe(0);
  video_header(k_sps_640x360);  // resent unchanged: nothing to report
  EXPECT_EQ(configs().size(), 1u);
  video_header(k_sps_1920x1080);
  keyframe(40);
  const auto c = configs();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_TRUE(c[1].changed);
  EXPECT_EQ(c[1].config.video->width, 1920);
  EXPECT_EQ(c[1].config.video->height, 1080);
  EXPECT_EQ(frames().back().data, annex_b({k_sps_1920x1080, k_pps, k_idr}));
}

TEST_F(ingest, track_appearing_after_the_start_is_a_config_change) {
  metadata(true, false);
  video_header();
  audio_header();
  const auto c = configs();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_TRUE(c[1].changed);
  EXPECT_TRUE(c[1].config.audio);
}

TEST_F(ingest, frames_before_their_sequence_header_are_dropped) {
  metadata(true, true);
  keyframe(0);
  aac(0);
  EXPECT_EQ(in.dropped_frames(), 2u);
  video_header();
  audio_header();
  EXPECT_TRUE(frames().empty());
}

TEST_F(ingest, unsupported_codec_is_fatal_and_says_so) {
  const auto r = in.on_audio(0, core::bytes{0x2f, 0xff, 0xfb});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, static_cast<int>(flv_errc::unsupported_codec));
  EXPECT_EQ(r.error().message, "unsupported audio codec id 2 (MP3): meshcast ingests H.264 and AAC");
}

TEST_F(ingest, malformed_tag_is_reported_and_the_session_goes_on) {
  metadata(true, false);
  video_header();
  const auto r = in.on_video(0, core::bytes{0x17, 1, 0, 0, 0, 0, 0, 0, 50, 0x65});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, static_cast<int>(flv_errc::malformed_tag));
  keyframe(40);
  EXPECT_EQ(frames().size(), 1u);
}

TEST_F(ingest, flush_starts_with_what_is_known) {
  metadata(true, true);
  video_header();
  keyframe(0);
  in.flush();
  EXPECT_EQ(configs().size(), 1u);
  EXPECT_EQ(frames().size(), 1u);
}

}  // namespace
}  // namespace meshcast::media
