// Counters one swarm node keeps for the driver and the app to export (/metrics, /api/v1/stats,
// the sim report), and the per-chunk arrival record from which the playout side measures delay.
// Plain value types, read through node::stats(), node::neighbours(), node::poll_arrival().
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/strong.hpp"
#include "core/time.hpp"
#include "proto/swarm/messages.hpp"

namespace meshcast::swarm {

namespace ps = proto::swarm;
using neighbour_id = std::uint64_t;

/// Chunk payload bytes by the role of the neighbour at the other end.
struct role_bytes {
  std::uint64_t origin = 0;
  std::uint64_t edge = 0;
  std::uint64_t peer = 0;

  [[nodiscard]] std::uint64_t total() const { return origin + edge + peer; }
  void add(ps::node_role r, std::uint64_t n) {
    (r == ps::node_role::origin ? origin : r == ps::node_role::edge ? edge : peer) += n;
  }
};

struct node_stats {
  // Chunks that came from the swarm and were stored (not duplicates).
  std::uint64_t chunks_pushed_in = 0;  ///< arrived unrequested (epidemic push)
  std::uint64_t chunks_pulled_in = 0;  ///< answers to our requests
  std::uint64_t chunks_local = 0;      ///< on_local_chunk (origin packager, edge upstream)
  std::uint64_t duplicate_chunks = 0;  ///< arrived while already held
  std::uint64_t duplicate_pushes = 0;  ///< ...of which pushed (the rest: pull answers)
  std::uint64_t duplicate_bytes = 0;
  std::uint64_t stale_chunks = 0;  ///< arrived older than the log keeps (too old)

  // Our pulls.
  std::uint64_t requests_sent = 0;  ///< chunks requested (one per seq)
  std::uint64_t requests_timed_out = 0;
  std::uint64_t cancels_sent = 0;  ///< withdrawn: arrived by push or from someone else
  std::uint64_t rejects_received = 0;
  std::uint64_t chunks_skipped_late = 0;  ///< wanted chunks whose deadline passed unheld

  // What we upload.
  std::uint64_t chunks_pushed_out = 0;
  std::uint64_t requests_served = 0;
  std::uint64_t requests_rejected = 0;  ///< rejects we sent (not held, busy, too late)
  std::uint64_t pushes_dropped = 0;     ///< went stale in the queue; a have went instead

  role_bytes bytes_down;  ///< chunk payload bytes received (duplicates included)
  role_bytes bytes_up;    ///< chunk payload bytes sent

  // Protection and membership.
  std::uint64_t bad_signatures = 0;
  std::uint64_t floods = 0;
  std::uint64_t bans = 0;
  std::uint64_t refused_banned = 0;  ///< connections refused because the node id is banned
  std::uint64_t refused_full = 0;
  std::uint64_t refused_duplicate = 0;
  std::uint64_t replaced = 0;  ///< neighbours dropped for a better candidate
  std::uint64_t dials = 0;
  std::uint64_t haves_ignored = 0;     ///< haves/bitmap bits far outside the window
  std::uint64_t arrivals_dropped = 0;  ///< arrival records lost because nobody drained them
};

/// One chunk that arrived from the swarm and was stored. Bounded queue: drain with
/// node::poll_arrival(); when more than node_settings::max_arrival_records wait, the oldest go.
struct chunk_arrival {
  core::chunk_seq seq;
  core::time_point source_time;
  core::time_point arrival;  ///< the `now` of the input that delivered it
  neighbour_id from = 0;
  ps::node_role from_role = ps::node_role::peer;
  bool pushed = false;
};

struct neighbour_info {
  neighbour_id id = 0;
  ps::node_id node{};
  ps::node_role role = ps::node_role::peer;
  bool inbound = false;
  std::string host;
  std::uint16_t listen_port = 0;
  std::optional<core::micros> rtt;
  core::time_point since;
  double rate_down = 0;  ///< chunk payload bytes/s from it (last 2 s)
  double rate_up = 0;    ///< chunk payload bytes/s to it (last 2 s)
  std::uint64_t bytes_down = 0;
  std::uint64_t bytes_up = 0;
  std::size_t requests_outstanding = 0;  ///< ours, at it
  std::size_t requests_queued = 0;       ///< its, at us
};

}  // namespace meshcast::swarm
