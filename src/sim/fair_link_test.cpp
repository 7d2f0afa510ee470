// Tests of fair_link: processor sharing with virtual finish tags.
#include "sim/fair_link.hpp"

#include <gtest/gtest.h>

namespace meshcast::sim {
namespace {

// 1 MB/s: one byte is one µs, so completion times read as byte counts.
constexpr double k_mb_per_s = 1'000'000;

std::vector<std::uint32_t> done_at(fair_link& l, std::int64_t t) {
  std::vector<fair_link::done> d;
  l.take_done(t, d);
  std::vector<std::uint32_t> flows;
  for (const auto& x : d) flows.push_back(x.flow);
  return flows;
}

TEST(fair_link, one_flow_takes_bytes_over_rate) {
  fair_link l(k_mb_per_s);
  l.add(7, 1000, 500);
  EXPECT_EQ(l.next_completion(), 1500);
  EXPECT_TRUE(done_at(l, 1499).empty());
  EXPECT_EQ(done_at(l, 1500), std::vector<std::uint32_t>{7});
  EXPECT_TRUE(l.idle());
  EXPECT_EQ(l.next_completion(), fair_link::k_never);
}

TEST(fair_link, two_flows_share_the_rate_equally) {
  fair_link l(k_mb_per_s);
  l.add(1, 1000, 0);
  l.add(2, 1000, 0);
  EXPECT_EQ(l.next_completion(), 2000) << "each at half the rate";
  EXPECT_EQ(done_at(l, 2000), (std::vector<std::uint32_t>{1, 2}));
}

TEST(fair_link, a_flow_joining_later_slows_the_first_only_while_both_are_backlogged) {
  fair_link l(k_mb_per_s);
  l.add(1, 1000, 0);
  l.add(2, 200, 500);  // flow 1 has 500 bytes left; both now get half
  EXPECT_EQ(l.next_completion(), 900) << "flow 2's 200 bytes at 0.5 MB/s";
  EXPECT_EQ(done_at(l, 900), std::vector<std::uint32_t>{2});
  EXPECT_EQ(l.next_completion(), 1200) << "flow 1: 300 left at the full rate again";
  EXPECT_EQ(done_at(l, 1200), std::vector<std::uint32_t>{1});
}

TEST(fair_link, a_backlogged_flow_resumes_from_its_last_tag) {
  fair_link l(k_mb_per_s);
  l.add(1, 100, 0);
  std::vector<fair_link::done> d;
  l.take_done(100, d);
  ASSERT_EQ(d.size(), 1U);
  l.resume(d[0], 300);
  EXPECT_EQ(l.next_completion(), 400);
}

TEST(fair_link, a_removed_flow_gives_its_share_back) {
  fair_link l(k_mb_per_s);
  l.add(1, 1000, 0);
  l.add(2, 1000, 0);
  l.remove(2, 400);  // flow 1 got 200 bytes so far
  EXPECT_EQ(l.next_completion(), 1200);
}

TEST(fair_link, fifo_serves_one_message_at_a_time_in_the_order_handed_over) {
  fair_link l(k_mb_per_s, link_sharing::fifo);
  l.add(1, 1000, 0, {2, false});
  l.add(2, 500, 100, {3, false});
  EXPECT_EQ(l.next_completion(), 1000) << "flow 1 at the full rate";
  EXPECT_EQ(done_at(l, 1000), std::vector<std::uint32_t>{1});
  EXPECT_EQ(l.next_completion(), 1500);
  EXPECT_EQ(done_at(l, 1500), std::vector<std::uint32_t>{2});
}

TEST(fair_link, fifo_serves_control_messages_before_chunk_data) {
  fair_link l(k_mb_per_s, link_sharing::fifo);
  l.add(1, 1000, 0, {1, false});
  l.add(2, 50, 400, {2, true});  // preempts: flow 1 has 600 bytes left
  EXPECT_EQ(l.next_completion(), 450);
  EXPECT_EQ(done_at(l, 450), std::vector<std::uint32_t>{2});
  EXPECT_EQ(l.next_completion(), 1050);
}

}  // namespace
}  // namespace meshcast::sim
