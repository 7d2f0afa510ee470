#include "media/frame.hpp"

#include <cstdio>

namespace meshcast::media {

std::string codec_string(const video_config& v) {
  // avc1.PPCCLL from the SPS: profile_idc, constraint flags, level_idc (bytes 1..3 of the NAL).
  if (v.sps.size() < 4) return "avc1.42e01e";
  char buf[16];
  std::snprintf(buf, sizeof buf, "avc1.%02x%02x%02x", v.sps[1], v.sps[2], v.sps[3]);
  return buf;
}

std::string codec_string(const audio_config& a) {
  return "mp4a.40." + std::to_string(a.object_type > 0 ? a.object_type : 2);
}

}  // namespace meshcast::media
