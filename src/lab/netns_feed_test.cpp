#include "lab/netns_feed.hpp"

#include <gtest/gtest.h>

namespace meshcast::lab {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t k_t0 = 1'700'000'000'000'000;  // the lab's t = 0, wall clock µs
const std::string k_origin_id(32, 'a');
const std::string k_peer1_id(32, 'b');
const std::string k_peer2_id(32, 'c');

/// Origin + 2 peers, 10 s; chunks of 100 ms; playout delay 1 s.
struct feed_fixture {
  feed_fixture() {
    p.group_names = {"origin", "peers"};
    p.region_names = {""};
    p.region_matrix = {0us};
    p.duration = 10s;
    p.stream_bps = 1e6;
    p.nodes.resize(3);
    p.nodes[0].kind = scenario::node_kind::origin;
    for (std::uint32_t i = 1; i < 3; ++i) {
      p.nodes[i].index = i;
      p.nodes[i].group = 1;
      p.nodes[i].ordinal = i - 1;
    }
    nodes.resize(3);
    nodes[0].record = record_file{k_origin_id, "origin", {}, false};
    nodes[0].started_us = k_t0 - 2'000'000;
    for (std::int64_t s = 0; s < 20; ++s) {
      nodes[0].record->events.push_back({.k = record_event::kind::produced,
                                         .seq = static_cast<std::uint64_t>(100 + s),
                                         .source_us = k_t0 + s * 100'000,
                                         .bytes = 1000,
                                         .keyframe = s % 10 == 0});
    }
  }

  report::run_result run(std::int64_t shift_us = 0) {
    report::collector_settings cs;
    cs.start = core::from_us(k_t0 + shift_us);
    cs.playout_delay = 1s;
    report::collector c(cs, p);
    counts = feed_collector(c, p, nodes, k_t0, k_t0 + 3'000'000, shift_us);
    return c.finish(core::from_us(k_t0 + 3'000'000 + shift_us));
  }

  /// Peer i's record: joined at 0, join point 100, every chunk 200 ms after its source time from
  /// `from`, except `missing`.
  void peer(std::uint32_t i, const std::string& id, const std::string& from, std::int64_t missing = -1) {
    record_file r{id, "peer", {}, false};
    r.events.push_back({.k = record_event::kind::join, .t_us = k_t0});
    r.events.push_back({.k = record_event::kind::join_point, .seq = 100});
    for (std::int64_t s = 0; s < 20; ++s) {
      if (s == missing) continue;
      r.events.push_back({.k = record_event::kind::arrival,
                          .seq = static_cast<std::uint64_t>(100 + s),
                          .t_us = k_t0 + s * 100'000 + 200'000,
                          .source_us = k_t0 + s * 100'000,
                          .from = from,
                          .bytes = 1000});
    }
    nodes[i].record = std::move(r);
    nodes[i].started_us = k_t0;
  }

  scenario::plan p;
  std::vector<node_outcome> nodes;
  feed_counts counts;
};

TEST(netns_feed, chunks_arrivals_and_senders_reach_the_collector) {
  feed_fixture f;
  f.peer(1, k_peer1_id, k_origin_id);
  f.peer(2, k_peer2_id, k_peer1_id, 5);
  const auto r = f.run();
  EXPECT_EQ(f.counts.produced, 20u);
  EXPECT_EQ(f.counts.arrivals, 39u);
  EXPECT_EQ(f.counts.unknown_senders, 0u);
  EXPECT_EQ(r.chunks_produced, 20u);
  // Deadlines up to 3 s: chunks 100..119 (source ≤ 1.9 s, deadline ≤ 2.9 s) are all due.
  EXPECT_EQ(r.nodes[1].due, 20u);
  EXPECT_EQ(r.nodes[1].on_time, 20u);
  EXPECT_EQ(r.nodes[2].missing, 1u);
  EXPECT_EQ(r.nodes[1].payload_down_from_servers, 20'000u);  // from the origin
  EXPECT_EQ(r.nodes[2].payload_down_from_servers, 0u);       // from peer 1
  EXPECT_DOUBLE_EQ(*r.nodes[1].delay_p50_ms, 200.0);
}

TEST(netns_feed, an_unknown_sender_is_counted_not_guessed) {
  feed_fixture f;
  f.peer(1, k_peer1_id, std::string(32, 'f'));
  const auto r = f.run();
  EXPECT_EQ(f.counts.unknown_senders, 20u);
  EXPECT_EQ(r.nodes[1].payload_down_from_servers, 0u);
}

TEST(netns_feed, the_shift_puts_the_lab_t0_at_the_collector_start) {
  feed_fixture f;
  f.peer(1, k_peer1_id, k_origin_id);
  const auto r = f.run(-5'000'000);  // the collector started 5 s before the lab's t = 0
  EXPECT_EQ(r.nodes[1].join_us, 0);
  EXPECT_EQ(r.nodes[1].on_time, 20u);
}

TEST(netns_feed, departures_come_from_the_record_or_else_from_the_lab) {
  feed_fixture f;
  f.peer(1, k_peer1_id, k_origin_id);
  f.peer(2, k_peer2_id, k_origin_id);
  f.nodes[1].record->events.push_back({.k = record_event::kind::left, .t_us = k_t0 + 1'000'000});
  f.nodes[2].stopped_us = k_t0 + 1'500'000;  // killed: no left line
  const auto r = f.run();
  ASSERT_TRUE(r.nodes[1].leave_us);
  EXPECT_EQ(*r.nodes[1].leave_us, 1'000'000);
  ASSERT_TRUE(r.nodes[2].leave_us);
  EXPECT_EQ(*r.nodes[2].leave_us, 1'500'000);
}

TEST(netns_feed, a_left_line_written_at_the_end_is_not_a_departure) {
  feed_fixture f;
  f.peer(1, k_peer1_id, k_origin_id);
  f.nodes[1].record->events.push_back({.k = record_event::kind::left, .t_us = k_t0 + 3'200'000});
  const auto r = f.run();
  EXPECT_FALSE(r.nodes[1].leave_us);
}

TEST(netns_feed, a_node_without_a_record_joins_when_started) {
  feed_fixture f;
  f.nodes[1].started_us = k_t0 + 500'000;
  const auto r = f.run();
  EXPECT_EQ(r.nodes[1].join_us, 500'000);
  EXPECT_EQ(f.counts.records, 1u);
}

TEST(netns_feed, plan_events_become_markers_at_their_time) {
  feed_fixture f;
  f.p.events.push_back({scenario::planned_event::kind::tracker_stop, 1s, "tracker stopped"});
  const auto r = f.run();
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].at_us, 1'000'000);
  EXPECT_EQ(r.events[0].label, "tracker stopped");
}

TEST(netns_feed, bytes_sent_and_duplicates_are_summed) {
  feed_fixture f;
  f.nodes[0].record->events.push_back(
      {.k = record_event::kind::sent, .t_us = k_t0 + 100, .bytes = 3100, .payload = 3000});
  f.nodes[0].record->events.push_back(
      {.k = record_event::kind::sent, .t_us = k_t0 + 200, .bytes = 1100, .payload = 1000});
  f.peer(1, k_peer1_id, k_origin_id);
  f.nodes[1].record->events.push_back({.k = record_event::kind::duplicate, .t_us = k_t0 + 300, .bytes = 500});
  const auto r = f.run();
  EXPECT_EQ(r.origin_payload_up, 4000u);
  EXPECT_EQ(r.origin_wire_up, 4200u);
  EXPECT_EQ(r.nodes[1].duplicate_bytes, 500u);
}

}  // namespace
}  // namespace meshcast::lab
