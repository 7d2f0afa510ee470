#include "media/es_convert.hpp"

#include <array>
#include <string>

namespace meshcast::media::es {
namespace {

core::error err(es_error code, std::string message) {
  return core::make_error(code, std::move(message));
}

constexpr std::array<int, 13> k_sample_rates = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                                22050, 16000, 12000, 11025, 8000,  7350};

// Position of the next 00 00 01 at or after `from`, or data.size().
std::size_t find_start_code(core::byte_view data, std::size_t from) {
  for (std::size_t i = from; i + 3 <= data.size(); ++i) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) return i;
  }
  return data.size();
}

}  // namespace

std::vector<core::byte_view> split_annexb(core::byte_view data) {
  std::vector<core::byte_view> out;
  std::size_t sc = find_start_code(data, 0);
  while (sc < data.size()) {
    const std::size_t begin = sc + 3;
    const std::size_t next = find_start_code(data, begin);
    std::size_t end = next;
    // Trailing zeros belong to the next 4-byte start code (or are trailing_zero_8bits).
    while (end > begin && data[end - 1] == 0) --end;
    if (end > begin) out.push_back(data.subspan(begin, end - begin));
    sc = next;
  }
  return out;
}

bool annexb_has_nal(core::byte_view data, int type) {
  for (const auto nal : split_annexb(data)) {
    if (nal_type(nal) == type) return true;
  }
  return false;
}

void append_nal(core::bytes& out, core::byte_view nal) {
  static constexpr std::array<std::uint8_t, 4> k_start = {0, 0, 0, 1};
  out.insert(out.end(), k_start.begin(), k_start.end());
  core::append(out, nal);
}

core::result<avcc_record> parse_avcc(core::byte_view data) {
  // version(8)=1 profile(8) compat(8) level(8) 6 bits reserved + lengthSizeMinusOne(2)
  // 3 bits reserved + numSPS(5) {len(16) sps} numPPS(8) {len(16) pps}
  core::byte_reader r(data);
  std::uint8_t version = 0, profile = 0, compat = 0, level = 0, length_size = 0, num_sps = 0;
  if (!r.u8(version) || !r.u8(profile) || !r.u8(compat) || !r.u8(level) || !r.u8(length_size) ||
      !r.u8(num_sps)) {
    return err(es_error::truncated, "avcC record of " + std::to_string(data.size()) +
                                        " bytes is shorter than its 6-byte header");
  }
  if (version != 1) {
    return err(es_error::bad_value, "avcC version " + std::to_string(version) + ", expected 1");
  }
  avcc_record rec;
  rec.nal_length_size = (length_size & 0x03) + 1;
  if (rec.nal_length_size == 3) {
    return err(es_error::unsupported, "avcC NAL length size 3 is not supported");
  }
  num_sps &= 0x1f;
  for (int i = 0; i < num_sps; ++i) {
    std::uint16_t len = 0;
    core::byte_view sps;
    if (!r.be16(len) || !r.take(len, sps)) {
      return err(es_error::truncated, "avcC SPS " + std::to_string(i) + " runs past the record");
    }
    if (rec.sps.empty()) rec.sps.assign(sps.begin(), sps.end());
  }
  std::uint8_t num_pps = 0;
  if (!r.u8(num_pps)) return err(es_error::truncated, "avcC record ends before its PPS count");
  for (int i = 0; i < num_pps; ++i) {
    std::uint16_t len = 0;
    core::byte_view pps;
    if (!r.be16(len) || !r.take(len, pps)) {
      return err(es_error::truncated, "avcC PPS " + std::to_string(i) + " runs past the record");
    }
    if (rec.pps.empty()) rec.pps.assign(pps.begin(), pps.end());
  }
  if (rec.sps.empty() || rec.pps.empty()) {
    return err(es_error::bad_value, "avcC record has " + std::to_string(num_sps) + " SPS and " +
                                        std::to_string(num_pps) + " PPS, expected one of each");
  }
  return rec;
}

core::result<core::bytes> avcc_to_annexb(core::byte_view sample, int nal_length_size) {
  if (nal_length_size != 1 && nal_length_size != 2 && nal_length_size != 4) {
    return err(es_error::unsupported,
               "NAL length size " + std::to_string(nal_length_size) + ", expected 1, 2 or 4");
  }
  core::bytes out;
  out.reserve(sample.size() + 16);
  core::byte_reader r(sample);
  while (r.remaining() > 0) {
    std::uint32_t len = 0;
    bool ok = false;
    if (nal_length_size == 1) {
      std::uint8_t v = 0;
      ok = r.u8(v);
      len = v;
    } else if (nal_length_size == 2) {
      std::uint16_t v = 0;
      ok = r.be16(v);
      len = v;
    } else {
      ok = r.be32(len);
    }
    core::byte_view nal;
    if (!ok || !r.take(len, nal)) {
      return err(es_error::truncated, "AVCC NAL unit of " + std::to_string(len) +
                                          " bytes at offset " + std::to_string(r.position()) +
                                          " runs past the " + std::to_string(sample.size()) +
                                          "-byte sample");
    }
    if (!nal.empty()) append_nal(out, nal);
  }
  return out;
}

