#include "tracker/policy.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tracker/test_fixture.hpp"

namespace meshcast::tracker {
namespace {

using namespace std::chrono_literals;
using testing::announce;
using testing::name_of;

const core::time_point t0 = core::from_us(1'700'000'000'000'000);

// Swarms described line by line; rank("peer me region=eu") registers the requester at `now`
// and returns the names of its candidates, best first.
class policy_test : public ::testing::Test {
 protected:
  void add(std::string_view spec, core::micros ago = 0us) {
    const pt::announce_request a = announce(spec);
    const auto r = reg.announce(a, "10.0.0.1", "addr-" + name_of(a.id), false, now - ago);
    ASSERT_TRUE(r) << spec << ": " << r.error().message;
  }
  // `n` peers named PREFIX0..PREFIXn-1 with the same description.
  void add_peers(std::string_view prefix, int n, std::string_view rest = "") {
    for (int i = 0; i < n; ++i) {
      add("peer " + std::string(prefix) + std::to_string(i) + " " + std::string(rest));
    }
  }
  std::vector<std::string> rank(std::string_view requester) {
    const pt::announce_request a = announce(requester);
    const auto r = reg.announce(a, "10.0.0.1", "addr-" + name_of(a.id), false, now);
    EXPECT_TRUE(r) << requester << ": " << (r ? "" : r.error().message);
    if (!r) return {};
    std::vector<std::string> names;
    for (const pt::candidate& c : pol.candidates_for(reg, *reg.find("live/cam"), **r, now)) {
      names.push_back(name_of(c.address.id));
    }
    return names;
  }
  static bool contains(const std::vector<std::string>& v, std::string_view name) {
    return std::find(v.begin(), v.end(), name) != v.end();
  }

  core::time_point now = t0;
  registry reg{registry_settings{.interval = 5s}};
  // Stream rate 1000 kbit/s unless an origin says otherwise; small swarm = fewer than 3 peers.
  policy pol{policy_settings{.max_candidates = 5,
                             .small_swarm_peers = 3,
                             .supply_ratio = 1.2,
                             .default_stream_kbps = 1000,
                             .max_considered = 1000,
                             .seed = 7}};
};

TEST_F(policy_test, newcomer_to_an_empty_swarm_gets_the_origin) {
  add("origin o");
  EXPECT_EQ(rank("peer me"), std::vector<std::string>{"o"});
}

TEST_F(policy_test, the_requester_itself_is_never_offered) {
  add("origin o");
  add_peers("p", 3, "up=5000");
  for (int i = 0; i < 3; ++i) {
    const auto c = rank("peer p" + std::to_string(i) + " up=5000");
    EXPECT_FALSE(contains(c, "p" + std::to_string(i)));
    EXPECT_EQ(c.size(), 3u);  // the two others and the origin
  }
}

TEST_F(policy_test, small_swarm_with_spare_upload_gets_peers_then_the_origin) {
  add("origin o");
  add_peers("p", 2, "up=5000");
  const auto c = rank("peer me up=5000");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c.back(), "o");
}

TEST_F(policy_test, big_swarm_with_spare_upload_leaves_the_origin_out) {
  add("origin o");
  add_peers("p", 4, "up=5000");
  const auto c = rank("peer me up=5000");
  EXPECT_EQ(c.size(), 4u);
  EXPECT_FALSE(contains(c, "o"));
}

TEST_F(policy_test, swarm_short_of_upload_puts_the_origin_first) {
  add("origin o");
  add_peers("p", 4, "up=1000");  // supply 5000 (with me) < 1.2 x demand 5000
  const auto c = rank("peer me up=1000");
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c.front(), "o");
}

TEST_F(policy_test, advertised_upload_that_is_all_used_is_not_spare) {
  add("origin o");
  add_peers("p", 4, "up=5000 used=4900");  // supply is plenty on paper, free is 400
  EXPECT_EQ(rank("peer me up=5000").front(), "o");
}

TEST_F(policy_test, newcomers_own_capacity_does_not_make_the_swarm_spare) {
  add("origin o");
  add_peers("p", 4, "up=2000 used=2000");
  EXPECT_EQ(rank("peer me up=100000").front(), "o");
}

TEST_F(policy_test, the_stream_rate_reported_by_the_origin_sets_the_demand) {
  add("origin o stream_kbps=4000");  // demand 5 x 4000 x 1.2 > supply 4 x 4000 + 5000
  add_peers("p", 4, "up=4000");
  EXPECT_EQ(rank("peer me up=5000").front(), "o");
}

TEST_F(policy_test, same_region_comes_first) {
  add("origin o");
  add("peer us1 up=5000 region=us");
  add("peer eu1 up=5000 region=eu");
  add("peer us2 up=5000 region=us");
  add("peer eu2 up=5000 region=eu");
  const auto c = rank("peer me up=5000 region=eu");
  ASSERT_GE(c.size(), 4u);
  EXPECT_EQ(std::set<std::string>(c.begin(), c.begin() + 2), (std::set<std::string>{"eu1", "eu2"}));
}

TEST_F(policy_test, spare_capacity_comes_before_busy_peers) {
  add("origin o");
  add("peer busy up=5000 used=4800");
  add("peer idle up=5000");
  add("peer half up=5000 used=3000");
  const auto c = rank("peer me up=5000");
  EXPECT_EQ((std::vector<std::string>(c.begin(), c.begin() + 3)),
            (std::vector<std::string>{"idle", "half", "busy"}));
}

TEST_F(policy_test, full_and_starving_peers_come_last_whatever_their_upload_or_region) {
  // Late joiners offered only peers that refuse them (full) or have nothing (starving) end up
  // among each other, cut off from the stream.
  add("origin o");
  add("peer full up=8000 slots=0 region=eu");
  add("peer starving up=8000 slots=6 starving=1 region=eu");
  add("peer fed up=1000 used=900 slots=2 region=us");
  add("peer unknown up=1000 used=900 region=us");  // reports neither: counted open and fed
  const auto c = rank("peer me up=500 region=eu");
  ASSERT_GE(c.size(), 4u);
  EXPECT_EQ(std::set<std::string>(c.begin(), c.begin() + 2), (std::set<std::string>{"fed", "unknown"}));
  EXPECT_EQ(c[2], "starving");
  EXPECT_EQ(c[3], "full");
}

TEST_F(policy_test, region_outweighs_spare_capacity) {
  add("origin o");
  add_peers("x", 3, "up=5000 region=us");
  add("peer near up=2000 used=900 region=eu");
  EXPECT_EQ(rank("peer me up=5000 region=eu").front(), "near");
}

TEST_F(policy_test, recently_heard_peers_come_before_quiet_ones) {
  add("origin o");
  add("peer old up=5000", 11s);
  add("peer new up=5000", 1s);
  add("peer mid up=5000", 6s);
  const auto c = rank("peer me up=5000");
  EXPECT_EQ((std::vector<std::string>(c.begin(), c.begin() + 3)),
            (std::vector<std::string>{"new", "mid", "old"}));
}

TEST_F(policy_test, equals_are_shuffled_so_load_spreads) {
  add("origin o");
  add_peers("p", 20, "up=5000");
  std::set<std::string> firsts;
  for (int i = 0; i < 50; ++i)
    firsts.insert(rank("peer me" + std::to_string(i) + " up=5000").front());
  EXPECT_GE(firsts.size(), 8u);
}

TEST_F(policy_test, the_same_seed_gives_the_same_ranking) {
  add("origin o");
  add_peers("p", 20, "up=5000");
  const auto first = rank("peer me up=5000");
  policy again{pol.settings()};
  const node_entry& me = *reg.find("live/cam")->find(testing::id_of("me"));
  std::vector<std::string> second;
  for (const auto& c : again.candidates_for(reg, *reg.find("live/cam"), me, now)) {
    second.push_back(name_of(c.address.id));
  }
  EXPECT_EQ(first, second);
}

TEST_F(policy_test, at_most_max_candidates_and_the_origin_survives_the_cut) {
  add("origin o");
  add_peers("p", 4, "up=50000");
  pol = policy{
      policy_settings{.max_candidates = 2, .small_swarm_peers = 10, .default_stream_kbps = 1000}};
  const auto c = rank("peer me up=5000");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.back(), "o");
}

