#include "media/flv.hpp"

#include <array>
#include <string>

namespace meshcast::media {
namespace {

core::error malformed(std::string what) {
  return core::make_error(flv_errc::malformed_tag, std::move(what));
}

const char* video_codec_name(int id) {
  switch (id) {
    case 1: return "JPEG";
    case 2: return "Sorenson H.263";
    case 3: return "Screen video";
    case 4: return "On2 VP6";
    case 5: return "On2 VP6 with alpha";
    case 6: return "Screen video v2";
    case 12: return "HEVC, non-standard FLV";
    case 13: return "AV1, non-standard FLV";
    default: return "unknown";
  }
}

const char* sound_format_name(int f) {
  switch (f) {
    case 0: return "linear PCM, platform endian";
    case 1: return "ADPCM";
    case 2: return "MP3";
    case 3: return "linear PCM, little endian";
    case 4: return "Nellymoser 16 kHz mono";
    case 5: return "Nellymoser 8 kHz mono";
    case 6: return "Nellymoser";
    case 7: return "G.711 A-law";
    case 8: return "G.711 mu-law";
    case 11: return "Speex";
    case 13: return "Opus, non-standard FLV";
    case 14: return "MP3 8 kHz";
    case 15: return "device-specific sound";
    default: return "unknown";
  }
}

std::string fourcc_text(core::byte_view b) {
  std::string s;
  for (std::size_t i = 0; i < 4 && i < b.size(); ++i) {
    const char c = static_cast<char>(b[i]);
    s += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return s;
}

constexpr const char* k_we_ingest = ": meshcast ingests H.264 and AAC";

// Exp-Golomb bit reader over an RBSP (emulation prevention bytes already removed).
class bit_reader {
 public:
  explicit bit_reader(const core::bytes& data) : data_(data) {}

  bool ok() const { return ok_; }
  std::uint32_t bits(int n) {
    std::uint32_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 1) | bit();
    return v;
  }
  std::uint32_t bit() {
    if (pos_ >= data_.size() * 8) {
      ok_ = false;
      return 0;
    }
    const std::uint32_t b = (data_[pos_ / 8] >> (7 - pos_ % 8)) & 1u;
    ++pos_;
    return b;
  }
  std::uint32_t ue() {
    int zeros = 0;
    while (bit() == 0) {
      if (!ok_ || ++zeros > 31) {
        ok_ = false;
        return 0;
      }
    }
    if (zeros == 0) return 0;
    return static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + bits(zeros));
  }
  std::int32_t se() {
    const std::uint32_t k = ue();
    const auto mag = static_cast<std::int32_t>((k + 1) / 2);
    return (k & 1) ? mag : -mag;
  }

