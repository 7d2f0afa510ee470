// Fuzzes the AAC parsers of media/aac.hpp: the input as an AudioSpecificConfig, and as a run of
// ADTS frames walked the way demux_source strips them. Every ADTS header that parses must rebuild
// into an AudioSpecificConfig that parses back to the same rate and channels; traps otherwise.
#include <cstddef>
#include <cstdint>

#include "media/aac.hpp"

using namespace meshcast;
using namespace meshcast::media;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const core::byte_view in(data, size);

  if (auto a = aac::parse_audio_specific_config(in)) {
    if (a->sample_rate <= 0 || a->channels < 0 || a->channels > 8 || a->object_type <= 0 ||
        a->audio_specific_config.size() != size) {
      __builtin_trap();
    }
  }

  core::byte_view rest = in;
  while (aac::looks_like_adts(rest)) {
    auto h = aac::parse_adts(rest);
    if (!h) break;
    if (h->frame_bytes < h->header_bytes || h->frame_bytes > rest.size()) __builtin_trap();
    const auto asc =
        aac::make_audio_specific_config(h->object_type, h->sample_rate_index, h->channel_config);
    auto a = aac::parse_audio_specific_config(asc);
    if (!a || a->sample_rate != h->sample_rate ||
        a->channels != (h->channel_config == 7 ? 8 : h->channel_config)) {
      __builtin_trap();
    }
    rest = rest.subspan(h->frame_bytes);
  }
  return 0;
}
