#include "media/flv.hpp"

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

}  // namespace meshcast::media
