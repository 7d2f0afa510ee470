#include "lab/sansio/netns_wire.hpp"

#include <gtest/gtest.h>

#include <string>

namespace meshcast::lab {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t addr(std::uint32_t i) { return (10u << 24) | (77u << 16) | (i + 1); }

/// An IPv4 packet of `size` bytes from node a to node b (TCP with the given ports, or UDP).
core::bytes packet(std::uint32_t a, std::uint32_t b, std::size_t size = 100, std::uint16_t sport = 40000,
                   std::uint16_t dport = 7070, std::uint8_t proto = 6) {
  core::bytes p(size, 0);
  p[0] = 0x45;
  p[9] = proto;
  for (int k = 0; k < 4; ++k) {
    p[12 + k] = static_cast<std::uint8_t>(addr(a) >> (24 - 8 * k));
    p[16 + k] = static_cast<std::uint8_t>(addr(b) >> (24 - 8 * k));
  }
  p[20] = static_cast<std::uint8_t>(sport >> 8);
  p[21] = static_cast<std::uint8_t>(sport);
  p[22] = static_cast<std::uint8_t>(dport >> 8);
  p[23] = static_cast<std::uint8_t>(dport);
  return p;
}

/// n nodes; node i has access delay access[i] (one way a→b = access[a] + access[b]), no caps.
wire_settings settings(std::vector<core::micros> access) {
  wire_settings s;
  const std::size_t n = access.size();
  for (std::uint32_t i = 0; i < n; ++i) s.addresses.push_back(addr(i));
  s.upload_bps.assign(n, 0);
  s.download_bps.assign(n, 0);
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = 0; b < n; ++b) s.one_way.push_back(a == b ? 0us : access[a] + access[b]);
  }
  return s;
}

/// Every delivery up to `until_us`, as "to@time" in delivery order (time = when it became due).
std::string run(wire& w, std::int64_t until_us) {
  std::string out;
  for (std::int64_t t = 0; t <= until_us;) {
    while (auto d = w.poll_delivery(t))
      out += (out.empty() ? "" : " ") + std::to_string(d->to) + "@" + std::to_string(t);
    const auto next = w.next_deadline();
    if (!next) break;
    t = std::max(t + 1, *next);
  }
  return out;
}

