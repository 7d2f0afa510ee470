// test_source: the built-in test stream — a moving pattern with a wall clock (UTC HH:MM:SS.mmm)
// and a frame counter drawn in a hand-made 7-segment font, encoded as H.264 (libx264, zerolatency,
// no B-frames, a keyframe every 2 s carrying SPS/PPS) plus AAC (48 kHz stereo, a 440 Hz tone with
// a 1 kHz beep at the start of every second). Runs on its own thread (see source.hpp), paced in
// real time; timestamps come from the frame and sample counters, so they are exact.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "media/source.hpp"

namespace meshcast::media {

struct test_source_settings {
  int width = 1280;
  int height = 720;
  int fps = 30;
  int kbps = 2500;
  /// Keyframe interval (a GOP), ms; at least one frame.
  int gop_ms = 2000;
  /// Real-time pacing. Off in tests: frames come as fast as the encoder makes them.
  bool paced = true;
  /// Paced: wall seconds per second of media (a lab dilating time by 3 takes 3 s per second).
  double pace = 1;
  /// Video frames to produce before ending with success; 0 = until stopped.
  std::int64_t max_frames = 0;
  /// x264 preset. `meshcast lab` takes "ultrafast": its encoder shares the machine with hundreds
  /// of peers, and only the stream's rate (CBR with filler) matters there, not its picture.
  std::string x264_preset = "veryfast";
};

/// Parses "test", "test:WxH@FPS" or "test:WxH@FPS:KBPS" (even sizes 64..3840 x 64..2160,
/// 1..120 fps, 100..50000 kb/s), e.g. "test:1280x720@30:2500".
core::result<test_source_settings> parse_test_spec(std::string_view spec);

class test_source final : public source {
 public:
  explicit test_source(test_source_settings settings);
  ~test_source() override;

  [[nodiscard]] std::string describe() const override;

 protected:
  core::result<void> run(const source_callbacks& callbacks, std::stop_token stop) override;

 private:
  test_source_settings settings_;
};

}  // namespace meshcast::media
