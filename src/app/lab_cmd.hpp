// `meshcast lab` and `meshcast sim`: load a scenario (scenarios/*.toml, docs/scenario.md), apply
// the command line's knobs, expand it into a plan, run it — real nodes on this machine (lab, in
// one process or in network namespaces) or the discrete-event simulator (sim) — and write the
// report directory (report.json, CSVs, plots, summary.txt; docs/lab.md). The summary is also
// printed on standard output. Returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace meshcast::app {

struct experiment_settings {
  std::string scenario_file;
  std::string out;  ///< default: report-<scenario name>-<lab|sim>
  // Knobs over the file's values (scenario::overrides).
  std::optional<std::size_t> peers;
  std::optional<double> duration;
  std::optional<std::uint32_t> bitrate;
  std::optional<std::string> upload, delay, churn, mode;
  std::optional<std::uint64_t> seed;
  bool netns = false;    ///< lab: one process per node in network namespaces
  std::size_t threads = 0;  ///< lab in one process: event loops (0 = one per hardware core)
  double dilation = 1;      ///< lab in one process: time runs this many times slower than real time
  bool no_plots = false;
  std::size_t sample = 2000;  ///< viewers whose per-chunk records are kept
  std::uint32_t log_window_s = 10;  ///< sim: chunk log window per simulated node
  std::string links = "fair";       ///< sim: fair (processor sharing, as TCP flows) | lab (the lab's shaper)
  std::string self_binary;          ///< lab --netns: the meshcast executable (argv[0] resolved)
};

/// Adds the `lab` and `sim` subcommands; `lab`/`sim` point at their settings.
void add_experiment_commands(CLI::App& app, experiment_settings& lab, experiment_settings& sim);
int run_lab(const experiment_settings& s);
int run_sim(const experiment_settings& s);

}  // namespace meshcast::app
