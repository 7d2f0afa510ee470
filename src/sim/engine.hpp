// engine: the world behind sim::run() (internal to src/sim). One swarm::node and chunk_log per
// planned node, created when it joins and destroyed when it leaves; one tracker::service; the
// origin's chunk production; connections in a flat vector of slots; every swarm message in one
// pool, threaded through per-connection FIFOs as it moves sender socket → sender uplink (fair
// share) → propagation (one-way delay, loss as a retransmission delay) → receiver downlink (fair
// share) → node. Time only moves through the event_queue. docs/sim.md has the model.
// Files: engine.cpp (the loop, links and connections), engine_nodes.cpp (nodes, tracker, origin).
// Single-threaded; owns everything it creates; reads the scenario and plan, feeds the collector.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "chunk/chunk_log.hpp"
#include "proto/swarm/messages.hpp"
#include "sim/chunked_vector.hpp"
#include "sim/event_queue.hpp"
#include "sim/fair_link.hpp"
#include "sim/sim.hpp"
#include "swarm/node.hpp"
#include "tracker/service.hpp"

namespace meshcast::sim::detail {

namespace ps = proto::swarm;

inline constexpr std::uint32_t k_nil = 0xffffffffU;
inline constexpr std::uint16_t k_swarm_port = 7000;

/// Node i's id: a marker byte and the plan index (big-endian in bytes 8..15).
inline ps::node_id id_of(std::uint32_t i) {
  ps::node_id id{};
  id[0] = 0x4d;
  for (std::size_t b = 0; b < 8; ++b) id[8 + b] = static_cast<std::uint8_t>(std::uint64_t{i} >> (8 * (7 - b)));
  return id;
}
/// The plan index in an id made by id_of, or k_nil.
inline std::uint32_t index_of(const ps::node_id& id) {
  if (id[0] != 0x4d) return k_nil;
  std::uint64_t v = 0;
  for (std::size_t b = 8; b < 16; ++b) v = (v << 8) | id[b];
  return v < k_nil ? static_cast<std::uint32_t>(v) : k_nil;
}
/// Node i's numeric address, 10.0.0.1 for node 0 (distinct for up to 2^24 - 1 nodes).
inline std::string host_of(std::uint32_t i) {
  const std::uint32_t a = i + 1;
  return "10." + std::to_string((a >> 16) & 0xff) + "." + std::to_string((a >> 8) & 0xff) + "." +
         std::to_string(a & 0xff);
}
inline ps::peer_address address_of(std::uint32_t i) { return {id_of(i), host_of(i), k_swarm_port}; }

/// A node's events that the queue keeps one of at most (event_queue::push_owned): its timer and
/// its links' next completions.
enum class owned : std::uint32_t { timer, uplink, downlink };
inline std::uint32_t owner_of(std::uint32_t node, owned what) { return node * 3 + static_cast<std::uint32_t>(what); }

/// A FIFO of pool messages linked through msg_slot::next.
struct msg_fifo {
  std::uint32_t head = k_nil;
  std::uint32_t tail = k_nil;
  [[nodiscard]] bool empty() const { return head == k_nil; }
};

/// A ps::message as it waits in the engine: the same alternatives, the hello boxed. A hello
/// (two strings and a 32-byte key) makes ps::message 144 bytes; without it a slot is 96, and
/// ~10 messages per peer are in flight (most of them haves and chunk references).
using stored_message = std::variant<std::unique_ptr<ps::hello>, ps::have, ps::bitmap, ps::request, ps::cancel,
                                    ps::chunk_data, ps::reject, ps::pex, ps::ping, ps::pong, ps::close>;
stored_message store(ps::message&& m);
ps::message unstore(stored_message&& m);

struct msg_slot {
  stored_message msg;
  std::uint32_t next = k_nil;
  std::uint32_t wire = 0;  ///< encoded size
  /// While in `sock`: when its serialisation started (it became the head); once serialised:
  /// how long that took (µs), which its bytes spent streaming towards the receiver.
  std::int64_t t = 0;
  std::uint32_t down_bytes = 0;  ///< what the receiver's downlink still has to take after arrival
  /// A pex whose addresses are all simulated nodes travels as their plan indices (4 bytes
  /// instead of ~56 each): an index into engine::pex_store_, and `msg` holds an empty pex.
  std::uint32_t pex = k_nil;
  fair_link::ticket ticket;      ///< its place in a fifo link's line (hand-over, then arrival order)
};
static_assert(sizeof(msg_slot) <= 96, "a slot per message in flight: ~10 per peer");

/// One direction of a connection: from node[d] to node[1 - d].
struct conn_dir {
  msg_fifo sock;    ///< handed to the sender's socket: waiting for or in its uplink
  msg_fifo flight;  ///< serialised, propagating
  msg_fifo down;    ///< reached the receiver: waiting for or in its downlink
  std::uint32_t sock_bytes = 0;  ///< bytes in `sock`: the socket buffer's fill
  bool blocked = false;          ///< the last drain stopped at a full socket, not an idle node
  std::int64_t last_arrival = 0;  ///< TCP delivers in order: nothing overtakes the previous message
};

/// A connection slot. node[0] dialled node[1]. Slots are reused; `gen` tells incarnations apart
/// (and is part of the neighbour ids the nodes see).
struct conn {
  std::uint32_t node[2] = {k_nil, k_nil};
  std::uint32_t gen = 1;
  bool open = false;
  bool up[2] = {false, false};  ///< that end's swarm::node accepted the hello and holds it
  std::int64_t one_way = 0;     ///< µs
  conn_dir dir[2];
};

struct sim_node {
  enum class state : std::uint8_t { pending, alive, gone };
  state st = state::pending;
  bool join_reported = false;
  std::unique_ptr<chunk::chunk_log> log;
  std::unique_ptr<swarm::node> node;
  std::vector<std::uint32_t> conns;  ///< flows (slot × 2 + our end) of our open connections
  fair_link up, down;
  std::int64_t timer_at = fair_link::k_never;
  std::uint32_t timer_gen = 0;
  std::uint32_t tracker_failures = 0;
  std::uint64_t duplicate_bytes_seen = 0;
};

class engine {
 public:
  engine(const scenario::scenario& s, const scenario::plan& p, report::collector& c, const sim_settings& settings);
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Checks the plan; errors name what the engine cannot run.
  core::result<void> check() const;
  report::run_result run(sim_stats* stats);

