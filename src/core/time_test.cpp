#include "core/time.hpp"

#include <gtest/gtest.h>

namespace meshcast::core {
namespace {

time_point wall() { return system_clock{}.now(); }

TEST(DilatedClock, FactorOneIsTheWallClock) {
  const dilated_clock c;
  EXPECT_EQ(c.factor(), 1);
  const auto before = wall();
  const auto t = c.now();
  EXPECT_GE(t, before);
  EXPECT_LE(t - before, micros{1'000'000});
  EXPECT_EQ(c.to_wall(micros{1'234}), micros{1'234});
  EXPECT_EQ(c.from_wall_ms(7.5), 7.5);
}

TEST(DilatedClock, RunsFactorTimesSlowerFromItsAnchor) {
  // Anchored 4 s of wall time ago at factor 4: one second of the clock's time has passed.
  const auto anchor = wall() - micros{4'000'000};
  const dilated_clock c(anchor, 4);
  const auto elapsed = c.now() - anchor;
  EXPECT_GE(elapsed, micros{1'000'000});
  EXPECT_LE(elapsed, micros{1'250'000});  // a second of wall slack, quartered
  EXPECT_EQ(c.to_wall(micros{250'000}), micros{1'000'000});
  EXPECT_EQ(c.from_wall_ms(20), 5);
}

TEST(DilatedClock, NeverStaysNeverAndFactorsBelowOneAreOne) {
  const dilated_clock c(wall(), 3);
  EXPECT_EQ(c.to_wall(micros::max()), micros::max());
  EXPECT_EQ(c.to_wall(micros{0}), micros{0});
  EXPECT_EQ(dilated_clock(wall(), 0.5).factor(), 1);
}

}  // namespace
}  // namespace meshcast::core
