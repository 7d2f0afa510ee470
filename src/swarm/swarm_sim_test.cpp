// Deterministic in-memory swarm runs (swarm/testing/sim_harness.hpp): one origin, 30 peers with
// upload 1.5× the stream rate, 20 s of virtual time; continuity, origin egress and duplicates.
#include "swarm/testing/sim_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>

namespace meshcast::swarm {
namespace {

using namespace std::chrono_literals;
using testing::sim_harness;
using testing::sim_link;
using testing::sim_stream;

constexpr std::size_t k_peers = 30;

struct swarm_run {
  explicit swarm_run(std::uint64_t seed = 7) : sim(sim_harness::settings{.seed = seed}) {
    t0 = sim.now();
    const double rate = stream.bytes_per_s();
    node_settings o;
    o.role = ps::node_role::origin;
    o.stream = "live/sim";
    o.max_neighbours = 16;
    o.upload_kbps = static_cast<std::uint32_t>(8 * rate / 125);  // room to spare; we measure use
    o.seed = seed;
    origin = sim.add_node(o, sim_link{8 * rate, 10ms}, t0);
    sim.start_stream(origin, stream, t0 + 500ms, t0 + 30s);

    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < k_peers; ++i) {
      const auto join = t0 + core::micros{std::uniform_int_distribution<std::int64_t>(0, 2'000'000)(rng)};
      peers.push_back(add_peer(join, rng));
    }
  }

  sim_harness::index add_peer(core::time_point join, std::mt19937_64& rng) {
    const double rate = stream.bytes_per_s();
    node_settings p;
    p.role = ps::node_role::peer;
    p.stream = "live/sim";
    // The budget sits a little under the uplink so control frames never queue behind chunks.
    p.upload_kbps = static_cast<std::uint32_t>(1.5 * 0.95 * rate / 125);
    p.seed = rng();
    if (const char* e = std::getenv("MC_GRACE")) p.pull_grace = core::micros{std::atoll(e) * 1000};
    if (const char* e = std::getenv("MC_PUSHAGE")) p.push_max_age = core::micros{std::atoll(e) * 1000};
    if (const char* e = std::getenv("MC_LOCAL")) p.local_grace = core::micros{std::atoll(e) * 1000};
    if (const char* e = std::getenv("MC_FANOUT")) p.push_fanout = static_cast<std::size_t>(std::atoll(e));
    const auto latency = core::micros{std::uniform_int_distribution<std::int64_t>(10'000, 40'000)(rng)};
    return sim.add_node(p, sim_link{1.5 * rate, latency}, join);
  }

  [[nodiscard]] double origin_egress(core::time_point from, core::time_point to) const {
    const double seconds = static_cast<double>((to - from).count()) / 1e6;
    return static_cast<double>(sim.payload_bytes_sent(origin)) / seconds / stream.bytes_per_s();
  }

  struct totals {
    std::uint64_t stored = 0, duplicates = 0, pushed = 0, pulled = 0;
    [[nodiscard]] double duplicate_share() const {
      return stored == 0 ? 0 : static_cast<double>(duplicates) / static_cast<double>(stored + duplicates);
    }
  };
  [[nodiscard]] totals peer_totals() {
    totals t;
    for (auto i : peers) {
      const node_stats& s = sim.node_at(i).stats();
      t.stored += s.chunks_pushed_in + s.chunks_pulled_in;
      t.duplicates += s.duplicate_chunks;
      t.pushed += s.chunks_pushed_in;
      t.pulled += s.chunks_pulled_in;
    }
    return t;
  }

  void print(const char* name, core::time_point end) {
    double worst = 1, sum = 0;
    std::size_t n = 0;
    for (auto i : peers) {
      if (!sim.alive(i)) continue;
      const auto c = sim.continuity(i, end);
      worst = std::min(worst, c.share());
      sum += c.share();
      ++n;
    }
    const totals t = peer_totals();
    std::printf("[%s] continuity mean %.4f min %.4f; origin egress %.2fx stream; duplicates %.2f%%; "
                "pushed %llu pulled %llu\n",
                name, sum / static_cast<double>(n), worst, origin_egress(t0 + 500ms, end),
                100 * t.duplicate_share(), static_cast<unsigned long long>(t.pushed),
                static_cast<unsigned long long>(t.pulled));
  }

