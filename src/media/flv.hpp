// FLV tag bodies: the payload of RTMP audio/video messages, identical to FLV VIDEODATA/AUDIODATA
// (Adobe FLV spec 10.1, annex E). Parsers of hostile bytes: they return core::result, never throw,
// and name the codec they refuse. meshcast ingests H.264 (codec id 7) and AAC (sound format 10);
// also here: tag builders for tests and seeds. The payloads inside (avcC record, NAL units, SPS,
// AudioSpecificConfig) are parsed by h264.hpp and aac.hpp. Pure functions; no thread affinity.
// The per-session state machine is flv_ingest.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace meshcast::media {

/// Error codes of FLV parsing. malformed_tag: the tag is skipped, the session may go on;
/// unsupported_codec: the publisher sends something we will never ingest, stop the session.
enum class flv_errc { malformed_tag = 1, unsupported_codec };

enum class flv_frame_type { keyframe = 1, inter = 2, disposable = 3, generated_keyframe = 4, command = 5 };

inline constexpr int k_flv_codec_avc = 7;
inline constexpr int k_flv_sound_aac = 10;

/// VIDEODATA with its AVC header. `data` points into the parsed body.
struct flv_video_tag {
  int frame_type = 0;          ///< flv_frame_type values
  int codec_id = 0;            ///< 7 = AVC; anything else is refused by parse_video_tag
  int avc_packet_type = 0;     ///< 0 = sequence header, 1 = NALUs, 2 = end of sequence
  std::int32_t composition_time = 0;  ///< ms, signed 24-bit: pts = dts + composition_time
  core::byte_view data;
};

/// AUDIODATA with its AAC header. `data` points into the parsed body.
struct flv_audio_tag {
  int sound_format = 0;     ///< 10 = AAC; anything else is refused by parse_audio_tag
  int sound_rate = 0;       ///< 0..3 = 5.5/11/22/44 kHz (AAC: always 3, ignore it)
  int sound_size = 0;       ///< 0 = 8 bit, 1 = 16 bit
  int sound_type = 0;       ///< 0 = mono, 1 = stereo
  int aac_packet_type = 0;  ///< 0 = AudioSpecificConfig, 1 = raw access unit
  core::byte_view data;
};

/// Parses a video tag body. Fails with unsupported_codec for codec ids other than 7 and for
/// enhanced-RTMP (ExHeader) bodies, e.g. "unsupported video codec id 2 (Sorenson H.263): meshcast
/// ingests H.264 and AAC"; with malformed_tag when the body is shorter than its header.
core::result<flv_video_tag> parse_video_tag(core::byte_view body);
/// Parses an audio tag body; same conventions as parse_video_tag (sound format 10 only).
core::result<flv_audio_tag> parse_audio_tag(core::byte_view body);

// --- builders: FLV tag bodies as FFmpeg and OBS send them (tests, fuzz seeds, test clients) ----

/// Video tag, AVC sequence header carrying one SPS and one PPS (NAL length size 4).
core::bytes make_avc_sequence_header_tag(core::byte_view sps, core::byte_view pps);
/// Video tag, AVC NALUs (4-byte lengths); `nals` are NAL units without start codes.
core::bytes make_avc_nalu_tag(bool keyframe, std::int32_t composition_time_ms,
                              const std::vector<core::bytes>& nals);
/// Audio tag, AAC sequence header (AudioSpecificConfig).
core::bytes make_aac_sequence_header_tag(core::byte_view asc);
/// Audio tag, one raw AAC access unit.
core::bytes make_aac_raw_tag(core::byte_view access_unit);

}  // namespace meshcast::media