 private:
  const core::bytes& data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

core::bytes unescape_rbsp(core::byte_view nal) {
  core::bytes out;
  out.reserve(nal.size());
  int zeros = 0;
  for (std::uint8_t b : nal) {
    if (zeros >= 2 && b == 3) {
      zeros = 0;
      continue;
    }
    zeros = b == 0 ? zeros + 1 : 0;
    out.push_back(b);
  }
  return out;
}

void skip_scaling_list(bit_reader& r, int size) {
  std::int64_t last = 8, next = 8;
  for (int j = 0; j < size && r.ok(); ++j) {
    if (next != 0) {
      const std::int64_t delta = r.se();
      next = ((last + delta) % 256 + 256) % 256;
    }
    last = next == 0 ? last : next;
  }
}

}  // namespace

core::result<flv_video_tag> parse_video_tag(core::byte_view body) {
  if (body.empty()) return malformed("flv video tag is empty");
  flv_video_tag t;
  if (body[0] & 0x80) {
    // Enhanced RTMP: IsExHeader, packet type in the low nibble, then a FourCC (hvc1, av01, vp09).
    return core::make_error(flv_errc::unsupported_codec,
                            "unsupported enhanced-RTMP video codec '" + fourcc_text(body.subspan(1)) +
                                "'" + k_we_ingest);
  }
  t.frame_type = body[0] >> 4;
  t.codec_id = body[0] & 0x0f;
  if (t.codec_id != k_flv_codec_avc) {
    return core::make_error(flv_errc::unsupported_codec,
                            "unsupported video codec id " + std::to_string(t.codec_id) + " (" +
                                video_codec_name(t.codec_id) + ")" + k_we_ingest);
  }
  if (t.frame_type == static_cast<int>(flv_frame_type::command)) {
    t.data = body.subspan(1);  // video info/command frame: one byte, no AVC header
    return t;
  }
  if (body.size() < 5) {
    return malformed("flv AVC video tag of " + std::to_string(body.size()) +
                     " bytes is shorter than its 5-byte header");
  }
  t.avc_packet_type = body[1];
  const std::uint32_t cts = core::get_be24(body.data() + 2);
  t.composition_time = static_cast<std::int32_t>(cts << 8) >> 8;  // sign-extend 24 bits
  t.data = body.subspan(5);
  return t;
}

core::result<flv_audio_tag> parse_audio_tag(core::byte_view body) {
  if (body.empty()) return malformed("flv audio tag is empty");
  flv_audio_tag t;
  t.sound_format = body[0] >> 4;
  t.sound_rate = (body[0] >> 2) & 3;
  t.sound_size = (body[0] >> 1) & 1;
  t.sound_type = body[0] & 1;
  if (t.sound_format == 9) {
    return core::make_error(flv_errc::unsupported_codec,
                            "unsupported enhanced-RTMP audio codec '" + fourcc_text(body.subspan(1)) +
                                "'" + k_we_ingest);
  }
  if (t.sound_format != k_flv_sound_aac) {
    return core::make_error(flv_errc::unsupported_codec,
                            "unsupported audio codec id " + std::to_string(t.sound_format) + " (" +
                                sound_format_name(t.sound_format) + ")" + k_we_ingest);
  }
  if (body.size() < 2) return malformed("flv AAC audio tag of 1 byte has no AAC packet type");
  t.aac_packet_type = body[1];
  t.data = body.subspan(2);
  return t;
}

core::result<avc_decoder_config> parse_avc_decoder_config(core::byte_view record) {
  core::byte_reader r(record);
  std::uint8_t version = 0, profile = 0, compat = 0, level = 0, len_size = 0, nsps = 0, npps = 0;
  if (!r.u8(version) || !r.u8(profile) || !r.u8(compat) || !r.u8(level) || !r.u8(len_size) ||
      !r.u8(nsps)) {
    return malformed("AVC decoder configuration record of " + std::to_string(record.size()) +
                     " bytes is shorter than its 6-byte header");
  }
  if (version != 1) {
    return malformed("AVC decoder configuration record version " + std::to_string(version) +
                     " (expected 1)");
  }
  avc_decoder_config c;
  c.profile_idc = profile;
  c.level_idc = level;
  c.nal_length_size = (len_size & 3) + 1;
  if (c.nal_length_size == 3) {
    return malformed("AVC decoder configuration record: NAL length size 3 is reserved");
  }
  const auto read_sets = [&r](int count, std::vector<core::bytes>& out, const char* what)
      -> core::result<void> {
    for (int i = 0; i < count; ++i) {
      std::uint16_t n = 0;
      core::byte_view nal;
      if (!r.be16(n) || !r.take(n, nal)) {
        return malformed(std::string("AVC decoder configuration record: ") + what + " " +
                         std::to_string(i) + " is truncated");
      }
      if (n > 0) out.emplace_back(nal.begin(), nal.end());
    }
    return core::ok();
  };
  if (auto s = read_sets(nsps & 0x1f, c.sps, "SPS"); !s) return s.error();
  if (!r.u8(npps)) return malformed("AVC decoder configuration record: PPS count missing");
  if (auto s = read_sets(npps, c.pps, "PPS"); !s) return s.error();
  if (c.sps.empty() || c.pps.empty()) {
    return malformed("AVC decoder configuration record holds " + std::to_string(c.sps.size()) +
                     " SPS and " + std::to_string(c.pps.size()) + " PPS (expected at least one each)");
  }
  return c;
}

core::result<h264_sps_info> parse_h264_sps(core::byte_view nal) {
  if (nal.size() < 4 || (nal[0] & 0x1f) != 7) {
    return malformed("H.264 SPS: expected a NAL unit of type 7 with at least 4 bytes");
  }
  const core::bytes rbsp = unescape_rbsp(nal.subspan(1));
  bit_reader r(rbsp);
  h264_sps_info info;
  info.profile_idc = static_cast<int>(r.bits(8));
  r.bits(8);  // constraint flags
  info.level_idc = static_cast<int>(r.bits(8));
  r.ue();  // seq_parameter_set_id
  std::uint32_t chroma_format_idc = 1;
  bool separate_colour_plane = false;
  switch (info.profile_idc) {
    case 100: case 110: case 122: case 244: case 44: case 83: case 86: case 118: case 128:
    case 138: case 139: case 134: case 135: {
      chroma_format_idc = r.ue();
      if (chroma_format_idc > 3) return malformed("H.264 SPS: chroma_format_idc > 3");
      if (chroma_format_idc == 3) separate_colour_plane = r.bit() != 0;
      r.ue();   // bit_depth_luma_minus8
      r.ue();   // bit_depth_chroma_minus8
      r.bit();  // qpprime_y_zero_transform_bypass_flag
      if (r.bit()) {  // seq_scaling_matrix_present_flag
        const int lists = chroma_format_idc == 3 ? 12 : 8;
        for (int i = 0; i < lists && r.ok(); ++i) {
          if (r.bit()) skip_scaling_list(r, i < 6 ? 16 : 64);
        }
      }
      break;
    }
    default:
      break;
  }
  r.ue();  // log2_max_frame_num_minus4
  const std::uint32_t poc_type = r.ue();
  if (poc_type == 0) {
    r.ue();  // log2_max_pic_order_cnt_lsb_minus4
  } else if (poc_type == 1) {
    r.bit();  // delta_pic_order_always_zero_flag
    r.se();   // offset_for_non_ref_pic
    r.se();   // offset_for_top_to_bottom_field
    const std::uint32_t cycle = r.ue();
    if (cycle > 255) return malformed("H.264 SPS: num_ref_frames_in_pic_order_cnt_cycle > 255");
    for (std::uint32_t i = 0; i < cycle && r.ok(); ++i) r.se();
  } else if (poc_type > 2) {
    return malformed("H.264 SPS: pic_order_cnt_type " + std::to_string(poc_type) + " > 2");
  }
  r.ue();   // max_num_ref_frames
  r.bit();  // gaps_in_frame_num_value_allowed_flag
  const std::uint32_t width_mbs = r.ue() + 1;
  const std::uint32_t height_map_units = r.ue() + 1;
  const std::uint32_t frame_mbs_only = r.bit();
  if (!frame_mbs_only) r.bit();  // mb_adaptive_frame_field_flag
  r.bit();                       // direct_8x8_inference_flag
  std::uint32_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
  if (r.bit()) {
    crop_left = r.ue();
    crop_right = r.ue();
    crop_top = r.ue();
    crop_bottom = r.ue();
  }
  if (!r.ok()) return malformed("H.264 SPS is truncated");
  if (width_mbs > 1024 || height_map_units > 1024) {
    return malformed("H.264 SPS: picture of " + std::to_string(width_mbs) + "x" +
                     std::to_string(height_map_units) + " macroblocks is beyond any level");
  }
  // Crop units (H.264 7.4.2.1.1): ChromaArrayType 0 crops in luma samples.
  const std::uint32_t chroma_array_type = separate_colour_plane ? 0 : chroma_format_idc;
  const std::uint32_t sub_width_c = chroma_array_type == 1 || chroma_array_type == 2 ? 2 : 1;
  const std::uint32_t sub_height_c = chroma_array_type == 1 ? 2 : 1;
  const std::uint32_t crop_unit_x = chroma_array_type == 0 ? 1 : sub_width_c;
  const std::uint32_t crop_unit_y =
      (chroma_array_type == 0 ? 1 : sub_height_c) * (2 - frame_mbs_only);
  const std::int64_t w = std::int64_t{width_mbs} * 16 -
                         std::int64_t{crop_unit_x} * (std::int64_t{crop_left} + crop_right);
  const std::int64_t h = std::int64_t{height_map_units} * 16 * (2 - frame_mbs_only) -
                         std::int64_t{crop_unit_y} * (std::int64_t{crop_top} + crop_bottom);
  if (w <= 0 || h <= 0) return malformed("H.264 SPS: cropping leaves no picture");
  info.width = static_cast<int>(w);
  info.height = static_cast<int>(h);
  return info;
}

core::result<audio_config> parse_audio_specific_config(core::byte_view asc) {
  static constexpr std::array<int, 13> k_rates = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                                  22050, 16000, 12000, 11025, 8000,  7350};
  if (asc.size() < 2) {
    return malformed("AAC AudioSpecificConfig of " + std::to_string(asc.size()) +
                     " bytes (expected at least 2)");
  }
  core::bytes copy(asc.begin(), asc.end());
  bit_reader r(copy);
  audio_config c;
  c.audio_specific_config = copy;
  int object_type = static_cast<int>(r.bits(5));
  if (object_type == 31) object_type = 32 + static_cast<int>(r.bits(6));
  if (object_type == 0) return malformed("AAC AudioSpecificConfig: audio object type 0 is invalid");
  c.object_type = object_type;
  const std::uint32_t freq_index = r.bits(4);
  if (freq_index == 15) {
    c.sample_rate = static_cast<int>(r.bits(24));
  } else if (freq_index < k_rates.size()) {
    c.sample_rate = k_rates[freq_index];
  } else {
    return malformed("AAC AudioSpecificConfig: sampling frequency index " +
                     std::to_string(freq_index) + " is reserved");
  }
  const std::uint32_t channel_config = r.bits(4);
  if (!r.ok()) return malformed("AAC AudioSpecificConfig is truncated");
  if (c.sample_rate <= 0) return malformed("AAC AudioSpecificConfig: sample rate 0");
  c.channels = channel_config == 7 ? 8 : static_cast<int>(channel_config);
  if (channel_config > 7) {
    return malformed("AAC AudioSpecificConfig: channel configuration " +
                     std::to_string(channel_config) + " is reserved");
  }
  return c;
}

