// Fuzzes the FLV tag body parsers and flv_ingest. The input is a run of records
// [kind:1][length:2 big-endian][body]: kind bit 0 = audio/video, bit 1 = also parse the body as
// a decoder record / SPS / AudioSpecificConfig (h264_fuzz and aac_fuzz go deeper); the rest of
// the kind byte feeds timestamps.
#include <cstddef>
#include <cstdint>

#include "media/aac.hpp"
#include "media/flv_ingest.hpp"
#include "media/h264.hpp"

using namespace meshcast;
using namespace meshcast::media;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  flv_ingest ingest(flv_ingest_settings{.max_hold_ms = 1000, .max_hold_frames = 50,
                                        .max_hold_bytes = 1 << 20});
  if (size > 0 && (data[0] & 0x80)) ingest.on_metadata({true, (data[0] & 0x40) != 0, 0, 0, 0});
  core::byte_reader r(core::byte_view(data, size));
  std::uint32_t ts = 0;
  while (r.remaining() > 0) {
    std::uint8_t kind = 0;
    std::uint16_t len = 0;
    core::byte_view body;
    if (!r.u8(kind) || !r.be16(len)) break;
    if (!r.take(len, body)) body = r.rest();
    ts += static_cast<std::uint32_t>(kind >> 2) * 0x0400'0000u + (kind >> 2);
    if (kind & 2) {
      (void)h264::parse_decoder_config(body);
      (void)h264::parse_sps(body);
      (void)aac::parse_audio_specific_config(body);
      (void)h264::length_prefixed_to_annex_b(body, 1 + (kind >> 6));
    }
    const auto res = (kind & 1) ? ingest.on_video(ts, body) : ingest.on_audio(ts, body);
    (void)res;
    while (ingest.poll()) {
    }
    if (!r.ok()) break;
    if (body.size() < len) break;
  }
  ingest.flush();
  while (ingest.poll()) {
  }
  return 0;
}
