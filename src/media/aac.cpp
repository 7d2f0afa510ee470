#include "media/aac.hpp"

#include <array>
#include <string>

#include "media/bit_reader.hpp"

namespace meshcast::media::aac {
namespace {

core::error err(errc code, std::string message) {
  return core::make_error(code, std::move(message));
}

// ISO 14496-3 table 1.18; indices 13 and 14 are reserved, 15 escapes to an explicit rate.
constexpr std::array<int, 13> k_sample_rates = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                                22050, 16000, 12000, 11025, 8000,  7350};

constexpr int k_object_type_aac_lc = 2;

}  // namespace

int sample_rate_of_index(int index) {
  if (index < 0 || index >= static_cast<int>(k_sample_rates.size())) return 0;
  return k_sample_rates[static_cast<std::size_t>(index)];
}

int index_of_sample_rate(int sample_rate) {
  for (std::size_t i = 0; i < k_sample_rates.size(); ++i) {
    if (k_sample_rates[i] == sample_rate) return static_cast<int>(i);
  }
  return -1;
}

core::result<audio_config> parse_audio_specific_config(core::byte_view asc) {
  if (asc.size() < 2) {
    return err(errc::truncated, "AAC AudioSpecificConfig of " + std::to_string(asc.size()) +
                                    " bytes (expected at least 2)");
  }
  bit_reader r(asc);
  audio_config c;
  c.audio_specific_config.assign(asc.begin(), asc.end());
  int object_type = static_cast<int>(r.bits(5));
  if (object_type == 31) object_type = 32 + static_cast<int>(r.bits(6));
  if (object_type == 0) {
    return err(errc::bad_value, "AAC AudioSpecificConfig: audio object type 0 is invalid");
  }
  c.object_type = object_type;
  const std::uint32_t freq_index = r.bits(4);
  if (freq_index == 15) {
    c.sample_rate = static_cast<int>(r.bits(24));
  } else if (freq_index < k_sample_rates.size()) {
    c.sample_rate = k_sample_rates[freq_index];
  } else {
    return err(errc::bad_value, "AAC AudioSpecificConfig: sampling frequency index " +
                                    std::to_string(freq_index) + " is reserved");
  }
  const std::uint32_t channel_config = r.bits(4);
  if (!r.ok()) return err(errc::truncated, "AAC AudioSpecificConfig is truncated");
  if (c.sample_rate <= 0) return err(errc::bad_value, "AAC AudioSpecificConfig: sample rate 0");
  c.channels = channel_config == 7 ? 8 : static_cast<int>(channel_config);
  if (channel_config > 7) {
    return err(errc::bad_value, "AAC AudioSpecificConfig: channel configuration " +
                                    std::to_string(channel_config) + " is reserved");
  }
  return c;
}

core::bytes make_audio_specific_config(int object_type, int sample_rate_index, int channel_config) {
  // audioObjectType(5) samplingFrequencyIndex(4) channelConfiguration(4) GASpecificConfig(3)=0
  const unsigned v = (static_cast<unsigned>(object_type & 0x1f) << 11) |
                     (static_cast<unsigned>(sample_rate_index & 0x0f) << 7) |
                     (static_cast<unsigned>(channel_config & 0x0f) << 3);
  return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

core::bytes make_lc_audio_specific_config(int sample_rate, int channels) {
  const int index = index_of_sample_rate(sample_rate);
  return make_audio_specific_config(k_object_type_aac_lc, index < 0 ? 4 : index, channels);
}

bool looks_like_adts(core::byte_view data) {
  return data.size() >= 2 && data[0] == 0xff && (data[1] & 0xf6) == 0xf0;
}

core::result<adts_header> parse_adts(core::byte_view d) {
  if (d.size() < 7) {
    return err(errc::truncated, "ADTS header needs 7 bytes, got " + std::to_string(d.size()));
  }
  if (!looks_like_adts(d)) return err(errc::bad_value, "no ADTS sync word");
  adts_header h;
  const bool protection_absent = (d[1] & 0x01) != 0;
  h.object_type = ((d[2] >> 6) & 0x03) + 1;
  h.sample_rate_index = (d[2] >> 2) & 0x0f;
  h.channel_config = ((d[2] & 0x01) << 2) | ((d[3] >> 6) & 0x03);
  h.frame_bytes = (std::size_t{d[3] & 0x03u} << 11) | (std::size_t{d[4]} << 3) | (d[5] >> 5);
  h.raw_blocks = (d[6] & 0x03) + 1;
  h.header_bytes = protection_absent ? 7 : 9;
  h.sample_rate = sample_rate_of_index(h.sample_rate_index);
  if (h.sample_rate == 0) {
    return err(errc::bad_value,
               "ADTS sampling index " + std::to_string(h.sample_rate_index) + " is reserved");
  }
  if (h.channel_config == 0) {
    return err(errc::unsupported, "ADTS channel configuration 0 (PCE) is not supported");
  }
  if (h.frame_bytes < h.header_bytes || h.frame_bytes > d.size()) {
    return err(errc::truncated, "ADTS frame length " + std::to_string(h.frame_bytes) +
                                    " does not fit the " + std::to_string(d.size()) +
                                    "-byte packet");
  }
  return h;
}

}  // namespace meshcast::media::aac
