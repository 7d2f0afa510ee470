// node: the swarm logic of one node (origin, edge or peer) for one rendition, sans-IO. It holds
// the neighbour table, decides what to push, what to pull from whom, what to serve within the
// upload budget, which neighbours to dial, drop or ban. Messages are values (no bytes): the net
// driver runs a proto::swarm::session per connection and hands the node what the sessions
// decode; the simulator (swarm/testing/sim_harness.hpp) passes the same values over modelled
// links. Design and numbers: docs/swarm.md.
//
// Inputs:  on_neighbour_up / on_message / on_rtt / on_neighbour_down (per connection, the driver
//          names connections with a neighbour_id it never reuses), on_dial_failed, on_local_chunk
//          (the origin's packager or an edge's upstream), on_candidates (tracker, bootstrap),
//          set_origin_offset, on_timeout(now).
// Outputs: next_message_for(neighbour, now) — the driver calls it whenever that connection can
//          take more bytes, until it returns nothing; poll_disconnect(), poll_dial(),
//          poll_arrival(); next_deadline(). Verified chunks go into the chunk log given at
//          construction (the driver subscribes to it for outputs and playout).
// Drain order after every input: next_message_for for each neighbour whose connection is idle
//          (the upload budget is shared: a chunk may become ready for any neighbour), then
//          poll_disconnect until empty (close those sessions; call on_neighbour_down when they
//          are closed), then poll_dial until empty, then re-arm the timer with next_deadline().
//          next_message_for itself never makes chunks ready for other neighbours.
// Single-threaded; randomness only from the seed in node_settings.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chunk/chunk_log.hpp"
#include "core/time.hpp"
#include "proto/swarm/messages.hpp"
#include "swarm/stats.hpp"

