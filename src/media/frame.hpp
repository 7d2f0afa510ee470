// Elementary-stream frames as they flow from any source (RTMP, test source, libav demux) into the
// packager. The normal form is fixed here so every source converts at its own edge:
//   H.264: Annex B byte stream (start codes), SPS/PPS repeated in front of every IDR frame;
//   AAC:   raw access units (no ADTS header), AudioSpecificConfig in the track's extradata.
// Timestamps are 90 kHz ticks (MPEG-TS native). Plain value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.hpp"

namespace meshcast::media {

enum class codec { h264, aac };

enum class track_kind : std::uint8_t { video, audio };

inline constexpr std::int64_t k_ts_clock_hz = 90'000;

struct video_config {
  core::bytes sps;  ///< one SPS NAL unit, without start code
  core::bytes pps;  ///< one PPS NAL unit, without start code
  int width = 0;
  int height = 0;
  double frame_rate = 0;  ///< 0 when unknown
};

struct audio_config {
  core::bytes audio_specific_config;  ///< ISO 14496-3 AudioSpecificConfig (usually 2 bytes)
  int sample_rate = 0;
  int channels = 0;
  int object_type = 2;  ///< 2 = AAC-LC
};

/// What one publishing session carries. At least one track is present.
struct media_config {
  std::optional<video_config> video;
  std::optional<audio_config> audio;
};

struct frame {
  track_kind kind = track_kind::video;
  std::int64_t pts = 0;  ///< 90 kHz
  std::int64_t dts = 0;  ///< 90 kHz
  bool keyframe = false;  ///< video IDR; every audio frame is a sync point but is not flagged
  core::bytes data;
};

/// RFC 6381 codec string for playlists, e.g. "avc1.64001f" or "mp4a.40.2".
std::string codec_string(const video_config& v);
std::string codec_string(const audio_config& a);

}  // namespace meshcast::media
