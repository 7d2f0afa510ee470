// Tests of the scenario file: every shipped scenario parses and plans; bad files are refused
// with a message naming the file, the section and the key; overrides; the JSON form.
#include "scenario/scenario.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

namespace meshcast::scenario {
namespace {

// Overrides with one knob set: with(&overrides::peers, 7).
template <class T, class V>
overrides with(std::optional<T> overrides::*knob, V value) {
  overrides o;
  o.*knob = T(value);
  return o;
}

// The shipped scenarios, at the repository's root.
std::filesystem::path scenarios_dir() { return std::filesystem::path(MESHCAST_SOURCE_DIR) / "scenarios"; }

scenario parsed(std::string_view text) {
  auto s = parse(text, "t.toml");
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? *s : scenario{};
}

std::string error_of(std::string_view text) {
  auto s = parse(text, "t.toml");
  EXPECT_FALSE(s) << "parsed:\n" << text;
  return s ? "" : s.error().message;
}

// The smallest valid file; tests append sections to it.
constexpr std::string_view k_minimal = "[[peers]]\ncount = 20\n";

TEST(scenario_file, every_shipped_scenario_parses_and_plans) {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(scenarios_dir())) {
    if (entry.path().extension() != ".toml") continue;
    ++files;
    auto s = load(entry.path().string());
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->name, entry.path().stem().string()) << "name = the file's name";
    EXPECT_FALSE(s->description.empty()) << entry.path();
    auto p = make_plan(*s);
    ASSERT_TRUE(p) << entry.path() << ": " << p.error().message;
    EXPECT_GT(p->peer_count(), 0U);
    EXPECT_EQ(p->events.size(), s->events.size());
  }
  EXPECT_GE(files, 8U);
}

TEST(scenario_file, ci_is_what_the_ci_tests_expect) {
  auto s = load((scenarios_dir() / "ci.toml").string());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->duration_s, 30);
  EXPECT_EQ(s->source.bitrate_kbps, 1000U);
  EXPECT_EQ(s->source.chunk_ms, 100U);
  ASSERT_EQ(s->groups.size(), 1U);
  EXPECT_EQ(s->groups[0].count, 20U);
  EXPECT_EQ(s->groups[0].upload.text(), "40%:0.5, 40%:1.5, 20%:4");
  EXPECT_EQ(s->links.node_delay_ms.text(), "10..50");
}

TEST(scenario_file, defaults_fill_what_is_left_out) {
  const scenario s = parsed(k_minimal);
  EXPECT_EQ(s.name, "unnamed");
  EXPECT_EQ(s.duration_s, 60);
  EXPECT_EQ(s.source.kind, "test");
  EXPECT_EQ(s.source.bitrate_kbps, 1000U);
  EXPECT_EQ(s.origin.upload, 0);
  ASSERT_EQ(s.groups.size(), 1U);
  EXPECT_EQ(s.groups[0].name, "peers");
  EXPECT_EQ(s.groups[0].upload.text(), "1.5");
  EXPECT_FALSE(s.groups[0].delay_ms);
  EXPECT_EQ(s.swarm.mode, "push-pull");
}

TEST(scenario_file, every_key_is_read) {
  const scenario s = parsed(R"toml(
name = "full"
description = "d"
duration = 90.5
seed = 77
tracker_interval = 2
[source]
kind = "file"
path = "in.mp4"
bitrate = 2500
gop = 1000
chunk = 200
width = 1280
height = 720
fps = 30
[origin]
upload = 3
region = "eu"
max_neighbours = 40
delay = "normal(5,1)"
[[peers]]
name = "home"
count = 10
upload = 0.8
download = 3
region = "us"
delay = 20
join_at = 5
join_over = 10
[links]
delay = "1..2"
loss = 0.01
[[links.regions]]
a = "eu"
b = "us"
delay = "40..60"
[swarm]
playout_delay = 3000
min_neighbours = 4
max_neighbours = 12
mode = "pull"
[[events]]
at = 30
kind = "churn"
group = "home"
rate = 0.5
until = 60
label = "slow churn"
)toml");
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.duration_s, 90.5);
  EXPECT_EQ(s.seed, 77U);
  EXPECT_EQ(s.tracker_interval_s, 2);
  EXPECT_EQ(s.source.path, "in.mp4");
  EXPECT_EQ(s.source.bitrate_kbps, 2500U);
  EXPECT_EQ(s.source.fps, 30U);
  EXPECT_EQ(s.origin.max_neighbours, 40U);
  EXPECT_EQ(s.origin.delay_ms.text(), "normal(5,1)");
  EXPECT_EQ(s.groups[0].download.a, 3);
  ASSERT_TRUE(s.groups[0].delay_ms);
  EXPECT_EQ(s.groups[0].delay_ms->a, 20);
  EXPECT_EQ(s.groups[0].join_over_s, 10);
  EXPECT_EQ(s.links.loss, 0.01);
  ASSERT_EQ(s.links.region_delays.size(), 1U);
  EXPECT_EQ(s.links.region_delays[0].b, "us");
  EXPECT_EQ(s.swarm.playout_delay_ms, 3000U);
  EXPECT_EQ(s.swarm.mode, "pull");
  ASSERT_EQ(s.events.size(), 1U);
  EXPECT_EQ(s.events[0].k, event::kind::churn);
  EXPECT_EQ(s.events[0].rate, 0.5);
  EXPECT_EQ(s.events[0].until_s, 60);
  EXPECT_EQ(s.events[0].label, "slow churn");
}

