// h264: H.264 bitstream helpers that bring video into the normal form of frame.hpp (Annex B, SPS
// and PPS before every IDR): Annex B split/scan, the avcC record, length-prefixed NAL units ->
// Annex B, parameter-set insertion, and an SPS reader for the picture size. Used by flv_ingest
// (RTMP), demux_source and test_source at their edges. Pure functions on bytes, no libav*, any
// thread. Inputs are hostile: parsers return an error instead of reading past the end.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "media/frame.hpp"

namespace meshcast::media::h264 {

/// Error codes of the parsers here. Callers with their own policy (flv_ingest: skip the tag)
/// map them; none of them means "stop the session".
enum class errc { truncated = 1, bad_value, unsupported };

inline constexpr int k_nal_idr = 5;
inline constexpr int k_nal_sps = 7;
inline constexpr int k_nal_pps = 8;
inline constexpr int k_nal_aud = 9;  ///< access unit delimiter

/// NAL unit type (low 5 bits of the header byte); -1 for an empty unit.
inline int nal_type(core::byte_view nal) { return nal.empty() ? -1 : (nal[0] & 0x1f); }

// --- Annex B -------------------------------------------------------------------------------------

/// The NAL units of an Annex B byte stream (3- or 4-byte start codes), without start codes.
/// Bytes before the first start code are ignored; an input without any start code gives none.
std::vector<core::byte_view> split_annex_b(core::byte_view data);

/// True when the Annex B access unit holds a NAL unit of `type`.
bool annex_b_has_nal(core::byte_view data, int type);

/// Appends one NAL unit with a 4-byte start code (00 00 00 01).
void append_nal(core::bytes& out, core::byte_view nal);

/// First SPS and PPS found in an Annex B buffer (extradata or an IDR access unit), written only
/// into `sps` / `pps` that are still empty; either may stay empty when absent.
void find_parameter_sets(core::byte_view annex_b, core::bytes& sps, core::bytes& pps);

/// An IDR access unit without an in-band SPS gets `config.sps` and `config.pps` prepended (after
/// a leading access unit delimiter, if any); any other access unit, or an empty `config.sps`,
/// gives the input unchanged.
core::bytes ensure_parameter_sets(core::byte_view annex_b, const video_config& config);

// --- avcC and length-prefixed NAL units (MP4, FLV) ----------------------------------------------

/// AVCDecoderConfigurationRecord, the avcC box (ISO 14496-15 5.2.4.1): parameter sets without
/// start codes (empty ones dropped) and the size of the NAL length prefix in samples.
struct decoder_config {
  int profile_idc = 0;
  int level_idc = 0;
  int nal_length_size = 4;  ///< 1, 2 or 4 bytes of NAL length in each sample
  std::vector<core::bytes> sps;  ///< at least one on success
  std::vector<core::bytes> pps;  ///< at least one on success
};
/// Fails on a record shorter than its fields, a version other than 1, the reserved length size 3,
/// or a record without a non-empty SPS and PPS, e.g. "AVC decoder configuration record: SPS 0 is
/// truncated".
core::result<decoder_config> parse_decoder_config(core::byte_view record);

/// Splits NAL units prefixed by `nal_length_size`-byte big-endian lengths (1, 2 or 4) into views
/// of `data`, skipping zero-length ones. A length or a NAL unit running past the end fails with
/// its offset.
core::result<std::vector<core::byte_view>> split_length_prefixed(core::byte_view data,
                                                                 int nal_length_size);

/// The same NAL units in Annex B (4-byte start codes); same errors as split_length_prefixed.
core::result<core::bytes> length_prefixed_to_annex_b(core::byte_view data, int nal_length_size);

// --- sequence parameter set ----------------------------------------------------------------------

/// What meshcast needs from an SPS. Width and height are after frame cropping (1920x1080, not
/// 1920x1088).
struct sps_info {
  int profile_idc = 0;
  int level_idc = 0;
  int width = 0;
  int height = 0;
};
/// `nal` is one SPS NAL unit including its header byte (0x67), with emulation prevention bytes.
/// Handles 4:2:0, 4:2:2, 4:4:4 (incl. separate colour planes), scaling lists and interlace.
core::result<sps_info> parse_sps(core::byte_view nal);

}  // namespace meshcast::media::h264
