#include "swarm/request_queue.hpp"

#include <gtest/gtest.h>

#include "swarm/rate_meter.hpp"

namespace meshcast::swarm {
namespace {

using namespace std::chrono_literals;

const core::time_point t0 = core::from_us(1'000'000'000'000);
const request_queue_settings defaults{};

TEST(request_limit, an_unmeasured_neighbour_gets_the_floor) {
  EXPECT_EQ(request_limit(0, 30'000, defaults), 2u);
  EXPECT_EQ(request_limit(300'000, 0, defaults), 2u);
}

TEST(request_limit, is_the_measured_rate_times_the_target_queue_time) {
  EXPECT_EQ(request_limit(300'000, 30'000, defaults), 10u);     // 1 s at 10 chunks/s
  EXPECT_EQ(request_limit(30'000, 30'000, defaults), 2u);       // one chunk/s: the floor
  EXPECT_EQ(request_limit(10'000'000, 30'000, defaults), 16u);  // capped
}

TEST(request_timeout, is_twice_the_expected_time_clamped) {
  // RTT 100 ms + 3 chunks at 300 000 bytes/s = 400 ms expected.
  EXPECT_EQ(request_timeout(100ms, 2, 30'000, 300'000, defaults), 800ms);
  EXPECT_EQ(request_timeout(1ms, 0, 1'000, 10'000'000, defaults), 400ms);  // min
  EXPECT_EQ(request_timeout(2s, 0, 30'000, 300'000, defaults), 3s);        // max
  EXPECT_EQ(request_timeout(100ms, 0, 30'000, 0, defaults), 500ms);        // 150 ms/chunk unmeasured
}

TEST(outstanding_requests, expire_returns_the_timed_out_ones_in_order) {
  outstanding_requests r;
  r.add(core::chunk_seq{3}, t0 + 100ms);
  r.add(core::chunk_seq{1}, t0 + 50ms);
  r.add(core::chunk_seq{2}, t0 + 200ms);
  EXPECT_EQ(r.next_timeout(), t0 + 50ms);
  EXPECT_EQ(r.expire(t0 + 100ms), (std::vector<core::chunk_seq>{core::chunk_seq{1}, core::chunk_seq{3}}));
  EXPECT_EQ(r.size(), 1u);
  EXPECT_TRUE(r.contains(core::chunk_seq{2}));
}

TEST(outstanding_requests, take_returns_the_timeout_and_keeps_the_earliest_exact) {
  outstanding_requests r;
  EXPECT_TRUE(r.add(core::chunk_seq{1}, t0 + 50ms));
  EXPECT_TRUE(r.add(core::chunk_seq{2}, t0 + 200ms));
  EXPECT_FALSE(r.add(core::chunk_seq{2}, t0 + 100ms));  // already out: its timeout replaced
  EXPECT_EQ(r.take(core::chunk_seq{1}), t0 + 50ms);
  EXPECT_EQ(r.next_timeout(), t0 + 100ms);
  EXPECT_FALSE(r.take(core::chunk_seq{1}));
}

TEST(bucket_rate_meter, measures_bytes_per_second_over_the_last_two_seconds) {
  bucket_rate_meter m;
  for (int i = 0; i < 40; ++i) m.add(30'000, t0 + i * 100ms);  // 300 000 bytes/s for 4 s
  EXPECT_NEAR(m.rate(t0 + 3900ms), 300'000, 30'000);
  // The window moves a bucket at a time: at 5 s it starts at 3.25 s (7 chunks, not 10).
  EXPECT_NEAR(m.rate(t0 + 5s), 105'000, 1);
  EXPECT_EQ(m.rate(t0 + 10s), 0);                // long quiet: every bucket expired
  m.add(30'000, t0 + 10s);
  EXPECT_NEAR(m.rate(t0 + 10s), 15'000, 1);
}

TEST(bucket_rate_meter, a_young_meter_divides_by_its_age_not_the_window) {
  bucket_rate_meter m;
  const auto since = t0 + 10s;
  m.add(50'000, since + 100ms);
  EXPECT_DOUBLE_EQ(m.rate(since + 1s, since), 50'000.0);       // over its 1 s of age
  EXPECT_DOUBLE_EQ(m.rate(since + 200ms, since), 100'000.0);   // at least a quarter of the window
  EXPECT_DOUBLE_EQ(m.rate(since + 1500ms, since), 50'000.0 / 1.5);
  EXPECT_DOUBLE_EQ(m.rate(since + 1500ms), 25'000.0);          // without an age: over 2 s
  EXPECT_DOUBLE_EQ(m.rate(since + 3s, since), 0.0);            // its bucket left the window
}

}  // namespace
}  // namespace meshcast::swarm