TEST(scenario_file, unknown_keys_are_refused) {
  EXPECT_EQ(error_of("duraton = 30\n[[peers]]\ncount = 1\n"),
            "t.toml: duraton: unknown key (expected one of: name, description, duration, seed, "
            "tracker_interval, source, origin, peers, links, swarm, events)");
  const std::string e = error_of("[[peers]]\ncount = 1\n[[peers]]\nname = \"b\"\nuplaod = 2\n");
  EXPECT_EQ(e.substr(0, e.find(" (")), "t.toml: [[peers]] #2: uplaod: unknown key");
  EXPECT_NE(error_of(std::string(k_minimal) + "[swarm]\nmod = \"push\"\n").find("[swarm]: mod: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(k_minimal) +
                     "[links]\n[[links.regions]]\na = \"x\"\nb = \"y\"\ndelay = 1\nd = 2\n")
                .find("[[links.regions]] #1: d: unknown key"),
            std::string::npos);
}

TEST(scenario_file, bad_distribution_names_file_group_and_key) {
  EXPECT_EQ(error_of("[[peers]]\ncount = 1\n[[peers]]\nname = \"b\"\nupload = \"40%:x\"\n"),
            "t.toml: [[peers]] #2: upload: bad distribution '40%:x': expected a number, got 'x'");
  EXPECT_EQ(
      error_of("[[peers]]\nupload = \"40%:1, 50%:2\"\n"),
      "t.toml: [[peers]] #1: upload: bad distribution '40%:1, 50%:2': weights sum to 90%, expected 100%");
  EXPECT_EQ(error_of("[[peers]]\nupload = \"0..2000\"\n"),
            "t.toml: [[peers]] #1: upload: values must be <= 1000, got '0..2000'");
  EXPECT_EQ(error_of("[[peers]]\nupload = -1\n"), "t.toml: [[peers]] #1: upload: must be >= 0, got -1");
  EXPECT_EQ(error_of("[[peers]]\nupload = true\n"),
            "t.toml: [[peers]] #1: upload: expected a number or a distribution string, got a boolean");
}

TEST(scenario_file, out_of_range_values_are_refused) {
  const std::string m(k_minimal);
  EXPECT_EQ(error_of("duration = 0\n" + m), "t.toml: duration: must be > 0 and <= 86400, got 0");
  EXPECT_EQ(error_of("duration = 100000\n" + m), "t.toml: duration: must be > 0 and <= 86400, got 100000");
  EXPECT_EQ(error_of("[source]\nbitrate = 5\n" + m),
            "t.toml: [source]: bitrate: must be in 10..100000, got 5");
  EXPECT_EQ(error_of("[source]\nchunk = 20000\n" + m),
            "t.toml: [source]: chunk: must be in 10..10000, got 20000");
  EXPECT_EQ(error_of("[source]\nbitrate = 1000.5\n" + m),
            "t.toml: [source]: bitrate: expected an integer, got a float");
  EXPECT_EQ(error_of(m + "[links]\nloss = 0.6\n"), "t.toml: [links]: loss: must be >= 0 and <= 0.5, got 0.6");
  EXPECT_EQ(error_of("[[peers]]\ncount = 3000000\n"),
            "t.toml: [[peers]] #1: count: must be in 0..2000000, got 3000000");
  EXPECT_EQ(error_of("[[peers]]\ncount = 1500000\n[[peers]]\nname = \"b\"\ncount = 1500000\n"),
            "t.toml: the groups and join events add up to 3000000 nodes, limit 2000000");
  EXPECT_EQ(error_of(m + "[links]\ndelay = \"10..90000\"\n"),
            "t.toml: [links]: delay: values must be <= 60000, got '10..90000'");
  EXPECT_EQ(error_of(m + "[swarm]\nmin_neighbours = 30\n"),
            "t.toml: [swarm]: min_neighbours: must be <= max_neighbours (24), got 30");
  EXPECT_EQ(error_of(m + "[swarm]\nmode = \"gossip\"\n"),
            "t.toml: [swarm]: mode: expected one of push-pull, push, pull, got 'gossip'");
  EXPECT_EQ(error_of("[source]\ngop = 50\n" + m), "t.toml: [source]: gop: must be >= chunk (100 ms), got 50");
}

