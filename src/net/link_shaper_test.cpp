#include "net/link_shaper.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace meshcast::net {
namespace {

using namespace std::chrono_literals;
using core::micros;
using core::time_point;

const time_point t0 = core::from_us(1'700'000'000'000'000);

double ms_between(time_point a, time_point b) { return static_cast<double>((b - a).count()) / 1000.0; }

link_shaper_settings up_down(double up_bps, double down_bps = 0) {
  link_shaper_settings s;
  s.upload_bps = up_bps;
  s.download_bps = down_bps;
  return s;
}

TEST(token_bucket, unlimited_releases_at_once) {
  token_bucket b;
  EXPECT_FALSE(b.limited());
  EXPECT_EQ(b.reserve(t0, 1'000'000), t0);
}

TEST(token_bucket, a_burst_passes_at_once_then_the_rate_applies) {
  token_bucket b(125'000, 1500);  // 1 Mbit/s
  EXPECT_EQ(b.reserve(t0, 1500), t0);
  // The next 1250 bytes take 10 ms at 125 kB/s.
  EXPECT_EQ(b.reserve(t0, 1250), t0 + 10ms);
  EXPECT_DOUBLE_EQ(b.backlog(t0), 1250);
  EXPECT_DOUBLE_EQ(b.backlog(t0 + 10ms), 0);
}

TEST(token_bucket, reservations_are_first_come_first_served) {
  token_bucket b(125'000, 1);
  time_point last = t0;
  for (int i = 0; i < 100; ++i) {
    const auto r = b.reserve(t0, 1250);
    EXPECT_GT(r, last);
    last = r;
  }
  // 125 000 bytes at 125 kB/s: one second, to the microsecond rounding.
  EXPECT_NEAR(ms_between(t0, last), 1000, 0.2);
}

TEST(token_bucket, an_idle_link_saves_no_more_than_the_burst) {
  token_bucket b(125'000, 1500);
  EXPECT_EQ(b.reserve(t0, 1500), t0);
  // Ten idle seconds refill only 1500 bytes: 12 500 more take (12 500 - 1500) / 125 kB/s = 88 ms.
  const auto later = t0 + 10s;
  EXPECT_EQ(b.reserve(later, 12'500), later + 88ms);
}

TEST(token_bucket, a_clock_step_back_queues_behind_what_was_reserved) {
  token_bucket b(125'000, 1);
  const auto r1 = b.reserve(t0 + 1s, 1250);
  const auto r2 = b.reserve(t0, 1250);
  EXPECT_GE(r2, r1 + 10ms);
}

/// Serves the shaper in virtual time from `from` until nothing waits (or `until`), jumping from
/// deadline to deadline as a driver's timer would; returns what left, in order.
std::vector<sent_write> run(link_shaper& s, time_point from, time_point until = time_point::max()) {
  std::vector<sent_write> out;
  time_point now = from;
  for (;;) {
    while (auto w = s.poll_sent(now)) out.push_back(*w);
    const auto next = s.next_deadline();
    if (!next || *next > until) break;
    now = std::max(now, *next);
  }
  return out;
}

TEST(link_shaper, unshaped_writes_leave_at_once_and_arrive_after_the_one_way_delay) {
  link_shaper s(up_down(0));
  s.set_delay(1, 30ms);
  s.send(1, t0, 100'000, true);
  const auto w = s.poll_sent(t0);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->path, 1u);
  EXPECT_EQ(w->released, t0);
  EXPECT_EQ(w->delivered, t0 + 30ms);
  EXPECT_FALSE(w->lost);
  EXPECT_FALSE(s.next_deadline());
}

TEST(link_shaper, one_connection_gets_the_whole_rate) {
  link_shaper s(up_down(1'000'000));  // 125 kB/s
  s.set_delay(1, 10ms);
  s.send(1, t0, 12'500, true);
  EXPECT_FALSE(s.poll_sent(t0));
  EXPECT_EQ(s.next_deadline(), t0 + 100ms);
  EXPECT_NEAR(s.upload_backlog(), 12'500, 1);
  const auto out = run(s, t0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].released, t0 + 100ms);
  EXPECT_EQ(out[0].delivered, t0 + 110ms);
  EXPECT_FALSE(s.next_deadline());
}

TEST(link_shaper, chunk_data_leaves_first_come_first_served_and_control_goes_ahead_of_it) {
  link_shaper s(up_down(1'000'000));  // 125 kB/s
  s.send(1, t0, 12'500, true);
  s.send(2, t0, 12'500, true);
  EXPECT_TRUE(run(s, t0, t0 + 10ms).empty());
  // A request on a third connection 10 ms later waits behind no chunk: 100 bytes = 0.8 ms.
  s.send(3, t0 + 10ms, 100, false);
  const auto out = run(s, t0 + 10ms);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].path, 3u);
  EXPECT_NEAR(ms_between(t0, out[0].released), 10.8, 0.01);
  // The chunks in the order they were written: the first one done at 100.8 ms, the second 100 ms later.
  EXPECT_EQ(out[1].path, 1u);
  EXPECT_NEAR(ms_between(t0, out[1].released), 100.8, 0.01);
  EXPECT_EQ(out[2].path, 2u);
  EXPECT_NEAR(ms_between(t0, out[2].released), 200.8, 0.01);
}

TEST(link_shaper, writes_on_one_connection_leave_in_order_at_the_rate) {
  link_shaper s(up_down(800'000));  // 100 kB/s
  for (int i = 0; i < 10; ++i) s.send(7, t0, 1000, i % 2 == 0);
  const auto out = run(s, t0);
  ASSERT_EQ(out.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(ms_between(t0, out[i].released), 10.0 * (i + 1), 0.01);
}

TEST(link_shaper, over_any_interval_the_uplink_carries_no_more_than_rate_times_time) {
  link_shaper s(up_down(800'000));  // 100 kB/s
  // 200 kB/s offered in uneven writes, chunk data and control mixed (one write per path, as the
  // transport writes one at a time per connection).
  std::vector<sent_write> out;
  std::map<std::uint64_t, std::size_t> size_of;
  time_point now = t0;
  for (std::uint64_t i = 0; i < 300; ++i) {
    now = t0 + static_cast<std::int64_t>(i) * 5ms;
    for (auto w : run(s, now - 5ms, now)) out.push_back(w);
    const std::size_t bytes = 200 + (i * 397) % 1800;
    s.send(i, now, bytes, i % 4 != 0);
    size_of[i] = bytes;
  }
  for (auto w : run(s, now)) out.push_back(w);
  ASSERT_EQ(out.size(), 300u);
  double bytes = 0;
  for (const auto& w : out) {
    bytes += static_cast<double>(size_of[w.path]);
    ASSERT_LE(bytes, 100'000 * ms_between(t0, w.released) / 1000 + 1);
  }
  // ...and keeps busy while there is a backlog: all of it in bytes / 100 kB/s.
  EXPECT_NEAR(ms_between(t0, out.back().released), bytes / 100, 10);
}

TEST(link_shaper, a_closed_connection_frees_its_share) {
  link_shaper s(up_down(1'000'000));
  s.send(2, t0, 12'500, true);
  s.send(1, t0, 12'500, true);
  s.close_path(2);
  const auto out = run(s, t0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].released, t0 + 100ms);
}

TEST(link_shaper, delivery_is_in_order_when_the_delay_shrinks) {
  link_shaper s(up_down(0));
  s.set_delay(1, 100ms);
  s.send(1, t0, 100, false);
  s.set_delay(1, 10ms);
  s.send(1, t0 + 1ms, 100, false);
  const auto first = s.poll_sent(t0 + 1ms);
  const auto second = s.poll_sent(t0 + 1ms);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(second->delivered, first->delivered);
}

TEST(link_shaper, loss_delays_a_write_by_a_retransmission_timeout_and_what_follows_waits) {
  link_shaper_settings ls;
  ls.loss = 0.02;
  ls.seed = 7;
  link_shaper s(ls);
  s.set_delay(1, 150ms);  // RTT 300 ms: the timeout is 2·RTT = 600 ms (above the 200 ms floor)
  int lost = 0;
  bool checked_follower = false;
  for (int i = 0; i < 20'000; ++i) {
    const auto now = t0 + i * 1s;  // far apart: each write starts on an idle path
    s.send(1, now, 1000, true);    // one packet
    const auto w = s.poll_sent(now);
    ASSERT_TRUE(w);
    if (w->lost) {
      ++lost;
      EXPECT_EQ(w->delivered, now + 150ms + 600ms);
      if (!checked_follower) {
        s.send(1, now + 1ms, 1000, false);
        const auto next = s.poll_sent(now + 1ms);
        ASSERT_TRUE(next);
        EXPECT_GE(next->delivered, w->delivered);  // head-of-line blocking
        checked_follower = true;
      }
    } else {
      EXPECT_EQ(w->delivered, now + 150ms);
    }
  }
  EXPECT_NEAR(lost, 400, 80);  // 2 % of 20 000 single-packet writes
  EXPECT_TRUE(checked_follower);
}

TEST(link_shaper, a_big_write_is_more_likely_hit_and_a_short_path_waits_the_floor) {
  link_shaper_settings ls;
  ls.loss = 0.01;
  link_shaper s(ls);
  s.set_delay(1, 5ms);
  int lost = 0;
  for (int i = 0; i < 10'000; ++i) {
    const auto now = t0 + i * 1s;
    s.send(1, now, 14'480, true);  // ten packets: 1 - 0.99^10 = 9.6 %
    const auto w = s.poll_sent(now);
    ASSERT_TRUE(w);
    if (w->lost) {
      ++lost;
      EXPECT_EQ(w->delivered, now + 5ms + 200ms);
    }
  }
  EXPECT_NEAR(lost, 956, 150);
}

TEST(link_shaper, download_bytes_are_handed_on_at_the_download_rate) {
  link_shaper s(up_down(0, 1'000'000));  // 125 kB/s
  EXPECT_EQ(s.read_size(), 1448u);       // 10 ms of 125 kB/s is 1250 bytes, less than one packet
  EXPECT_EQ(s.receive(t0, 1500), t0);
  EXPECT_EQ(s.receive(t0, 12'500), t0 + 100ms);
  link_shaper fast(up_down(0, 40'000'000));
  EXPECT_EQ(fast.read_size(), 50'000u);  // 10 ms of 5 MB/s
  link_shaper open(up_down(0, 0));
  EXPECT_EQ(open.read_size(), 64u * 1024);
  EXPECT_EQ(open.receive(t0, 1'000'000), t0);
}

}  // namespace
}  // namespace meshcast::net
