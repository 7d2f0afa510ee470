#include "report/report.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace meshcast::report {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// A synthetic run of the CI scenario: every viewer gets every chunk 100–400 ms after its source
/// time from the origin or a peer, except a few losses; one event at 15 s.
run_result fake_run(const scenario::scenario& s, const scenario::plan& p, const core::time_point t0) {
  collector_settings cs;
  cs.start = t0;
  cs.playout_delay = std::chrono::milliseconds{s.swarm.playout_delay_ms};
  collector c(cs, p);
  std::mt19937_64 rng(3);
  const std::size_t chunks = static_cast<std::size_t>(s.duration_s * 10);
  for (std::size_t k = 0; k < chunks; ++k) c.on_produced(k, t0 + std::chrono::milliseconds{100 * k}, k % 20 == 0, 12'500);
  c.on_event(t0 + 15s, "something happens");
  for (std::uint32_t i = 1; i < p.nodes.size(); ++i) {
    c.on_join(i, t0);
    c.on_join_point(i, 0);
    for (std::size_t k = 0; k < chunks; ++k) {
      if (rng() % 500 == 0) continue;
      const auto src = t0 + std::chrono::milliseconds{100 * k};
      const auto arr = src + std::chrono::milliseconds{100 + static_cast<int>(rng() % 300)};
      c.on_arrival(i, k, src, arr, rng() % 10 == 0 ? 0 : 1 + static_cast<std::uint32_t>(rng() % 20), 12'500, true);
      c.on_sent(i, arr, 13'000, 12'500);
    }
  }
  return c.finish(t0 + std::chrono::seconds{static_cast<int>(s.duration_s)});
}

TEST(Report, WritesEveryFileWithTheHeadlineFigures) {
  auto s = scenario::load(MESHCAST_SOURCE_DIR "/scenarios/ci.toml");
  ASSERT_TRUE(s) << s.error().message;
  auto p = scenario::make_plan(*s);
  ASSERT_TRUE(p) << p.error().message;
  const run_result r = fake_run(*s, *p, core::from_us(1'700'000'000'000'000));
  const fs::path dir = fs::temp_directory_path() / ("meshcast-report-test-" + std::to_string(::getpid()));
  write_options o;
  o.mode = "test";
  o.plots = true;
  auto summary = write_report(*s, *p, r, dir.string(), o);
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_NE(summary->find("continuity"), std::string::npos);
  EXPECT_NE(summary->find("hops"), std::string::npos);
  for (const char* f : {"report.json", "summary.txt", "arrivals.csv", "nodes.csv", "timeline.csv", "events.csv",
                        "plots.gp"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  const auto j = nlohmann::json::parse(slurp(dir / "report.json"));
  EXPECT_EQ(j["overall"]["viewers"], 20);
  EXPECT_GT(j["overall"]["continuity"]["mean"].get<double>(), 0.99);
  EXPECT_NEAR(j["overall"]["offload"].get<double>(), 0.9, 0.05);
  EXPECT_NEAR(j["overall"]["delay_ms"]["p50"].get<double>(), 250, 15);
  EXPECT_EQ(j["nodes"].size(), 21U);
  EXPECT_EQ(j["events"].size(), 1U);
  // CI scenario: 20 viewers → ⌈log2 20⌉ + 1 = 6 hops.
  EXPECT_EQ(j["overall"]["bound"]["hops"], 6);
  // Plots are PNG files when gnuplot is installed (scripts/install-deps.sh installs it).
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    for (const char* f : {"delay_cdf.png", "continuity.png", "upload_share.png", "timeline.png", "delay_per_chunk.png"}) {
      const std::string png = slurp(dir / f);
      ASSERT_GT(png.size(), 8U) << f;
      EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << f;
    }
  }
  fs::remove_all(dir);
}

TEST(Report, BoundFollowsTheScenario) {
  auto s = scenario::load(MESHCAST_SOURCE_DIR "/scenarios/ci.toml");
  ASSERT_TRUE(s);
  auto p = scenario::make_plan(*s);
  ASSERT_TRUE(p);
  const delay_bound b = compute_bound(*s, *p, 200);
  EXPECT_EQ(b.hops, 9U);  // ⌈log2 200⌉ + 1
  // 100 ms chunks of a 25 fps source are cut as 3 frames (and one of 2 frames a 2 s GOP): 117.6 ms
  // of 1 Mbit/s on average, at a mean upload of 1.6× the stream rate 73.5 ms per chunk.
  EXPECT_NEAR(b.chunk_tx_ms, 73.5, 0.5);
  // Access delays 10..50 ms at each end: a link is ~60 ms one way.
  EXPECT_NEAR(b.path_ms, 60, 8);
  EXPECT_NEAR(b.bound_ms, 9 * (b.chunk_tx_ms + b.path_ms), 1e-6);
}

}  // namespace
}  // namespace meshcast::report
