// bucket_rate_meter: bytes per second over the last 2 s in eight fixed 250 ms buckets, 40 bytes
// and no allocation — each neighbour's delivery rate to us and ours to it, and the node's totals.
// Plain value type; no thread affinity.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "core/time.hpp"

namespace meshcast::swarm {

/// Bytes per second over the last 2 s in eight 250 ms buckets. The window moves a bucket at a
/// time, so it covers the last 1.75–2 s. A node keeps two per neighbour: its delivery rate to us
/// (how much we ask of it, how long a request may take) and ours to it. Until 2026-11-22 the
/// rates that decide were exact sliding windows over every chunk's sample: ~100 bytes of heap per
/// neighbour, and the coarser window measured the same swarm (docs/sim.md, "Towards 10^6").
class bucket_rate_meter {
 public:
  static constexpr std::int64_t k_bucket_us = 250'000;
  static constexpr std::size_t k_buckets = 8;

  void add(std::uint64_t bytes, core::time_point now) {
    roll(now);
    std::uint32_t& slot = buckets_[static_cast<std::size_t>(head_) % k_buckets];
    slot = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{slot} + bytes, UINT32_MAX));
  }
  [[nodiscard]] double rate(core::time_point now) const { return sum(now) * 1e6 / static_cast<double>(k_window_us); }
  /// The same for a meter started at `since` (a neighbour's connection): while it is younger
  /// than the window the rate is over its age, at least a quarter of the window (so a single
  /// early chunk does not read as a huge rate).
  [[nodiscard]] double rate(core::time_point now, core::time_point since) const {
    const std::int64_t age = std::clamp<std::int64_t>((now - since).count(), k_window_us / 4, k_window_us);
    return sum(now) * 1e6 / static_cast<double>(age);
  }

 private:
  static constexpr std::int64_t k_window_us = k_bucket_us * static_cast<std::int64_t>(k_buckets);

  [[nodiscard]] double sum(core::time_point now) const {
    const std::int64_t b = bucket_of(now);
    std::uint64_t sum = 0;
    for (std::int64_t k = b - static_cast<std::int64_t>(k_buckets) + 1; k <= b; ++k) {
      if (k >= 0 && k <= head_ && head_ - k < static_cast<std::int64_t>(k_buckets)) {
        sum += buckets_[static_cast<std::size_t>(k) % k_buckets];
      }
    }
    return static_cast<double>(sum);
  }
  [[nodiscard]] static std::int64_t bucket_of(core::time_point now) {
    return std::max<std::int64_t>(0, now.time_since_epoch().count() / k_bucket_us);
  }
  void roll(core::time_point now) {
    const std::int64_t b = bucket_of(now);
    if (b <= head_) return;
    const std::int64_t clear = std::min<std::int64_t>(b - head_, k_buckets);
    for (std::int64_t k = 1; k <= clear; ++k) buckets_[static_cast<std::size_t>(head_ + k) % k_buckets] = 0;
    head_ = b;
  }

  std::array<std::uint32_t, k_buckets> buckets_{};
  std::int64_t head_ = 0;  // the bucket `add` last wrote (time / k_bucket_us)
};

}  // namespace meshcast::swarm
