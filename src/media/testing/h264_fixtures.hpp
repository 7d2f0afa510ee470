#pragma once

// Real H.264 parameter sets for the media tests, written by the stock libx264 on this project's
// machines (ffmpeg -c:v libx264). Header-only, included by *_test.cpp files only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace meshcast::media::testing {

/// "68eb..." -> {0x68, 0xeb, ...} (an odd trailing digit is ignored).
inline core::bytes unhex(std::string_view s) {
  core::bytes out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

/// High profile, 640x360 (coded as 368 rows, cropped).
inline const core::bytes k_sps_640x360 =
    unhex("6764001eacd940a02ff970110000030001000003003c0f162d96");
/// High profile, 1920x1080 (coded as 1088 rows, cropped).
inline const core::bytes k_sps_1920x1080 =
    unhex("67640028acd940780227e5c044000003000400000300f03c60c658");
/// The PPS that goes with both SPSs above.
inline const core::bytes k_pps = unhex("68ebe3cb22c0");

}  // namespace meshcast::media::testing