 private:
  // --- engine.cpp: loop, messages, links, connections ------------------------------------------
  void dispatch(const event& e);
  [[nodiscard]] core::time_point tp(std::int64_t us) const { return start_ + core::micros{us}; }

  std::uint32_t alloc_msg(ps::message m, std::uint32_t wire);
  void free_msg(std::uint32_t i);
  void fifo_push(msg_fifo& f, std::uint32_t i);
  std::uint32_t fifo_pop(msg_fifo& f);
  void fifo_clear(msg_fifo& f);
  /// Stores a pex of simulated addresses as plan indices (see msg_slot::pex).
  void compact_pex(std::uint32_t mi);
  /// The message of slot `mi`, moved out (a compacted pex rebuilt).
  ps::message take_msg(std::uint32_t mi);

  /// Node `c.node[d]` hands `m` to the socket of direction d.
  void send(std::uint32_t slot, int d, ps::message m);
  /// The head of dir[d].sock finished serialising: it starts propagating.
  void serialised(std::uint32_t slot, int d);
  void on_uplink(std::uint32_t i, std::uint32_t gen);
  void on_arrive(std::uint32_t flow, std::uint32_t gen);
  void on_downlink(std::uint32_t i, std::uint32_t gen);
  /// Hands the message to the receiving node (or runs the hello handshake).
  void deliver(std::uint32_t slot, int d, std::uint32_t mi);
  void on_hello(std::uint32_t slot, int end, const ps::hello& h);
  void reschedule(std::uint32_t i, bool uplink);