  sim_stream stream{};
  sim_harness sim;
  core::time_point t0;
  sim_harness::index origin = 0;
  std::vector<sim_harness::index> peers;
};

TEST(swarm_sim, thirty_peers_at_one_and_a_half_times_the_stream_rate_play_on_time) {
  swarm_run run;
  const auto end = run.t0 + 20s;
  run.sim.run_until(end);
  run.print("30 peers", end);

  for (auto i : run.peers) {
    const auto c = run.sim.continuity(i, end);
    EXPECT_GE(c.share(), 0.99) << "peer " << i << ": " << c.on_time << "/" << c.due << " on time, "
                               << c.late << " late, " << c.missing << " missing";
    EXPECT_GT(c.due, 150u) << "peer " << i;
  }
  EXPECT_LT(run.origin_egress(run.t0 + 500ms, end), 4.0);
  EXPECT_LT(run.peer_totals().duplicate_share(), 0.04);
}

}  // namespace
}  // namespace meshcast::swarm
namespace meshcast::swarm {
namespace {
TEST(swarm_sim, DISABLED_debug_dump) {
  swarm_run run(std::getenv("MC_SEED") ? static_cast<std::uint64_t>(std::atoll(std::getenv("MC_SEED"))) : 7);
  const auto end = run.t0 + 20s;
  run.sim.set_trace([&run](std::size_t from, std::size_t to, const ps::message& m, core::time_point sent, core::time_point arrives) {
    if (auto* d = std::get_if<ps::chunk_data>(&m)) {
      if (d->chunk->seq().value() == 100) {
        const auto src = d->chunk->header().source_time;
        std::printf("TRACE chunk 100 %zu -> %zu %s sent +%.0f arrives +%.0f\n", from, to, d->pushed ? "push" : "pull",
                    static_cast<double>((sent - src).count()) / 1000, static_cast<double>((arrives - src).count()) / 1000);
      }
    }
  });
  run.sim.run_until(end);
  for (auto i : run.peers) {
    const auto& s = run.sim.node_at(i).stats();
    const auto c = run.sim.continuity(i, end);
    std::printf("peer %2zu join %6.2fs jp %4llu nb %2zu cont %.3f in push %3llu pull %3llu dup %3llu req %4llu to %4llu canc %4llu rej_in %3llu | out push %3llu served %3llu rej %3llu pdrop %3llu | up %.2fx dials %llu repl %llu late %llu\n",
                i, static_cast<double>((run.sim.join_time(i) - run.t0).count()) / 1e6,
                static_cast<unsigned long long>(run.sim.node_at(i).join_point().value_or(core::chunk_seq{0}).value()),
                run.sim.node_at(i).neighbour_count(), c.share(),
                (unsigned long long)s.chunks_pushed_in, (unsigned long long)s.chunks_pulled_in,
                (unsigned long long)s.duplicate_chunks, (unsigned long long)s.requests_sent,
                (unsigned long long)s.requests_timed_out, (unsigned long long)s.cancels_sent,
                (unsigned long long)s.rejects_received, (unsigned long long)s.chunks_pushed_out,
                (unsigned long long)s.requests_served, (unsigned long long)s.requests_rejected,
                (unsigned long long)s.pushes_dropped,
                static_cast<double>(run.sim.payload_bytes_sent(i)) / 19.5 / run.stream.bytes_per_s(),
                (unsigned long long)s.dials, (unsigned long long)s.replaced, (unsigned long long)s.chunks_skipped_late);
  }
  // Spread of each chunk: delay (ms after source time) until 50 %, 90 %, 100 % of live peers hold it.
  std::vector<double> d50, d90, d100;
  for (const auto& c : run.sim.produced()) {
    if (c->header().source_time > end - 3s || c->seq().value() < 40) continue;
    std::vector<double> ds;
    for (auto i : run.peers) {
      for (const auto& a : run.sim.arrivals(i)) {
        if (a.seq == c->seq()) ds.push_back(static_cast<double>((a.arrival - c->header().source_time).count()) / 1000);
      }
    }
    std::sort(ds.begin(), ds.end());
    while (ds.size() < run.peers.size()) ds.push_back(9999);
    d50.push_back(ds[ds.size() / 2]);
    d90.push_back(ds[ds.size() * 9 / 10]);
    d100.push_back(ds.back());
  }
  for (std::uint64_t q : {100u, 101u}) {
    const auto& c = run.sim.produced()[q];
    std::vector<std::pair<double, std::string>> rows;
    for (auto i : run.peers) {
      for (const auto& a : run.sim.arrivals(i)) {
        if (a.seq == c->seq()) {
          char buf[128];
          std::snprintf(buf, sizeof buf, "peer %zu from nb %llu role %d %s", i, (unsigned long long)a.from, (int)a.from_role, a.pushed ? "push" : "pull");
          rows.emplace_back(static_cast<double>((a.arrival - c->header().source_time).count()) / 1000, buf);
        }
      }
    }
    std::sort(rows.begin(), rows.end());
    for (auto& [t, r] : rows) std::printf("chunk %llu +%.0f ms %s\n", (unsigned long long)q, t, r.c_str());
  }
  if (const char* w = std::getenv("MC_WORST")) {
    const std::size_t i = static_cast<std::size_t>(std::atoi(w));
    std::map<std::uint64_t, double> got;
    for (const auto& a : run.sim.arrivals(i)) got.try_emplace(a.seq.value(), static_cast<double>((a.arrival - a.source_time).count()) / 1000);
    std::printf("peer %zu misses:", i);
    for (const auto& c : run.sim.produced()) {
      if (c->seq() < *run.sim.node_at(i).join_point() || c->header().source_time > end - 2s) continue;
      auto it = got.find(c->seq().value());
      if (it == got.end()) std::printf(" %llu(miss)", (unsigned long long)c->seq().value());
      else if (it->second > 1500) std::printf(" %llu(+%.0f)", (unsigned long long)c->seq().value(), it->second);
    }
    std::printf("\n");
  }
  auto med = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
  std::printf("spread median over chunks: 50%% %.0f ms, 90%% %.0f ms, 100%% %.0f ms\n", med(d50), med(d90), med(d100));
  const auto& s = run.sim.node_at(run.origin).stats();
  std::printf("egress %.2f\n", run.origin_egress(run.t0 + 500ms, end));
  std::printf("origin nb %zu push %llu served %llu rej %llu pdrop %llu\n", run.sim.node_at(run.origin).neighbour_count(),
              (unsigned long long)s.chunks_pushed_out, (unsigned long long)s.requests_served,
              (unsigned long long)s.requests_rejected, (unsigned long long)s.pushes_dropped);
}
}  // namespace
}  // namespace meshcast::swarm
