#include "sim/chunked_vector.hpp"

#include <gtest/gtest.h>

#include <string>

namespace meshcast::sim::detail {
namespace {

TEST(chunked_vector, indexes_across_blocks_and_never_moves_an_element) {
  chunked_vector<std::string, 2> v;  // blocks of 4
  v.emplace_back() = "a";
  const std::string* first = &v[0];
  for (int i = 1; i < 10; ++i) v.emplace_back() = std::to_string(i);
  EXPECT_EQ(v.size(), 10u);
  EXPECT_EQ(&v[0], first);  // three blocks later, still where it was
  EXPECT_EQ(v[0], "a");
  EXPECT_EQ(v[4], "4");
  EXPECT_EQ(v[9], "9");
  EXPECT_EQ(v.back(), "9");
}

TEST(chunked_vector, a_new_element_is_value_initialised) {
  chunked_vector<int, 1> v;
  v.emplace_back() = 7;
  v.emplace_back();
  EXPECT_EQ(v[0], 7);
  EXPECT_EQ(v[1], 0);
}

}  // namespace
}  // namespace meshcast::sim::detail
