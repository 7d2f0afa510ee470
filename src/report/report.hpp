// report: writes a run's report directory — report.json (the scenario and the figures, per node
// and overall), CSVs (per-chunk arrivals, per-node totals, per-second timeline), PNG plots drawn
// by gnuplot (delay CDF, continuity per peer, upload share per node class, timeline with events,
// delay per chunk over time) and summary.txt (headline figures, the theoretical delay bound and
// the measured p95 as a ratio of it). The lab and the simulator both call write_report.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "report/collector.hpp"
#include "scenario/scenario.hpp"

namespace meshcast::report {

enum class report_errc { io = 1, plot };

/// The theoretical delay bound of a scenario, ms: (⌈log2 N⌉ + 1) chunk transmission times at
/// the mean peer upload capacity, plus the mean path delay times the same number of hops
/// (a chunk crosses ⌈log2 N⌉ + 1 links on the fastest spreading tree).
struct delay_bound {
  std::size_t hops = 0;
  double chunk_tx_ms = 0;
  double path_ms = 0;  ///< mean one-way delay of a link
  double bound_ms = 0;
};
delay_bound compute_bound(const scenario::scenario& s, const scenario::plan& p, std::size_t viewers);

struct write_options {
  std::string mode;    ///< "lab (in-process)", "lab (netns)", "sim"
  bool plots = true;   ///< draw PNGs with gnuplot (skipped with a note when gnuplot is missing)
  std::size_t max_node_entries = 2000;  ///< per-node entries in report.json (sampled nodes)
  /// Lines the runner adds to summary.txt (the lab: how busy its event loops were).
  std::vector<std::string> notes;
};

/// Writes DIR (created if needed). Returns the summary text (also in DIR/summary.txt).
core::result<std::string> write_report(const scenario::scenario& s, const scenario::plan& p,
                                       const run_result& r, const std::string& dir,
                                       const write_options& o);

}  // namespace meshcast::report