void find_parameter_sets(core::byte_view annexb, core::bytes& sps, core::bytes& pps) {
  for (const auto nal : split_annexb(annexb)) {
    if (nal_type(nal) == k_nal_sps && sps.empty()) sps.assign(nal.begin(), nal.end());
    if (nal_type(nal) == k_nal_pps && pps.empty()) pps.assign(nal.begin(), nal.end());
  }
}

core::bytes ensure_parameter_sets(core::byte_view annexb, const video_config& config) {
  const auto nals = split_annexb(annexb);
  bool idr = false, sps = false;
  for (const auto nal : nals) {
    idr = idr || nal_type(nal) == k_nal_idr;
    sps = sps || nal_type(nal) == k_nal_sps;
  }
  if (!idr || sps || config.sps.empty()) return {annexb.begin(), annexb.end()};
  core::bytes out;
  out.reserve(annexb.size() + config.sps.size() + config.pps.size() + 16);
  bool inserted = false;
  for (const auto nal : nals) {
    if (!inserted && nal_type(nal) != 9) {  // keep an access unit delimiter (type 9) first
      append_nal(out, config.sps);
      append_nal(out, config.pps);
      inserted = true;
    }
    append_nal(out, nal);
  }
  return out;
}

bool looks_like_adts(core::byte_view data) {
  return data.size() >= 2 && data[0] == 0xff && (data[1] & 0xf6) == 0xf0;
}

core::result<adts_header> parse_adts(core::byte_view d) {
  if (d.size() < 7) {
    return err(es_error::truncated, "ADTS header needs 7 bytes, got " + std::to_string(d.size()));
  }
  if (!looks_like_adts(d)) return err(es_error::bad_value, "no ADTS sync word");
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
    return err(es_error::bad_value,
               "ADTS sampling index " + std::to_string(h.sample_rate_index) + " is reserved");
  }
  if (h.channel_config == 0) {
    return err(es_error::unsupported, "ADTS channel configuration 0 (PCE) is not supported");
  }
  if (h.frame_bytes < h.header_bytes || h.frame_bytes > d.size()) {
    return err(es_error::truncated, "ADTS frame length " + std::to_string(h.frame_bytes) +
                                        " does not fit the " + std::to_string(d.size()) +
                                        "-byte packet");
  }
  return h;
}

core::bytes make_audio_specific_config(int object_type, int sample_rate_index, int channel_config) {
  // audioObjectType(5) samplingFrequencyIndex(4) channelConfiguration(4) GASpecificConfig(3)=0
  const unsigned v = (static_cast<unsigned>(object_type & 0x1f) << 11) |
                     (static_cast<unsigned>(sample_rate_index & 0x0f) << 7) |
                     (static_cast<unsigned>(channel_config & 0x0f) << 3);
  return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

core::result<audio_config> parse_audio_specific_config(core::byte_view asc) {
  if (asc.size() < 2) {
    return err(es_error::truncated,
               "AudioSpecificConfig needs 2 bytes, got " + std::to_string(asc.size()));
  }
  audio_config a;
  a.audio_specific_config.assign(asc.begin(), asc.end());
  a.object_type = asc[0] >> 3;
  const int index = ((asc[0] & 0x07) << 1) | (asc[1] >> 7);
  if (a.object_type == 31 || index == 15) {
    return err(es_error::unsupported,
               "AudioSpecificConfig with escaped object type or explicit sampling rate");
  }
  a.sample_rate = sample_rate_of_index(index);
  a.channels = (asc[1] >> 3) & 0x0f;
  if (a.channels == 7) a.channels = 8;  // configuration 7 is 7.1
  if (a.sample_rate == 0) {
    return err(es_error::bad_value,
               "AudioSpecificConfig sampling index " + std::to_string(index) + " is reserved");
  }
  return a;
}

int sample_rate_of_index(int index) {
  if (index < 0 || index >= static_cast<int>(k_sample_rates.size())) return 0;
  return k_sample_rates[static_cast<std::size_t>(index)];
}

}  // namespace meshcast::media::es
