// es_convert: conversions of H.264 and AAC elementary streams into the normal form of frame.hpp
// (Annex B with SPS/PPS before every IDR; raw AAC + AudioSpecificConfig). Used by the pulled
// sources at their edge; pure functions on bytes, no libav*, callable from any thread.
// Inputs are hostile (files, sockets): every parser returns an error instead of reading past the
// end.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "media/frame.hpp"

namespace meshcast::media::es {

enum class es_error { truncated = 1, bad_value, unsupported };

inline constexpr int k_nal_idr = 5;
inline constexpr int k_nal_sps = 7;
inline constexpr int k_nal_pps = 8;

/// The NAL units of an Annex B byte stream (3- or 4-byte start codes), without start codes.
/// Bytes before the first start code are ignored; an input without any start code gives none.
std::vector<core::byte_view> split_annexb(core::byte_view data);

/// NAL unit type (low 5 bits of the first byte) of each unit; -1 for an empty unit.
inline int nal_type(core::byte_view nal) { return nal.empty() ? -1 : (nal[0] & 0x1f); }

/// True when the Annex B access unit holds a NAL unit of `type`.
bool annexb_has_nal(core::byte_view data, int type);

/// Appends one NAL unit with a 4-byte start code.
void append_nal(core::bytes& out, core::byte_view nal);

/// The avcC box (ISO 14496-15 AVCDecoderConfigurationRecord): first SPS and PPS and the size
/// of the length prefix of each NAL unit in samples (1, 2 or 4).
struct avcc_record {
  core::bytes sps;
  core::bytes pps;
  int nal_length_size = 4;
};
core::result<avcc_record> parse_avcc(core::byte_view data);

/// Length-prefixed (AVCC) sample → Annex B. Fails when a length runs past the sample.
core::result<core::bytes> avcc_to_annexb(core::byte_view sample, int nal_length_size);

/// First SPS and PPS found in an Annex B buffer (extradata or an IDR access unit); either may
/// come back empty when absent.
void find_parameter_sets(core::byte_view annexb, core::bytes& sps, core::bytes& pps);

/// An IDR access unit without an in-band SPS gets `sps` and `pps` prepended (after a leading
/// access unit delimiter, if any); any other access unit is returned unchanged.
core::bytes ensure_parameter_sets(core::byte_view annexb, const video_config& config);

/// Fixed fields of an ADTS header (ISO 13818-7), enough to strip it and rebuild the
/// AudioSpecificConfig.
struct adts_header {
  int object_type = 2;  ///< profile + 1 (2 = AAC-LC)
  int sample_rate_index = 0;
  int sample_rate = 0;
  int channel_config = 0;
  std::size_t header_bytes = 7;  ///< 7, or 9 with CRC
  std::size_t frame_bytes = 0;   ///< header + payload
  int raw_blocks = 1;            ///< raw data blocks in the frame (we support exactly 1)
};
/// True when `data` starts with the 12-bit ADTS sync word.
bool looks_like_adts(core::byte_view data);
core::result<adts_header> parse_adts(core::byte_view data);

/// Two-byte AudioSpecificConfig for object type / sampling index / channel configuration.
core::bytes make_audio_specific_config(int object_type, int sample_rate_index, int channel_config);
/// Parses the first fields of an AudioSpecificConfig (object type, rate, channels) into a config
/// that keeps `asc` verbatim.
core::result<audio_config> parse_audio_specific_config(core::byte_view asc);
/// Sampling frequency of an MPEG-4 sampling frequency index, 0 when the index is reserved.
int sample_rate_of_index(int index);

}  // namespace meshcast::media::es
