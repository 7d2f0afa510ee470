#include "swarm/protection.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace meshcast::swarm {
namespace {

using namespace std::chrono_literals;

const core::time_point t0 = core::from_us(1'000'000'000'000);

// A flood guard fed from a fixture: "256@0 10@100 s70@200" — N requested chunks at ms, or
// sN = N strikes (busy refusals, requests far outside the window) at ms. Returns whether the
// neighbour counts as flooding at the last time named.
bool flooding(std::string_view spec) {
  static const flood_settings defaults{};
  flood_guard g(defaults, t0);
  std::istringstream in{std::string(spec)};
  std::string tok;
  core::time_point t = t0;
  while (in >> tok) {
    const auto at = tok.find('@');
    t = t0 + std::chrono::milliseconds(std::stoll(tok.substr(at + 1)));
    if (tok[0] == 's') {
      g.strike(std::stoul(tok.substr(1, at - 1)), t);
    } else {
      g.on_requested(std::stoul(tok.substr(0, at)), t);
    }
  }
  return g.flooding(t);
}

TEST(flood_guard, an_honest_request_pattern_never_floods) {
  EXPECT_FALSE(flooding("256@0"));                                    // one full frame
  EXPECT_FALSE(flooding("16@0 16@100 16@200 16@300 16@400 16@500"));  // 160 chunks/s briefly
  EXPECT_FALSE(flooding("s30@0 s30@5000"));                           // a few strikes
}

TEST(flood_guard, full_frames_back_to_back_flood) { EXPECT_TRUE(flooding("256@0 256@100")); }

TEST(flood_guard, many_strikes_within_the_period_flood) {
  EXPECT_TRUE(flooding("s40@0 s40@1000"));
  EXPECT_FALSE(flooding("s40@0 s40@10000"));  // the first ones expired
}

TEST(ban_list, bans_until_the_time_given) {
  ban_list b;
  ps::node_id n{};
  n[0] = 7;
  b.ban(n, t0 + 60s);
  EXPECT_TRUE(b.banned(n, t0 + 59s));
  EXPECT_FALSE(b.banned(n, t0 + 60s));
  b.expire(t0 + 60s);
  EXPECT_EQ(b.size(), 0u);
}

TEST(ban_list, a_second_ban_never_shortens_the_first) {
  ban_list b;
  ps::node_id n{};
  b.ban(n, t0 + 60s);
  b.ban(n, t0 + 10s);
  EXPECT_TRUE(b.banned(n, t0 + 30s));
}

}  // namespace
}  // namespace meshcast::swarm
