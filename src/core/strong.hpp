// Strong integer types for ids and sequence numbers, so a chunk_seq is not an int
// (libtorrent units.hpp). Plain value types.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace meshcast::core {

template <class Tag, class Rep>
class strong_int {
 public:
  using rep = Rep;
  constexpr strong_int() = default;
  constexpr explicit strong_int(Rep v) : v_(v) {}
  [[nodiscard]] constexpr Rep value() const { return v_; }

  constexpr auto operator<=>(const strong_int&) const = default;

  constexpr strong_int& operator++() {
    ++v_;
    return *this;
  }
  constexpr strong_int operator++(int) {
    auto old = *this;
    ++v_;
    return old;
  }
  /// Offsetting by a plain count is allowed (seq + 3); adding two sequence numbers is not.
  friend constexpr strong_int operator+(strong_int a, Rep n) { return strong_int(a.v_ + n); }
  friend constexpr strong_int operator-(strong_int a, Rep n) { return strong_int(a.v_ - n); }
  /// Distance between two values of the same type, as a signed count.
  friend constexpr std::int64_t operator-(strong_int a, strong_int b) {
    return static_cast<std::int64_t>(a.v_) - static_cast<std::int64_t>(b.v_);
  }
  friend std::ostream& operator<<(std::ostream& os, strong_int s) { return os << s.v_; }

 private:
  Rep v_{};
};

struct chunk_seq_tag {};
/// Sequence number of a chunk within one rendition; increases by one per chunk, never reused.
using chunk_seq = strong_int<chunk_seq_tag, std::uint64_t>;

struct segment_seq_tag {};
/// Sequence number of an HLS segment (EXT-X-MEDIA-SEQUENCE numbering).
using segment_seq = strong_int<segment_seq_tag, std::uint64_t>;

}  // namespace meshcast::core

template <class Tag, class Rep>
struct std::hash<meshcast::core::strong_int<Tag, Rep>> {
  std::size_t operator()(meshcast::core::strong_int<Tag, Rep> s) const noexcept {
    return std::hash<Rep>{}(s.value());
  }
};
