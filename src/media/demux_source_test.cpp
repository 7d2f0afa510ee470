#include "media/demux_source.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "media/aac.hpp"
#include "media/h264.hpp"
#include "media/media_test_util.hpp"

namespace meshcast::media {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Clips made at test time with the ffmpeg CLI (tests skip without it): 2 s of 320x240@30 H.264
// (B-frames on, a keyframe every 30 frames) and 48 kHz stereo AAC.
class clips : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("ffmpeg -hide_banner -version >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "no ffmpeg CLI";
    dir_ = fs::temp_directory_path() /
           ("meshcast_demux_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  fs::path make_clip(const std::string& name,
                     const std::string& codecs =
                         "-c:v libx264 -preset veryfast -g 30 -pix_fmt yuv420p "
                         "-c:a aac -ac 2 -b:a 96k") {
    const fs::path out = dir_ / name;
    const std::string cmd =
        "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=30 "
        "-f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 " +
        codecs + " '" + out.string() + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return out;
  }

  static demux_settings unpaced_file(const fs::path& p, bool loop = false) {
    demux_settings d;
    d.url = p.string();
    d.loop = loop;
    d.paced = false;
    return d;
  }

  // Runs a source to its end and checks the normal form of everything it gave.
  static void read_and_check(demux_settings d, test::collector& got) {
    demux_source src(std::move(d));
    src.start(got.callbacks());
    ASSERT_TRUE(got.wait_end());
    src.stop();
    check_normal_form(got);
  }

  static void check_normal_form(const test::collector& got) {
    ASSERT_TRUE(got.config.has_value());
    EXPECT_FALSE(got.frame_before_config);
    ASSERT_TRUE(got.config->video.has_value());
    ASSERT_TRUE(got.config->audio.has_value());
    EXPECT_EQ(got.config->video->width, 320);
    EXPECT_EQ(got.config->video->height, 240);
    EXPECT_NEAR(got.config->video->frame_rate, 30.0, 0.01);
    EXPECT_EQ(h264::nal_type(got.config->video->sps), h264::k_nal_sps);
    EXPECT_EQ(h264::nal_type(got.config->video->pps), h264::k_nal_pps);
    EXPECT_EQ(got.config->audio->sample_rate, 48000);
    EXPECT_EQ(got.config->audio->channels, 2);
    // AAC-LC, 48 kHz, stereo; FFmpeg's encoder may append an SBR sync extension after these.
    const auto& asc = got.config->audio->audio_specific_config;
    ASSERT_GE(asc.size(), 2u);
    EXPECT_EQ(core::bytes(asc.begin(), asc.begin() + 2), aac::make_audio_specific_config(2, 3, 2));

    const auto video = got.of(track_kind::video);
    ASSERT_FALSE(video.empty());
    EXPECT_TRUE(video.front()->keyframe);
    for (std::size_t i = 0; i < video.size(); ++i) {
      const auto& f = *video[i];
      ASSERT_GE(f.data.size(), 4u);
      EXPECT_TRUE(f.data[0] == 0 && f.data[1] == 0 &&
                  (f.data[2] == 1 || (f.data[2] == 0 && f.data[3] == 1)))
          << "video frame " << i << " is not Annex B";
      if (f.keyframe) {
        EXPECT_TRUE(h264::annex_b_has_nal(f.data, h264::k_nal_sps))
            << "IDR " << i << " without SPS";
      }
      EXPECT_GE(f.pts, f.dts);
      if (i > 0) {
        EXPECT_GT(f.dts, video[i - 1]->dts);
      }
    }
    const auto audio = got.of(track_kind::audio);
    for (std::size_t i = 0; i < audio.size(); ++i) {
      EXPECT_FALSE(aac::looks_like_adts(audio[i]->data))
          << "audio frame " << i << " kept its ADTS header";
      if (i > 0) {
        EXPECT_GT(audio[i]->dts, audio[i - 1]->dts);
      }
    }
  }

  static std::size_t keyframes(const test::collector& got) {
    std::size_t n = 0;
    for (const auto* f : got.of(track_kind::video)) n += f->keyframe ? 1 : 0;
    return n;
  }

  fs::path dir_;
};

TEST_F(clips, mp4_file_gives_annexb_h264_with_parameter_sets_and_raw_aac) {
  test::collector got;
  read_and_check(unpaced_file(make_clip("clip.mp4")), got);
  EXPECT_TRUE(*got.end) << got.end->error().message;
  EXPECT_EQ(got.count(track_kind::video), 60u);
  EXPECT_EQ(keyframes(got), 2u);
  EXPECT_NEAR(static_cast<double>(got.count(track_kind::audio)), 94.0, 2.0);
}

TEST_F(clips, ts_file_strips_adts_and_builds_the_audio_specific_config) {
  test::collector got;
  read_and_check(unpaced_file(make_clip("clip.ts")), got);
  EXPECT_TRUE(*got.end) << got.end->error().message;
  EXPECT_EQ(got.count(track_kind::video), 60u);
  EXPECT_EQ(keyframes(got), 2u);
  EXPECT_NEAR(static_cast<double>(got.count(track_kind::audio)), 94.0, 2.0);
}

TEST_F(clips, flv_file_is_read_like_mp4) {
  test::collector got;
  read_and_check(unpaced_file(make_clip("clip.flv")), got);
  EXPECT_TRUE(*got.end) << got.end->error().message;
  EXPECT_EQ(got.count(track_kind::video), 60u);
  EXPECT_NEAR(static_cast<double>(got.count(track_kind::audio)), 94.0, 2.0);
}

TEST_F(clips, looped_file_continues_timestamps_across_the_loop) {
  test::collector got;
  demux_source src(unpaced_file(make_clip("clip.ts"), true));
  src.start(got.callbacks());
  ASSERT_TRUE(got.wait_frames(150, track_kind::video));  // two and a half passes
  src.stop();
  std::lock_guard lock(got.m);
  EXPECT_FALSE(got.end.has_value());
  check_normal_form(got);
  const auto video = got.of(track_kind::video);
  for (std::size_t i = 1; i < video.size(); ++i) {
    EXPECT_LE(video[i]->dts - video[i - 1]->dts, 6 * 3000) << "gap at video frame " << i;
  }
  EXPECT_GE(video[149]->dts, 149 * 3000);
  EXPECT_TRUE(video[60]->keyframe);  // the second pass starts with the file's first keyframe
}

TEST_F(clips, paced_file_is_delivered_in_real_time) {
  test::collector got;
  auto d = unpaced_file(make_clip("clip.mp4"));
  d.paced = true;
  demux_source src(std::move(d));
  const auto t0 = std::chrono::steady_clock::now();
  src.start(got.callbacks());
  ASSERT_TRUE(got.wait_frames(16, track_kind::video));  // frame 15 is due 0.5 s after frame 0
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  src.stop();
  EXPECT_GE(elapsed, 450ms);
}

TEST_F(clips, unsupported_codec_is_named_in_the_error) {
  test::collector got;
  demux_source src(unpaced_file(make_clip("clip.mkv", "-c:v mpeg4 -c:a aac")));
  src.start(got.callbacks());
  ASSERT_TRUE(got.wait_end());
  ASSERT_FALSE(*got.end);
  EXPECT_NE(got.end->error().message.find("unsupported video codec mpeg4"), std::string::npos)
      << got.end->error().message;
  EXPECT_FALSE(got.config.has_value());
}

TEST_F(clips, video_only_file_is_fine) {
  test::collector got;
  demux_source src(unpaced_file(
      make_clip("video.mp4", "-map 0:v -c:v libx264 -preset veryfast -g 30 -pix_fmt yuv420p")));
  src.start(got.callbacks());
  ASSERT_TRUE(got.wait_end());
  EXPECT_TRUE(*got.end) << got.end->error().message;
  ASSERT_TRUE(got.config.has_value());
  EXPECT_TRUE(got.config->video.has_value());
  EXPECT_FALSE(got.config->audio.has_value());
  EXPECT_EQ(got.count(track_kind::video), 60u);
}

// A one-connection TCP server on 127.0.0.1:<ephemeral> that sends `payload`, then closes (or,
// with `hold`, keeps the connection open and silent until destroyed).
class loopback_server {
 public:
  loopback_server(core::bytes payload, bool hold) : payload_(std::move(payload)), hold_(hold) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~loopback_server() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }
  [[nodiscard]] std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1) return;  // bounded: the client connects at once
    const int c = ::accept(listener_, nullptr, nullptr);
    if (c < 0) return;
    std::size_t off = 0;
    while (off < payload_.size() && !done_) {
      const auto n = ::send(c, payload_.data() + off, payload_.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    for (int i = 0; hold_ && !done_ && i < 3000; ++i) std::this_thread::sleep_for(10ms);  // ≤ 30 s
    ::close(c);
  }

  core::bytes payload_;
  bool hold_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

core::bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(clips, tcp_stream_is_read_until_the_peer_closes) {
  loopback_server server(read_file(make_clip("clip.ts")), false);
  auto src = make_source(server.url());
  ASSERT_TRUE(src) << src.error().message;
  test::collector got;
  (*src)->start(got.callbacks());
  ASSERT_TRUE(got.wait_end());
  (*src)->stop();
  check_normal_form(got);
  EXPECT_EQ(got.count(track_kind::video), 60u);
  ASSERT_FALSE(*got.end);  // a live stream that ends is an error: the app decides to retry
  EXPECT_NE(got.end->error().message.find("ended"), std::string::npos) << got.end->error().message;
}

TEST_F(clips, stop_interrupts_a_blocked_read) {
  loopback_server server({}, true);  // connects, then never sends a byte
  auto src = make_source(server.url());
  ASSERT_TRUE(src);
  test::collector got;
  (*src)->start(got.callbacks());
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  (*src)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // the read timeout is 10 s
  std::lock_guard lock(got.m);
  EXPECT_FALSE(got.end.has_value());
  EXPECT_TRUE(got.frames.empty());
}

TEST_F(clips, refused_connection_is_reported_through_on_end) {
  // A port that was bound and released at once: nothing listens there.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(s);
  auto src = make_source("tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  ASSERT_TRUE(src);
  test::collector got;
  (*src)->start(got.callbacks());
  ASSERT_TRUE(got.wait_end());
  ASSERT_FALSE(*got.end);
  EXPECT_NE(got.end->error().message.find("open"), std::string::npos) << got.end->error().message;
}

}  // namespace
}  // namespace meshcast::media
