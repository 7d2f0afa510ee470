// seq_set: a set of chunk sequence numbers over a sliding window, as a ring of bits. Used for
// what each neighbour holds (from its bitmap and haves) and what we sent it. The capacity is a
// compile-time power of two and the bits live inline (no allocation: a simulated node keeps two
// per neighbour, 10^6 nodes in one process); the window only moves forward: inserting past its
// end forgets the oldest numbers, and numbers below its start are ignored, so a hostile have far
// ahead costs nothing but forgetting.
// Plain value type; no thread affinity.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/strong.hpp"

namespace meshcast::swarm {

using core::chunk_seq;

template <std::size_t Bits>
class basic_seq_set {
  static_assert(Bits >= 64 && (Bits & (Bits - 1)) == 0, "a power of two, at least one word");

 public:
  /// Adds `s`. Returns false (and does nothing) when `s` is below the window.
  bool insert(chunk_seq s) {
    if (s < base_) return false;
    if (s - base_ >= static_cast<std::int64_t>(Bits)) advance_to(s - (Bits - 1));
    word(s) |= bit(s);
    // Saturating: a (hostile) have of the largest number must not wrap to "nothing inserted".
    if (s.value() >= newest_plus_one_) newest_plus_one_ = s.value() + (s.value() < UINT64_MAX ? 1 : 0);
    return true;
  }
  void erase(chunk_seq s) {
    if (in_window(s)) word(s) &= ~bit(s);
  }
  [[nodiscard]] bool contains(chunk_seq s) const { return in_window(s) && (word(s) & bit(s)) != 0; }

  /// Forgets every number below `s` (the window starts at `s` from now on).
  void advance_to(chunk_seq s) {
    if (s <= base_) return;
    if (s - base_ >= static_cast<std::int64_t>(Bits)) {
      words_.fill(0);
    } else {
      for (chunk_seq q = base_; q < s; ++q) word(q) &= ~bit(q);
    }
    base_ = s;
  }

  /// The highest number ever inserted (even if erased or forgotten since; the largest possible
  /// number reads as one less).
  [[nodiscard]] std::optional<chunk_seq> newest() const {
    if (newest_plus_one_ == 0) return std::nullopt;
    return chunk_seq{newest_plus_one_ - 1};
  }
  [[nodiscard]] chunk_seq base() const { return base_; }
  [[nodiscard]] static constexpr std::size_t capacity() { return Bits; }

 private:
  [[nodiscard]] bool in_window(chunk_seq s) const {
    return s >= base_ && s - base_ < static_cast<std::int64_t>(Bits);
  }
  [[nodiscard]] static std::size_t index(chunk_seq s) { return static_cast<std::size_t>(s.value() & (Bits - 1)); }
  std::uint64_t& word(chunk_seq s) { return words_[index(s) / 64]; }
  [[nodiscard]] std::uint64_t word(chunk_seq s) const { return words_[index(s) / 64]; }
  [[nodiscard]] static std::uint64_t bit(chunk_seq s) { return std::uint64_t{1} << (index(s) % 64); }

  std::array<std::uint64_t, Bits / 64> words_{};
  chunk_seq base_{0};
  std::uint64_t newest_plus_one_ = 0;  // 0: nothing inserted (an optional would take 16 bytes)
};

}  // namespace meshcast::swarm
