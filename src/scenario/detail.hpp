// detail: helpers internal to src/scenario — deterministic draws and number text. The draws are
// written by hand on top of std::mt19937_64, whose output the standard fixes, rather than with
// std::uniform_*_distribution and std::shuffle, whose algorithms it leaves to the library: a
// seed gives the same plan with libstdc++ and libc++. Plain functions; a generator belongs to
// whoever created it.
#pragma once

#include <charconv>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "scenario/scenario.hpp"

namespace meshcast::scenario::limits {

// Bounds on a scenario's numbers: beyond them a value is surely a typo, or the run would not fit.
inline constexpr std::size_t max_nodes = 2'000'000;  ///< every node that ever joins
inline constexpr double max_duration_s = 86'400;     ///< one day
inline constexpr double max_delay_ms = 60'000;       ///< any one-way delay value
inline constexpr double max_capacity = 1'000;        ///< upload/download, × stream rate
inline constexpr double max_loss = 0.5;
inline constexpr double max_churn_rate = 10'000;  ///< nodes per second
inline constexpr std::int64_t min_bitrate_kbps = 10, max_bitrate_kbps = 100'000;
inline constexpr std::int64_t min_chunk_ms = 10, max_chunk_ms = 10'000, max_gop_ms = 60'000;
inline constexpr std::int64_t max_neighbours = 10'000;
inline constexpr std::size_t max_groups = 1'000;  ///< group indices are 16-bit in the plan
inline constexpr std::size_t max_events = 10'000;
inline constexpr std::size_t max_regions = 256;          ///< the region matrix is regions² entries
inline constexpr std::size_t max_region_delays = 1'000;  ///< [[links.regions]] entries

}  // namespace meshcast::scenario::limits

namespace meshcast::scenario::detail {

/// Uniform on [0, 1) with 53 random bits.
inline double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

/// Uniform on [0, n), n > 0, without modulo bias (rejects the 2^64 mod n lowest draws).
inline std::uint64_t below(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

/// Fisher–Yates.
template <class T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const std::size_t j = below(rng, i);
    std::swap(v[i - 1], v[j]);
  }
}

/// An independent generator for one purpose, so drawing more for one purpose (another event)
/// does not shift the draws of another (the peers' uploads). std::seed_seq's mixing is fixed by
/// the standard.
inline std::mt19937_64 stream(std::uint64_t seed, std::uint64_t purpose) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(purpose), static_cast<std::uint32_t>(purpose >> 32)};
  return std::mt19937_64(seq);
}

/// Shortest text that reads back as the same double, in plain notation where that is readable
/// ("1.5", "100000", "0.1"; "1e+20").
inline std::string number_text(double v) {
  char buf[64];
  v += 0.0;  // no "-0"
  const double mag = v < 0 ? -v : v;
  const bool plain = mag == 0 || (mag >= 1e-6 && mag < 1e15);
  const auto r = plain ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                       : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

/// "" when every value `d` can take is <= `max`, else the complaint ("values must be <= 1000,
/// got '0..2000'"). A normal distribution's mean and standard deviation are each checked; its
/// samples are clamped to `max` where they are drawn.
inline std::string check_max(const distribution& d, double max) {
  bool ok = true;
  switch (d.k) {
    case distribution::kind::constant:
      ok = d.a <= max;
      break;
    case distribution::kind::uniform:
    case distribution::kind::normal:
      ok = d.a <= max && d.b <= max;
      break;
    case distribution::kind::choice:
      for (const auto& c : d.choices) ok = ok && c.second <= max;
      break;
  }
  return ok ? std::string{} : "values must be <= " + number_text(max) + ", got '" + d.text() + "'";
}

}  // namespace meshcast::scenario::detail