TEST_F(policy_test, peers_of_another_rendition_are_not_offered) {
  add("origin o");
  add("peer hi up=5000 rendition=source");
  add("peer lo up=5000 rendition=low");
  const auto c = rank("peer me up=5000 rendition=low");
  EXPECT_TRUE(contains(c, "lo"));
  EXPECT_FALSE(contains(c, "hi"));
  EXPECT_TRUE(contains(c, "o")) << "the origin carries every rendition";
}

TEST_F(policy_test, undialable_and_stale_nodes_are_not_offered) {
  add("origin o");
  add("peer closed up=5000 port=0");
  add("peer gone up=5000", 16s);
  add("peer ok up=5000");
  const auto c = rank("peer me up=5000");
  EXPECT_TRUE(contains(c, "ok"));
  EXPECT_FALSE(contains(c, "closed"));
  EXPECT_FALSE(contains(c, "gone"));
}

TEST_F(policy_test, edges_come_before_the_origin_when_the_swarm_is_short) {
  add("origin o");
  add("edge far up=100000 region=us");
  add("edge near up=100000 used=90000 region=eu");
  add("edge idle up=100000 region=eu");
  const auto c = rank("peer me region=eu");
  EXPECT_EQ((std::vector<std::string>(c.begin(), c.begin() + 4)),
            (std::vector<std::string>{"idle", "near", "far", "o"}));
}