TEST(netns_wire, a_packet_arrives_after_both_access_delays) {
  wire w(settings({10ms, 25ms}));
  w.on_packet(0, packet(0, 1), 0);
  EXPECT_EQ(w.next_deadline(), 35'000);
  EXPECT_FALSE(w.poll_delivery(34'999));
  auto d = w.poll_delivery(35'000);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->to, 1u);
  EXPECT_EQ(d->packet, packet(0, 1));
  EXPECT_EQ(w.stats().delivered, 1u);
}

TEST(netns_wire, the_uplink_serialises_at_its_rate) {
  auto s = settings({0us, 0us});
  s.upload_bps[0] = 1e6;  // 1250 bytes = 10 ms
  wire w(s);
  w.on_packet(0, packet(0, 1, 1250), 0);
  w.on_packet(0, packet(0, 1, 1250), 0);
  EXPECT_EQ(run(w, 100'000), "1@10000 1@20000");
}

TEST(netns_wire, a_sparse_flow_goes_ahead_of_another_flows_backlog_and_no_flow_is_reordered) {
  auto s = settings({0us, 0us, 0us});
  s.upload_bps[0] = 1e6;  // 1250 bytes = 10 ms
  wire w(s);
  // A chunk's worth to node 1 on one connection: 30 ms of backlog.
  for (int k = 0; k < 3; ++k) w.on_packet(0, packet(0, 1, 1250, 40000), 0);
  // A 125-byte request to node 2 on another connection, 1 ms later: out at 2 ms, not at 31 ms.
  w.on_packet(0, packet(0, 2, 125, 40001), 1'000);
  // More of the chunk's connection waits behind the backlog, which the request pushed back 1 ms.
  w.on_packet(0, packet(0, 1, 1250, 40000), 1'000);
  EXPECT_EQ(run(w, 100'000), "2@2000 1@10000 1@20000 1@30000 1@41000");
  EXPECT_EQ(w.stats().queue_wait_max_us, 30'000);
}

TEST(netns_wire, the_downlink_serialises_what_arrives_from_several_senders) {
  auto s = settings({0us, 0us, 0us});
  s.download_bps[2] = 1e6;
  wire w(s);
  w.on_packet(0, packet(0, 2, 1250), 0);
  w.on_packet(1, packet(1, 2, 1250), 0);
  EXPECT_EQ(run(w, 100'000), "2@10000 2@20000");
}

TEST(netns_wire, the_downlink_takes_packets_in_arrival_order_not_send_order) {
  auto s = settings({50ms, 1ms, 0us});
  s.download_bps[2] = 1e6;
  wire w(s);
  w.on_packet(0, packet(0, 2, 1250), 0);      // reaches the downlink at 50 ms
  w.on_packet(1, packet(1, 2, 1250), 5'000);  // at 6 ms
  auto first = w.poll_delivery(16'000);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->packet, packet(1, 2, 1250));
  EXPECT_EQ(run(w, 100'000), "2@60000");
}

TEST(netns_wire, region_delays_make_one_way_asymmetric_pairs_possible) {
  auto s = settings({0us, 0us});
  s.one_way = {0us, 70ms, 30ms, 0us};
  wire w(s);
  w.on_packet(0, packet(0, 1), 0);
  w.on_packet(1, packet(1, 0), 0);
  EXPECT_EQ(run(w, 100'000), "0@30000 1@70000");
}

TEST(netns_wire, a_backlog_over_max_queue_drops_the_packet) {
  auto s = settings({0us, 0us});
  s.upload_bps[0] = 1e6;
  s.max_queue = 25ms;
  wire w(s);
  for (int i = 0; i < 5; ++i) w.on_packet(0, packet(0, 1, 1250), 0);  // backlogs 0, 10, 20, 30 (drop), 30 (drop)
  EXPECT_EQ(w.stats().queue_drops, 2u);
  EXPECT_EQ(run(w, 100'000), "1@10000 1@20000 1@30000");
}

TEST(netns_wire, loss_drops_about_the_given_share) {
  auto s = settings({0us, 0us});
  s.loss = 0.1;
  s.seed = 7;
  wire w(s);
  for (int i = 0; i < 5000; ++i) w.on_packet(0, packet(0, 1), i);
  EXPECT_GT(w.stats().lost, 400u);
  EXPECT_LT(w.stats().lost, 600u);
  EXPECT_EQ(w.in_flight(), 5000u - w.stats().lost);
}

TEST(netns_wire, what_no_node_can_receive_is_counted_unroutable) {
  wire w(settings({0us, 0us}));
  w.on_packet(0, packet(0, 7), 0);  // no node 7
  w.on_packet(0, packet(0, 0), 0);  // to itself
  core::bytes v6(60, 0);
  v6[0] = 0x60;
  w.on_packet(0, v6, 0);
  w.on_packet(0, core::bytes(10, 0x45), 0);  // too short for a header
  EXPECT_EQ(w.stats().unroutable, 4u);
  EXPECT_FALSE(w.next_deadline());
}

TEST(netns_wire, a_stopped_tracker_drops_its_port_both_ways_and_nothing_else) {
  auto s = settings({0us, 0us});
  s.tracker_node = 0;
  s.tracker_port = 8080;
  wire w(s);
  w.set_tracker_blocked(true);
  w.on_packet(1, packet(1, 0, 100, 40000, 8080), 0);      // announce
  w.on_packet(0, packet(0, 1, 100, 8080, 40000), 0);      // its answer
  w.on_packet(1, packet(1, 0, 100, 40000, 7070), 0);      // swarm traffic to the origin
  w.on_packet(1, packet(1, 0, 100, 40000, 8080, 17), 0);  // not TCP
  EXPECT_EQ(w.stats().blocked, 2u);
  EXPECT_EQ(w.in_flight(), 2u);
  w.set_tracker_blocked(false);
  w.on_packet(1, packet(1, 0, 100, 40000, 8080), 0);
  EXPECT_EQ(w.in_flight(), 3u);
}

TEST(netns_wire, reads_ipv4_addresses) {
  const auto a = read_ipv4_addresses(packet(2, 5));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->src, addr(2));
  EXPECT_EQ(a->dst, addr(5));
  EXPECT_FALSE(read_ipv4_addresses(core::bytes(19, 0x45)));
}

}  // namespace
}  // namespace meshcast::lab
