#include "lab/in_process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "chunk/signer.hpp"
#include "lab/in_process_memo.hpp"

namespace meshcast::lab {
namespace {

using namespace std::chrono_literals;
using scenario::node_kind;

// --- verify_memo ---------------------------------------------------------------------------------

chunk::chunk_ptr signed_chunk(const chunk::signer& s, std::uint64_t seq, std::uint8_t fill) {
  chunk::chunk_header h;
  h.seq = core::chunk_seq{seq};
  h.source_time = core::from_us(1'700'000'000'000'000);
  h.duration = 100ms;
  return s.sign("live/lab", "source", chunk::make_chunk(h, core::bytes(1880, fill)));
}

/// A byte-for-byte copy in its own buffers, as a node decodes it off the wire.
chunk::chunk_ptr copy_of(const chunk::chunk& c) {
  return chunk::make_chunk(c.header(), core::bytes(c.payload().begin(), c.payload().end()), c.signature());
}

TEST(verify_memo, an_identical_copy_of_a_verified_chunk_needs_no_second_signature_check) {
  const auto signer = chunk::signer::generate();
  verify_memo memo(signer.public_key(), "live/lab", "source");
  const auto c = signed_chunk(signer, 7, 0x47);
  EXPECT_TRUE(memo.verify(*copy_of(*c)));
  EXPECT_TRUE(memo.verify(*copy_of(*c)));
  EXPECT_TRUE(memo.verify(*copy_of(*c)));
  EXPECT_EQ(memo.stats().ed25519_checks, 1u);
  EXPECT_EQ(memo.stats().memo_hits, 2u);
}

TEST(verify_memo, a_copy_differing_in_one_byte_is_checked_in_full_and_refused) {
  const auto signer = chunk::signer::generate();
  verify_memo memo(signer.public_key(), "live/lab", "source");
  const auto c = signed_chunk(signer, 7, 0x47);
  ASSERT_TRUE(memo.verify(*c));
  core::bytes tampered(c->payload().begin(), c->payload().end());
  tampered[1000] ^= 1;
  EXPECT_FALSE(memo.verify(*chunk::make_chunk(c->header(), tampered, c->signature())));
  auto header = c->header();
  header.source_time += 1ms;
  EXPECT_FALSE(
      memo.verify(*chunk::make_chunk(header, core::bytes(c->payload().begin(), c->payload().end()), c->signature())));
  EXPECT_FALSE(memo.verify(*chunk::make_chunk(c->header(), core::bytes(c->payload().begin(), c->payload().end()))));
  EXPECT_EQ(memo.stats().refused, 3u);
  EXPECT_TRUE(memo.verify(*copy_of(*c)));  // the verified copy is still remembered
}

TEST(verify_memo, a_chunk_signed_by_another_key_is_refused) {
  const auto origin = chunk::signer::generate();
  const auto other = chunk::signer::generate();
  verify_memo memo(origin.public_key(), "live/lab", "source");
  EXPECT_FALSE(memo.verify(*signed_chunk(other, 1, 0)));
  EXPECT_TRUE(memo.verify(*signed_chunk(origin, 1, 0)));
}

// --- run_in_process ------------------------------------------------------------------------------

/// A small scenario: the test source at 400 kb/s (small picture: cheap to encode), origin + n
/// peers joining over the first second. The origin takes only 3 neighbours, so most chunks must
/// travel peer to peer.
struct small_run {
  scenario::scenario s;
  scenario::plan p;

  small_run(std::size_t peers, double seconds) {
    s.name = "lab-test";
    s.duration_s = seconds;
    s.seed = 11;
    s.source.bitrate_kbps = 400;
    s.source.width = 320;
    s.source.height = 180;
    s.source.fps = 25;
    s.origin.max_neighbours = 3;
    s.swarm.min_neighbours = 4;
    s.swarm.max_neighbours = 8;
    s.tracker_interval_s = 2;
    p.group_names = {"origin", "peers"};
    p.region_names = {""};
    p.region_matrix = {core::micros{0}};
    p.stream_bps = s.stream_bps();
    p.duration = core::micros{static_cast<std::int64_t>(seconds * 1e6)};
    scenario::planned_node o;
    o.kind = node_kind::origin;
    p.nodes.push_back(o);
    for (std::uint32_t i = 1; i <= peers; ++i) {
      scenario::planned_node n;
      n.index = i;
      n.kind = node_kind::peer;
      n.group = 1;
      n.ordinal = i - 1;
      n.upload_bps = 3 * s.stream_bps();
      n.join_at = core::micros{static_cast<std::int64_t>(i) * 1'000'000 / static_cast<std::int64_t>(peers)};
      p.nodes.push_back(n);
    }
  }

  /// Every node `ms` from the others: each node's access delay is half of it.
  void set_delay(std::int64_t one_way_ms) {
    for (auto& n : p.nodes) n.access_delay = core::micros{one_way_ms * 500};
  }

  report::run_result run(in_process_figures* figures = nullptr, std::size_t threads = 1) const {
    report::collector_settings cs;
    cs.start = core::system_clock{}.now();
    cs.chunk_duration = core::micros{std::int64_t{s.source.chunk_ms} * 1000};
    cs.playout_delay = core::micros{std::int64_t{s.swarm.playout_delay_ms} * 1000};
    cs.seed = s.seed;
    report::collector c(cs, p);
    lab_settings ls;
    ls.threads = threads;
    auto r = run_in_process(s, p, c, ls, figures);
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(*r) : report::run_result{};
  }
};

double mean_continuity(const report::run_result& r) {
  double sum = 0;
  std::size_t n = 0;
  for (const auto& node : r.nodes) {
    if (node.index == 0 || node.due == 0) continue;
    sum += node.continuity;
    ++n;
  }
  return n == 0 ? 0 : sum / static_cast<double>(n);
}

double offload(const report::run_result& r) {
  return r.viewer_payload_down == 0
             ? 0
             : static_cast<double>(r.viewer_payload_from_peers) / static_cast<double>(r.viewer_payload_down);
}

// One unshaped and one shaped run of the same swarm (2 x (2 + 8) s); the second also has the
// tracker stopped and restarted, a peer leaving and one killed, and runs on three event loops
// (the leaving peers on loops 0 and 1, the tracker on loop 0).
TEST(in_process, a_small_swarm_streams_and_link_delay_and_upload_caps_show_in_the_figures) {
  small_run base(8, 8);
  const auto r0 = base.run();
  ASSERT_FALSE(r0.arrivals.empty());
  EXPECT_GT(r0.chunks_produced, 80u);  // the origin's 2 s head start and the 8 s of the run
  EXPECT_GE(mean_continuity(r0), 0.95);
  EXPECT_GT(offload(r0), 0.3);
  for (const auto& n : r0.nodes) {
    if (n.index == 0) continue;
    EXPECT_GT(n.due, 30u) << "peer " << n.index;
    EXPECT_GT(n.payload_down, 0u) << "peer " << n.index;
  }
  const double p50_base = r0.delay.quantile(0.5);
  EXPECT_LT(p50_base, 800);

  // 100 ms between any two nodes, and the origin's uplink capped at 2x the stream rate.
  small_run shaped(8, 8);
  shaped.set_delay(100);
  shaped.p.nodes[0].upload_bps = 2 * shaped.s.stream_bps();
  shaped.p.nodes[7].leave_at = 6s;
  shaped.p.nodes[8].leave_at = 6s;
  shaped.p.nodes[8].killed = true;
  using pe = scenario::planned_event;
  shaped.p.events = {{pe::kind::tracker_stop, 3s, "tracker stops"},
                     {pe::kind::tracker_start, 5s, "tracker back"},
                     {pe::kind::marker, 6s, "2 peers leave"}};
  in_process_figures f;
  const auto r1 = shaped.run(&f, 3);
  // Peers dealt round-robin: loop 0 has the origin and peers 1, 4, 7; loop 1 2, 5, 8; loop 2 3, 6.
  ASSERT_EQ(f.loops.size(), 3u);
  EXPECT_EQ(f.loops[0].nodes, 4u);
  EXPECT_EQ(f.loops[1].nodes, 3u);
  EXPECT_EQ(f.loops[2].nodes, 2u);
  for (const auto& l : f.loops) EXPECT_GT(l.cpu_s, 0);
  EXPECT_EQ(loop_summary(f).size(), 2u);
  ASSERT_FALSE(r1.arrivals.empty());
  EXPECT_GE(mean_continuity(r1), 0.9);
  ASSERT_EQ(r1.events.size(), 3u);
  EXPECT_EQ(r1.events[0].label, "tracker stops");
  EXPECT_NEAR(static_cast<double>(r1.events[2].at_us) / 1e6, 6, 0.5);
  ASSERT_TRUE(r1.nodes[7].leave_us && r1.nodes[8].leave_us);
  EXPECT_NEAR(static_cast<double>(*r1.nodes[8].leave_us) / 1e6, 6, 0.5);
  EXPECT_FALSE(r1.nodes[6].leave_us);
  EXPECT_LT(r1.nodes[8].due, r1.nodes[6].due);  // nothing is due at a node once it is gone
  EXPECT_NEAR(f.stream_kbps, 400, 80);          // the test source is calibrated to the scenario's rate
  const double p50_shaped = r1.delay.quantile(0.5);
  // Every chunk crosses at least one 100 ms link (no arrival can beat it); most cross one or two.
  EXPECT_GE(r1.delay.min(), 100);
  EXPECT_GT(p50_shaped - p50_base, 70) << "base " << p50_base << " ms, shaped " << p50_shaped << " ms";
  EXPECT_LT(p50_shaped - p50_base, 900) << "base " << p50_base << " ms, shaped " << p50_shaped << " ms";
  // The origin's uplink carries at most 2x the stream rate (+ one chunk), payload and framing.
  const double seconds = static_cast<double>(r1.duration_us) / 1e6;
  EXPECT_LE(static_cast<double>(r1.origin_wire_up) * 8, 2 * shaped.s.stream_bps() * seconds + 100'000);
  EXPECT_GT(static_cast<double>(r1.origin_wire_up) * 8, 0.8 * shaped.s.stream_bps() * seconds);
  EXPECT_GT(f.ed25519_checks, 0u);
  EXPECT_GT(f.memo_hits, f.ed25519_checks);  // each chunk verified once, its other copies remembered
}

// The benchmark of docs/lab.md, not a unit test: MESHCAST_LAB_SCENARIO=scenarios/default.toml
// (optionally MESHCAST_LAB_PEERS, MESHCAST_LAB_SECONDS, MESHCAST_LAB_UPLOAD to override its size,
// length and peer uploads, as the CLI's --peers --duration --upload do; MESHCAST_LAB_THREADS its
// event loops, as --threads) runs that
// scenario in one process and prints the headline figures and the loop's. Skipped otherwise.
TEST(in_process_long, scenario_from_the_environment) {
  const char* file = std::getenv("MESHCAST_LAB_SCENARIO");
  if (!file) GTEST_SKIP() << "set MESHCAST_LAB_SCENARIO to run";
  auto s = scenario::load(file);
  ASSERT_TRUE(s) << s.error().message;
  scenario::overrides o;
  if (const char* e = std::getenv("MESHCAST_LAB_PEERS")) o.peers = std::stoul(e);
  if (const char* e = std::getenv("MESHCAST_LAB_SECONDS")) o.duration_s = std::stod(e);
  if (const char* e = std::getenv("MESHCAST_LAB_UPLOAD")) o.upload = e;  // a distribution, e.g. "3"
  ASSERT_TRUE(scenario::apply(*s, o));
  auto p = scenario::make_plan(*s);
  ASSERT_TRUE(p) << p.error().message;
  report::collector_settings cs;
  cs.start = core::system_clock{}.now();
  cs.chunk_duration = core::micros{std::int64_t{s->source.chunk_ms} * 1000};
  cs.playout_delay = core::micros{std::int64_t{s->swarm.playout_delay_ms} * 1000};
  cs.seed = s->seed;
  report::collector c(cs, *p);
  in_process_figures f;
  lab_settings ls;
  if (const char* e = std::getenv("MESHCAST_LAB_THREADS")) ls.threads = std::stoul(e);  // default: one per core
  auto run = run_in_process(*s, *p, c, ls, &f);
  ASSERT_TRUE(run) << run.error().message;
  const report::run_result& r = *run;
  std::vector<double> cont;
  for (const auto& n : r.nodes) {
    if (n.index != 0 && n.due > 0) cont.push_back(n.continuity);
  }
  std::sort(cont.begin(), cont.end());
  std::vector<double> startup = r.startup_ms;
  std::sort(startup.begin(), startup.end());
  const double seconds = static_cast<double>(r.duration_us) / 1e6;
  const double stream_bytes = s->stream_bps() / 8 * seconds;
  std::printf(
      "%s, %zu peers, %.0f s: continuity mean %.4f p5 %.4f; delay p50 %.0f p95 %.0f p99 %.0f ms; startup p50 %.0f "
      "p95 %.0f ms; offload %.4f; origin egress %.2fx; overhead %.4f; duplicates %.4f\n"
      "loops: CPU %.1f s of %.1f s (%.0f %%), process CPU %.1f s; worst loop timers late p50 %.1f p99 %.1f max %.0f ms; "
      "sessions %zu; Ed25519 %llu, memo hits %llu; stream %.0f kb/s; fd limit %zu\n",
      s->name.c_str(), p->peer_count(), seconds, mean_continuity(r), cont.empty() ? 0.0 : cont[cont.size() / 20],
      r.delay.quantile(0.5), r.delay.quantile(0.95), r.delay.quantile(0.99),
      startup.empty() ? 0.0 : startup[startup.size() / 2], startup.empty() ? 0.0 : startup[startup.size() * 95 / 100],
      offload(r), static_cast<double>(r.origin_payload_up) / stream_bytes,
      r.payload_up == 0 ? 0.0 : static_cast<double>(r.wire_up - r.payload_up) / static_cast<double>(r.payload_up),
      r.viewer_payload_down == 0 ? 0.0
                                 : static_cast<double>(r.duplicate_bytes) / static_cast<double>(r.viewer_payload_down),
      f.loop_cpu_s, f.wall_s, 100 * f.loop_cpu_s / f.wall_s, f.process_cpu_s, f.late_p50_ms, f.late_p99_ms,
      f.late_max_ms, f.peak_connections, static_cast<unsigned long long>(f.ed25519_checks),
      static_cast<unsigned long long>(f.memo_hits), f.stream_kbps, f.fd_limit);
  for (const std::string& line : loop_summary(f)) std::printf("%s\n", line.c_str());
  for (const auto& e : r.events) {
    std::printf("event at %.1f s '%s': min continuity %.3f, recovery %s s\n", static_cast<double>(e.at_us) / 1e6,
                e.label.c_str(), e.min_continuity, e.recovery_s ? std::to_string(*e.recovery_s).c_str() : "never");
  }
}

}  // namespace
}  // namespace meshcast::lab
