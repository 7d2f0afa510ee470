// sim: `meshcast sim` — the same sans-IO swarm::node and tracker::service as real nodes, driven
// by a discrete-event engine in virtual time over modelled links (per-node upload and download
// shared by its connections, one-way delays from the plan, loss as retransmission delay, a TCP
// handshake and a hello exchange per connection). Deterministic: a run is a pure function of
// (scenario, plan, settings). No wall clock, no sockets, no threads; run() is single-threaded
// and owns everything it creates until it returns. docs/sim.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/result.hpp"
#include "report/collector.hpp"
#include "scenario/scenario.hpp"
#include "sim/fair_link.hpp"
#include "swarm/stats.hpp"

namespace meshcast::sim {

struct sim_settings {
  /// Chunk log window each simulated node keeps (memory per peer grows with it).
  std::uint32_t log_window_s = 10;
  /// Bytes a connection's socket may hold unsent: the node is asked for its next message only
  /// while the connection has room (as the net driver writes only when the socket takes bytes).
  std::size_t socket_buffer_bytes = 16 * 1024;
  /// Chunk sizes vary by up to ± this share around bitrate × chunk duration (deterministic).
  double chunk_size_jitter = 0.05;
  /// How a node's uplink and downlink are shared by its connections: fair (processor sharing,
  /// as TCP flows roughly are) or fifo (whole messages first come first served, control
  /// messages first: the lab's link_shaper). With socket_buffer_bytes = 1 (one message per
  /// connection at a time, as the lab's writer) fifo is the lab's link model; see docs/sim.md.
  link_sharing sharing = link_sharing::fair;
  /// Progress callback every simulated second (wall-clock figures for the CLI); may be null.
  void (*progress)(double sim_s, std::size_t events, void* user) = nullptr;
  void* progress_user = nullptr;

  /// The in-process lab's link model (`meshcast sim --links lab`, `sim_bench --lab-links`).
  void use_lab_links() {
    sharing = link_sharing::fifo;
    socket_buffer_bytes = 1;
  }
};

/// Engine figures for the benchmark (not part of report.json: they depend on the machine).
struct sim_stats {
  std::uint64_t events = 0;
  std::uint64_t messages = 0;      ///< swarm messages put on a connection (hellos included)
  std::uint64_t node_inputs = 0;   ///< calls into swarm::node (messages, timeouts, ...)
  std::uint64_t timeouts = 0;      ///< node timers that fired (on_timeout)
  std::uint64_t stale_events = 0;  ///< closed connections' arrivals (timers and link completions are replaced in place)
  std::uint64_t announces = 0;     ///< tracker announces answered
  std::uint64_t dials = 0;
  std::size_t peak_queue = 0;      ///< events queued at once
  std::size_t peak_messages = 0;   ///< messages in flight at once (queued, travelling, arriving)
  std::size_t peak_connections = 0;
  /// Every node's swarm counters summed (at its leave, or at the end): requests, rejects,
  /// pushes, duplicates — why a run went the way it did.
  swarm::node_stats swarm;
};

/// Runs the plan to its end (plan::duration) and returns c.finish(). Virtual time starts at the
/// collector's settings().start. Errors: a plan the engine cannot run (no origin at index 0,
/// edges, an unknown swarm mode, more than 2^24 nodes).
core::result<report::run_result> run(const scenario::scenario& s, const scenario::plan& p,
                                     report::collector& c, const sim_settings& settings,
                                     sim_stats* stats = nullptr);

}  // namespace meshcast::sim
