// splitmix64: the small, well-mixed 64-bit hash the project uses wherever it needs a derived
// seed, a sample decision or filler bytes from a seed and a counter (not for secrets: nonces
// that must be unpredictable come from a seed that is). One definition for everyone.
#pragma once

#include <cstdint>

namespace meshcast::core {

/// The SplitMix64 output for input `x` (the generator's step applied to x, then its finaliser).
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// The generator: the next value of the sequence held in `state`.
constexpr std::uint64_t splitmix64_next(std::uint64_t& state) {
  const std::uint64_t r = splitmix64(state);
  state += 0x9e3779b97f4a7c15ULL;
  return r;
}

/// A double in [0, 1) from a 64-bit value (its top 53 bits).
constexpr double unit_interval(std::uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

/// SplitMix64 as a UniformRandomBitGenerator (for <random>'s distributions): 8 bytes of state
/// where std::mt19937_64 keeps 2.5 KB — a swarm node has one, and a simulator 10^5 nodes.
class splitmix64_engine {
 public:
  using result_type = std::uint64_t;
  explicit constexpr splitmix64_engine(std::uint64_t seed = 0) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  constexpr result_type operator()() { return splitmix64_next(state_); }

 private:
  std::uint64_t state_;
};

}  // namespace meshcast::core
