// Tests of make_plan: determinism, the nodes drawn from the groups, and what each event kind
// does to them (leave, flash crowd, churn, kill, tracker), regions and one-way delays.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "scenario/scenario.hpp"

namespace meshcast::scenario {
namespace {

// Overrides with one knob set: with(&overrides::peers, 7).
template <class T, class V>
overrides with(std::optional<T> overrides::*knob, V value) {
  overrides o;
  o.*knob = T(value);
  return o;
}

using namespace std::chrono_literals;

scenario parsed(std::string_view text) {
  auto s = parse(text, "t.toml");
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? *s : scenario{};
}

plan planned(std::string_view text) {
  auto p = make_plan(parsed(text));
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return p ? std::move(*p) : plan{};
}

std::string plan_error_of(std::string_view text) {
  auto p = make_plan(parsed(text));
  EXPECT_FALSE(p);
  return p ? "" : p.error().message;
}

// Everything about a plan, for comparing two.
std::string fingerprint(const plan& p) {
  std::string s;
  for (const planned_node& n : p.nodes) {
    s += p.name_of(n.index) + " " + std::to_string(n.upload_bps) + " " + std::to_string(n.download_bps) +
         " " + std::to_string(n.access_delay.count()) + " " + std::to_string(n.join_at.count()) + " " +
         (n.leave_at ? std::to_string(n.leave_at->count()) : "-") + (n.killed ? "k" : "") + "\n";
  }
  for (const planned_event& e : p.events) s += std::to_string(e.at.count()) + " " + e.label + "\n";
  for (core::micros m : p.region_matrix) s += std::to_string(m.count()) + " ";
  return s;
}

constexpr std::string_view k_ci = R"(
duration = 30
[[peers]]
count = 20
upload = "40%:0.5, 40%:1.5, 20%:4"
[links]
delay = "10..50"
)";

TEST(chunk_cut, whole_frames_covering_the_chunk_duration_and_a_short_last_chunk_per_gop) {
  source_spec src;  // 25 fps, 2 s GOP, 100 ms chunks
  const chunk_cut c = cut_of(src);
  EXPECT_EQ(c.frames_per_chunk, 3U);  // 120 ms: two frames (80 ms) would not cover 100 ms
  EXPECT_EQ(c.frames_per_gop, 50U);
  EXPECT_EQ(c.chunks_per_gop(), 17U);  // 16 of 3 frames, one of 2
  EXPECT_EQ(c.start_us(0), 0);
  EXPECT_EQ(c.duration_us(0), 120'000);
  EXPECT_EQ(c.start_us(16), 1'920'000);
  EXPECT_EQ(c.duration_us(16), 80'000);
  EXPECT_TRUE(c.segment_start(17));
  EXPECT_EQ(c.segment_of(17), 1U);
  EXPECT_EQ(c.start_us(17), 2'000'000);
  EXPECT_NEAR(c.mean_chunk_us(), 2e6 / 17, 1e-6);

  src.fps = 30;  // 3 frames are exactly 100 ms
  const chunk_cut exact = cut_of(src);
  EXPECT_EQ(exact.chunks_per_gop(), 20U);
  for (std::uint64_t seq = 0; seq < 45; ++seq) EXPECT_EQ(exact.duration_us(seq), 100'000) << seq;

  src.chunk_ms = 10;  // under one frame: a chunk per frame
  EXPECT_EQ(cut_of(src).frames_per_chunk, 1U);
  src.chunk_ms = 5000;  // longer than the GOP: one chunk per GOP
  EXPECT_EQ(cut_of(src).chunks_per_gop(), 1U);
}

TEST(plan, origin_first_then_the_groups_nodes) {
  const plan p = planned(k_ci);
  ASSERT_EQ(p.nodes.size(), 21U);
  EXPECT_EQ(p.peer_count(), 20U);
  EXPECT_EQ(p.nodes[0].kind, node_kind::origin);
  EXPECT_EQ(p.name_of(0), "origin");
  EXPECT_EQ(p.nodes[0].upload_bps, 0) << "unlimited";
  EXPECT_EQ(p.group_names, (std::vector<std::string>{"origin", "peers"}));
  EXPECT_EQ(p.region_names, (std::vector<std::string>{""}));
  EXPECT_EQ(p.name_of(1), "peers-0");
  EXPECT_EQ(p.name_of(20), "peers-19");
  EXPECT_EQ(p.duration, 30s);
  EXPECT_EQ(p.stream_bps, 1'000'000);
  std::map<double, int> uploads;
  for (std::uint32_t i = 1; i < 21; ++i) {
    const planned_node& n = p.nodes[i];
    EXPECT_EQ(n.index, i);
    EXPECT_EQ(n.kind, node_kind::peer);
    EXPECT_EQ(n.join_at, 0us);
    EXPECT_FALSE(n.leave_at);
    EXPECT_GE(n.access_delay, 10ms);
    EXPECT_LE(n.access_delay, 50ms);
    ++uploads[n.upload_bps];
  }
  EXPECT_EQ(uploads, (std::map<double, int>{{500'000, 8}, {1'500'000, 8}, {4'000'000, 4}}));
  EXPECT_DOUBLE_EQ(p.mean_peer_upload_bps(), 1'600'000);
  EXPECT_EQ(p.one_way(1, 2), p.nodes[1].access_delay + p.nodes[2].access_delay);
}

TEST(plan, same_seed_same_plan_other_seed_other_plan) {
  const std::string text = std::string(k_ci) + R"(
[[events]]
at = 10
kind = "leave"
fraction = 0.5
over = 5
[[events]]
at = 12
kind = "churn"
rate = 2
)";
  EXPECT_EQ(fingerprint(planned(text)), fingerprint(planned(text)));
  EXPECT_NE(fingerprint(planned(text)), fingerprint(planned("seed = 2\n" + text)));
}

TEST(plan, adding_an_event_does_not_reshuffle_the_groups_capacities) {
  const plan a = planned(k_ci);
  const plan b = planned(std::string(k_ci) + "[[events]]\nat = 5\nkind = \"join\"\ncount = 10\n");
  ASSERT_EQ(b.nodes.size(), 31U);
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].upload_bps, b.nodes[i].upload_bps);
    EXPECT_EQ(a.nodes[i].access_delay, b.nodes[i].access_delay);
  }
}

TEST(plan, half_the_peers_leave_spread_over_ten_seconds) {
  const plan p =
      planned(std::string(k_ci) + "[[events]]\nat = 20\nkind = \"leave\"\nfraction = 0.5\nover = 10\n");
  std::vector<core::micros> leaves;
  for (const planned_node& n : p.nodes) {
    if (n.leave_at) {
      leaves.push_back(*n.leave_at);
      EXPECT_FALSE(n.killed);
    }
  }
  ASSERT_EQ(leaves.size(), 10U);
  std::sort(leaves.begin(), leaves.end());
  for (std::size_t k = 0; k < leaves.size(); ++k) EXPECT_EQ(leaves[k], 20s + k * 1s);
  ASSERT_EQ(p.events.size(), 1U);
  EXPECT_EQ(p.events[0].k, planned_event::kind::marker);
  EXPECT_EQ(p.events[0].at, 20s);
  EXPECT_EQ(p.events[0].label, "50% of peers leave over 10 s");
}

TEST(plan, leave_takes_only_nodes_that_have_joined_and_are_not_leaving) {
  const plan p = planned(R"(
[[peers]]
count = 10
join_at = 50
[[peers]]
name = "early"
count = 10
[[events]]
at = 10
kind = "leave"
group = "early"
count = 4
[[events]]
at = 20
kind = "leave"
group = "early"
count = 100
)");
  int first = 0, second = 0;
  for (const planned_node& n : p.nodes) {
    if (n.leave_at == 10s) ++first;
    if (n.leave_at == 20s) ++second;
    if (n.group == 1) {
      EXPECT_FALSE(n.leave_at);
    }
  }
  EXPECT_EQ(first, 4);
  EXPECT_EQ(second, 6) << "a count larger than the live nodes takes them all";
}

TEST(plan, flash_crowd_appends_joiners_spread_over_the_window) {
  const plan p = planned(R"(
duration = 120
[[peers]]
count = 50
upload = "40%:0.5, 40%:1.5, 20%:4"
[[events]]
at = 20
kind = "join"
count = 500
over = 60
label = "flash crowd: +500 peers over 60 s"
)");
  ASSERT_EQ(p.nodes.size(), 551U);
  EXPECT_EQ(p.peer_count(), 550U);
  std::map<double, int> uploads;
  for (std::size_t i = 51; i < p.nodes.size(); ++i) {
    const planned_node& n = p.nodes[i];
    EXPECT_EQ(n.join_at, 20s + (i - 51) * 120ms) << i;
    EXPECT_EQ(n.group, 1);
    EXPECT_EQ(p.name_of(n.index), "peers-" + std::to_string(i - 1));
    ++uploads[n.upload_bps];
  }
  EXPECT_EQ(uploads, (std::map<double, int>{{500'000, 200}, {1'500'000, 200}, {4'000'000, 100}}));
  ASSERT_EQ(p.events.size(), 1U);
  EXPECT_EQ(p.events[0].label, "flash crowd: +500 peers over 60 s");
}

TEST(plan, joiners_of_several_events_are_ordered_by_join_time) {
  const plan p = planned(R"(
[[peers]]
count = 2
[[events]]
at = 30
kind = "join"
count = 2
[[events]]
at = 10
kind = "join"
count = 2
over = 4
)");
  ASSERT_EQ(p.nodes.size(), 7U);
  EXPECT_EQ(p.nodes[3].join_at, 10s);
  EXPECT_EQ(p.nodes[4].join_at, 12s);
  EXPECT_EQ(p.nodes[5].join_at, 30s);
  EXPECT_EQ(p.nodes[6].join_at, 30s);
  EXPECT_EQ(p.name_of(3), "peers-2");
  EXPECT_EQ(p.events[0].label, "+2 peers over 4 s") << "sorted by time";
  EXPECT_EQ(p.events[1].label, "+2 peers");
}

TEST(plan, group_joins_spread_over_join_over) {
  const plan p = planned("[[peers]]\ncount = 4\njoin_at = 10\njoin_over = 2\n");
  EXPECT_EQ(p.nodes[1].join_at, 10s);
  EXPECT_EQ(p.nodes[2].join_at, 10500ms);
  EXPECT_EQ(p.nodes[4].join_at, 11500ms);
}

// Live peers of group 1 at time t.
std::size_t live_at(const plan& p, core::micros t) {
  return static_cast<std::size_t>(std::count_if(p.nodes.begin(), p.nodes.end(), [&](const planned_node& n) {
    return n.kind == node_kind::peer && n.join_at <= t && (!n.leave_at || *n.leave_at > t);
  }));
}

TEST(plan, churn_keeps_the_population_constant) {
  const plan p = planned(R"(
duration = 60
[[peers]]
count = 50
[[events]]
at = 10
kind = "churn"
rate = 2
until = 40
)");
  // 30 s × 2/s = 60 departures and 60 arrivals, one pair every 0.5 s from 10.5 s to 40 s.
  EXPECT_EQ(p.nodes.size(), 1U + 50 + 60);
  std::size_t left = 0;
  std::set<core::micros> leave_times;
  for (const planned_node& n : p.nodes) {
    if (!n.leave_at) continue;
    ++left;
    leave_times.insert(*n.leave_at);
    EXPECT_LT(n.join_at, *n.leave_at) << p.name_of(n.index) << " leaves the moment it joins";
  }
  EXPECT_EQ(left, 60U);
  EXPECT_EQ(leave_times.size(), 60U);
  EXPECT_EQ(*leave_times.begin(), 10500ms);
  EXPECT_EQ(*leave_times.rbegin(), 40s);
  for (core::micros t = 0s; t <= 60s; t += 250ms) EXPECT_EQ(live_at(p, t), 50U) << t.count();
  ASSERT_EQ(p.events.size(), 1U);
  EXPECT_EQ(p.events[0].label, "churn: 2 peers/s until 40 s");
}

TEST(plan, churn_without_until_runs_to_the_end_and_stops_there_when_shortened) {
  scenario s =
      parsed("duration = 20\n[[peers]]\ncount = 5\n[[events]]\nat = 10\nkind = \"churn\"\nrate = 1\n");
  auto p = make_plan(s);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->nodes.size(), 1U + 5 + 10);
  ASSERT_TRUE(apply(s, with(&overrides::duration_s, 15)));
  p = make_plan(s);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->nodes.size(), 1U + 5 + 5);
  ASSERT_TRUE(apply(s, with(&overrides::duration_s, 5)));
  p = make_plan(s);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->nodes.size(), 1U + 5) << "an event after the end does not happen";
  EXPECT_TRUE(p->events.empty());
}

TEST(plan, kill_marks_its_target) {
  const plan p = planned(std::string(k_ci) + R"(
[[events]]
at = 12
kind = "kill"
target = "peers-12"
[[events]]
at = 25
kind = "kill"
target = "origin"
[[events]]
at = 5
kind = "leave"
fraction = 1
)");
  ASSERT_TRUE(p.nodes[13].leave_at);
  EXPECT_EQ(p.name_of(13), "peers-12");
  EXPECT_EQ(*p.nodes[13].leave_at, 12s) << "the leave at 5 s must not take a kill target";
  EXPECT_TRUE(p.nodes[13].killed);
  EXPECT_EQ(*p.nodes[0].leave_at, 25s);
  EXPECT_TRUE(p.nodes[0].killed);
  ASSERT_EQ(p.events.size(), 3U);
  EXPECT_EQ(p.events[1].label, "peers-12 killed");
  EXPECT_EQ(p.events[2].label, "origin killed");
}

TEST(plan, kill_of_a_node_that_does_not_exist_is_an_error) {
  EXPECT_EQ(plan_error_of(std::string(k_ci) + "[[events]]\nat = 5\nkind = \"kill\"\ntarget = \"peers-20\"\n"),
            "plan: kill target 'peers-20' does not exist (group 'peers' has 20 nodes, from 0)");
  EXPECT_NE(
      plan_error_of(
          "[[peers]]\ncount = 1\njoin_at = 10\n[[events]]\nat = 5\nkind = \"kill\"\ntarget = \"peers-0\"\n")
          .find("joins at 10 s, after the kill at 5 s"),
      std::string::npos);
}

TEST(plan, tracker_events_act_and_carry_their_label) {
  const plan p = planned(
      std::string(k_ci) +
      "[[events]]\nat = 20\nkind = \"tracker_start\"\n[[events]]\nat = 10\nkind = \"tracker_stop\"\n");
  ASSERT_EQ(p.events.size(), 2U);
  EXPECT_EQ(p.events[0].k, planned_event::kind::tracker_stop);
  EXPECT_EQ(p.events[0].at, 10s);
  EXPECT_EQ(p.events[0].label, "tracker stopped");
  EXPECT_EQ(p.events[1].k, planned_event::kind::tracker_start);
}

TEST(plan, region_matrix_and_one_way_delays) {
  const plan p = planned(R"(
[origin]
region = "cdn"
delay = 0
[[peers]]
region = "cluster"
count = 3
delay = 10
[[peers]]
name = "far"
region = "elsewhere"
count = 1
delay = 10
[[links.regions]]
a = "cdn"
b = "cluster"
delay = 300
)");
  EXPECT_EQ(p.region_names, (std::vector<std::string>{"", "cdn", "cluster", "elsewhere"}));
  ASSERT_EQ(p.region_matrix.size(), 16U);
  EXPECT_EQ(p.region_matrix[1 * 4 + 2], 300ms);
  EXPECT_EQ(p.region_matrix[2 * 4 + 1], 300ms);
  EXPECT_EQ(p.region_matrix[2 * 4 + 2], 0ms) << "same region";
  EXPECT_EQ(p.region_matrix[1 * 4 + 3], 0ms) << "pair not given";
  EXPECT_EQ(p.one_way(0, 1), 310ms);
  EXPECT_EQ(p.one_way(1, 0), 310ms);
  EXPECT_EQ(p.one_way(1, 2), 20ms);
  EXPECT_EQ(p.one_way(0, 4), 10ms);
}

TEST(plan, origin_upload_is_a_multiple_of_the_stream) {
  const plan p = planned("[source]\nbitrate = 2000\n[origin]\nupload = 2\n[[peers]]\ncount = 1\n");
  EXPECT_EQ(p.nodes[0].upload_bps, 4'000'000);
}

TEST(plan, edges_are_not_supported_yet) {
  auto p = make_plan(parsed("[[peers]]\nname = \"e\"\nkind = \"edge\"\ncount = 2\n"));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, static_cast<int>(scenario_errc::unsupported));
  EXPECT_NE(p.error().message.find("edges are not supported by the lab and simulator yet"),
            std::string::npos);
}

TEST(plan, a_million_peers_fit) {
  scenario s =
      parsed(std::string(k_ci) + "[[events]]\nat = 10\nkind = \"leave\"\nfraction = 0.1\nover = 10\n");
  ASSERT_TRUE(apply(s, with(&overrides::peers, 1'000'000)));
  auto p = make_plan(s);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->peer_count(), 1'000'000U);
  EXPECT_DOUBLE_EQ(p->mean_peer_upload_bps(), 1'600'000);
  EXPECT_EQ(std::count_if(p->nodes.begin(), p->nodes.end(),
                          [](const planned_node& n) { return n.leave_at.has_value(); }),
            100'000);
}

TEST(plan, too_much_churn_is_refused) {
  const std::string e = plan_error_of(
      "duration = 86400\n[[peers]]\ncount = 1\n[[events]]\nat = 0\nkind = \"churn\"\nrate = 10000\n");
  EXPECT_NE(e.find("more than 2000000 nodes"), std::string::npos) << e;
}

}  // namespace
}  // namespace meshcast::scenario
