// in_process: what run_in_process (lab.hpp) measures about itself, for the benchmark notes —
// how busy the one event loop that runs every node was and how late its timers fired. The run
// is one io_context thread: the origin (packager, signer, source peer), the tracker (http_server
// + tracker routes on loopback), every peer (swarm::node + net::swarm_transport with a
// net::link_shaper, net::tracker_client) and the sampler that feeds the collector; only the test
// source's encoder runs on a thread of its own. The origin starts 2 s before the plan's t = 0
// (the stream is live when the first peers come, as in the netns mode); times given to the
// collector are shifted by those 2 s so that its `start` is the plan's t = 0. The caller sets
// collector_settings::start to the wall clock just before the call. docs/lab.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lab/lab.hpp"

namespace meshcast::lab {

struct in_process_figures {
  double wall_s = 0;         ///< run length, wall clock
  double loop_cpu_s = 0;     ///< CPU time of the event-loop thread
  double process_cpu_s = 0;  ///< CPU time of the whole process (the encoder thread included)
  /// How late the 100 ms sampler timer fired: the loop's own lag (a busy loop delays every
  /// message and timer of every node by about this much).
  double late_p50_ms = 0, late_p99_ms = 0, late_max_ms = 0;
  std::size_t peak_connections = 0;  ///< swarm sessions open at once (two per TCP connection)
  std::uint64_t ed25519_checks = 0;  ///< full signature checks (the rest were memo hits)
  std::uint64_t memo_hits = 0;
  std::uint64_t retransmissions = 0;  ///< writes the loss model delayed
  std::size_t fd_limit = 0;           ///< RLIMIT_NOFILE the run had
  double stream_kbps = 0;             ///< the origin's stream as produced (MPEG-TS chunk payload)
};

/// run_in_process, also reporting the figures above (`figures` may be null).
core::result<report::run_result> run_in_process(const scenario::scenario& s, const scenario::plan& p,
                                                report::collector& c, const lab_settings& settings,
                                                in_process_figures* figures);

}  // namespace meshcast::lab