TEST_F(policy_test, an_edge_gets_the_origin_then_other_edges_and_never_peers) {
  add("origin o");
  add("edge e1 up=100000");
  add_peers("p", 3, "up=5000");
  EXPECT_EQ(rank("edge e2"), (std::vector<std::string>{"o", "e1"}));
}

TEST_F(policy_test, an_origin_gets_nobody) {
  add("origin o");
  add_peers("p", 3, "up=5000");
  EXPECT_TRUE(rank("origin o").empty());
}

TEST_F(policy_test, big_swarms_are_sampled_and_still_give_distinct_candidates) {
  pol = policy{
      policy_settings{.max_candidates = 20, .default_stream_kbps = 1000, .max_considered = 50}};
  reg = registry{registry_settings{.interval = 5s, .max_nodes_per_stream = 10'000}};
  add("origin o");
  add_peers("p", 3000, "up=5000");
  const auto c = rank("peer me up=5000");
  ASSERT_EQ(c.size(), 20u);
  EXPECT_EQ(std::set<std::string>(c.begin(), c.end()).size(), 20u);
  EXPECT_FALSE(contains(c, "o"));
}

TEST_F(policy_test, health_sums_the_peers) {
  add("origin o up=100000");
  add("peer a up=4000 used=1000");
  add("peer b up=2000 used=2500");
  const swarm_health h = pol.health(*reg.find("live/cam"));
  EXPECT_EQ(h.peers, 2u);
  EXPECT_EQ(h.stream_kbps, 1000u);
  EXPECT_EQ(h.supply_kbps, 6000u);
  EXPECT_EQ(h.used_kbps, 3500u);
  EXPECT_EQ(h.free_kbps, 3000u);
  EXPECT_EQ(h.demand_kbps, 2000u);
  EXPECT_TRUE(h.spare);
}

}  // namespace
}  // namespace meshcast::tracker
