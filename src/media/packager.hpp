// packager: turns the frames of one rendition into MPEG-TS chunks (libavformat's mpegts muxer,
// wrapped here only) and hands each finished chunk to a sink (normally chunk_log::insert).
//
// Chunking rules (docs/media.md):
//  - a chunk covers a few frames, never crosses a video keyframe, and is closed as soon as it
//    covers `chunk_duration` of media (down to a single frame when chunk_duration is tiny);
//  - a video keyframe starts a new segment: that chunk is flagged segment_start + keyframe and its
//    payload begins with PAT/PMT; audio-only streams start a segment every `audio_segment`;
//  - numbering (chunk seq, segment seq, discontinuity count) continues across publishing sessions;
//    the first chunk after begin() of a later session is flagged discontinuity.
// Not thread-safe: one packager per rendition, driven from one event loop.
#pragma once

#include <functional>
#include <memory>

#include "chunk/chunk.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "media/frame.hpp"

namespace meshcast::media {

struct packager_settings {
  core::micros chunk_duration{100'000};
  core::micros audio_segment{2'000'000};  ///< segment length for streams without video
};

class packager {
 public:
  using sink = std::function<void(chunk::chunk_ptr)>;

  packager(packager_settings settings, sink out);
  ~packager();
  packager(const packager&) = delete;
  packager& operator=(const packager&) = delete;

  /// Starts a publishing session with these tracks. Ends the previous one if still open.
  /// Fails (and stays idle) when the config is unusable, e.g. an empty SPS.
  core::result<void> begin(const media_config& config);
  /// Adds one frame; `now` is the wall-clock arrival time used as the chunk's source timestamp.
  /// Frames before the first video keyframe are dropped (a segment must start with one).
  core::result<void> push(const frame& f, core::time_point now);
  /// Ends the session: the open chunk is emitted.
  void end();

  [[nodiscard]] bool active() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace meshcast::media
