// Tests of scenario::distribution: the text forms, their errors, means, sampling and the exact
// split of a choice over n nodes.
#include <gtest/gtest.h>

#include <algorithm>

#include "scenario/scenario.hpp"

namespace meshcast::scenario {
namespace {

distribution parsed(std::string_view text) {
  auto d = distribution::parse(text);
  EXPECT_TRUE(d) << text << ": " << (d ? "" : d.error().message);
  return d ? *d : distribution{};
}

std::string error_of(std::string_view text) {
  auto d = distribution::parse(text);
  EXPECT_FALSE(d) << text << " parsed";
  return d ? "" : d.error().message;
}

TEST(distribution, text_forms_parse_to_their_kinds) {
  EXPECT_EQ(parsed("1.5").k, distribution::kind::constant);
  EXPECT_EQ(parsed("1.5").a, 1.5);
  const distribution u = parsed("10..50");
  EXPECT_EQ(u.k, distribution::kind::uniform);
  EXPECT_EQ(u.a, 10);
  EXPECT_EQ(u.b, 50);
  const distribution n = parsed("normal(30,5)");
  EXPECT_EQ(n.k, distribution::kind::normal);
  EXPECT_EQ(n.a, 30);
  EXPECT_EQ(n.b, 5);
  const distribution c = parsed(" 40%:0.5, 40%:1.5,20%:4 ");
  ASSERT_EQ(c.k, distribution::kind::choice);
  ASSERT_EQ(c.choices.size(), 3U);
  EXPECT_DOUBLE_EQ(c.choices[0].first, 0.4);
  EXPECT_EQ(c.choices[2].second, 4);
}

TEST(distribution, text_reads_back_as_the_same_distribution) {
  for (std::string_view t : {"1.5", "0", "10..50", "0.25..0.75", "normal(30,5)", "40%:0.5, 40%:1.5, 20%:4",
                             "33.3%:1, 33.3%:2, 33.4%:3"}) {
    const distribution d = parsed(t);
    const distribution again = parsed(d.text());
    EXPECT_EQ(again.text(), d.text()) << t;
    EXPECT_EQ(again.k, d.k);
  }
  EXPECT_EQ(parsed("40%:0.5,40%:1.5,20%:4").text(), "40%:0.5, 40%:1.5, 20%:4");
  EXPECT_EQ(parsed("normal( 30 , 5 )").text(), "normal(30,5)");
}

TEST(distribution, bad_text_says_what_was_expected) {
  EXPECT_EQ(error_of("40%:x"), "bad distribution '40%:x': expected a number, got 'x'");
  EXPECT_EQ(error_of("40%:1, 40%:2"), "bad distribution '40%:1, 40%:2': weights sum to 80%, expected 100%");
  EXPECT_NE(error_of("40:1, 60%:2").find("expected 'WEIGHT%:VALUE'"), std::string::npos);
  EXPECT_NE(error_of("50..10").find("low end above high end"), std::string::npos);
  EXPECT_NE(error_of("-3").find("values must be >= 0"), std::string::npos);
  EXPECT_NE(error_of("normal(30)").find("normal(MEAN,STDDEV)"), std::string::npos);
  EXPECT_NE(error_of("fast").find("expected a number"), std::string::npos);
  EXPECT_NE(error_of("nan").find("not a finite number"), std::string::npos);
  EXPECT_NE(error_of("inf..inf").find("not a finite number"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
}

TEST(distribution, weights_within_half_a_percent_of_100_are_accepted) {
  EXPECT_TRUE(distribution::parse("33.3%:1, 33.3%:2, 33.3%:3"));  // 99.9
  EXPECT_TRUE(distribution::parse("50.4%:1, 50%:2"));             // 100.4
  EXPECT_FALSE(distribution::parse("50.6%:1, 50%:2"));            // 100.6
}

TEST(distribution, means) {
  EXPECT_DOUBLE_EQ(parsed("2").mean(), 2);
  EXPECT_DOUBLE_EQ(parsed("10..50").mean(), 30);
  EXPECT_DOUBLE_EQ(parsed("40%:0.5, 40%:1.5, 20%:4").mean(), 1.6);
  EXPECT_NEAR(parsed("normal(30,5)").mean(), 30, 1e-9);
  // Clamped at 0: the mean of max(0, X) for X ~ N(0, 1) is 1/sqrt(2 pi).
  EXPECT_NEAR(parsed("normal(0,1)").mean(), 0.3989422804, 1e-9);
}

TEST(distribution, sample_means_approach_the_mean) {
  std::mt19937_64 rng(42);
  for (std::string_view t : {"10..50", "normal(30,5)", "normal(1,2)", "40%:0.5, 40%:1.5, 20%:4"}) {
    const distribution d = parsed(t);
    double sum = 0, lo = 1e300, hi = -1;
    const int n = 100'000;
    for (int i = 0; i < n; ++i) {
      const double v = d.sample(rng);
      sum += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    EXPECT_NEAR(sum / n, d.mean(), 0.02 * d.mean()) << t;
    EXPECT_GE(lo, 0) << t;
    if (d.k == distribution::kind::uniform) {
      EXPECT_GE(lo, 10);
      EXPECT_LT(hi, 50);
    }
  }
}

TEST(distribution, assign_splits_a_choice_exactly) {
  const distribution d = parsed("40%:0.5, 40%:1.5, 20%:4");
  std::mt19937_64 rng(1);
  const std::vector<double> v = d.assign(20, rng);
  ASSERT_EQ(v.size(), 20U);
  EXPECT_EQ(std::count(v.begin(), v.end(), 0.5), 8);
  EXPECT_EQ(std::count(v.begin(), v.end(), 1.5), 8);
  EXPECT_EQ(std::count(v.begin(), v.end(), 4.0), 4);
}

TEST(distribution, assign_gives_leftovers_to_the_largest_remainders) {
  // 7 × (40, 40, 20) = 2.8, 2.8, 1.4 → 2, 2, 1 + the two leftovers to the .8s: 3, 3, 1.
  const distribution d = parsed("40%:1, 40%:2, 20%:3");
  std::mt19937_64 rng(1);
  const std::vector<double> v = d.assign(7, rng);
  EXPECT_EQ(std::count(v.begin(), v.end(), 1.0), 3);
  EXPECT_EQ(std::count(v.begin(), v.end(), 2.0), 3);
  EXPECT_EQ(std::count(v.begin(), v.end(), 3.0), 1);
  // Exact totals at any n.
  for (std::size_t n : {0, 1, 3, 99, 1001}) {
    EXPECT_EQ(d.assign(n, rng).size(), n);
  }
}

TEST(distribution, assign_shuffles_deterministically) {
  const distribution d = parsed("50%:1, 50%:2");
  std::mt19937_64 a(7), b(7), c(8);
  const auto va = d.assign(100, a), vb = d.assign(100, b), vc = d.assign(100, c);
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  // Shuffled: not all the 1s first.
  EXPECT_FALSE(std::is_sorted(va.begin(), va.end()));
}

}  // namespace
}  // namespace meshcast::scenario
