// sim_bench: how fast and how big the simulator runs. Builds the scenario of issue 5 (the
// shipped default: 1 Mbit/s, 100 ms chunks, uploads 40% 0.5× / 40% 1.5× / 20% 4×, 10–50 ms
// one-way access delays, unlimited origin with 32 neighbours) at N peers, runs S simulated
// seconds and prints: wall time, simulated seconds per wall second, events/s, peak RSS and the
// RSS growth per peer, and what the run says: continuity (mean, 5th percentile), delay p50/p95,
// origin egress, offload, duplicates.
// Usage: sim_bench [--peers 1000] [--seconds 60] [--kbps 1000] [--seed 1] [--mode push-pull]
//                  [--window 10] [--scenario FILE] [--sample 2000] [--quiet] [--timeline]
//                  [--lab-links]   (links as the lab's shaper: fifo, one message per socket)
// One thread; no sockets; no timing is asserted anywhere.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "report/collector.hpp"
#include "report/report.hpp"
#include "scenario/scenario.hpp"
#include "sim/sim.hpp"

using namespace meshcast;

namespace {

struct options {
  std::size_t peers = 1000;
  double seconds = 60;
  std::uint32_t kbps = 1000;
  std::uint64_t seed = 1;
  std::string mode = "push-pull";
  std::uint32_t window = 10;
  std::string scenario_file;
  std::size_t sample = 2000;
  bool quiet = false;
  bool timeline = false;
  bool lab_links = false;
};

/// User + system CPU seconds of this process (the machine may be shared: wall time alone lies).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// VmRSS or VmHWM of this process in KiB, from /proc/self/status.
long status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, n, key) == 0) return std::atol(line.c_str() + n + 1);
  }
  return -1;
}

constexpr std::string_view k_default = R"(
name = "bench"
tracker_interval = 5
[source]
bitrate = 1000
gop = 2000
chunk = 100
[origin]
upload = 0
max_neighbours = 32
[[peers]]
name = "peers"
count = 1
upload = "40%:0.5, 40%:1.5, 20%:4"
download = 0
[links]
delay = "10..50"
[swarm]
playout_delay = 1500
min_neighbours = 8
max_neighbours = 16
)";

struct progress_state {
  std::int64_t started_us = 0;
  bool quiet = false;
};

