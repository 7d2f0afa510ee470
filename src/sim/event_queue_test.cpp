// Tests of event_queue: events come out by time, and in scheduling order within the same µs.
#include "sim/event_queue.hpp"

#include <gtest/gtest.h>

#include <random>

namespace meshcast::sim {
namespace {

TEST(event_queue, events_come_out_by_time_then_in_the_order_they_were_queued) {
  event_queue q;
  std::mt19937_64 rng(5);
  for (std::uint32_t i = 0; i < 5000; ++i) q.push(static_cast<std::int64_t>(rng() % 300), event_kind::timer, i);
  EXPECT_EQ(q.size(), 5000U);
  event prev = q.pop();
  std::size_t n = 1;
  while (!q.empty()) {
    const event e = q.pop();
    ASSERT_TRUE(e.t > prev.t || (e.t == prev.t && e.a > prev.a)) << "event " << n;
    prev = e;
    ++n;
  }
  EXPECT_EQ(n, 5000U);
  EXPECT_EQ(q.peak(), 5000U);
}

TEST(event_queue, pushes_between_pops_keep_the_order) {
  event_queue q;
  q.push(10, event_kind::join, 1);
  q.push(5, event_kind::join, 2);
  EXPECT_EQ(q.pop().a, 2U);
  q.push(10, event_kind::join, 3);  // same time as 1, queued later
  q.push(7, event_kind::join, 4);
  EXPECT_EQ(q.pop().a, 4U);
  EXPECT_EQ(q.pop().a, 1U);
  EXPECT_EQ(q.pop().a, 3U);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace meshcast::sim