core::result<std::vector<core::byte_view>> split_length_prefixed(core::byte_view data,
                                                                 int nal_length_size) {
  if (nal_length_size < 1 || nal_length_size > 4) {
    return malformed("NAL length size " + std::to_string(nal_length_size) + " (expected 1..4)");
  }
  std::vector<core::byte_view> nals;
  core::byte_reader r(data);
  const auto n = static_cast<std::size_t>(nal_length_size);
  while (r.remaining() > 0) {
    const std::size_t at = r.position();
    core::byte_view len_bytes;
    if (!r.take(n, len_bytes)) {
      return malformed("AVC NALU packet: " + std::to_string(data.size() - at) +
                       " trailing bytes at offset " + std::to_string(at) +
                       " are too few for a NAL length");
    }
    std::uint32_t len = 0;
    for (std::uint8_t b : len_bytes) len = (len << 8) | b;
    core::byte_view nal;
    if (!r.take(len, nal)) {
      return malformed("AVC NALU packet: NAL unit of " + std::to_string(len) + " bytes at offset " +
                       std::to_string(at) + " runs past the end (" +
                       std::to_string(data.size()) + " bytes)");
    }
    if (len > 0) nals.push_back(nal);
  }
  return nals;
}

core::result<void> length_prefixed_to_annex_b(core::byte_view data, int nal_length_size,
                                              core::bytes& out) {
  auto nals = split_length_prefixed(data, nal_length_size);
  if (!nals) return nals.error();
  for (const auto nal : *nals) {
    core::put_be32(out, 1);
    core::append(out, nal);
  }
  return core::ok();
}