void progress(double sim_s, std::size_t events, void* user) {
  const auto* st = static_cast<const progress_state*>(user);
  if (st->quiet) return;
  const double wall = static_cast<double>(core::steady_us() - st->started_us) / 1e6;
  std::fprintf(stderr, "\r  sim %5.1f s  wall %7.1f s  %zu events  RSS %ld MiB   ", sim_s, wall, events,
               status_kib("VmRSS:") / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--peers") o.peers = std::stoul(next());
    else if (a == "--seconds") o.seconds = std::stod(next());
    else if (a == "--kbps") o.kbps = static_cast<std::uint32_t>(std::stoul(next()));
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--mode") o.mode = next();
    else if (a == "--window") o.window = static_cast<std::uint32_t>(std::stoul(next()));
    else if (a == "--scenario") o.scenario_file = next();
    else if (a == "--sample") o.sample = std::stoul(next());
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--timeline") o.timeline = true;
    else if (a == "--lab-links") o.lab_links = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }

  auto parsed = o.scenario_file.empty() ? scenario::parse(k_default, "sim_bench") : scenario::load(o.scenario_file);
  if (!parsed) {
    std::fprintf(stderr, "%s\n", parsed.error().message.c_str());
    return 2;
  }
  scenario::scenario s = *parsed;
  scenario::overrides ov;
  ov.peers = o.peers;
  ov.duration_s = o.seconds;
  ov.bitrate_kbps = o.kbps;
  ov.seed = o.seed;
  ov.mode = o.mode;
  if (auto r = scenario::apply(s, ov); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 2;
  }
  const long rss_start = status_kib("VmRSS:");
  auto plan = scenario::make_plan(s);
  if (!plan) {
    std::fprintf(stderr, "%s\n", plan.error().message.c_str());
    return 2;
  }
  report::collector_settings cs;
  cs.chunk_duration = core::micros{std::int64_t{s.source.chunk_ms} * 1000};
  cs.playout_delay = core::micros{std::int64_t{s.swarm.playout_delay_ms} * 1000};
  cs.sample_nodes = o.sample;
  cs.seed = s.seed;
  report::collector collector(cs, *plan);
  const long rss_planned = status_kib("VmRSS:");

  progress_state ps{core::steady_us(), o.quiet};
  sim::sim_settings ss;
  ss.log_window_s = o.window;
  if (o.lab_links) ss.use_lab_links();
  ss.progress = progress;
  ss.progress_user = &ps;
  sim::sim_stats st;
  const std::int64_t t0 = core::steady_us();
  const double cpu0 = cpu_seconds();
  auto r = sim::run(s, *plan, collector, ss, &st);
  const double wall = static_cast<double>(core::steady_us() - t0) / 1e6;
  const double cpu = cpu_seconds() - cpu0;
  if (!o.quiet) std::fprintf(stderr, "\n");
  if (!r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  const long hwm = status_kib("VmHWM:");

  std::vector<double> cont;
  double sum = 0;
  for (const report::node_result& n : r->nodes) {
    if (plan->nodes[n.index].kind != scenario::node_kind::peer || n.due == 0) continue;
    cont.push_back(n.continuity);
    sum += n.continuity;
  }
  std::sort(cont.begin(), cont.end());
  const double mean = cont.empty() ? 0 : sum / static_cast<double>(cont.size());
  const double p5 = cont.empty() ? 0 : cont[cont.size() / 20];
  const double duration_s = static_cast<double>(r->duration_us) / 1e6;
  const double egress = static_cast<double>(r->origin_payload_up) * 8 / duration_s / s.stream_bps();
  const double offload = r->viewer_payload_down == 0 ? 0
                             : static_cast<double>(r->viewer_payload_from_peers) /
                                   static_cast<double>(r->viewer_payload_down);
  const double dups = r->payload_up == 0 ? 0 : static_cast<double>(r->duplicate_bytes) / static_cast<double>(r->payload_up);
  const double overhead = r->wire_up == 0 ? 0 : static_cast<double>(r->wire_up - r->payload_up) / static_cast<double>(r->payload_up);

  std::printf("peers %zu  simulated %.0f s  mode %s  window %u s  seed %llu  links %s\n", o.peers, duration_s,
              s.swarm.mode.c_str(), o.window, static_cast<unsigned long long>(s.seed), o.lab_links ? "lab (fifo)" : "fair");
  std::printf("wall %.2f s  cpu %.2f s  sim-s/wall-s %.3f  sim-s/cpu-s %.3f  events %llu (%.2f M per cpu-s)\n", wall,
              cpu, duration_s / wall, duration_s / cpu, static_cast<unsigned long long>(st.events),
              static_cast<double>(st.events) / cpu / 1e6);
  std::printf("node inputs %llu (timeouts %llu)  messages %llu  announces %llu  dials %llu  stale events %llu\n",
              static_cast<unsigned long long>(st.node_inputs), static_cast<unsigned long long>(st.timeouts),
              static_cast<unsigned long long>(st.messages), static_cast<unsigned long long>(st.announces),
              static_cast<unsigned long long>(st.dials), static_cast<unsigned long long>(st.stale_events));
  std::printf("peak RSS %.1f MiB  (plan+collector %.1f MiB, run %.1f MiB: %.1f KiB/peer)  peak queue %zu  peak "
              "msgs %zu  peak conns %zu\n",
              static_cast<double>(hwm) / 1024, static_cast<double>(rss_planned - rss_start) / 1024,
              static_cast<double>(hwm - rss_planned) / 1024,
              static_cast<double>(hwm - rss_planned) / static_cast<double>(std::max<std::size_t>(1, o.peers)),
              st.peak_queue, st.peak_messages, st.peak_connections);
  std::printf("continuity mean %.4f p5 %.4f  delay p50 %.0f ms p95 %.0f ms p99 %.0f ms  origin egress %.2fx  "
              "offload %.4f  duplicates %.3f  overhead %.4f\n",
              mean, p5, r->delay.quantile(0.5), r->delay.quantile(0.95), r->delay.quantile(0.99), egress, offload,
              dups, overhead);
  const report::delay_bound b = report::compute_bound(s, *plan, plan->peer_count());
  std::printf("delay bound %.0f ms (%zu hops x (%.1f ms chunk + %.1f ms path)); p95 / bound %.2f; playout delay %u ms\n",
              b.bound_ms, b.hops, b.chunk_tx_ms, b.path_ms, b.bound_ms > 0 ? r->delay.quantile(0.95) / b.bound_ms : 0,
              s.swarm.playout_delay_ms);
  const swarm::node_stats& w = st.swarm;
  std::printf("swarm: chunks pushed-in %llu pulled-in %llu  requests %llu (timed out %llu, rejects received %llu)  "
              "served %llu  rejected %llu  skipped late %llu  pushes out %llu dropped %llu  duplicates %llu  "
              "refused full %llu  replaced %llu\n",
              static_cast<unsigned long long>(w.chunks_pushed_in), static_cast<unsigned long long>(w.chunks_pulled_in),
              static_cast<unsigned long long>(w.requests_sent), static_cast<unsigned long long>(w.requests_timed_out),
              static_cast<unsigned long long>(w.rejects_received), static_cast<unsigned long long>(w.requests_served),
              static_cast<unsigned long long>(w.requests_rejected), static_cast<unsigned long long>(w.chunks_skipped_late),
              static_cast<unsigned long long>(w.chunks_pushed_out), static_cast<unsigned long long>(w.pushes_dropped),
              static_cast<unsigned long long>(w.duplicate_chunks), static_cast<unsigned long long>(w.refused_full),
              static_cast<unsigned long long>(w.replaced));
  if (o.timeline) {
    std::printf("second  viewers  continuity  delay-p50  delay-p95  origin-egress\n");
    for (const report::second_sample& x : r->timeline) {
      std::printf("%6lld  %7zu  %10.4f  %9.0f  %9.0f  %13.2f\n", static_cast<long long>(x.t_s), x.viewers, x.continuity,
                  x.delay_p50_ms.value_or(0), x.delay_p95_ms.value_or(0), x.origin_egress_x);
    }
  }
  return 0;
}
