// rate_meter: bytes per second over a sliding window of recent samples — a neighbour's measured
// delivery rate (chunk arrivals) or this node's upload rate. Memory is bounded by the window:
// samples older than it are dropped as new ones come (and as the rate is read: time only moves
// forward). Plain value type; no thread affinity.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "core/time.hpp"
#include "swarm/compact.hpp"

namespace meshcast::swarm {

class rate_meter {
 public:
  /// How far back samples count: 2 s smooths one chunk burst at 10 chunks/s. A constant, not a
  /// member: a node keeps one meter per neighbour.
  static constexpr core::micros k_window{2'000'000};

  void add(std::uint64_t bytes, core::time_point now) {
    if (!started_) {
      started_ = true;
      first_ = now;
    }
    if (!samples_.empty() && now < samples_.back().first) ordered_ = false;
    samples_.emplace_back(now, bytes);
    sum_ += bytes;
    trim(now);
  }

  /// Bytes per second over the window ending at `now`. While the meter is younger than the
  /// window the rate is over its age (at least a quarter of the window, so a single early
  /// sample does not read as a huge rate).
  [[nodiscard]] double rate(core::time_point now) const {
    if (!started_) return 0;
    std::uint64_t sum = 0;
    if (ordered_) {
      // Samples in time order (the usual case): drop the ones that fell out of the window, as
      // the next add would (time only moves forward), so no call walks them twice; when none
      // did (the oldest sample's time is kept here) the buffer is not even touched.
      if (!samples_.empty() && oldest_ <= now - k_window) trim(now);
      sum = sum_;
    } else {
      for (const auto& [t, b] : samples_) {
        if (t > now - k_window) sum += b;
      }
    }
    return per_second(sum, now);
  }

  [[nodiscard]] std::uint64_t total() const { return total_bytes_ + sum_; }

 private:
  // Const: rate() drops what fell out of the window (a cache of what the next add would drop).
  void trim(core::time_point now) const {
    while (!samples_.empty() && samples_.front().first <= now - k_window) {
      sum_ -= samples_.front().second;
      total_bytes_ += samples_.front().second;
      samples_.pop_front();
    }
    if (!samples_.empty()) oldest_ = samples_.front().first;
  }
  [[nodiscard]] double per_second(std::uint64_t sum, core::time_point now) const {
    const auto span = std::clamp(now - first_, core::micros{k_window.count() / 4}, k_window);
    return static_cast<double>(sum) * 1e6 / static_cast<double>(span.count());
  }

  // A devector, not a std::deque: it allocates nothing while empty (a deque takes 576 bytes at
  // once), and each neighbour has one meter (its upload to us is a bucket_rate_meter).
  mutable compact_devector<std::pair<core::time_point, std::uint64_t>> samples_;
  mutable std::uint64_t sum_ = 0;
  mutable std::uint64_t total_bytes_ = 0;
  core::time_point first_;
  mutable core::time_point oldest_;  // samples_.front().first while ordered_ and not empty
  bool started_ = false;
  bool ordered_ = true;  // every add came at or after the previous one
};

/// Bytes per second over the last 2 s in eight 250 ms buckets: coarser than rate_meter (the
/// window moves a bucket at a time, so it covers the last 1.75–2 s) and 40 bytes with no
/// allocation. For figures that are only shown (our upload to a neighbour), not decided on; a
/// simulated node keeps one per neighbour.
class bucket_rate_meter {
 public:
  static constexpr std::int64_t k_bucket_us = 250'000;
  static constexpr std::size_t k_buckets = 8;

  void add(std::uint64_t bytes, core::time_point now) {
    roll(now);
    std::uint32_t& slot = buckets_[static_cast<std::size_t>(head_) % k_buckets];
    slot = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{slot} + bytes, UINT32_MAX));
  }
  [[nodiscard]] double rate(core::time_point now) const {
    const std::int64_t b = bucket_of(now);
    std::uint64_t sum = 0;
    for (std::int64_t k = b - static_cast<std::int64_t>(k_buckets) + 1; k <= b; ++k) {
      if (k >= 0 && k <= head_ && head_ - k < static_cast<std::int64_t>(k_buckets)) {
        sum += buckets_[static_cast<std::size_t>(k) % k_buckets];
      }
    }
    return static_cast<double>(sum) * 1e6 / static_cast<double>(k_bucket_us * static_cast<std::int64_t>(k_buckets));
  }

 private:
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
