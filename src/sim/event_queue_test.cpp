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

TEST(event_queue, an_owned_event_is_replaced_in_place_and_keeps_the_order_of_a_new_one) {
  event_queue q;
  q.push_owned(7, 50, event_kind::timer, 1);
  q.push(20, event_kind::join, 2);
  q.push_owned(7, 20, event_kind::timer, 3);  // replaces 1; queued after 2 at the same µs
  q.push_owned(8, 30, event_kind::timer, 4);
  q.push_owned(9, 40, event_kind::timer, 5);
  q.cancel_owned(9);
  q.cancel_owned(12);  // nothing queued: no-op
  EXPECT_EQ(q.size(), 3U);
  EXPECT_EQ(q.pop().a, 2U);
  EXPECT_EQ(q.pop().a, 3U);
  EXPECT_FALSE(q.has_owned(7));
  const event e = q.pop();
  EXPECT_EQ(e.a, 4U);
  EXPECT_EQ(e.kind(), event_kind::timer);
  EXPECT_TRUE(q.empty());
}

TEST(event_queue, owned_and_one_off_events_interleave_by_time_then_order) {
  event_queue q;
  std::mt19937_64 rng(9);
  for (std::uint32_t i = 0; i < 4000; ++i) {
    const auto t = static_cast<std::int64_t>(rng() % 200);
    if (i % 2 == 0) {
      q.push(t, event_kind::arrive, i);
    } else {
      q.push_owned(static_cast<std::uint32_t>(rng() % 300), t, event_kind::timer, i);  // may replace
    }
  }
  event prev = q.pop();
  while (!q.empty()) {
    const event e = q.pop();
    ASSERT_TRUE(e.t > prev.t || (e.t == prev.t && e.order() > prev.order()));
    prev = e;
  }
}

}  // namespace
}  // namespace meshcast::sim
