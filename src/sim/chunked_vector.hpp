// chunked_vector: an append-only array in fixed blocks of 2^Shift elements. Elements never move
// and growing never copies: a std::vector of 10^7 connection or message slots (~1 GB at 10^6
// simulated peers) reallocates into twice its size and holds both while it copies, and keeps up
// to half of the new block unused — a third of the engine's memory at its peak, for nothing.
// Indexing is a shift, a mask and one more load. Single-threaded value type (moves only).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace meshcast::sim::detail {

template <class T, unsigned Shift = 12>
class chunked_vector {
 public:
  static constexpr std::size_t k_block = std::size_t{1} << Shift;

  T& operator[](std::size_t i) { return blocks_[i >> Shift][i & (k_block - 1)]; }
  const T& operator[](std::size_t i) const { return blocks_[i >> Shift][i & (k_block - 1)]; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }

  /// Appends a value-initialised element (blocks are made so, and nothing is ever removed).
  T& emplace_back() {
    if (size_ == blocks_.size() * k_block) blocks_.push_back(std::make_unique<T[]>(k_block));
    return (*this)[size_++];
  }
  T& back() { return (*this)[size_ - 1]; }

 private:
  std::vector<std::unique_ptr<T[]>> blocks_;
  std::size_t size_ = 0;
};

}  // namespace meshcast::sim::detail