namespace meshcast::swarm {

using neighbour_id = std::uint64_t;
namespace ps = proto::swarm;

/// Checks a chunk's signature; true = authentic. Injected so tests and the simulator can use a
/// cheap stand-in and real nodes use chunk::verifier.
using chunk_verifier = std::function<bool(const chunk::chunk&)>;

struct node_settings {
  ps::node_id id{};
  ps::node_role role = ps::node_role::peer;
  std::string stream;
  std::string rendition = "source";
  std::uint16_t listen_port = 0;   ///< our swarm port, advertised in hello; 0 = not accepting
  std::size_t min_neighbours = 8;  ///< below this the node dials candidates
  /// Above this it refuses newcomers. The same rule for every role; an origin is usually given a
  /// larger value (it is the source of last resort for everyone it accepts).
  std::size_t max_neighbours = 24;
  std::uint32_t upload_kbps = 0;  ///< upload budget for chunk payloads; 0 = unlimited
  std::size_t push_fanout = 3;    ///< neighbours each chunk from on_local_chunk is pushed to
  /// Neighbours each brand-new chunk received from the swarm is pushed on to. One: the first copy
  /// keeps the epidemic going; in the simulator further copies were mostly duplicates (30 peers:
  /// ~4.5 % duplicates at 3, ~2.1 % at 1, continuity no worse).
  std::size_t relay_fanout = 1;
  core::micros playout_delay{1'500'000};  ///< deadline = source time + this (urgency of pulls)
  /// Every this often, the peer neighbour that exchanged the fewest chunk bytes with us (either
  /// way) over the interval is dropped for an untried candidate; newer neighbours are spared.
  /// 3 s, not 10: the overlay a crowd starts with is random, and this is what sorts it
  /// (docs/swarm.md, "Neighbours").
  core::micros neighbour_replace_interval{3'000'000};
  /// ...and every this often while the node is younger than `young_for`: a joiner knows nothing
  /// of the neighbours it was handed, and sorting them in its first seconds is what saves its
  /// first chunks.
  core::micros young_replace_interval{500'000};
  core::micros young_for{10'000'000};
  core::micros ban_duration{60'000'000};
  std::uint64_t seed = 1;

  // Scheduling knobs (docs/swarm.md explains each number).
  core::micros pull_grace{150'000};           ///< a chunk younger than this is left to push
  core::micros local_grace{0};                ///< ...and one first announced to us less than this ago
  bool pull_origin_like_a_peer = false;       ///< picker_settings::origin_like_a_peer (pull-only swarms)
  core::micros push_max_age{300'000};         ///< only chunks younger than this (source age) are pushed
  core::micros target_queue_time{1'000'000};  ///< our requests at a neighbour ≈ its rate × this
  std::size_t request_floor = 2;
  std::size_t request_cap = 16;
  std::size_t serve_queue_limit = 32;    ///< its requests waiting at us; more are refused busy
  core::micros max_serve_wait{150'000};  ///< a request waiting longer is refused busy (ask elsewhere)
  core::micros busy_backoff{250'000};    ///< after a busy reject, ask that neighbour nothing
  core::micros pex_interval{30'000'000};
  core::micros dial_timeout{10'000'000};  ///< a dial never reported (up or failed) is forgotten
  core::micros redial_backoff{30'000'000};
  /// A peer or edge that stored no chunk for this long (or none since it started) is starving:
  /// it says so to the tracker, asks it for fresh candidates after `starve_after`, then after
  /// twice that and so on up to 30 s (until it is fed again), and dials up
  /// to max_neighbours instead of min_neighbours — its neighbours may all be as cut off as it is
  /// (docs/swarm.md, "Membership").
  core::micros starve_after{2'000'000};
  /// Arrival records kept for poll_arrival() (the simulator's per-chunk report). 0 = none: real
  /// nodes measure delay at their playout instead.
  std::size_t max_arrival_records = 4096;
};

/// What the driver should do about a connection the node wants gone.
struct disconnect_order {
  neighbour_id neighbour = 0;
  ps::close_reason reason = ps::close_reason::normal;
  std::string text;
};

class node {
 public:
  node(node_settings settings, chunk::chunk_log& log, chunk_verifier verify);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Our hello for every new session: stream, rendition, id, role, upload, listen port.
  [[nodiscard]] ps::hello local_hello() const;

  /// A connection finished its handshake. Returns nullopt when the node keeps it, or the reason
  /// to close it at once: banned (node id banned), duplicate (ourselves, or a node we already
  /// have a connection to — of two connections between the same pair, both ends keep the one
  /// dialled by the lower node id; if the new one wins, the old one is ordered closed through
  /// poll_disconnect), normal (full: max_neighbours reached; the protocol has no "full" reason
  /// yet). `remote_host` is the numeric address of the other end: pex advertises
  /// remote_host:listen_port, so a neighbour given no host is never advertised.
  std::optional<ps::close_reason> on_neighbour_up(neighbour_id n, const ps::hello& remote, bool inbound,
                                                  core::time_point now, std::string remote_host = {});
  void on_message(neighbour_id n, const ps::message& msg, core::time_point now);
  void on_rtt(neighbour_id n, core::micros rtt, core::time_point now);
  void on_neighbour_down(neighbour_id n, core::time_point now);
  /// A dial from poll_dial() failed (connect error, refused, handshake failed).
  void on_dial_failed(const ps::peer_address& a, core::time_point now);

  /// A chunk this node produced or received from outside the swarm (already trusted). Inserted
  /// into the log unless the log already holds it; announced with a have to every neighbour and,
  /// if it is the newest, pushed to push_fanout of them.
  void on_local_chunk(const chunk::chunk_ptr& c, core::time_point now);
  /// Nodes that may be dialled (from the tracker or a --join bootstrap); ranked best first.
  void on_candidates(const std::vector<ps::peer_address>& candidates, core::time_point now);
  /// Our clock's offset to the origin's (origin - local), from the session's rtt events; chunk
  /// source times are origin clock, deadlines are compared with our `now`.
  void set_origin_offset(core::micros offset);
  void on_timeout(core::time_point now);

  /// The next message to write to neighbour `n`, or nullopt when nothing is due (or the upload
  /// budget is spent until next_deadline()). Control messages (bitmap, have, request, cancel,
  /// reject, pex) come before a chunk.
  std::optional<ps::message> next_message_for(neighbour_id n, core::time_point now);
  /// Whether next_message_for would give something for some neighbour now. After most inputs
  /// nothing is due (a have of a chunk held or asked for already), and a driver with many
  /// connections can skip asking each of them. One pass over the neighbour table.
  [[nodiscard]] bool has_output() const;
  std::optional<ps::peer_address> poll_dial();
  std::optional<disconnect_order> poll_disconnect();
  /// The next chunk that arrived from the swarm (for delay/continuity measurement at playout).
  std::optional<chunk_arrival> poll_arrival();
  [[nodiscard]] std::optional<core::time_point> next_deadline() const;

  // Observation (stats exporters, the simulator's report, tests).
  [[nodiscard]] const node_settings& settings() const;
  [[nodiscard]] const node_stats& stats() const;
  [[nodiscard]] std::vector<neighbour_info> neighbours() const;
  [[nodiscard]] std::size_t neighbour_count() const;
  /// The first chunk this node holds: for a peer or edge, the newest chunk its neighbours held
  /// when it joined (the live edge, never the oldest); for the origin, its first local chunk.
  /// Nullopt until that chunk is stored. Continuity is measured from here.
  [[nodiscard]] std::optional<core::chunk_seq> join_point() const;
  /// Whether the node is a peer or edge that stored no chunk in the last `starve_after` (or none
  /// yet): the tracker should not offer it as a source to newcomers.
  [[nodiscard]] bool starving(core::time_point now) const;
  /// True once each time the node, starving, wants fresh candidates: the driver should announce
  /// to the tracker now rather than at its next interval.
  bool take_candidates_wanted();
  /// Chunk payload bytes/s received from the swarm / sent, over the last 2 s.
  [[nodiscard]] double rate_down(core::time_point now) const;
  [[nodiscard]] double rate_up(core::time_point now) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace meshcast::swarm
