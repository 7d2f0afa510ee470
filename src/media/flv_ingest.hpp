// flv_ingest: turns the audio/video messages of one publishing session (FLV tag bodies with RTMP
// millisecond timestamps, plus what onMetaData announced) into the media normal form: one
// media_config, then frames in Annex B / raw AAC with 90 kHz timestamps (frame.hpp). One object per
// publishing session, driven from the connection's thread; no I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <variant>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "media/flv.hpp"
#include "media/frame.hpp"

namespace meshcast::media {

/// What onMetaData said about the tracks (videocodecid / audiocodecid present, sizes, rate).
struct flv_metadata {
  bool has_video = false;
  bool has_audio = false;
  int width = 0;
  int height = 0;
  double frame_rate = 0;
};

struct flv_ingest_settings {
  /// Frames are held until the configs of all announced tracks are known, but no longer than
  /// this much media time (an encoder that announces audio and never sends it must not stall
  /// video), this many frames or this many bytes.
  std::int64_t max_hold_ms = 1000;
  std::size_t max_hold_frames = 300;
  std::size_t max_hold_bytes = 32u << 20;
};

/// The session's media_config: sent once before the first frame (`changed` false), and again
/// with `changed` true when a track's sequence header changes or a late track appears; the caller
/// then restarts its packager session (end_publish + begin_publish).
struct flv_config_event {
  media_config config;
  bool changed = false;
};

using flv_ingest_event = std::variant<flv_config_event, frame>;

/// States: holding (configs incomplete; frames queue, bounded) -> started (config emitted, frames
/// pass straight through). Inputs: on_metadata, on_video, on_audio, flush; output: poll().
/// Errors from on_video/on_audio: flv_errc::malformed_tag means that tag was skipped and the
/// session can go on; flv_errc::unsupported_codec means it cannot (close the publisher).
/// Frames of a track whose sequence header has not arrived yet are dropped (counted): without
/// it they cannot be decoded. Timestamps: 32-bit RTMP ms are unwrapped to 64 bits (signed deltas
/// from the previous message, so audio/video interleaving jitter is fine), then times 90.
/// Video keyframes are those flagged keyframe in FLV or holding an IDR NAL unit; SPS and PPS are
/// put in front of a keyframe that does not carry them in-band.
class flv_ingest {
 public:
  explicit flv_ingest(flv_ingest_settings settings = {}) : settings_(settings) {}

  /// Announced tracks; call before media (FFmpeg and OBS send onMetaData first). Without it,
  /// both tracks are expected and a missing one costs max_hold_ms of delay at the start.
  void on_metadata(const flv_metadata& m);
  core::result<void> on_video(std::uint32_t timestamp_ms, core::byte_view body);
  core::result<void> on_audio(std::uint32_t timestamp_ms, core::byte_view body);
  /// Stops holding: starts with the configs known so far (e.g. the publisher is leaving).
  void flush();

  std::optional<flv_ingest_event> poll();

  [[nodiscard]] bool started() const { return started_; }
  [[nodiscard]] const media_config& config() const { return config_; }
  /// Frames dropped because their track had no sequence header yet, or empty.
  [[nodiscard]] std::uint64_t dropped_frames() const { return dropped_; }

 private:
  std::int64_t unwrap(std::uint32_t ts_ms);
  void add_frame(frame f);
  void config_updated();
  void maybe_start();
  void start();

  flv_ingest_settings settings_;
  std::optional<flv_metadata> metadata_;
  media_config config_;
  int nal_length_size_ = 4;
  bool started_ = false;
  std::deque<frame> held_;
  std::size_t held_bytes_ = 0;
  std::deque<flv_ingest_event> out_;
  std::optional<std::uint32_t> last_ts_;
  std::int64_t ts_ms_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace meshcast::media