TEST(scenario_file, structural_mistakes_are_refused) {
  EXPECT_EQ(error_of("name = \"x\"\n"), "t.toml: at least one [[peers]] group is required");
  EXPECT_EQ(error_of("[[peers]]\n[[peers]]\n"),
            "t.toml: [[peers]] #2: name: 'peers' is already the name of [[peers]] #1 (give each group its "
            "own name)");
  EXPECT_EQ(error_of("[[peers]]\nname = \"origin\"\n"),
            "t.toml: [[peers]] #1: name: 'origin' names the origin");
  EXPECT_EQ(error_of("source = 3\n" + std::string(k_minimal)),
            "t.toml: source: expected a table, got an integer");
  EXPECT_EQ(error_of("[peers]\ncount = 1\n"),
            "t.toml: peers: expected an array of tables ([[peers]]), got a table");
  EXPECT_EQ(error_of("[source]\nkind = \"file\"\n" + std::string(k_minimal)),
            "t.toml: [source]: path: required for a file source");
  const std::string syntax = error_of("duration = = 3\n");
  EXPECT_EQ(syntax.substr(0, 11), "t.toml:1:12") << syntax;
}

TEST(scenario_file, events_are_checked_per_kind) {
  const std::string m(k_minimal);
  EXPECT_EQ(error_of(m + "[[events]]\nat = 5\nkind = \"join\"\nfraction = 0.5\ncount = 3\n"),
            "t.toml: [[events]] #1: fraction: does not apply to a join event");
  EXPECT_EQ(error_of(m + "[[events]]\nat = 5\nkind = \"join\"\n"), "t.toml: [[events]] #1: count: required");
  EXPECT_EQ(error_of(m + "[[events]]\nkind = \"join\"\ncount = 3\n"), "t.toml: [[events]] #1: at: required");
  EXPECT_EQ(error_of(m + "[[events]]\nat = 5\nkind = \"leave\"\n"),
            "t.toml: [[events]] #1: a leave event takes either fraction or count");
  EXPECT_EQ(error_of(m + "[[events]]\nat = 5\nkind = \"leave\"\nfraction = 1.5\n"),
            "t.toml: [[events]] #1: fraction: must be > 0 and <= 1, got 1.5");
  EXPECT_EQ(error_of(m + "[[events]]\nat = 5\nkind = \"leave\"\ngroup = \"viewers\"\ncount = 2\n"),
            "t.toml: [[events]] #1: group: no [[peers]] group is named 'viewers'");
  EXPECT_EQ(error_of(m + "[[events]]\nat = 70\nkind = \"tracker_stop\"\n"),
            "t.toml: [[events]] #1: at: is after the end of the run (60 s)");
  EXPECT_EQ(error_of(m + "[[events]]\nat = 20\nkind = \"churn\"\nrate = 1\nuntil = 10\n"),
            "t.toml: [[events]] #1: until: must be after at (20 s), got 10");
  EXPECT_EQ(
      error_of(m + "[[events]]\nat = 20\nkind = \"kill\"\ntarget = \"viewer-3\"\n"),
      "t.toml: [[events]] #1: target: expected 'origin' or GROUP-N naming a [[peers]] group, got 'viewer-3'");
  EXPECT_EQ(
      error_of(m + "[[events]]\nat = 20\nkind = \"explode\"\n"),
      "t.toml: [[events]] #1: kind: expected one of join, leave, churn, kill, tracker_stop, tracker_start, "
      "got 'explode'");
}

TEST(scenario_file, load_of_a_missing_file_is_an_io_error) {
  auto s = load("/nonexistent/x.toml");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, static_cast<int>(scenario_errc::io));
}

// --- overrides ---

scenario two_groups() {
  return parsed(R"(
[[peers]]
name = "a"
count = 30
[[peers]]
name = "b"
count = 10
delay = 5
)");
}

