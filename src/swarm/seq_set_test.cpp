#include "swarm/seq_set.hpp"

#include <gtest/gtest.h>

namespace meshcast::swarm {
namespace {

core::chunk_seq q(std::uint64_t v) { return core::chunk_seq{v}; }

TEST(seq_set, holds_what_was_inserted) {
  basic_seq_set<128> s;
  EXPECT_FALSE(s.newest());
  s.insert(q(5));
  s.insert(q(70));
  EXPECT_TRUE(s.contains(q(5)));
  EXPECT_TRUE(s.contains(q(70)));
  EXPECT_FALSE(s.contains(q(6)));
  s.erase(q(5));
  EXPECT_FALSE(s.contains(q(5)));
  EXPECT_EQ(s.newest(), q(70));
}

TEST(seq_set, inserting_past_the_window_forgets_the_oldest) {
  basic_seq_set<128> s;
  s.insert(q(10));
  s.insert(q(200));  // window is now [73, 201)
  EXPECT_FALSE(s.contains(q(10)));
  EXPECT_TRUE(s.contains(q(200)));
  EXPECT_FALSE(s.insert(q(50)));  // below the window: ignored
  EXPECT_FALSE(s.contains(q(50)));
}

TEST(seq_set, a_far_jump_clears_everything) {
  basic_seq_set<128> s;
  s.insert(q(10));
  s.insert(q(1'000'000'000));
  EXPECT_FALSE(s.contains(q(10)));
  EXPECT_FALSE(s.contains(q(10 + 128)));  // same ring slot, long forgotten
  EXPECT_TRUE(s.contains(q(1'000'000'000)));
}

TEST(seq_set, a_have_of_the_largest_number_still_counts_as_inserted) {
  basic_seq_set<128> s;
  s.insert(q(10));
  s.insert(q(UINT64_MAX));
  ASSERT_TRUE(s.newest());
  EXPECT_GT(*s.newest(), q(10));
  EXPECT_TRUE(s.contains(q(UINT64_MAX)));
}

}  // namespace
}  // namespace meshcast::swarm
