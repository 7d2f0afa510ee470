// bit_reader: MSB-first bit reader with Exp-Golomb codes, shared by the H.264 SPS parser (h264.cpp)
// and the AudioSpecificConfig parser (aac.cpp). Internal to src/media; borrows its input.
// Reading past the end never touches memory: it yields 0 bits and clears ok(), so a parser reads
// all its fields and checks ok() once. Plain value type; no thread affinity.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"

namespace meshcast::media {

class bit_reader {
 public:
  explicit bit_reader(core::byte_view data) : data_(data) {}

  /// False once any read ran past the end; every later read gives 0.
  [[nodiscard]] bool ok() const { return ok_; }

  /// `n` bits (0..32), most significant first.
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
  /// Unsigned Exp-Golomb (H.264 9.1). More than 31 leading zeros does not fit 32 bits: not ok.
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
  /// Signed Exp-Golomb (H.264 9.1.1): 0, 1, -1, 2, -2, ...
  std::int32_t se() {
    const std::uint32_t k = ue();
    const auto mag = static_cast<std::int32_t>((k + 1) / 2);
    return (k & 1) ? mag : -mag;
  }

 private:
  core::byte_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace meshcast::media
