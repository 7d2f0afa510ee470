#include "app/lab_cmd.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "core/time.hpp"
#include "lab/in_process.hpp"
#include "lab/lab.hpp"
#include "report/collector.hpp"
#include "report/report.hpp"
#include "scenario/scenario.hpp"
#include "sim/sim.hpp"

namespace meshcast::app {
namespace {

void add_common(CLI::App* c, experiment_settings& s) {
  c->add_option("--scenario", s.scenario_file, "Scenario file (TOML; see scenarios/ and docs/scenario.md)")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("--out", s.out, "Report directory (default: report-<scenario>-<lab|sim>)");
  c->add_option("--peers", s.peers, "Total peers at the start (the scenario's groups are scaled to it)")
      ->check(CLI::Range(1, 2'000'000));
  c->add_option("--duration", s.duration, "Seconds to run")->check(CLI::Range(1.0, 86400.0));
  c->add_option("--bitrate", s.bitrate, "Stream bitrate in kbit/s")->check(CLI::Range(10, 100000));
  c->add_option("--upload", s.upload,
                "Peers' upload capacity in multiples of the stream rate, a distribution: 1.5 | 0.5..4 | "
                "'40%:0.5,40%:1.5,20%:4'");
  c->add_option("--delay", s.delay, "Per-node one-way access delay in ms, a distribution: 20 | 10..50 | normal(30,5)");
  c->add_option("--churn", s.churn, "RATE[@FROM-UNTIL]: peers leaving (and as many joining) per second");
  c->add_option("--seed", s.seed, "Seed of the plan (uploads, delays, who leaves)");
  c->add_option("--mode", s.mode, "Swarm scheduling: push-pull | push | pull")
      ->check(CLI::IsMember({"push-pull", "push", "pull"}));
  c->add_flag("--no-plots", s.no_plots, "Skip drawing the PNG plots (CSVs and plots.gp are still written)");
  c->add_option("--sample", s.sample, "Viewers whose per-chunk arrivals are recorded (all up to this many)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
}

struct prepared {
  scenario::scenario scn;
  scenario::plan plan;
  std::string out;
};

std::optional<prepared> prepare(const experiment_settings& s, const char* what) {
  auto scn = scenario::load(s.scenario_file);
  if (!scn) {
    spdlog::error("{}", scn.error().message);
    return std::nullopt;
  }
  scenario::overrides o;
  o.peers = s.peers;
  o.duration_s = s.duration;
  o.bitrate_kbps = s.bitrate;
  o.upload = s.upload;
  o.delay = s.delay;
  o.churn = s.churn;
  o.seed = s.seed;
  o.mode = s.mode;
  if (auto a = scenario::apply(*scn, o); !a) {
    spdlog::error("{}", a.error().message);
    return std::nullopt;
  }
  auto plan = scenario::make_plan(*scn);
  if (!plan) {
    spdlog::error("{}", plan.error().message);
    return std::nullopt;
  }
  prepared p{std::move(*scn), std::move(*plan), s.out};
  if (p.out.empty()) p.out = "report-" + p.scn.name + "-" + what;
  return p;
}

report::collector_settings collector_settings_for(const prepared& p, const experiment_settings& s,
                                                  core::time_point start) {
  report::collector_settings c;
  c.start = start;
  c.chunk_duration = std::chrono::milliseconds{p.scn.source.chunk_ms};
  c.playout_delay = std::chrono::milliseconds{p.scn.swarm.playout_delay_ms};
  c.sample_nodes = s.sample;
  c.seed = p.scn.seed;
  return c;
}

int finish(const prepared& p, const experiment_settings& s, const report::run_result& r, const std::string& mode,
           std::vector<std::string> notes = {}) {
  report::write_options w;
  w.mode = mode;
  w.notes = std::move(notes);
  w.plots = !s.no_plots;
  auto summary = report::write_report(p.scn, p.plan, r, p.out, w);
  if (!summary) {
    spdlog::error("report: {}", summary.error().message);
    return 1;
  }
  std::cout << *summary << std::flush;
  return 0;
}

}  // namespace

void add_experiment_commands(CLI::App& app, experiment_settings& lab, experiment_settings& sim) {
  auto* l = app.add_subcommand("lab", "Run a scenario as real nodes on this machine and report with plots");
  add_common(l, lab);
  l->add_flag("--netns", lab.netns,
              "One meshcast process per node, each in its own network namespace; the lab emulates the links "
              "(delay, rate, loss) through a TUN device per namespace (root; up to 100 nodes)");
  l->add_option("--threads", lab.threads,
                "In one process: event loops to spread the nodes over, one thread each (default: one per "
                "hardware core)")
      ->check(CLI::Range(1, 256));
  l->add_option("--dilation", lab.dilation,
                "In one process: run K times slower than real time — every node's clock, link rate and delay, "
                "timer and the source are dilated by K, so K times the peers fit the same cores; figures are in "
                "the nodes' time")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 50.0));
  auto* s = app.add_subcommand("sim", "Run a scenario in the discrete-event simulator (same swarm code, virtual time)");
  add_common(s, sim);
  s->add_option("--log-window", sim.log_window_s, "Seconds of chunks each simulated node keeps")
      ->capture_default_str()
      ->check(CLI::Range(2, 600));
  s->add_option("--links", sim.links,
                "Uplink discipline: fair (connections share a node's upload, as TCP flows do) | lab (whole "
                "messages first come first served, as the in-process lab's shaper)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fair", "lab"}));
}