core::bytes make_avc_sequence_header_tag(core::byte_view sps, core::byte_view pps) {
  core::bytes t{0x17, 0x00, 0x00, 0x00, 0x00};
  t.push_back(1);
  t.push_back(sps.size() > 1 ? sps[1] : 0x64);
  t.push_back(sps.size() > 2 ? sps[2] : 0x00);
  t.push_back(sps.size() > 3 ? sps[3] : 0x1e);
  t.push_back(0xff);  // 6 reserved bits + lengthSizeMinusOne = 3
  t.push_back(0xe1);  // 3 reserved bits + one SPS
  core::put_be16(t, static_cast<std::uint16_t>(sps.size()));
  core::append(t, sps);
  t.push_back(1);
  core::put_be16(t, static_cast<std::uint16_t>(pps.size()));
  core::append(t, pps);
  return t;
}

core::bytes make_avc_nalu_tag(bool keyframe, std::int32_t composition_time_ms,
                              const std::vector<core::bytes>& nals) {
  core::bytes t{static_cast<std::uint8_t>(keyframe ? 0x17 : 0x27), 0x01};
  core::put_be24(t, static_cast<std::uint32_t>(composition_time_ms) & 0xffffff);
  for (const auto& n : nals) {
    core::put_be32(t, static_cast<std::uint32_t>(n.size()));
    core::append(t, n);
  }
  return t;
}

core::bytes make_aac_sequence_header_tag(core::byte_view asc) {
  core::bytes t{0xaf, 0x00};
  core::append(t, asc);
  return t;
}

core::bytes make_aac_raw_tag(core::byte_view access_unit) {
  core::bytes t{0xaf, 0x01};
  core::append(t, access_unit);
  return t;
}

core::bytes make_audio_specific_config(int sample_rate, int channels) {
  static constexpr std::array<int, 13> k_rates = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                                  22050, 16000, 12000, 11025, 8000,  7350};
  std::uint32_t index = 4;
  for (std::uint32_t i = 0; i < k_rates.size(); ++i) {
    if (k_rates[i] == sample_rate) index = i;
  }
  const std::uint32_t v = (2u << 11) | (index << 7) | (static_cast<std::uint32_t>(channels & 0xf) << 3);
  return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

}  // namespace meshcast::media
