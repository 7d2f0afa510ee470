// in_process: what run_in_process (lab.hpp) measures about itself, for the benchmark notes and
// the report's summary — how busy each event loop was and how late its timers fired. The run is
// lab_settings::threads io_context threads ("loops", one per hardware core by default): loop 0
// has the origin (packager, signer, source peer) and the tracker (http_server + tracker routes on
// loopback); the peers (swarm::node + net::swarm_transport with a net::link_shaper,
// net::tracker_client) are dealt round-robin over all loops, each with everything it touches
// (transport, shaper, timers) on its own loop and the others reached over loopback TCP only.
// Each loop has its own sampler feeding the shared collector (one locked batch per 100 ms), its
// own signature memo and its own schedule (its nodes' joins, leaves and kills; loop 0: the
// planned events). The test source's encoder runs on a thread of its own. The origin starts 2 s before the plan's t = 0
// (the stream is live when the first peers come, as in the netns mode); times given to the
// collector are shifted by those 2 s so that its `start` is the plan's t = 0. The caller sets
// collector_settings::start to the wall clock just before the call. docs/lab.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lab/lab.hpp"

namespace meshcast::lab {

/// One event loop of the run.
struct loop_figures {
  std::size_t nodes = 0;  ///< nodes it ran (loop 0: the origin too)
  double cpu_s = 0, wall_s = 0;
  /// How late its 100 ms sampler timer fired: the loop's own lag (a busy loop delays every
  /// message and timer of every node on it by about this much).
  double late_p50_ms = 0, late_p99_ms = 0, late_max_ms = 0;
  /// Timers 20 ms late (p99) or more: a fifth of a chunk's time; the lab, not the swarm, set the
  /// pace of this run.
  [[nodiscard]] bool saturated() const { return late_p99_ms >= 20; }
};

struct in_process_figures {
  std::vector<loop_figures> loops;
  double wall_s = 0;         ///< run length, wall clock
  double loop_cpu_s = 0;     ///< CPU time of the event-loop threads, all loops
  double process_cpu_s = 0;  ///< CPU time of the whole process (the encoder thread included)
  /// The worst loop's lateness (see loop_figures).
  double late_p50_ms = 0, late_p99_ms = 0, late_max_ms = 0;
  std::size_t peak_connections = 0;  ///< swarm sessions open at once (two per TCP connection)
  std::uint64_t ed25519_checks = 0;  ///< full signature checks (the rest were memo hits)
  std::uint64_t memo_hits = 0;
  std::uint64_t retransmissions = 0;  ///< writes the loss model delayed
  std::size_t fd_limit = 0;           ///< RLIMIT_NOFILE the run had
  double stream_kbps = 0;             ///< the origin's stream as produced (MPEG-TS chunk payload)
  double dilation = 1;                ///< lab_settings::dilation: wall seconds per second of the run
};

/// run_in_process, also reporting the figures above (`figures` may be null).
core::result<report::run_result> run_in_process(const scenario::scenario& s, const scenario::plan& p,
                                                report::collector& c, const lab_settings& settings,
                                                in_process_figures* figures);

/// summary.txt lines: each loop's nodes, CPU share and timer lateness, and whether the lab's own
/// loops limited the run.
std::vector<std::string> loop_summary(const in_process_figures& f);

}  // namespace meshcast::lab
