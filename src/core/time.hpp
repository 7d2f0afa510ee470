// Time for meshcast: one time type for wall-clock source timestamps and for the `now` fed to
// sans-IO cores. Microseconds since the Unix epoch. Real drivers read `system_clock`; the
// simulator supplies virtual time through the same `clock` interface.
#pragma once

#include <chrono>
#include <cstdint>

namespace meshcast::core {

using micros = std::chrono::microseconds;
using millis = std::chrono::milliseconds;
using time_point = std::chrono::time_point<std::chrono::system_clock, micros>;

inline std::int64_t to_us(time_point t) { return t.time_since_epoch().count(); }
inline time_point from_us(std::int64_t us) { return time_point{micros{us}}; }

/// Source of `now`. Two implementations: the wall clock (net driver) and virtual time (sim).
class clock {
 public:
  virtual ~clock() = default;
  [[nodiscard]] virtual time_point now() const = 0;
};

class system_clock final : public clock {
 public:
  [[nodiscard]] time_point now() const override {
    return std::chrono::time_point_cast<micros>(std::chrono::system_clock::now());
  }
};

/// Monotonic microseconds for measuring intervals inside one process (benchmarks, rate meters).
inline std::int64_t steady_us() {
  return std::chrono::duration_cast<micros>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace meshcast::core
