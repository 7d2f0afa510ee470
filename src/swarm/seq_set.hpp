// seq_set: a set of chunk sequence numbers over a sliding window, as a ring of bits. Used for
// what each neighbour holds (from its bitmap and haves). Capacity is fixed at construction; the
// window only moves forward: inserting past its end forgets the oldest numbers, and numbers below
// its start are ignored, so a hostile have far ahead costs nothing but forgetting.
// Plain value type; no thread affinity.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/strong.hpp"

namespace meshcast::swarm {

using core::chunk_seq;

class seq_set {
 public:
  /// Holds up to `capacity` consecutive sequence numbers (rounded up to a multiple of 64).
  explicit seq_set(std::size_t capacity = 4096)
      : words_((capacity + 63) / 64, 0),
        capacity_(words_.size() * 64),
        mask_((capacity_ & (capacity_ - 1)) == 0 ? capacity_ - 1 : 0) {}

  /// Adds `s`. Returns false (and does nothing) when `s` is below the window.
  bool insert(chunk_seq s) {
    if (s < base_) return false;
    if (s - base_ >= static_cast<std::int64_t>(capacity_)) advance_to(s - (capacity_ - 1));
    word(s) |= bit(s);
    if (!newest_ || s > *newest_) newest_ = s;
    return true;
  }
  void erase(chunk_seq s) {
    if (in_window(s)) word(s) &= ~bit(s);
  }
  [[nodiscard]] bool contains(chunk_seq s) const { return in_window(s) && (word(s) & bit(s)) != 0; }

  /// Forgets every number below `s` (the window starts at `s` from now on).
  void advance_to(chunk_seq s) {
    if (s <= base_) return;
    if (s - base_ >= static_cast<std::int64_t>(capacity_)) {
      std::fill(words_.begin(), words_.end(), 0);
    } else {
      for (chunk_seq q = base_; q < s; ++q) word(q) &= ~bit(q);
    }
    base_ = s;
  }

  /// The highest number ever inserted (even if erased or forgotten since).
  [[nodiscard]] std::optional<chunk_seq> newest() const { return newest_; }
  [[nodiscard]] chunk_seq base() const { return base_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  [[nodiscard]] bool in_window(chunk_seq s) const {
    return s >= base_ && s - base_ < static_cast<std::int64_t>(capacity_);
  }
  // A power-of-two capacity (the node's 1024) masks instead of dividing: contains() runs for
  // every wanted chunk and neighbour in each pick round.
  [[nodiscard]] std::size_t index(chunk_seq s) const {
    return mask_ != 0 ? static_cast<std::size_t>(s.value() & mask_) : static_cast<std::size_t>(s.value() % capacity_);
  }
  std::uint64_t& word(chunk_seq s) { return words_[index(s) / 64]; }
  [[nodiscard]] std::uint64_t word(chunk_seq s) const { return words_[index(s) / 64]; }
  [[nodiscard]] std::uint64_t bit(chunk_seq s) const { return std::uint64_t{1} << (index(s) % 64); }

  std::vector<std::uint64_t> words_;
  std::size_t capacity_;
  std::uint64_t mask_;  // capacity_ - 1 when a power of two, else 0
  chunk_seq base_{0};
  std::optional<chunk_seq> newest_;
};

}  // namespace meshcast::swarm
