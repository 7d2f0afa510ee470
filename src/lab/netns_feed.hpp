// netns_feed: turns what a lab run in network namespaces left behind — each node's record file and
// what the lab itself knows (when it started and stopped each process) — into report::collector
// calls: every chunk produced first, then joins, join points, arrivals, duplicates, bytes sent,
// departures and the plan's event markers in time order. Record times are the machine's wall
// clock; `shift_us` moves them onto the collector's clock (the lab's t = 0 is after its setup,
// the collector's start may be earlier). A pure function of its inputs; single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "lab/sansio/record.hpp"
#include "report/collector.hpp"
#include "scenario/scenario.hpp"

namespace meshcast::lab {

/// What the lab knows about node i of the plan after the run.
struct node_outcome {
  std::optional<record_file> record;       ///< nullopt: never started, or no readable record
  std::optional<std::int64_t> started_us;  ///< wall clock µs when its process was started
  /// Wall clock µs when the lab stopped it before the end (leave or kill); nullopt if it ran to
  /// the end (or never started).
  std::optional<std::int64_t> stopped_us;
};

struct feed_counts {
  std::size_t produced = 0, arrivals = 0, unknown_senders = 0;
  std::size_t records = 0;  ///< nodes whose record was fed
};

/// Feeds `c`. `t0_us`: wall clock µs of the plan's t = 0; `end_us`: of the run's end (later
/// `left` lines, written while the lab stopped everyone, are not departures). A node's join is its
/// record's `join` line, else started_us; its departure its `left` line, else stopped_us. Arrival
/// senders are resolved through the node ids in the records' headers (unknown: k_no_node).
feed_counts feed_collector(report::collector& c, const scenario::plan& p, const std::vector<node_outcome>& nodes,
                           std::int64_t t0_us, std::int64_t end_us, std::int64_t shift_us);

}  // namespace meshcast::lab
