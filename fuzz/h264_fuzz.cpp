// Fuzzes the H.264 parsers of media/h264.hpp on the same bytes read every way: as an avcC
// record, as length-prefixed NAL units (1-, 2- and 4-byte lengths), as an SPS and as Annex B.
// Parameter sets found in an avcC record or an Annex B stream are parsed as SPS too, as
// flv_ingest does. Traps on broken invariants (sizes of the Annex B output, picture size bounds).
#include <cstddef>
#include <cstdint>

#include "media/h264.hpp"

using namespace meshcast;
using namespace meshcast::media;

namespace {

void check_sps(core::byte_view nal) {
  auto info = h264::parse_sps(nal);
  // At most 1024 macroblocks (x2 for field pairs) of 16 samples each way.
  if (info && (info->width <= 0 || info->height <= 0 || info->width > 16 * 1024 ||
               info->height > 2 * 16 * 1024)) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const core::byte_view in(data, size);

  if (auto rec = h264::parse_decoder_config(in)) {
    if (rec->sps.empty() || rec->pps.empty()) __builtin_trap();
    for (const auto& sps : rec->sps) check_sps(sps);
  }

  for (const int length_size : {1, 2, 4}) {
    auto nals = h264::split_length_prefixed(in, length_size);
    auto annex_b = h264::length_prefixed_to_annex_b(in, length_size);
    if (bool{nals} != bool{annex_b}) __builtin_trap();
    if (!nals) continue;
    std::size_t expected = 0;
    for (const auto nal : *nals) expected += 4 + nal.size();
    if (annex_b->size() != expected) __builtin_trap();
  }

  check_sps(in);

  const auto units = h264::split_annex_b(in);
  for (const auto nal : units) {
    if (nal.empty()) __builtin_trap();
    if (h264::nal_type(nal) == h264::k_nal_sps) check_sps(nal);
  }
  video_config config;
  h264::find_parameter_sets(in, config.sps, config.pps);
  if (config.sps.empty()) config.sps = {0x67, 0x42, 0xc0, 0x1e, 0xd9};
  if (config.pps.empty()) config.pps = {0x68, 0xce, 0x3c, 0x80};
  const auto out = h264::ensure_parameter_sets(in, config);
  if (h264::annex_b_has_nal(in, h264::k_nal_idr) && !h264::annex_b_has_nal(out, h264::k_nal_sps)) {
    __builtin_trap();
  }
  return 0;
}
