// source: a pulled media source (built-in test pattern, file, TCP or HTTP byte stream) that runs
// on its own thread and delivers frames in the normal form of frame.hpp through callbacks.
// The callbacks are called ON THE SOURCE'S THREAD: the app posts them onto its event loop.
// Order: on_config once, then on_frame for each frame, then on_end once (unless stopped).
// start() and stop() are called from the owner's thread; stop() returns promptly (also while the
// source is blocked in I/O) and no callback runs after it returns.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "core/result.hpp"
#include "media/frame.hpp"

namespace meshcast::media {

struct source_callbacks {
  /// The tracks, before the first frame.
  std::function<void(media_config)> on_config;
  /// One frame: 90 kHz timestamps rising per track; video starts with a keyframe when the
  /// source can tell (files, test source), or wherever the byte stream was joined.
  std::function<void(frame)> on_frame;
  /// The source ended by itself: success at the end of a (non-looping) file; an error when the
  /// input failed, e.g. a TCP/HTTP peer closed or timed out. The app decides whether to retry
  /// (make_source again). Not called when the source was stopped.
  std::function<void(core::result<void>)> on_end;
};

enum class source_error { bad_spec = 1, open_failed, unsupported_codec, read_failed, encoder };

class source {
 public:
  virtual ~source() = default;
  source(const source&) = delete;
  source& operator=(const source&) = delete;

  /// Starts the source's thread. Call once.
  void start(source_callbacks callbacks);
  /// Asks the thread to finish and joins it: returns within ~100 ms even when the source is
  /// blocked reading a socket. Idempotent; after it returns no callback is running or will run.
  void stop();
  [[nodiscard]] bool running() const { return thread_.joinable(); }

  /// "test 1280x720@30 2500 kb/s", "file /x.mp4 (loop)", "tcp://host:1234" — for logs.
  [[nodiscard]] virtual std::string describe() const = 0;

 protected:
  source() = default;
  /// The body of the source's thread: delivers config and frames until the input ends (returns
  /// success), fails (returns the error) or `stop` is requested (returns anything, ignored).
  /// Implementations must check `stop` at least every ~100 ms; derived destructors call stop().
  virtual core::result<void> run(const source_callbacks& callbacks, std::stop_token stop) = 0;
  /// Sleeps until `deadline` or until stop is requested; false when stopped.
  static bool sleep_until(const std::stop_token& stop,
                          std::chrono::steady_clock::time_point deadline);

 private:
  std::jthread thread_;
};

/// Parses a source spec and creates the source (not started):
///   test[:WxH@FPS[:KBPS]]   built-in test pattern, default 1280x720@30:2500
///   file:PATH[:loop]        any container libavformat reads, paced in real time by DTS
///   tcp://HOST:PORT         an MPEG-TS or FLV byte stream (probed)
///   http://... https://...  same, over HTTP
/// A malformed spec is an error naming what was expected; the input itself is opened by the
/// source's thread, so an unreachable host or a broken file is reported through on_end (a file
/// that does not exist is refused here already). `pace`: wall seconds per second of media for
/// the paced sources (test, file), 1 = real time (a lab dilating time by K passes K).
core::result<std::unique_ptr<source>> make_source(std::string_view spec, double pace = 1);

}  // namespace meshcast::media
