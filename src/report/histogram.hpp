// histogram: delays in milliseconds with bounded relative error and fixed memory, mergeable —
// exact counts per bucket, percentiles within ~1 % at any number of samples. Buckets: 0.1 ms wide
// below 10 ms, then 64 per power of two (≤ 1.1 % relative width) up to ~2^20 ms; beyond, one
// overflow bucket. Plain value type.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace meshcast::report {

class histogram {
 public:
  histogram() : counts_(k_buckets, 0) {}

  void add(double ms, std::uint64_t n = 1) {
    counts_[bucket_of(ms)] += n;
    total_ += n;
    sum_ += ms * static_cast<double>(n);
    if (total_ == n || ms < min_) min_ = ms;
    if (total_ == n || ms > max_) max_ = ms;
  }
  void merge(const histogram& o) {
    if (o.total_ == 0) return;
    for (std::size_t i = 0; i < k_buckets; ++i) counts_[i] += o.counts_[i];
    if (total_ == 0 || o.min_ < min_) min_ = o.min_;
    if (total_ == 0 || o.max_ > max_) max_ = o.max_;
    total_ += o.total_;
    sum_ += o.sum_;
  }
  [[nodiscard]] std::uint64_t count() const { return total_; }
  [[nodiscard]] double mean() const { return total_ ? sum_ / static_cast<double>(total_) : 0; }
  [[nodiscard]] double min() const { return min_; }
  [[nodiscard]] double max() const { return max_; }

  /// The q-quantile (0..1): the midpoint of the bucket holding it, clamped to [min, max].
  [[nodiscard]] double quantile(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < k_buckets; ++i) {
      seen += counts_[i];
      if (seen >= rank && counts_[i] > 0) {
        const double mid = (lower(i) + upper(i)) / 2;
        return mid < min_ ? min_ : mid > max_ ? max_ : mid;
      }
    }
    return max_;
  }
  /// (value, cumulative share) points of the CDF, one per non-empty bucket (for plots).
  [[nodiscard]] std::vector<std::pair<double, double>> cdf() const {
    std::vector<std::pair<double, double>> out;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < k_buckets; ++i) {
      if (counts_[i] == 0) continue;
      seen += counts_[i];
      out.emplace_back(upper(i), static_cast<double>(seen) / static_cast<double>(total_));
    }
    return out;
  }

 private:
  static constexpr std::size_t k_linear = 100;  // [0, 10) ms in 0.1 ms steps
  static constexpr std::size_t k_per_octave = 64;
  static constexpr std::size_t k_octaves = 17;  // 10 ms · 2^17 ≈ 22 min
  static constexpr std::size_t k_buckets = k_linear + k_per_octave * k_octaves + 1;

  static std::size_t bucket_of(double ms) {
    if (!(ms > 0)) return 0;
    if (ms < 10) return static_cast<std::size_t>(ms * 10);
    const double o = std::log2(ms / 10) * k_per_octave;
    const auto i = static_cast<std::size_t>(o);
    return i >= k_per_octave * k_octaves ? k_buckets - 1 : k_linear + i;
  }
  static double lower(std::size_t i) {
    if (i < k_linear) return static_cast<double>(i) / 10;
    return 10 * std::exp2(static_cast<double>(i - k_linear) / k_per_octave);
  }
  static double upper(std::size_t i) {
    if (i < k_linear) return static_cast<double>(i + 1) / 10;
    return 10 * std::exp2(static_cast<double>(i - k_linear + 1) / k_per_octave);
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  double sum_ = 0;
  double min_ = 0, max_ = 0;
};

}  // namespace meshcast::report
