#include "swarm/neighbours.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace meshcast::swarm {
namespace {

using namespace std::chrono_literals;

const core::time_point t0 = core::from_us(1'000'000'000'000);

ps::node_id id(char c) {
  ps::node_id n{};
  n[0] = static_cast<std::uint8_t>(c);
  return n;
}
ps::peer_address addr(char c, std::uint16_t port = 7000) { return {id(c), "10.0.0.1", port}; }

// Replacement from a fixture: "a:peer:900 b:peer:100 c:origin:0 d:peer:50:new" — name, role,
// useful bytes over the last interval, and "new" for one connected less than an interval ago or
// "busy" for one with requests under way.
// Returns the victim's name, or "" for none.
std::string replace(std::string_view spec) {
  std::vector<member_view> members;
  std::istringstream in{std::string(spec)};
  std::string tok;
  while (in >> tok) {
    std::istringstream f(tok);
    std::string name, role, bytes, age;
    std::getline(f, name, ':');
    std::getline(f, role, ':');
    std::getline(f, bytes, ':');
    std::getline(f, age, ':');
    member_view m;
    m.id = static_cast<neighbour_id>(name[0]);
    m.role = role == "origin" ? ps::node_role::origin
             : role == "edge" ? ps::node_role::edge
                              : ps::node_role::peer;
    m.useful_bytes = std::stoull(bytes);
    m.since = age == "new" ? t0 - 5s : t0 - 60s;
    m.engaged = age == "busy";
    members.push_back(m);
  }
  const auto v = least_useful_peer(members, t0, 10s);
  return v ? std::string(1, static_cast<char>(*v)) : "";
}

TEST(neighbour_replacement, drops_the_peer_that_gave_us_least) {
  EXPECT_EQ(replace("a:peer:900 b:peer:100 c:peer:400"), "b");
}

TEST(neighbour_replacement, never_the_origin_nor_an_edge_nor_a_newcomer) {
  EXPECT_EQ(replace("a:peer:900 c:origin:0 e:edge:0 d:peer:50:new"), "a");
  EXPECT_EQ(replace("c:origin:0 d:peer:0:new"), "");
}

TEST(neighbour_replacement, never_one_with_requests_under_way) {
  EXPECT_EQ(replace("a:peer:900 b:peer:0:busy c:peer:400"), "c");
  EXPECT_EQ(replace("b:peer:0:busy"), "");
}

TEST(neighbour_admission, refuses_ourselves_banned_duplicates_and_when_full) {
  EXPECT_EQ(admit({.is_self = true}), admission::self);
  EXPECT_EQ(admit({.banned = true}), admission::banned);
  EXPECT_EQ(admit({.already_connected = true}), admission::duplicate);
  EXPECT_EQ(admit({.already_connected = true, .new_wins_duplicate = true}), admission::accept);
  EXPECT_EQ(admit({.neighbours = 16, .max_neighbours = 16}), admission::full);
  EXPECT_EQ(admit({.neighbours = 15, .max_neighbours = 16}), admission::accept);
}

TEST(candidate_list, the_tracker_ranking_comes_first_then_pex_in_arrival_order) {
  candidate_list c(id('s'));
  const std::vector<ps::peer_address> pex{addr('x'), addr('y')};
  c.add_pex(pex);
  const std::vector<ps::peer_address> ranked{addr('b'), addr('a'), addr('x')};
  c.add_ranked(ranked);
  std::string order;
  while (auto a = c.next(t0, {})) order += static_cast<char>(a->id[0]);
  EXPECT_EQ(order, "baxy");
}

TEST(candidate_list, drops_ourselves_port_zero_and_duplicates) {
  candidate_list c(id('s'));
  const std::vector<ps::peer_address> list{addr('s'), addr('a', 0), addr('b'), addr('b')};
  c.add_ranked(list);
  c.add_pex(list);
  EXPECT_EQ(c.size(), 1u);
}

TEST(candidate_list, skips_excluded_and_recently_tried_nodes) {
  candidate_list c(id('s'), 256, 30s);
  const std::vector<ps::peer_address> list{addr('a'), addr('b')};
  c.add_ranked(list);
  const auto not_a = [](const ps::node_id& n) { return n == id('a'); };
  EXPECT_EQ(c.next(t0, not_a)->id, id('b'));
  EXPECT_FALSE(c.next(t0 + 1s, not_a));             // b was tried a second ago
  EXPECT_EQ(c.next(t0 + 30s, not_a)->id, id('b'));  // backoff over
}

TEST(candidate_list, is_bounded) {
  candidate_list c(id('s'), 3);
  for (char ch = 'a'; ch <= 'z'; ++ch) {
    const std::vector<ps::peer_address> one{addr(ch)};
    c.add_pex(one);
  }
  EXPECT_EQ(c.size(), 3u);
}

TEST(candidate_list, hands_out_every_host_form_as_it_was_given) {
  // IPv4 hosts are kept packed; anything that would not format back the same is kept as text.
  candidate_list c(id('s'), 4);
  const std::vector<ps::peer_address> list{{id('a'), "10.1.2.3", 7000},      {id('b'), "2001:db8::1", 7001},
                                           {id('c'), "010.0.0.1", 7002},     {id('d'), "peer.example", 7003},
                                           {id('e'), "255.255.255.255", 1}};
  c.add_pex(list);  // bounded at 4: e is not taken
  c.remove(id('c'));
  const std::vector<ps::peer_address> ranked{{id('f'), "::1", 9}, {id('b'), "2001:db8::2", 7001}};
  c.add_ranked(ranked);  // b moves to the front with its new address
  std::vector<std::string> got;
  for (const ps::peer_address& a : c.addresses()) got.push_back(a.host + ":" + std::to_string(a.port));
  EXPECT_EQ(got, (std::vector<std::string>{"::1:9", "2001:db8::2:7001", "10.1.2.3:7000", "peer.example:7003"}));
}

}  // namespace
}  // namespace meshcast::swarm
