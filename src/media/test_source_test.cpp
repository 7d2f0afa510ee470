#include "media/test_source.hpp"

#include <gtest/gtest.h>

#include "media/aac.hpp"
#include "media/h264.hpp"
#include "media/media_test_util.hpp"
#include "media/packager.hpp"

namespace meshcast::media {
namespace {

using namespace std::chrono_literals;

test_source_settings small(std::int64_t frames) {
  test_source_settings s;
  s.width = 320;
  s.height = 240;
  s.fps = 30;
  s.kbps = 400;
  s.paced = false;
  s.max_frames = frames;
  return s;
}

// One second of the test source, unpaced.
struct one_second : ::testing::Test {
  static void SetUpTestSuite() {
    got = new test::collector;
    test_source src(small(30));
    src.start(got->callbacks());
    ASSERT_TRUE(got->wait_end());
    src.stop();
  }
  static void TearDownTestSuite() {
    delete got;
    got = nullptr;
  }
  static test::collector* got;
};
test::collector* one_second::got = nullptr;

TEST_F(one_second, test_source_starts_with_a_keyframe_carrying_sps_and_pps) {
  ASSERT_TRUE(got->end.has_value());
  EXPECT_TRUE(*got->end) << got->end->error().message;
  ASSERT_TRUE(got->config.has_value());
  EXPECT_FALSE(got->frame_before_config);
  ASSERT_TRUE(got->config->video.has_value());
  const auto& v = *got->config->video;
  EXPECT_EQ(v.width, 320);
  EXPECT_EQ(v.height, 240);
  EXPECT_EQ(v.frame_rate, 30.0);
  EXPECT_EQ(h264::nal_type(v.sps), h264::k_nal_sps);
  EXPECT_EQ(h264::nal_type(v.pps), h264::k_nal_pps);
  ASSERT_FALSE(got->frames.empty());
  const frame& first = got->frames.front();
  EXPECT_EQ(first.kind, track_kind::video);
  EXPECT_TRUE(first.keyframe);
  EXPECT_TRUE(h264::annex_b_has_nal(first.data, h264::k_nal_sps));
  EXPECT_TRUE(h264::annex_b_has_nal(first.data, h264::k_nal_pps));
  EXPECT_TRUE(h264::annex_b_has_nal(first.data, h264::k_nal_idr));
}

TEST_F(one_second, test_source_gives_audio_and_video_with_rising_timestamps) {
  ASSERT_TRUE(got->config.has_value() && got->config->audio.has_value());
  EXPECT_EQ(got->config->audio->sample_rate, 48000);
  EXPECT_EQ(got->config->audio->channels, 2);
  EXPECT_EQ(got->config->audio->object_type, 2);
  const auto video = got->of(track_kind::video);
  const auto audio = got->of(track_kind::audio);
  EXPECT_EQ(video.size(), 30u);
  EXPECT_GE(audio.size(), 44u);  // 1 s = 46.9 AAC frames, less the encoder's priming delay
  for (std::size_t i = 0; i < video.size(); ++i) {
    EXPECT_EQ(video[i]->dts, static_cast<std::int64_t>(i) * 3000);
    EXPECT_EQ(video[i]->pts, video[i]->dts);  // no B-frames
    EXPECT_EQ(video[i]->keyframe, i == 0);    // GOP is 2 s
  }
  for (std::size_t i = 0; i < audio.size(); ++i) {
    EXPECT_EQ(audio[i]->dts, static_cast<std::int64_t>(i) * 1920);
    EXPECT_FALSE(aac::looks_like_adts(audio[i]->data));
  }
}

TEST_F(one_second, test_source_frames_survive_packaging_and_demuxing) {
  std::vector<chunk::chunk_ptr> chunks;
  packager p({}, [&](chunk::chunk_ptr c) { chunks.push_back(std::move(c)); });
  ASSERT_TRUE(p.begin(*got->config));
  auto now = core::from_us(0);
  for (const auto& f : got->frames) {
    auto r = p.push(f, now);
    ASSERT_TRUE(r) << r.error().message;
  }
  p.end();
  const auto back = test::demux_ts(test::concat(chunks));
  std::size_t v = 0, a = 0;
  for (const auto& d : back) (d.kind == track_kind::video ? v : a)++;
  EXPECT_EQ(v, got->count(track_kind::video));
  EXPECT_EQ(a, got->count(track_kind::audio));
}

TEST(test_source, keyframe_every_two_seconds) {
  test::collector got;
  test_source src(small(130));
  src.start(got.callbacks());
  ASSERT_TRUE(got.wait_end());
  std::vector<std::int64_t> keys;
  for (const auto* f : got.of(track_kind::video)) {
    if (f->keyframe) {
      keys.push_back(f->dts);
      EXPECT_TRUE(h264::annex_b_has_nal(f->data, h264::k_nal_sps)) << "IDR at " << f->dts;
    }
  }
  EXPECT_EQ(keys, (std::vector<std::int64_t>{0, 180'000, 360'000}));
}

TEST(test_source, paced_source_stops_promptly_and_calls_no_end) {
  test::collector got;
  auto s = small(0);
  s.paced = true;
  test_source src(s);
  src.start(got.callbacks());
  ASSERT_TRUE(got.wait_frames(3, track_kind::video));
  src.stop();
  EXPECT_FALSE(src.running());
  std::lock_guard lock(got.m);
  EXPECT_FALSE(got.end.has_value());
  EXPECT_LT(got.count(track_kind::video), 60u);  // paced: nowhere near 2 s of frames yet
}

TEST(test_source, spec_defaults_and_errors) {
  auto d = parse_test_spec("test");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->width, 1280);
  EXPECT_EQ(d->height, 720);
  EXPECT_EQ(d->fps, 30);
  EXPECT_EQ(d->kbps, 2500);
  auto s = parse_test_spec("test:640x360@25:800");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->width, 640);
  EXPECT_EQ(s->height, 360);
  EXPECT_EQ(s->fps, 25);
  EXPECT_EQ(s->kbps, 800);
  auto n = parse_test_spec("test:640x360@25");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->kbps, 2500);
  EXPECT_FALSE(parse_test_spec("test:640x360"));
  EXPECT_FALSE(parse_test_spec("test:641x360@25"));
  EXPECT_FALSE(parse_test_spec("test:640x360@0"));
  EXPECT_FALSE(parse_test_spec("test:640x360@25:x"));
  auto e = parse_test_spec("test:99999x360@25");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("99999x360"), std::string::npos) << e.error().message;
}

TEST(source, make_source_parses_every_kind_of_spec) {
  auto t = make_source("test:640x360@25:800");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ((*t)->describe(), "test 640x360@25 800 kb/s");
  auto tcp = make_source("tcp://127.0.0.1:9");
  ASSERT_TRUE(tcp);
  EXPECT_EQ((*tcp)->describe(), "tcp://127.0.0.1:9");
  EXPECT_TRUE(make_source("http://127.0.0.1:9/live.ts"));
  auto missing = make_source("file:/nonexistent/clip.mp4:loop");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/clip.mp4"), std::string::npos);
  EXPECT_FALSE(make_source("tcp://127.0.0.1"));
  EXPECT_FALSE(make_source("file:"));
  auto bogus = make_source("rtsp://camera");
  ASSERT_FALSE(bogus);
  EXPECT_NE(bogus.error().message.find("expected test"), std::string::npos);
}

}  // namespace
}  // namespace meshcast::media
