#include "lab/netns_topology.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace meshcast::lab {
namespace {

using namespace std::chrono_literals;

const netns_layout k_layout{"mclab4242", "/tmp/run/nodes", "/usr/bin/meshcast"};

/// A plan built by hand: the origin (unlimited), then peers with 1.5 Mbit/s up.
scenario::plan make_plan(std::size_t peers) {
  scenario::plan p;
  p.group_names = {"origin", "peers"};
  p.region_names = {""};
  p.region_matrix = {0us};
  p.duration = 30s;
  p.stream_bps = 1e6;
  scenario::planned_node o;
  o.kind = scenario::node_kind::origin;
  p.nodes.push_back(o);
  for (std::uint32_t i = 0; i < peers; ++i) {
    scenario::planned_node n;
    n.index = i + 1;
    n.group = 1;
    n.ordinal = i;
    n.upload_bps = 1.5e6;
    p.nodes.push_back(n);
  }
  return p;
}

std::string text(const command_line& c) {
  std::string s;
  for (const auto& a : c) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::vector<std::string> texts(const std::vector<command_line>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(text(c));
  return out;
}

TEST(netns_topology, names_and_addresses) {
  EXPECT_EQ(namespace_name(k_layout, 0), "mclab4242-n0");
  EXPECT_EQ(namespace_name(k_layout, 17), "mclab4242-n17");
  EXPECT_EQ(address_text(node_address(0)), "10.77.0.1");
  EXPECT_EQ(address_text(node_address(99)), "10.77.0.100");
  EXPECT_EQ(address_text(node_address(300)), "10.77.1.45");
  EXPECT_EQ(log_path(k_layout, 3), "/tmp/run/nodes/node-3.log");
  EXPECT_EQ(record_path(k_layout, 3), "/tmp/run/nodes/node-3.rec");
}

TEST(netns_topology, each_node_gets_a_namespace_with_loopback_and_its_address_on_tun0) {
  EXPECT_EQ(texts(namespace_setup_commands(k_layout, 2)), (std::vector<std::string>{"ip netns add mclab4242-n2"}));
  EXPECT_EQ(texts(interface_setup_commands(k_layout, 2)), (std::vector<std::string>{
                                                              "ip -n mclab4242-n2 link set lo up",
                                                              "ip -n mclab4242-n2 addr add 10.77.0.3/16 dev tun0",
                                                              "ip -n mclab4242-n2 link set tun0 up",
                                                          }));
  EXPECT_EQ(text(namespace_teardown_command("mclab4242-n2")), "ip netns del mclab4242-n2");
}

TEST(netns_topology, the_origin_runs_the_test_source_and_records) {
  scenario::scenario s;
  s.source.width = 640;
  s.source.height = 360;
  s.source.fps = 25;
  s.source.bitrate_kbps = 1000;
  s.source.chunk_ms = 100;
  s.origin.max_neighbours = 32;
  auto p = make_plan(3);
  p.nodes[0].upload_bps = 8e6;
  EXPECT_EQ(text(node_command(s, p, k_layout, 0)),
            "/usr/bin/meshcast --log-level info origin --source test:640x360@25:775 --name lab "
            "--http 10.77.0.1:8080 --rtmp 127.0.0.1:1935 --swarm 10.77.0.1:7070 --public-host 10.77.0.1 "
            "--chunk-ms 100 --max-neighbours 32 --swarm-upload-kbps 7600 --record /tmp/run/nodes/node-0.rec");
}

TEST(netns_topology, a_peer_joins_through_the_origins_tracker_with_its_budget) {
  scenario::scenario s;
  s.swarm.playout_delay_ms = 1500;
  s.swarm.min_neighbours = 8;
  s.swarm.max_neighbours = 16;
  auto p = make_plan(3);
  p.region_names = {"", "eu"};
  p.nodes[2].region = 1;
  EXPECT_EQ(text(node_command(s, p, k_layout, 1)),
            "/usr/bin/meshcast --log-level info peer --tracker http://10.77.0.1:8080 --stream live/lab "
            "--swarm 10.77.0.2:7070 --http 127.0.0.1:8081 --upload-kbps 1425 --playout-delay 1500 "
            "--min-neighbours 8 --max-neighbours 16 --record /tmp/run/nodes/node-1.rec");
  const auto with_region = text(node_command(s, p, k_layout, 2));
  EXPECT_NE(with_region.find("--region eu --record"), std::string::npos) << with_region;
}

TEST(netns_topology, an_unlimited_link_means_an_unlimited_budget) {
  scenario::scenario s;
  auto p = make_plan(1);
  p.nodes[1].upload_bps = 0;
  const auto c = node_command(s, p, k_layout, 1);
  const auto it = std::find(c.begin(), c.end(), "--upload-kbps");
  ASSERT_NE(it, c.end());
  EXPECT_EQ(*(it + 1), "0");
}

TEST(netns_topology, a_file_source_loops) {
  scenario::scenario s;
  s.source.kind = "file";
  s.source.path = "/media/clip.mp4";
  const auto c = text(node_command(s, make_plan(0), k_layout, 0));
  EXPECT_NE(c.find("--source file:/media/clip.mp4:loop "), std::string::npos) << c;
}

TEST(netns_topology, refuses_what_it_cannot_run) {
  scenario::scenario s;
  EXPECT_TRUE(check_netns_supported(s, make_plan(20)));
  auto big = check_netns_supported(s, make_plan(100));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message,
            "netns lab: this plan has 101 nodes, at most 100 run in network namespaces (one process each); use the "
            "in-process lab for more");
  s.swarm.mode = "push";
  auto mode = check_netns_supported(s, make_plan(2));
  ASSERT_FALSE(mode);
  EXPECT_NE(mode.error().message.find("'push' exists only in the simulator"), std::string::npos);
  s.swarm.mode = "push-pull";
  auto p = make_plan(2);
  p.nodes[1].kind = scenario::node_kind::edge;
  EXPECT_FALSE(check_netns_supported(s, p));
}

TEST(netns_topology, only_namespaces_of_dead_labs_are_stale) {
  const std::vector<std::string> existing{"mclab100-n0", "mclab100-n1", "mclab200-n0", "mclab-n0",
                                          "mclabx-n0",   "other",       "mclab300",    "mc100-n0"};
  const auto alive = [](int pid) { return pid == 200; };
  EXPECT_EQ(stale_namespaces(existing, alive), (std::vector<std::string>{"mclab100-n0", "mclab100-n1"}));
}

}  // namespace
}  // namespace meshcast::lab