  void start_dial(std::uint32_t i, const ps::peer_address& a);
  void on_dial(std::uint32_t from, std::uint32_t to);
  /// End `end` closes the connection: its node (if it holds it and is alive) is told at once,
  /// the other end one one-way delay later; queued and travelling messages are lost.
  void close_conn(std::uint32_t slot, int end);
  void on_notice(std::uint32_t flow, std::uint32_t gen);

  /// Asks node i for messages on one connection while its socket has room.
  void drain(std::uint32_t i, std::uint32_t flow);
  /// After every input to node i: arrivals and counters to the collector, drain every
  /// connection, disconnects, dials, re-arm the timer (node.hpp's drain order).
  void settle(std::uint32_t i);
  void observe(std::uint32_t i);
  void arm(std::uint32_t i);
  [[nodiscard]] swarm::neighbour_id neighbour_of(std::uint32_t slot, int end) const;
  /// The plan index behind node i's neighbour id, or report::k_no_node.
  [[nodiscard]] std::uint32_t sender_of(swarm::neighbour_id n) const;

  // --- engine_nodes.cpp: nodes, tracker, origin ----------------------------------------------
  void on_join(std::uint32_t i);
  void on_leave(std::uint32_t i);
  /// `regular`: the node's scheduled announce, which schedules the next; else an extra one.
  void on_announce(std::uint32_t i, bool regular = true);
  void on_produce(std::uint64_t seq);
  void on_plan_event(std::uint32_t k);
  void on_timer(std::uint32_t i, std::uint32_t gen);
  [[nodiscard]] swarm::node_settings settings_for(std::uint32_t i) const;
  [[nodiscard]] proto::tracker::announce_request announce_for(std::uint32_t i) const;
  [[nodiscard]] std::int64_t backoff_us(std::uint32_t i, std::uint32_t failures) const;
  [[nodiscard]] std::int64_t one_way_us(std::uint32_t a, std::uint32_t b) const;
  [[nodiscard]] bool alive(std::uint32_t i) const { return nodes_[i].st == sim_node::state::alive; }
  [[nodiscard]] bool lost(std::uint32_t wire_bytes);
  /// Adds node i's counters to stats_.swarm (once: at its leave or at the end).
  void tally(std::uint32_t i);

  const scenario::scenario& s_;
  const scenario::plan& p_;
  report::collector& c_;
  sim_settings settings_;
  core::time_point start_;  // t = 0: the collector's start
  std::int64_t end_us_ = 0;
  std::int64_t now_ = 0;
  core::time_point now_tp_;
  scenario::chunk_cut cut_;  // the chunks the origin produces: the real packager's cut
  std::uint32_t socket_buffer_ = 16 * 1024;
  std::uint64_t rng_state_ = 0;  // loss draws, in event order
  std::uint64_t tickets_ = 0;    // hand-overs to uplinks and arrivals at downlinks, in order

  event_queue queue_;
  std::vector<sim_node> nodes_;
  chunked_vector<conn> conns_;
  std::vector<std::uint32_t> free_conns_;
  std::size_t open_conns_ = 0;
  chunked_vector<msg_slot> pool_;
  std::vector<std::uint32_t> free_msgs_;
  std::vector<std::vector<std::uint32_t>> pex_store_;  // msg_slot::pex: the addresses' plan indices
  std::vector<std::uint32_t> free_pex_;
  std::size_t live_msgs_ = 0;
  struct delivery {
    std::uint32_t slot;
    int d;
    std::uint32_t gen;
    std::uint32_t mi;
  };
  std::vector<fair_link::done> done_scratch_;
  std::vector<std::uint32_t> drain_scratch_;
  std::vector<delivery> delivery_scratch_;

  tracker::service tracker_;
  bool tracker_up_ = true;
  std::string stream_;
  std::string public_key_;

  sim_stats stats_;
};

}  // namespace meshcast::sim::detail
