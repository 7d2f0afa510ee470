#include "swarm/upload_budget.hpp"

#include <gtest/gtest.h>

namespace meshcast::swarm {
namespace {

using namespace std::chrono_literals;

const core::time_point t0 = core::from_us(1'000'000'000'000);

TEST(upload_budget, zero_kbps_is_unlimited) {
  upload_budget b(0, 30'000, t0);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(b.can_send(1'000'000, t0));
    b.spend(1'000'000, t0);
  }
  EXPECT_EQ(b.ready_at(1'000'000, t0), t0);
}

TEST(upload_budget, a_full_bucket_sends_one_chunk_then_waits_for_tokens) {
  upload_budget b(2400, 30'000, t0);  // 300 000 bytes/s, burst one 30 KB chunk
  ASSERT_TRUE(b.can_send(30'000, t0));
  b.spend(30'000, t0);
  EXPECT_FALSE(b.can_send(30'000, t0));
  EXPECT_EQ(b.ready_at(30'000, t0), t0 + 100ms);
  EXPECT_FALSE(b.can_send(30'000, t0 + 99ms));
  EXPECT_TRUE(b.can_send(30'000, t0 + 100ms));
}

TEST(upload_budget, a_chunk_larger_than_the_burst_goes_from_a_full_bucket) {
  upload_budget b(2400, 16'000, t0);
  EXPECT_TRUE(b.can_send(50'000, t0));
  b.spend(50'000, t0);                                // 34 000 in debt
  EXPECT_EQ(b.ready_at(16'000, t0), t0 + 166'667us);  // (34 000 + 16 000) / 300 000 s
}

TEST(upload_budget, a_greedy_sender_never_exceeds_rate_times_time_plus_one_burst) {
  upload_budget b(2400, 30'000, t0);
  std::size_t sent = 0;
  core::time_point t = t0;
  for (; t < t0 + 10s; t += 1ms) {
    while (b.can_send(29'000, t)) {
      b.spend(29'000, t);
      sent += 29'000;
    }
  }
  EXPECT_LE(sent, 300'000u * 10 + 30'000);
  EXPECT_GE(sent, 300'000u * 10 - 29'000);
}

TEST(upload_budget, a_refund_gives_back_what_was_never_sent) {
  upload_budget b(2400, 30'000, t0);
  b.spend(30'000, t0);
  b.refund(30'000, t0);
  EXPECT_TRUE(b.can_send(30'000, t0));
}

TEST(serve_queue, serves_in_request_order) {
  serve_queue q(4);
  EXPECT_EQ(q.admit(core::chunk_seq{7}, t0), serve_queue::admit_result::queued);
  EXPECT_EQ(q.admit(core::chunk_seq{5}, t0), serve_queue::admit_result::queued);
  EXPECT_EQ(q.front()->seq, core::chunk_seq{7});
  q.pop_front();
  EXPECT_EQ(q.front()->seq, core::chunk_seq{5});
}

TEST(serve_queue, refuses_as_busy_past_its_limit_and_ignores_repeats) {
  serve_queue q(2);
  EXPECT_EQ(q.admit(core::chunk_seq{1}, t0), serve_queue::admit_result::queued);
  EXPECT_EQ(q.admit(core::chunk_seq{1}, t0), serve_queue::admit_result::duplicate);
  EXPECT_EQ(q.admit(core::chunk_seq{2}, t0), serve_queue::admit_result::queued);
  EXPECT_EQ(q.admit(core::chunk_seq{3}, t0), serve_queue::admit_result::busy);
}

TEST(serve_queue, a_cancel_withdraws_a_waiting_request) {
  serve_queue q(4);
  q.admit(core::chunk_seq{1}, t0);
  q.admit(core::chunk_seq{2}, t0);
  EXPECT_TRUE(q.cancel(core::chunk_seq{1}));
  EXPECT_FALSE(q.cancel(core::chunk_seq{9}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.front()->seq, core::chunk_seq{2});
}

}  // namespace
}  // namespace meshcast::swarm
