#include "media/h264.hpp"

#include <array>
#include <string>

#include "media/bit_reader.hpp"

namespace meshcast::media::h264 {
namespace {

core::error err(errc code, std::string message) {
  return core::make_error(code, std::move(message));
}

// Position of the next 00 00 01 at or after `from`, or data.size().
std::size_t find_start_code(core::byte_view data, std::size_t from) {
  for (std::size_t i = from; i + 3 <= data.size(); ++i) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) return i;
  }
  return data.size();
}

// NAL unit payload -> RBSP: drops the emulation prevention byte of each 00 00 03.
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

std::vector<core::byte_view> split_annex_b(core::byte_view data) {
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

bool annex_b_has_nal(core::byte_view data, int type) {
  for (const auto nal : split_annex_b(data)) {
    if (nal_type(nal) == type) return true;
  }
  return false;
}

void append_nal(core::bytes& out, core::byte_view nal) {
  static constexpr std::array<std::uint8_t, 4> k_start = {0, 0, 0, 1};
  out.insert(out.end(), k_start.begin(), k_start.end());
  core::append(out, nal);
}

void find_parameter_sets(core::byte_view annex_b, core::bytes& sps, core::bytes& pps) {
  for (const auto nal : split_annex_b(annex_b)) {
    if (nal_type(nal) == k_nal_sps && sps.empty()) sps.assign(nal.begin(), nal.end());
    if (nal_type(nal) == k_nal_pps && pps.empty()) pps.assign(nal.begin(), nal.end());
  }
}

core::bytes ensure_parameter_sets(core::byte_view annex_b, const video_config& config) {
  const auto nals = split_annex_b(annex_b);
  bool idr = false, sps = false;
  for (const auto nal : nals) {
    idr = idr || nal_type(nal) == k_nal_idr;
    sps = sps || nal_type(nal) == k_nal_sps;
  }
  if (!idr || sps || config.sps.empty()) return {annex_b.begin(), annex_b.end()};
  core::bytes out;
  out.reserve(annex_b.size() + config.sps.size() + config.pps.size() + 16);
  bool inserted = false;
  for (const auto nal : nals) {
    if (!inserted && nal_type(nal) != k_nal_aud) {  // keep an access unit delimiter first
      append_nal(out, config.sps);
      append_nal(out, config.pps);
      inserted = true;
    }
    append_nal(out, nal);
  }
  return out;
}

core::result<decoder_config> parse_decoder_config(core::byte_view record) {
  // version(8)=1 profile(8) compat(8) level(8) 6 bits reserved + lengthSizeMinusOne(2)
  // 3 bits reserved + numSPS(5) {len(16) sps} numPPS(8) {len(16) pps}
  core::byte_reader r(record);
  std::uint8_t version = 0, profile = 0, compat = 0, level = 0, len_size = 0, nsps = 0, npps = 0;
  if (!r.u8(version) || !r.u8(profile) || !r.u8(compat) || !r.u8(level) || !r.u8(len_size) ||
      !r.u8(nsps)) {
    return err(errc::truncated, "AVC decoder configuration record of " +
                                    std::to_string(record.size()) +
                                    " bytes is shorter than its 6-byte header");
  }
  if (version != 1) {
    return err(errc::bad_value, "AVC decoder configuration record version " +
                                    std::to_string(version) + " (expected 1)");
  }
  decoder_config c;
  c.profile_idc = profile;
  c.level_idc = level;
  c.nal_length_size = (len_size & 3) + 1;
  if (c.nal_length_size == 3) {
    return err(errc::bad_value, "AVC decoder configuration record: NAL length size 3 is reserved");
  }
  const auto read_sets = [&r](int count, std::vector<core::bytes>& out,
                              const char* what) -> core::result<void> {
    for (int i = 0; i < count; ++i) {
      std::uint16_t n = 0;
      core::byte_view nal;
      if (!r.be16(n) || !r.take(n, nal)) {
        return err(errc::truncated, std::string("AVC decoder configuration record: ") + what +
                                        " " + std::to_string(i) + " is truncated");
      }
      if (n > 0) out.emplace_back(nal.begin(), nal.end());
    }
    return core::ok();
  };
  if (auto s = read_sets(nsps & 0x1f, c.sps, "SPS"); !s) return s.error();
  if (!r.u8(npps)) {
    return err(errc::truncated, "AVC decoder configuration record: PPS count missing");
  }
  if (auto s = read_sets(npps, c.pps, "PPS"); !s) return s.error();
  if (c.sps.empty() || c.pps.empty()) {
    return err(errc::bad_value, "AVC decoder configuration record holds " +
                                    std::to_string(c.sps.size()) + " SPS and " +
                                    std::to_string(c.pps.size()) +
                                    " PPS (expected at least one each)");
  }
  return c;
}

core::result<std::vector<core::byte_view>> split_length_prefixed(core::byte_view data,
                                                                 int nal_length_size) {
  // 3 is reserved by ISO 14496-15 (lengthSizeMinusOne is 0, 1 or 3).
  if (nal_length_size != 1 && nal_length_size != 2 && nal_length_size != 4) {
    return err(errc::bad_value,
               "NAL length size " + std::to_string(nal_length_size) + " (expected 1, 2 or 4)");
  }
  std::vector<core::byte_view> nals;
  core::byte_reader r(data);
  const auto n = static_cast<std::size_t>(nal_length_size);
  while (r.remaining() > 0) {
    const std::size_t at = r.position();
    core::byte_view len_bytes;
    if (!r.take(n, len_bytes)) {
      return err(errc::truncated, "AVC NALU packet: " + std::to_string(data.size() - at) +
                                      " trailing bytes at offset " + std::to_string(at) +
                                      " are too few for a NAL length");
    }
    std::uint32_t len = 0;
    for (std::uint8_t b : len_bytes) len = (len << 8) | b;
    core::byte_view nal;
    if (!r.take(len, nal)) {
      return err(errc::truncated, "AVC NALU packet: NAL unit of " + std::to_string(len) +
                                      " bytes at offset " + std::to_string(at) +
                                      " runs past the end (" + std::to_string(data.size()) +
                                      " bytes)");
    }
    if (len > 0) nals.push_back(nal);
  }
  return nals;
}

core::result<core::bytes> length_prefixed_to_annex_b(core::byte_view data, int nal_length_size) {
  auto nals = split_length_prefixed(data, nal_length_size);
  if (!nals) return nals.error();
  core::bytes out;
  out.reserve(data.size() + 16);
  for (const auto nal : *nals) append_nal(out, nal);
  return out;
}

core::result<sps_info> parse_sps(core::byte_view nal) {
  const auto malformed = [](std::string what) { return err(errc::bad_value, std::move(what)); };
  if (nal.size() < 4 || nal_type(nal) != k_nal_sps) {
    return malformed("H.264 SPS: expected a NAL unit of type 7 with at least 4 bytes");
  }
  const core::bytes rbsp = unescape_rbsp(nal.subspan(1));
  bit_reader r(rbsp);
  sps_info info;
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
  if (!r.ok()) return err(errc::truncated, "H.264 SPS is truncated");
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

}  // namespace meshcast::media::h264
