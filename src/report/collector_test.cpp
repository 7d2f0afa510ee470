#include "report/collector.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace meshcast::report {
namespace {

using namespace std::chrono_literals;
using scenario::node_kind;

/// Origin + `peers` viewers, all joined at 0, stream 1 Mbit/s.
scenario::plan small_plan(std::size_t peers) {
  scenario::plan p;
  p.group_names = {"origin", "peers"};
  p.region_names = {""};
  p.region_matrix = {core::micros{0}};
  p.stream_bps = 1'000'000;
  p.duration = 10s;
  scenario::planned_node o;
  o.kind = node_kind::origin;
  p.nodes.push_back(o);
  for (std::size_t i = 0; i < peers; ++i) {
    scenario::planned_node n;
    n.index = static_cast<std::uint32_t>(i + 1);
    n.kind = node_kind::peer;
    n.group = 1;
    n.ordinal = static_cast<std::uint32_t>(i);
    p.nodes.push_back(n);
  }
  return p;
}

const core::time_point t0 = core::from_us(1'000'000'000);

collector_settings settings() {
  collector_settings s;
  s.start = t0;
  s.chunk_duration = 100ms;
  s.playout_delay = 1000ms;
  return s;
}

/// 100 chunks at 10/s, keyframe every 20; returns them produced.
void produce(collector& c, std::size_t n, std::uint64_t first_seq = 500) {
  for (std::size_t k = 0; k < n; ++k) {
    c.on_produced(first_seq + k, t0 + std::chrono::milliseconds{100 * k}, k % 20 == 0, 12'500);
  }
}

TEST(Collector, ContinuityCountsOnTimeLateAndMissingFromTheJoinPoint) {
  const auto plan = small_plan(1);
  collector c(settings(), plan);
  produce(c, 100);
  c.on_join(1, t0);
  c.on_join_point(1, 510);
  for (std::uint64_t k = 10; k < 100; ++k) {
    if (k == 50) continue;  // missing
    const auto src = t0 + std::chrono::milliseconds{100 * k};
    const auto arr = src + (k == 60 ? 1500ms : 200ms);  // 60 late
    c.on_arrival(1, 500 + k, src, arr, 0, 12'500, true);
  }
  // Chunks with deadline (source + 1 s) ≤ 10 s: k ≤ 90 → due = 81 from k = 10.
  const run_result r = c.finish(t0 + 10s);
  const node_result& n = r.nodes[1];
  EXPECT_EQ(n.due, 81U);
  EXPECT_EQ(n.late, 1U);
  EXPECT_EQ(n.missing, 1U);
  EXPECT_EQ(n.on_time, 79U);
  EXPECT_NEAR(n.continuity, 79.0 / 81.0, 1e-9);
  // Startup: the first on-time keyframe chunk from the join point is k = 20 (k = 10 is not a
  // keyframe), played at its deadline 2.0 + 1.0 s after a join at 0.
  ASSERT_TRUE(n.startup_ms);
  EXPECT_DOUBLE_EQ(*n.startup_ms, 3000.0);
  EXPECT_NEAR(r.delay.quantile(0.5), 200.0, 3.0);
  EXPECT_EQ(r.chunks_produced, 100U);
}

TEST(Collector, AViewerThatNeverStoresAChunkPlaysNothing) {
  const auto plan = small_plan(2);
  collector c(settings(), plan);
  produce(c, 100);
  c.on_join(1, t0 + 2s);  // joins at 2 s and never gets a chunk
  c.on_join(2, t0);
  c.on_join_point(2, 500);
  for (std::uint64_t k = 0; k < 100; ++k) {
    const auto src = t0 + std::chrono::milliseconds{100 * k};
    c.on_arrival(2, 500 + k, src, src + 200ms, 0, 12'500, true);
  }
  const run_result r = c.finish(t0 + 10s);
  // Due from its join: source times 2.0..9.0 s (deadline ≤ 10 s) = 71 chunks, all missing.
  EXPECT_EQ(r.nodes[1].due, 71U);
  EXPECT_EQ(r.nodes[1].missing, 71U);
  EXPECT_EQ(r.nodes[1].continuity, 0.0);
  EXPECT_FALSE(r.nodes[1].startup_ms);
  EXPECT_EQ(r.nodes[2].continuity, 1.0);
}

TEST(Collector, OffloadEgressAndDuplicates) {
  const auto plan = small_plan(2);
  collector c(settings(), plan);
  produce(c, 10);
  for (std::uint32_t v : {1U, 2U}) {
    c.on_join(v, t0);
    c.on_join_point(v, 500);
  }
  for (std::uint64_t k = 0; k < 10; ++k) {
    const auto src = t0 + std::chrono::milliseconds{100 * k};
    c.on_arrival(1, 500 + k, src, src + 50ms, 0, 1000, true);   // from the origin
    c.on_arrival(2, 500 + k, src, src + 100ms, 1, 1000, true);  // from peer 1
    c.on_sent(0, src, 1100, 1000);
    c.on_sent(1, src, 1100, 1000);
  }
  c.on_duplicate(2, 1000);
  const run_result r = c.finish(t0 + 2s);
  EXPECT_EQ(r.viewer_payload_down, 20'000U);
  EXPECT_EQ(r.viewer_payload_from_peers, 10'000U);
  EXPECT_EQ(r.origin_payload_up, 10'000U);
  EXPECT_EQ(r.wire_up, 22'000U);
  EXPECT_EQ(r.duplicate_bytes, 1000U);
  ASSERT_GE(r.timeline.size(), 1U);
  EXPECT_NEAR(r.timeline[0].origin_egress_x, 10'000.0 / 125'000.0, 1e-9);
}

/// One viewer over 30 s of 100 ms chunks, an event at 10 s; chunk k arrives 100 ms after its
/// source time unless `lost(k)`. The run ends at `end`.
run_result event_run(const std::function<bool(std::uint64_t)>& lost, core::micros end) {
  const auto plan = small_plan(1);
  collector c(settings(), plan);
  produce(c, 300);  // 30 s
  c.on_join(1, t0);
  c.on_join_point(1, 500);
  c.on_event(t0 + 10s, "trouble");
  for (std::uint64_t k = 0; k < 300; ++k) {
    if (lost(k)) continue;
    const auto src = t0 + std::chrono::milliseconds{100 * k};
    c.on_arrival(1, 500 + k, src, src + 100ms, 0, 1000, true);
  }
  return c.finish(t0 + end);
}

TEST(Collector, RecoveryAfterAnEventIsTheTimeBackAtNinetyNinePercent) {
  // Chunks with source time in [10 s, 13 s) are lost: deadlines [11 s, 14 s) dip.
  const run_result r = event_run([](std::uint64_t k) { return k >= 100 && k < 130; }, 30s);
  ASSERT_EQ(r.events.size(), 1U);
  ASSERT_TRUE(r.events[0].recovery_s);
  EXPECT_DOUBLE_EQ(*r.events[0].recovery_s, 4.0);  // seconds 14, 15, 16 are good again
  EXPECT_DOUBLE_EQ(r.events[0].min_continuity, 0.0);
}

TEST(Collector, RecoveryToTheLevelBeforeAnEventForASwarmBelowNinetyNinePercent) {
  // One chunk in ten always lost (90 %); seconds with deadlines [11 s, 14 s) lose half. The last
  // chunk's deadline is in second 30: the run ends at 31 s.
  const run_result r =
      event_run([](std::uint64_t k) { return k % 10 == 0 || (k >= 100 && k < 130 && k % 2 == 1); }, 31s);
  ASSERT_EQ(r.events.size(), 1U);
  EXPECT_FALSE(r.events[0].recovery_s);  // never at 99 %
  ASSERT_TRUE(r.events[0].before);
  EXPECT_NEAR(*r.events[0].before, 0.9, 1e-9);  // seconds 1..9 (nothing is due in second 0)
  ASSERT_TRUE(r.events[0].recovery_to_before_s);
  EXPECT_DOUBLE_EQ(*r.events[0].recovery_to_before_s, 4.0);  // seconds 14, 15, 16 at 90 % again
  EXPECT_NEAR(r.events[0].min_continuity, 0.4, 1e-9);
}

TEST(Collector, SamplesAFixedSubsetOfViewersButCountsEveryone) {
  const auto plan = small_plan(1000);
  collector_settings s = settings();
  s.sample_nodes = 100;
  s.seed = 7;
  collector c(s, plan);
  std::size_t sampled = 0;
  for (std::uint32_t i = 1; i <= 1000; ++i) sampled += c.sampled(i) ? 1 : 0;
  EXPECT_GT(sampled, 60U);
  EXPECT_LT(sampled, 140U);
  collector again(s, plan);
  for (std::uint32_t i = 1; i <= 1000; ++i) EXPECT_EQ(c.sampled(i), again.sampled(i));
  produce(c, 10);
  for (std::uint32_t i = 1; i <= 1000; ++i) {
    c.on_join(i, t0);
    c.on_join_point(i, 500);
    c.on_arrival(i, 500, t0, t0 + 10ms, 0, 100, true);
  }
  const run_result r = c.finish(t0 + 2s);
  EXPECT_EQ(r.delay.count(), 1000U);
  EXPECT_EQ(r.arrivals.size(), sampled);
}

TEST(Histogram, QuantilesWithinOnePercent) {
  histogram h;
  for (int i = 1; i <= 10'000; ++i) h.add(i * 0.1);  // 0.1 .. 1000 ms
  EXPECT_NEAR(h.quantile(0.5), 500, 5);
  EXPECT_NEAR(h.quantile(0.95), 950, 10);
  EXPECT_NEAR(h.quantile(0.01), 10, 0.2);
  histogram g;
  g.add(2000);
  h.merge(g);
  EXPECT_EQ(h.count(), 10'001U);
  EXPECT_DOUBLE_EQ(h.max(), 2000);
}

}  // namespace
}  // namespace meshcast::report
