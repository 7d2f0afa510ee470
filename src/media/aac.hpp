// aac: AAC bitstream helpers that bring audio into the normal form of frame.hpp (raw access units
// + AudioSpecificConfig): the AudioSpecificConfig (ISO 14496-3 1.6.2.1), ADTS headers (ISO 13818-7)
// and the MPEG-4 sampling frequency table. Used by flv_ingest (RTMP), demux_source and
// test_source. Pure functions on bytes, no libav*, any thread. Parsers of hostile bytes return an
// error instead of reading past the end.
#pragma once

#include <cstddef>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "media/frame.hpp"

namespace meshcast::media::aac {

/// Error codes of the parsers here. Callers with their own policy (flv_ingest: skip the tag)
/// map them; none of them means "stop the session".
enum class errc { truncated = 1, bad_value, unsupported };

/// Sampling frequency of an MPEG-4 sampling frequency index (0..12), 0 when the index is
/// reserved or out of range.
int sample_rate_of_index(int index);
/// The sampling frequency index of `sample_rate` (e.g. 44100 -> 4), -1 when it is not in the table.
int index_of_sample_rate(int sample_rate);

// --- AudioSpecificConfig -------------------------------------------------------------------------

/// Parses the leading fields of an AudioSpecificConfig (object type incl. the escape to 32+,
/// sampling index or explicit 24-bit rate, channel configuration; configuration 7 is 7.1, i.e. 8
/// channels; 0 means the channels are in a PCE and stays 0) into a config that keeps `asc`
/// verbatim. Fails on fewer than 2 bytes, object type 0, a reserved sampling index or channel
/// configuration, e.g. "AAC AudioSpecificConfig: sampling frequency index 13 is reserved".
core::result<audio_config> parse_audio_specific_config(core::byte_view asc);

/// Two-byte AudioSpecificConfig: object type (1..30), sampling index (0..12), channel
/// configuration (1..7), GASpecificConfig all zero. Out-of-range fields are masked, not checked.
core::bytes make_audio_specific_config(int object_type, int sample_rate_index, int channel_config);

/// AudioSpecificConfig for AAC-LC at a standard rate (e.g. 44100) and 1..7 channels; a rate not in
/// the table falls back to 44100 (test clients and seeds; never fed outside input).
core::bytes make_lc_audio_specific_config(int sample_rate, int channels);

// --- ADTS ----------------------------------------------------------------------------------------

/// Fixed fields of an ADTS header, enough to strip it and rebuild the AudioSpecificConfig.
struct adts_header {
  int object_type = 2;  ///< profile + 1 (2 = AAC-LC)
  int sample_rate_index = 0;
  int sample_rate = 0;
  int channel_config = 0;
  std::size_t header_bytes = 7;  ///< 7, or 9 with CRC
  std::size_t frame_bytes = 0;   ///< header + payload
  int raw_blocks = 1;            ///< raw data blocks in the frame (callers support exactly 1)
};
/// True when `data` starts with the 12-bit ADTS sync word (and layer 0).
bool looks_like_adts(core::byte_view data);
/// Parses the ADTS header at the start of `data`. Fails on fewer than 7 bytes, no sync word, a
/// reserved sampling index, channel configuration 0 (PCE), or a frame length shorter than the
/// header or longer than `data`.
core::result<adts_header> parse_adts(core::byte_view data);

}  // namespace meshcast::media::aac