int run_lab(const experiment_settings& s) {
  auto p = prepare(s, "lab");
  if (!p) return 2;
  if (s.netns && s.dilation != 1) {
    spdlog::error("lab: --dilation is for the in-process mode (the namespaces' kernels keep real time)");
    return 2;
  }
  spdlog::info("lab: scenario '{}': {} nodes ({} peers), {:.0f} s, {}", p->scn.name, p->plan.nodes.size(),
               p->plan.peer_count(), p->scn.duration_s, s.netns ? "network namespaces" : "one process");
  const auto start = std::chrono::time_point_cast<core::micros>(std::chrono::system_clock::now());
  report::collector c(collector_settings_for(*p, s, start), p->plan);
  lab::lab_settings ls;
  ls.meshcast_binary = s.self_binary;
  ls.work_dir = (std::filesystem::path(p->out) / "nodes").string();
  ls.threads = s.threads;
  ls.dilation = s.dilation;
  lab::in_process_figures figures;
  auto r = s.netns ? lab::run_netns(p->scn, p->plan, c, ls) : lab::run_in_process(p->scn, p->plan, c, ls, &figures);
  if (!r) {
    spdlog::error("lab: {}", r.error().message);
    return 1;
  }
  if (s.netns) return finish(*p, s, *r, "lab (network namespaces)");
  return finish(*p, s, *r, "lab (one process)", lab::loop_summary(figures));
}

int run_sim(const experiment_settings& s) {
  auto p = prepare(s, "sim");
  if (!p) return 2;
  spdlog::info("sim: scenario '{}': {} nodes ({} peers), {:.0f} simulated s", p->scn.name, p->plan.nodes.size(),
               p->plan.peer_count(), p->scn.duration_s);
  // Virtual time starts at a fixed instant: the report is a pure function of the inputs.
  report::collector c(collector_settings_for(*p, s, core::from_us(1'700'000'000'000'000)), p->plan);
  sim::sim_settings ss;
  ss.log_window_s = s.log_window_s;
  if (s.links == "lab") ss.use_lab_links();
  sim::sim_stats stats;
  const std::int64_t t0 = core::steady_us();
  auto r = sim::run(p->scn, p->plan, c, ss, &stats);
  if (!r) {
    spdlog::error("sim: {}", r.error().message);
    return 1;
  }
  const double wall = static_cast<double>(core::steady_us() - t0) / 1e6;
  spdlog::info("sim: {:.1f} s wall, {:.2f} simulated s per wall s, {} events, {} messages", wall,
               p->scn.duration_s / std::max(wall, 1e-9), stats.events, stats.messages);
  return finish(*p, s, *r, "sim");
}

}  // namespace meshcast::app
