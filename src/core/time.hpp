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

/// The wall clock slowed down `factor` times from `anchor` on: the lab's time dilation. Every
/// node of a dilated lab reads its time here and converts its timer spans with to_wall(), so
/// its links (rates, delays), timers and source all run `factor` times slower than real time
/// and the same machine can run `factor` times more of them ("time-warped" emulation). Factor
/// 1 (the default, every real node) is the wall clock itself.
class dilated_clock final : public clock {
 public:
  dilated_clock() = default;
  dilated_clock(time_point anchor, double factor) : anchor_(anchor), factor_(factor < 1 ? 1 : factor) {}

  [[nodiscard]] time_point now() const override {
    const auto wall = std::chrono::time_point_cast<micros>(std::chrono::system_clock::now());
    if (factor_ == 1) return wall;
    return anchor_ + micros{static_cast<std::int64_t>(static_cast<double>((wall - anchor_).count()) / factor_)};
  }
  /// A span of this clock's time in wall-clock (steady timer) time.
  [[nodiscard]] micros to_wall(micros d) const {
    if (factor_ == 1) return d;
    const double wall = static_cast<double>(d.count()) * factor_;
    if (wall >= 9.2e18) return micros::max();  // "never" stays never
    return micros{static_cast<std::int64_t>(wall)};
  }
  /// A span of wall-clock time in this clock's time.
  [[nodiscard]] double from_wall_ms(double wall_ms) const { return wall_ms / factor_; }
  [[nodiscard]] double factor() const { return factor_; }

 private:
  time_point anchor_{};
  double factor_ = 1;
};

/// Monotonic microseconds for measuring intervals inside one process (benchmarks, rate meters).
inline std::int64_t steady_us() {
  return std::chrono::duration_cast<micros>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace meshcast::core
