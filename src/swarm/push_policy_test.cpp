#include "swarm/push_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>

namespace meshcast::swarm {
namespace {

// Push candidates from a fixture: "a:h b:o c:q2 d:b0.9 e:u4000" — one-letter names; flags
// h = has it, o = the origin, qN = N chunks queued for it, bX = behind share, uN = upload kbps.
std::vector<push_candidate> candidates(std::string_view spec) {
  std::vector<push_candidate> out;
  std::istringstream in{std::string(spec)};
  std::string tok;
  while (in >> tok) {
    push_candidate c;
    c.id = static_cast<neighbour_id>(tok[0]);
    std::istringstream flags(tok.substr(1));
    std::string f;
    while (std::getline(flags, f, ':')) {
      if (f.empty()) continue;
      if (f == "h") c.has_it = true;
      if (f == "o") c.is_origin = true;
      if (f[0] == 'q') c.queued = std::stoul(f.substr(1));
      if (f[0] == 'b') c.behind = std::stod(f.substr(1));
      if (f[0] == 'u') c.upload_kbps = static_cast<std::uint32_t>(std::stoul(f.substr(1)));
    }
    out.push_back(c);
  }
  return out;
}

/// The chosen targets' names, sorted.
std::string targets(std::string_view spec, std::size_t fanout, std::uint64_t seed = 1) {
  core::splitmix64_engine rng(seed);
  const auto cands = candidates(spec);
  std::string out;
  for (neighbour_id id : choose_push_targets(cands, fanout, rng)) out += static_cast<char>(id);
  std::sort(out.begin(), out.end());
  return out;
}

/// How often each name is the single target over 1000 seeds.
std::map<char, int> first_choice_counts(std::string_view spec) {
  std::map<char, int> n;
  for (std::uint64_t seed = 0; seed < 1000; ++seed) ++n[targets(spec, 1, seed)[0]];
  return n;
}

TEST(push_policy, never_a_neighbour_that_has_the_chunk_nor_the_origin) {
  EXPECT_EQ(targets("a:h b:o c", 3), "c");
  EXPECT_EQ(targets("a:h b:o", 3), "");
}

TEST(push_policy, fanout_bounds_the_targets) {
  EXPECT_EQ(targets("a b c d", 2).size(), 2u);
  EXPECT_EQ(targets("a b c d", 9), "abcd");
}

TEST(push_policy, neighbours_downstream_of_us_are_preferred) {
  auto n = first_choice_counts("u:b0.1 d:b0.9");  // weights 0.01 vs 0.81
  EXPECT_GT(n['d'], 950);
}

TEST(push_policy, neighbours_with_chunks_queued_on_our_side_are_avoided) {
  auto n = first_choice_counts("q:q3 i");  // weights 1/4 vs 1
  EXPECT_GT(n['i'], 700);
  EXPECT_GT(n['q'], 100);  // still random: not all pushers pick the same one
}

TEST(push_policy, a_larger_advertised_upload_is_preferred) {
  auto n = first_choice_counts("s:u1000 b:u4000");
  EXPECT_GT(n['b'], n['s'] * 2);
}

TEST(push_policy, the_same_seed_picks_the_same_targets) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(targets("a b c d e f", 2, seed), targets("a b c d e f", 2, seed));
  }
}

}  // namespace
}  // namespace meshcast::swarm