TEST(scenario_overrides, peers_rescale_the_groups_proportionally) {
  scenario s = two_groups();
  ASSERT_TRUE(apply(s, with(&overrides::peers, 1000)));
  EXPECT_EQ(s.groups[0].count, 750U);
  EXPECT_EQ(s.groups[1].count, 250U);
  ASSERT_TRUE(apply(s, with(&overrides::peers, 7)));  // 5.25, 1.75 → 5, 1, leftover to b: 5, 2
  EXPECT_EQ(s.groups[0].count, 5U);
  EXPECT_EQ(s.groups[1].count, 2U);
  EXPECT_FALSE(apply(s, with(&overrides::peers, 3'000'000)));
}

TEST(scenario_overrides, upload_delay_mode_seed_duration_bitrate) {
  scenario s = two_groups();
  overrides o;
  o.duration_s = 20;
  o.bitrate_kbps = 2000;
  o.upload = "50%:1, 50%:3";
  o.delay = "20..30";
  o.seed = 9;
  o.mode = "push";
  ASSERT_TRUE(apply(s, o));
  EXPECT_EQ(s.duration_s, 20);
  EXPECT_EQ(s.source.bitrate_kbps, 2000U);
  EXPECT_EQ(s.groups[0].upload.text(), "50%:1, 50%:3");
  EXPECT_EQ(s.groups[1].upload.text(), "50%:1, 50%:3");
  EXPECT_EQ(s.links.node_delay_ms.text(), "20..30");
  EXPECT_FALSE(s.groups[1].delay_ms) << "--delay applies to every peer";
  EXPECT_EQ(s.seed, 9U);
  EXPECT_EQ(s.swarm.mode, "push");
}

TEST(scenario_overrides, churn_adds_an_event_on_the_first_group) {
  scenario s = two_groups();
  ASSERT_TRUE(apply(s, with(&overrides::churn, "2.5@10-40")));
  ASSERT_EQ(s.events.size(), 1U);
  EXPECT_EQ(s.events[0].k, event::kind::churn);
  EXPECT_EQ(s.events[0].group, "a");
  EXPECT_EQ(s.events[0].rate, 2.5);
  EXPECT_EQ(s.events[0].at_s, 10);
  EXPECT_EQ(s.events[0].until_s, 40);
  ASSERT_TRUE(apply(s, with(&overrides::churn, "1")));
  EXPECT_EQ(s.events[1].at_s, 0);
  EXPECT_EQ(s.events[1].until_s, 0) << "0 = until the end";
}

TEST(scenario_overrides, bad_values_leave_the_scenario_unchanged) {
  scenario s = two_groups();
  const std::string before = to_json_text(s);
  overrides o;
  o.peers = 100;
  o.upload = "40%:x";
  auto r = apply(s, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "--upload: bad distribution '40%:x': expected a number, got 'x'");
  EXPECT_EQ(to_json_text(s), before);
  EXPECT_FALSE(apply(s, with(&overrides::churn, "x@1-2")));
  EXPECT_FALSE(apply(s, with(&overrides::churn, "1@30-20")));
  EXPECT_FALSE(apply(s, with(&overrides::churn, "1@10-90")));  // past the 60 s end
  EXPECT_FALSE(apply(s, with(&overrides::churn, "0")));
  EXPECT_FALSE(apply(s, with(&overrides::mode, "gossip")));
  EXPECT_FALSE(apply(s, with(&overrides::duration_s, 0)));
  EXPECT_FALSE(apply(s, with(&overrides::bitrate_kbps, 1)));
  EXPECT_EQ(to_json_text(s), before);
}

// --- JSON ---

TEST(scenario_json, carries_the_model_in_file_terms) {
  auto s = load((scenarios_dir() / "ci-churn.toml").string());
  ASSERT_TRUE(s) << s.error().message;
  const auto j = nlohmann::json::parse(to_json_text(*s));
  EXPECT_EQ(j["name"], "ci-churn");
  EXPECT_EQ(j["duration"], 40.0);
  EXPECT_EQ(j["source"]["bitrate"], 1000);
  EXPECT_EQ(j["peers"][0]["upload"], "40%:0.5, 40%:1.5, 20%:4");
  EXPECT_EQ(j["links"]["delay"], "10..50");
  EXPECT_EQ(j["events"][0]["kind"], "leave");
  EXPECT_EQ(j["events"][0]["fraction"], 0.5);
  EXPECT_FALSE(j["events"][0].contains("rate"));
  EXPECT_EQ(to_json_text(*s), to_json_text(*s));
}

}  // namespace
}  // namespace meshcast::scenario
