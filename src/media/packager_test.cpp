#include "media/packager.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "media/media_test_util.hpp"
#include "media/ts_muxer.hpp"

namespace meshcast::media {
namespace {

using namespace std::chrono_literals;
using chunk::chunk_ptr;
using test::fake_audio;
using test::fake_config;
using test::fake_video;

// A packager whose chunks land in `chunks`; `now` advances 1 ms per pushed frame.
struct packaging {
  explicit packaging(core::micros chunk_duration = 100ms, core::micros audio_segment = 2s)
      : p({chunk_duration, audio_segment},
          [this](chunk_ptr c) { chunks.push_back(std::move(c)); }) {}

  void begin(const media_config& c = fake_config()) { ASSERT_TRUE(p.begin(c)); }
  void push(const frame& f) {
    auto r = p.push(f, now);
    ASSERT_TRUE(r) << r.error().message;
    now += 1ms;
  }
  void push_all(const std::vector<frame>& frames) {
    for (const auto& f : frames) push(f);
  }

  std::vector<chunk_ptr> chunks;
  core::time_point now = core::from_us(1'700'000'000'000'000);
  packager p;
};

std::vector<int> pids(const chunk_ptr& c) {
  std::vector<int> out;
  for (const auto& t : test::parse_ts(c->payload())) out.push_back(t.pid);
  return out;
}

TEST(packager, keyframe_starts_a_segment_with_pat_and_pmt) {
  packaging pk;
  pk.begin();
  pk.push_all(test::av_frames(3.0, 30));
  pk.p.end();
  int segment_starts = 0;
  for (const auto& c : pk.chunks) {
    ASSERT_EQ(c->size() % chunk::k_ts_packet_bytes, 0u);
    if (!c->header().segment_start()) continue;
    EXPECT_TRUE(c->header().keyframe());
    EXPECT_EQ(c->header().segment.value(), static_cast<std::uint64_t>(segment_starts));
    ++segment_starts;
    const auto ts = test::parse_ts(c->payload());
    ASSERT_GE(ts.size(), 3u);
    EXPECT_EQ(ts[0].pid, k_pat_pid);
    EXPECT_EQ(ts[1].pid, k_pmt_pid);
    EXPECT_EQ(ts[2].pid, k_video_pid);  // the keyframe's PES comes next
    EXPECT_TRUE(ts[2].payload_start);
    EXPECT_TRUE(ts[2].random_access);
    // The PAT names program 1 on the PMT PID.
    const std::uint8_t* pat = c->payload().data() + 5;  // after header and pointer field
    EXPECT_EQ(pat[0], 0x00);                            // table id
    EXPECT_EQ(((pat[10] & 0x1f) << 8) | pat[11], k_pmt_pid);
  }
  EXPECT_EQ(segment_starts, 3);
}

TEST(packager, chunk_never_crosses_a_keyframe) {
  packaging pk(300ms);  // long chunks, GOP of 10 frames (333 ms): keyframes cut most chunks
  pk.begin();
  pk.push_all(test::av_frames(3.0, 10));
  pk.p.end();
  ASSERT_FALSE(pk.chunks.empty());
  for (const auto& c : pk.chunks) {
    const auto ts = test::parse_ts(c->payload());
    bool first_pes = true;
    for (const auto& t : ts) {
      if (!t.payload_start || (t.pid != k_video_pid && t.pid != k_audio_pid)) continue;
      if (t.random_access && t.pid == k_video_pid) {
        EXPECT_TRUE(first_pes) << "keyframe inside chunk " << c->seq();
        EXPECT_TRUE(c->header().keyframe());
      }
      first_pes = false;
    }
  }
}

TEST(packager, chunk_closes_once_it_covers_the_chunk_duration) {
  packaging pk(100ms);
  pk.begin(fake_config(true, false));
  pk.push(fake_video(0, true));
  pk.push(fake_video(1, false));
  EXPECT_TRUE(pk.chunks.empty());
  pk.push(fake_video(2, false));  // frames 0..2 cover 3 x 33.3 ms = 100 ms
  ASSERT_EQ(pk.chunks.size(), 1u);
  EXPECT_EQ(pk.chunks[0]->header().duration, 100ms);
  EXPECT_EQ(pk.chunks[0]->header().pts_90k, 0);
  pk.push(fake_video(3, false));
  pk.push(fake_video(4, false));
  EXPECT_EQ(pk.chunks.size(), 1u);
  pk.push(fake_video(5, false));
  ASSERT_EQ(pk.chunks.size(), 2u);
  EXPECT_EQ(pk.chunks[1]->header().pts_90k, 3 * test::k_video_step);
  EXPECT_FALSE(pk.chunks[1]->header().segment_start());
  EXPECT_EQ(pk.chunks[1]->header().segment.value(), 0u);
}

TEST(packager, audio_behind_video_does_not_inflate_chunk_durations) {
  // Publishers interleave audio some tens of ms after the video of the same time; chunk time is
  // measured on the video track, so a segment's chunks add up to its keyframe interval.
  auto frames = test::av_frames(4.0, 60);
  std::stable_sort(frames.begin(), frames.end(), [](const frame& a, const frame& b) {
    auto arrival = [](const frame& f) { return f.dts + (f.kind == track_kind::audio ? 3600 : 0); };
    return arrival(a) < arrival(b);
  });
  packaging pk(100ms);
  pk.begin();
  pk.push_all(frames);
  core::micros segment0{0};
  int chunks0 = 0;
  for (const auto& c : pk.chunks) {
    if (c->header().segment.value() != 0) continue;
    segment0 += c->header().duration;
    if (c->header().duration == 0us) continue;  // trailing audio just before the next keyframe
    EXPECT_EQ(c->header().duration, 100ms) << "chunk " << c->seq();
    ++chunks0;
  }
  EXPECT_EQ(chunks0, 20);
  EXPECT_EQ(segment0, 2s);
}

TEST(packager, chunk_closed_by_a_keyframe_lasts_until_that_keyframe) {
  packaging pk(1s);
  pk.begin(fake_config(true, false));
  const auto t0 = pk.now;
  for (int i = 0; i < 5; ++i) pk.push(fake_video(i, i == 0));
  pk.push(fake_video(7, true));  // a gap of two frames, then a keyframe
  ASSERT_EQ(pk.chunks.size(), 1u);
  const auto& h = pk.chunks[0]->header();
  EXPECT_EQ(h.duration, core::micros{7 * 33'333 + 2});  // next dts - first dts, rounded to 1 µs
  EXPECT_EQ(h.source_time, t0);
  EXPECT_EQ(h.seq.value(), 0u);
  EXPECT_TRUE(h.keyframe() && h.segment_start());
}

TEST(packager, single_frame_chunks_when_duration_is_tiny) {
  packaging pk(1us);
  pk.begin();
  const auto frames = test::av_frames(1.0, 30);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    pk.push(frames[i]);
    ASSERT_EQ(pk.chunks.size(), i + 1) << "frame " << i << " is not out after its push";
    EXPECT_EQ(pk.chunks[i]->header().pts_90k, frames[i].pts);
  }
}

TEST(packager, each_frame_is_out_before_the_next_is_pushed) {
  // Tiny audio frames (40 bytes) are what the mpegts muxer would otherwise queue; with one frame
  // per chunk, each chunk must hold exactly its own frame's PES.
  packaging pk(1us);
  pk.begin();
  pk.push(fake_video(0, true));
  for (int i = 0; i < 20; ++i) {
    pk.push(fake_audio(i, 40));
    const auto ts = test::parse_ts(pk.chunks.back()->payload());
    int pes = 0;
    for (const auto& t : ts) {
      if (t.pid != k_audio_pid || !t.payload_start) continue;
      ++pes;
      ASSERT_TRUE(t.pts.has_value());
      EXPECT_EQ(*t.pts, i * test::k_audio_step);
    }
    EXPECT_EQ(pes, 1) << "audio frame " << i;
  }
}

TEST(packager, frames_before_the_first_keyframe_are_dropped) {
  packaging pk(1us);
  pk.begin();
  pk.push(fake_audio(0));
  pk.push(fake_video(1, false));
  pk.push(fake_audio(1));
  EXPECT_TRUE(pk.chunks.empty());
  pk.push(fake_video(2, true));
  ASSERT_EQ(pk.chunks.size(), 1u);
  EXPECT_TRUE(pk.chunks[0]->header().segment_start());
  EXPECT_EQ(pk.chunks[0]->header().pts_90k, 2 * test::k_video_step);
}

TEST(packager, audio_only_stream_starts_a_segment_every_audio_segment) {
  packaging pk(100ms, 1s);
  pk.begin(fake_config(false, true));
  pk.push_all(test::av_frames(3.05, 30, false, true));
  pk.p.end();
  std::vector<std::int64_t> starts;
  for (const auto& c : pk.chunks) {
    if (!c->header().segment_start()) continue;
    EXPECT_FALSE(c->header().keyframe());
    const auto p = pids(c);
    ASSERT_GE(p.size(), 3u);
    EXPECT_EQ(p[0], k_pat_pid);
    EXPECT_EQ(p[1], k_pmt_pid);
    EXPECT_EQ(p[2], k_audio_pid);
    starts.push_back(c->header().pts_90k);
  }
  // 1 s = 46.875 AAC frames: segments start at the first frame at or past each second.
  EXPECT_EQ(starts, (std::vector<std::int64_t>{0, 47 * 1920, 94 * 1920, 141 * 1920}));
}

TEST(packager, second_session_is_flagged_discontinuity_and_numbering_continues) {
  packaging pk;
  pk.begin();
  pk.push_all(test::av_frames(1.0, 15));
  pk.p.end();
  const auto first = pk.chunks.size();
  ASSERT_GT(first, 0u);
  EXPECT_EQ(pk.chunks.back()->header().discontinuity, 0u);
  for (const auto& c : pk.chunks) EXPECT_FALSE(c->header().discontinuity_start());

  pk.begin();
  pk.push_all(test::av_frames(1.0, 15));  // timestamps start again at 0
  pk.p.end();
  ASSERT_GT(pk.chunks.size(), first);
  const auto& h = pk.chunks[first]->header();
  EXPECT_TRUE(h.discontinuity_start());
  EXPECT_TRUE(h.segment_start());
  EXPECT_EQ(h.discontinuity, 1u);
  EXPECT_EQ(h.seq.value(), first);
  EXPECT_EQ(h.segment, pk.chunks[first - 1]->header().segment + 1);
  for (std::size_t i = first + 1; i < pk.chunks.size(); ++i) {
    EXPECT_FALSE(pk.chunks[i]->header().discontinuity_start());
    EXPECT_EQ(pk.chunks[i]->header().discontinuity, 1u);
  }
  for (std::size_t i = 0; i < pk.chunks.size(); ++i) EXPECT_EQ(pk.chunks[i]->seq().value(), i);
  // A fresh muxer: continuity counters restart, so the PAT's counter is back at 0.
  EXPECT_EQ(pk.chunks[first]->payload()[3] & 0x0f, 0);
}

TEST(packager, same_frames_give_identical_bytes) {
  const auto frames = test::av_frames(2.0, 30);
  packaging a, b;
  b.now += 12345ms;  // arrival times differ; bytes must not
  a.begin();
  b.begin();
  a.push_all(frames);
  b.push_all(frames);
  a.p.end();
  b.p.end();
  ASSERT_EQ(a.chunks.size(), b.chunks.size());
  for (std::size_t i = 0; i < a.chunks.size(); ++i) {
    EXPECT_TRUE(std::ranges::equal(a.chunks[i]->payload(), b.chunks[i]->payload()))
        << "chunk " << i;
  }
}

TEST(packager, demuxed_chunks_give_back_every_frame_with_its_timestamps) {
  packaging pk;
  pk.begin();
  auto frames = test::av_frames(2.0, 30);
  frames.erase(frames.begin());  // the keyframe stays first in video order
  frames.insert(frames.begin(), fake_video(0, true));
  pk.push_all(frames);
  pk.p.end();
  const auto got = test::demux_ts(test::concat(pk.chunks));
  ASSERT_EQ(got.size(), frames.size());
  std::vector<std::int64_t> want_v, want_a, got_v, got_a;
  for (const auto& f : frames) (f.kind == track_kind::video ? want_v : want_a).push_back(f.pts);
  for (const auto& d : got) (d.kind == track_kind::video ? got_v : got_a).push_back(d.pts);
  EXPECT_EQ(got_v, want_v);
  EXPECT_EQ(got_a, want_a);
  EXPECT_EQ(got_v.size(), 60u);
  EXPECT_EQ(got_a.size(), 94u);
}

TEST(packager, end_emits_the_open_chunk) {
  packaging pk(1s);
  pk.begin();
  pk.push(fake_video(0, true));
  pk.push(fake_audio(0));
  EXPECT_TRUE(pk.chunks.empty());
  pk.p.end();
  EXPECT_FALSE(pk.p.active());
  ASSERT_EQ(pk.chunks.size(), 1u);
  EXPECT_EQ(pk.chunks[0]->header().duration, 33'333us);  // one video frame estimate
}

TEST(packager, non_monotonic_dts_is_rejected_and_the_session_goes_on) {
  packaging pk(1us);
  pk.begin(fake_config(true, false));
  pk.push(fake_video(0, true));
  pk.push(fake_video(1, false));
  auto r = pk.p.push(fake_video(1, false), pk.now);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("video dts 3000 does not follow 3000"), std::string::npos)
      << r.error().message;
  pk.push(fake_video(2, false));
  EXPECT_EQ(pk.chunks.size(), 3u);
  EXPECT_FALSE(pk.chunks.back()->header().discontinuity_start());
}

TEST(packager, clock_restart_within_a_session_becomes_a_discontinuity) {
  packaging pk(1us);
  pk.begin(fake_config(true, false));
  for (int i = 100; i < 160; ++i) pk.push(fake_video(i, i == 100));
  const auto before = pk.chunks.size();
  pk.push(fake_video(0, true));  // 2 s back: the publisher's clock restarted
  ASSERT_EQ(pk.chunks.size(), before + 1);
  EXPECT_TRUE(pk.chunks.back()->header().discontinuity_start());
  EXPECT_TRUE(pk.chunks.back()->header().segment_start());
  EXPECT_TRUE(pk.p.active());
}

TEST(packager, unusable_config_is_refused_and_stays_idle) {
  packaging pk;
  auto c = fake_config();
  c.video->sps.clear();
  auto r = pk.p.begin(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("SPS"), std::string::npos);
  EXPECT_FALSE(pk.p.active());
  EXPECT_FALSE(pk.p.push(fake_video(0, true), pk.now));
  EXPECT_FALSE(pk.p.begin(media_config{}));
}

TEST(packager, frame_for_a_missing_track_is_an_error) {
  packaging pk;
  pk.begin(fake_config(true, false));
  pk.push(fake_video(0, true));
  EXPECT_FALSE(pk.p.push(fake_audio(0), pk.now));
}

}  // namespace
}  // namespace meshcast::media
