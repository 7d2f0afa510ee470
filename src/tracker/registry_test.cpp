#include "tracker/registry.hpp"

#include <gtest/gtest.h>

#include "tracker/test_fixture.hpp"

namespace meshcast::tracker {
namespace {

using namespace std::chrono_literals;
using testing::announce;
using testing::id_of;

const core::time_point t0 = core::from_us(1'700'000'000'000'000);

class registry_test : public ::testing::Test {
 protected:
  // Announces `spec` from the address "addr-NAME" (so each node has its own address).
  core::result<const node_entry*> add(std::string_view spec, core::time_point at = t0,
                                      std::string observed = "", bool trusted = false) {
    const pt::announce_request a = announce(spec);
    if (observed.empty()) observed = "addr-" + testing::name_of(a.id);
    return reg.announce(a, a.host.empty() ? "10.0.0.1" : a.host, observed, trusted, at);
  }
  const stream_swarm& cam() { return *reg.find("live/cam"); }

  registry reg{registry_settings{.interval = 5s, .expiry_intervals = 3, .max_nodes_per_stream = 4}};
};

TEST_F(registry_test, origin_creates_its_stream) {
  ASSERT_TRUE(add("origin o"));
  ASSERT_NE(reg.find("live/cam"), nullptr);
  EXPECT_EQ(cam().count(ps::node_role::origin), 1u);
  EXPECT_EQ(cam().created(), t0);
}

TEST_F(registry_test, peer_or_edge_of_an_unknown_stream_is_refused) {
  for (const char* spec : {"peer p", "edge e"}) {
    const auto r = add(spec);
    ASSERT_FALSE(r) << spec;
    EXPECT_EQ(r.error().code, static_cast<int>(registry_errc::unknown_stream));
    EXPECT_EQ(r.error().message, "unknown stream live/cam");
  }
  EXPECT_EQ(reg.find("live/cam"), nullptr);
}

TEST_F(registry_test, peer_briefs_follow_the_peers) {
  ASSERT_TRUE(add("origin o"));
  ASSERT_TRUE(add("peer a region=eu up=1000"));
  ASSERT_TRUE(add("peer b region=us up=2000 used=500"));
  ASSERT_TRUE(add("peer c region=eu"));
  ASSERT_TRUE(reg.leave("live/cam", id_of("a")));              // c moves into a's place
  ASSERT_TRUE(add("peer b region=ap up=2000 used=1500", t0 + 1s));  // refreshed: b goes last
  const auto peers = cam().peers();
  const auto briefs = cam().peer_briefs();
  ASSERT_EQ(briefs.size(), peers.size());
  for (std::size_t i = 0; i < peers.size(); ++i) {
    EXPECT_EQ(briefs[i].id, peers[i].id);
    EXPECT_EQ(briefs[i].last_seen, peers[i].last_seen);
    EXPECT_EQ(briefs[i].spare_kbps, peers[i].spare_kbps());
    EXPECT_EQ(briefs[i].dialable, peers[i].dialable());
    EXPECT_EQ(briefs[i].region, cam().name_index(peers[i].region));
    EXPECT_EQ(briefs[i].rendition, cam().name_index(peers[i].rendition));
  }
  EXPECT_EQ(cam().name_index("us"), stream_swarm::k_no_name);  // nobody there any more
  EXPECT_NE(cam().name_index("ap"), stream_swarm::k_no_name);
}

TEST_F(registry_test, announce_again_refreshes_the_entry) {
  ASSERT_TRUE(add("origin o"));
  ASSERT_TRUE(add("peer p up=1000", t0 + 1s));
  const auto r = add("peer p up=3000 used=500 region=eu", t0 + 6s);
  ASSERT_TRUE(r);
  const node_entry& e = **r;
  EXPECT_EQ(e.first_seen, t0 + 1s);
  EXPECT_EQ(e.last_seen, t0 + 6s);
  EXPECT_EQ(e.announces, 2u);
  EXPECT_EQ(e.upload_kbps, 3000u);
  EXPECT_EQ(e.used_kbps, 500u);
  EXPECT_EQ(e.region, "eu");
  EXPECT_EQ(cam().size(), 2u);
}

TEST_F(registry_test, peer_sums_follow_announces_and_removals) {
  ASSERT_TRUE(add("origin o up=100000 used=50000"));  // infrastructure is not in the peer sums
  ASSERT_TRUE(add("peer a up=4000 used=1000"));
  ASSERT_TRUE(add("peer b up=2000 used=3000"));  // over-used: no spare, not negative
  EXPECT_EQ(cam().peer_upload_kbps(), 6000u);
  EXPECT_EQ(cam().peer_used_kbps(), 4000u);
  EXPECT_EQ(cam().peer_spare_kbps(), 3000u);
  ASSERT_TRUE(add("peer a up=5000 used=0"));
  EXPECT_EQ(cam().peer_upload_kbps(), 7000u);
  EXPECT_EQ(cam().peer_spare_kbps(), 5000u);
  EXPECT_TRUE(reg.leave("live/cam", id_of("b")));
  EXPECT_EQ(cam().peer_upload_kbps(), 5000u);
  EXPECT_EQ(cam().peer_used_kbps(), 0u);
}

TEST_F(registry_test, silent_nodes_expire_after_three_intervals) {
  ASSERT_TRUE(add("origin o"));
  ASSERT_TRUE(add("peer a", t0 + 1s));
  ASSERT_TRUE(add("origin o", t0 + 10s));
  EXPECT_EQ(reg.expire(t0 + 15s), 0u);  // a: exactly 14 s silent, expiry is 15 s
  EXPECT_EQ(reg.expire(t0 + 16s + 1us), 1u);
  EXPECT_EQ(cam().size(), 1u);
  EXPECT_EQ(cam().find(id_of("a")), nullptr);
  EXPECT_EQ(reg.expire(t0 + 25s + 1us), 1u);
  EXPECT_EQ(reg.find("live/cam"), nullptr) << "an empty swarm goes with its last node";
}

TEST_F(registry_test, stale_nodes_are_marked_before_the_scan) {
  const auto r = add("origin o");
  ASSERT_TRUE(r);
  EXPECT_FALSE(reg.is_stale(**r, t0 + 15s));
  EXPECT_TRUE(reg.is_stale(**r, t0 + 15s + 1us));
}

TEST_F(registry_test, leave_removes_the_node_and_the_last_one_the_swarm) {
  ASSERT_TRUE(add("origin o"));
  ASSERT_TRUE(add("peer a"));
  EXPECT_TRUE(reg.leave("live/cam", id_of("a")));
  EXPECT_FALSE(reg.leave("live/cam", id_of("a")));
  EXPECT_FALSE(reg.leave("live/other", id_of("o")));
  EXPECT_TRUE(reg.leave("live/cam", id_of("o")));
  EXPECT_EQ(reg.find("live/cam"), nullptr);
}

TEST_F(registry_test, a_node_keeps_its_role_and_address_while_its_entry_lives) {
  ASSERT_TRUE(add("origin o"));
  ASSERT_TRUE(add("peer p"));
  auto r = add("origin p", t0 + 1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, static_cast<int>(registry_errc::conflict));
  EXPECT_EQ(r.error().message,
            "node_id " + pt::to_hex(id_of("p")) + " is registered as peer, not origin");
  r = add("peer o", t0 + 1s, "addr-p");
  ASSERT_FALSE(r) << "a peer must not replace the origin's entry";
  r = add("peer p", t0 + 1s, "addr-mallory");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "node_id " + pt::to_hex(id_of("p")) + " is registered from another address");
  EXPECT_TRUE(add("peer p", t0 + 1s, "addr-elsewhere", /*trusted=*/true));
  EXPECT_TRUE(add("peer p", t0 + 20s, "addr-after-expiry")) << "a stale entry may be taken over";
  EXPECT_EQ(cam().find(id_of("p"))->announces, 1u) << "taken over: counted afresh";
}

TEST_F(registry_test, role_change_moves_the_node_between_peers_and_infrastructure) {
  ASSERT_TRUE(add("origin o"));
  ASSERT_TRUE(add("peer e up=1000"));
  ASSERT_TRUE(add("edge e up=1000", t0 + 1s, "", /*trusted=*/true));
  EXPECT_EQ(cam().count(ps::node_role::peer), 0u);
  EXPECT_EQ(cam().count(ps::node_role::edge), 1u);
  EXPECT_EQ(cam().peer_upload_kbps(), 0u);
}

TEST_F(registry_test, a_full_swarm_refuses_newcomers_but_not_refreshes) {
  ASSERT_TRUE(add("origin o"));
  ASSERT_TRUE(add("peer a"));
  ASSERT_TRUE(add("peer b"));
  ASSERT_TRUE(add("peer c"));
  const auto r = add("peer d");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, static_cast<int>(registry_errc::swarm_full));
  EXPECT_TRUE(add("peer a", t0 + 1s));
}

TEST_F(registry_test, stream_count_is_capped) {
  registry small{registry_settings{.max_streams = 1}};
  ASSERT_TRUE(small.announce(announce("origin o", "live/a"), "10.0.0.1", "x", false, t0));
  const auto r = small.announce(announce("origin o", "live/b"), "10.0.0.1", "x", false, t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, static_cast<int>(registry_errc::too_many_streams));
}

TEST_F(registry_test, public_key_comes_from_the_origin_unless_configured) {
  ASSERT_TRUE(add("origin o key=aa"));
  EXPECT_EQ(cam().public_key(), "aa");
  ASSERT_TRUE(add("peer p key=ff"));  // ignored: not an origin
  EXPECT_EQ(cam().public_key(), "aa");
  reg.set_public_key("live/cam", "cc");
  EXPECT_EQ(cam().public_key(), "cc");
  ASSERT_TRUE(add("origin o key=dd"));
  EXPECT_EQ(cam().public_key(), "cc");
  reg.set_public_key("live/next", "ee");
  ASSERT_TRUE(reg.announce(announce("origin o", "live/next"), "10.0.0.1", "x", false, t0));
  EXPECT_EQ(reg.find("live/next")->public_key(), "ee");
}

TEST_F(registry_test, stream_rate_comes_from_origins_and_edges_only) {
  ASSERT_TRUE(add("origin o stream_kbps=3000"));
  ASSERT_TRUE(add("peer p stream_kbps=90000"));
  EXPECT_EQ(cam().stream_kbps(), 3000u);
}

TEST_F(registry_test, announced_host_is_published_and_the_observed_one_kept_apart) {
  ASSERT_TRUE(add("origin o"));
  const auto r = add("peer p host=192.168.1.5", t0, "203.0.113.9");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->host, "192.168.1.5");
  EXPECT_EQ((*r)->observed_host, "203.0.113.9");
}

}  // namespace
}  // namespace meshcast::tracker
