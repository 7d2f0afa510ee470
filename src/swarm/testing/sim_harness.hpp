// sim_harness: a small discrete-event world that runs swarm::node objects over modelled links in
// virtual time — the test driver of the swarm and the seed of `meshcast sim`. Each node has one
// uplink at its upload rate: chunks are serialised through it first come first served (bytes /
// rate); a control message (have, request, ...) waits only behind earlier data on its own
// connection, as packets of different TCP connections interleave in the sender's queue, but its
// bytes still take uplink time. A message reaches the other end after its serialisation plus
// both ends' access latency. Per connection, at most
// socket_buffer_bytes wait in the uplink (the driver asks next_message_for only while the
// "socket" has room), as the net driver does with a real socket. A toy tracker hands each node
// shuffled candidates (peers first, the origin last) on join and every announce_interval.
// Everything is seeded; a run is a pure function of its inputs. Single-threaded, header-only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <stdexcept>
#include <vector>

#include "chunk/chunk_log.hpp"
#include "proto/swarm/codec.hpp"
#include "swarm/node.hpp"

namespace meshcast::swarm::testing {

struct sim_link {
  double upload_bytes_per_s = 0;  ///< the node's uplink; 0 = unlimited
  core::micros latency{20'000};   ///< one-way access delay; a→b takes a.latency + b.latency
};

/// What the origin produces: one chunk every chunk_duration, a segment start every
/// chunks_per_segment chunks, chunk_bytes ± size_jitter each.
struct sim_stream {
  core::micros chunk_duration{100'000};
  std::size_t chunks_per_segment = 20;
  std::size_t chunk_bytes = 30'000;
  double size_jitter = 0.1;
  [[nodiscard]] double bytes_per_s() const {
    return static_cast<double>(chunk_bytes) * 1e6 / static_cast<double>(chunk_duration.count());
  }
};

/// A sim node's continuity from its join point: chunks due (deadline passed by the end of the
/// measurement), how many arrived on time (before source time + playout delay), late, missing.
struct sim_continuity {
  std::size_t due = 0;
  std::size_t on_time = 0;
  std::size_t late = 0;
  std::size_t missing = 0;
  [[nodiscard]] double share() const {
    return due == 0 ? 1.0 : static_cast<double>(on_time) / static_cast<double>(due);
  }
};

/// First byte of a chunk signature the origin "signs" with; sim_harness::verifier() accepts only
/// chunks carrying it, so a node may forge by sending anything else.
inline constexpr std::uint8_t k_sim_signature_mark = 0x5a;

class sim_harness {
 public:
  using index = std::size_t;

  struct settings {
    std::uint64_t seed = 1;
    core::time_point start = core::from_us(1'700'000'000'000'000);
    core::micros log_window{30'000'000};
    core::micros announce_interval{5'000'000};
    std::size_t tracker_candidates = 20;
    std::size_t socket_buffer_bytes = 16 * 1024;
  };

  explicit sim_harness(settings s) : s_(s), now_(s.start), rng_(s.seed) {}
  sim_harness(const sim_harness&) = delete;
  sim_harness& operator=(const sim_harness&) = delete;

  static chunk_verifier verifier() {
    return [](const chunk::chunk& c) { return c.signature() && (*c.signature())[0] == k_sim_signature_mark; };
  }
  static ps::node_id make_id(index i) {
    ps::node_id id{};
    id[0] = 0x4d;
    for (std::size_t b = 0; b < 8; ++b) id[8 + b] = static_cast<std::uint8_t>(i >> (8 * (7 - b)));
    return id;
  }

  /// Adds a node that joins at `join_at`. Its id, listen port and verifier are set here;
  /// everything else comes from `ns`.
  index add_node(node_settings ns, sim_link link, core::time_point join_at) {
    const index i = nodes_.size();
    ns.id = make_id(i);
    ns.listen_port = static_cast<std::uint16_t>(k_port_base + i);
    auto n = std::make_unique<sim_node>();
    n->link = link;
    n->log = std::make_unique<chunk::chunk_log>(s_.log_window);
    n->node = std::make_unique<swarm::node>(ns, *n->log, verifier());
    n->join_at = join_at;
    nodes_.push_back(std::move(n));
    at(join_at, [this, i] { join(i); });
    return i;
  }

  /// Node `i` vanishes at `at`: its connections break; the other ends notice one latency later.
  void leave(index i, core::time_point t) {
    at(t, [this, i] {
      sim_node& n = *nodes_[i];
      if (!n.alive) return;
      n.alive = false;
      n.left_at = now_;
      for (auto& [nid, c] : n.conns) close_conn(c, i);
    });
  }

  /// Node `origin` produces chunks of `stream` from `from` until `until`.
  void start_stream(index origin, sim_stream stream, core::time_point from, core::time_point until) {
    stream_ = stream;
    for (int k = 0; k < 8; ++k) {
      const double f = 1.0 + stream.size_jitter * (static_cast<double>(k) / 3.5 - 1.0);
      const auto size = static_cast<std::size_t>(static_cast<double>(stream.chunk_bytes) * f) / 188 * 188;
      payloads_.push_back(std::make_shared<const core::bytes>(size, static_cast<std::uint8_t>(k)));
    }
    for (core::time_point t = from; t < until; t += stream.chunk_duration) {
      at(t, [this, origin] { produce(origin); });
    }
  }

  /// Replaces every message node `i` sends by what `fn` makes of it (nullopt: not sent) — a
  /// forger or a liar, for protection scenarios.
  void set_outgoing_filter(index i, std::function<std::optional<ps::message>(ps::message)> fn) {
    nodes_[i]->filter = std::move(fn);
  }
  /// Called for every message put on a link: sender, receiver, the message, when it was handed
  /// to the uplink and when it will arrive (for timelines and debugging).
  using trace_fn = std::function<void(index from, index to, const ps::message& m, core::time_point sent,
                                      core::time_point arrives)>;
  void set_trace(trace_fn fn) { trace_ = std::move(fn); }
  /// Sends `m` from node `i` on every connection it has, as if its node had produced it.
  void inject_from(index i, const ps::message& m) {
    for (auto& [nid, c] : nodes_[i]->conns) {
      if (c->up) send(i, *c, m);
    }
  }

  /// Runs `fn` at virtual time `t` (for scenario scripts).
  void at(core::time_point t, std::function<void()> fn) { events_.push({t, order_++, std::move(fn)}); }

  void run_until(core::time_point t) {
    while (!events_.empty() && events_.top().t <= t) {
      event e = events_.top();
      events_.pop();
      now_ = std::max(now_, e.t);
      e.fn();
    }
    now_ = std::max(now_, t);
  }

  // --- observation ---------------------------------------------------------------------------

  [[nodiscard]] core::time_point now() const { return now_; }
  [[nodiscard]] std::size_t size() const { return nodes_.size(); }
  [[nodiscard]] swarm::node& node_at(index i) { return *nodes_[i]->node; }
  [[nodiscard]] chunk::chunk_log& log_at(index i) { return *nodes_[i]->log; }
  [[nodiscard]] bool alive(index i) const { return nodes_[i]->alive; }
  [[nodiscard]] core::time_point join_time(index i) const { return nodes_[i]->join_at; }
  [[nodiscard]] const std::vector<chunk_arrival>& arrivals(index i) const { return nodes_[i]->arrivals; }
  [[nodiscard]] std::uint64_t bytes_sent(index i) const { return nodes_[i]->bytes_sent; }
  [[nodiscard]] std::uint64_t payload_bytes_sent(index i) const { return nodes_[i]->payload_sent; }
  [[nodiscard]] const std::vector<chunk::chunk_ptr>& produced() const { return produced_; }
  [[nodiscard]] const sim_stream& stream() const { return stream_; }

  /// Continuity of node `i` from its join point, over chunks whose deadline passed by `until`
  /// (and, for a node that left, whose source time came before it left).
  [[nodiscard]] sim_continuity continuity(index i, core::time_point until) const {
    const sim_node& n = *nodes_[i];
    sim_continuity r;
    const auto join = n.node->join_point();
    if (!join) return r;
    std::map<core::chunk_seq, core::time_point> first;
    for (const chunk_arrival& a : n.arrivals) first.try_emplace(a.seq, a.arrival);
    const core::micros delay = n.node->settings().playout_delay;
    for (const chunk::chunk_ptr& c : produced_) {
      if (c->seq() < *join) continue;
      const core::time_point deadline = c->header().source_time + delay;
      if (deadline > until) continue;
      if (n.left_at && c->header().source_time + delay > *n.left_at) continue;
      ++r.due;
      const auto it = first.find(c->seq());
      if (it == first.end()) {
        ++r.missing;
      } else if (it->second <= deadline) {
        ++r.on_time;
      } else {
        ++r.late;
      }
    }
    return r;
  }

 private:
  static constexpr std::uint16_t k_port_base = 7000;

  struct event {
    core::time_point t;
    std::uint64_t order;
    std::function<void()> fn;
    bool operator>(const event& o) const { return t != o.t ? t > o.t : order > o.order; }
  };

  struct sim_conn {
    index a = 0, b = 0;
    neighbour_id at_a = 0, at_b = 0;
    bool up = true;
    std::size_t queued_a = 0, queued_b = 0;  // bytes in each sender's uplink
    core::time_point busy_a, busy_b;         // each direction's last serialisation end
    [[nodiscard]] index other(index i) const { return i == a ? b : a; }
    [[nodiscard]] neighbour_id id_at(index i) const { return i == a ? at_a : at_b; }
    std::size_t& queued(index i) { return i == a ? queued_a : queued_b; }
    core::time_point& busy(index i) { return i == a ? busy_a : busy_b; }
  };

  struct sim_node {
    sim_link link;
    std::unique_ptr<chunk::chunk_log> log;
    std::unique_ptr<swarm::node> node;
    core::time_point join_at;
    std::optional<core::time_point> left_at;
    bool alive = false;
    core::time_point uplink_free;
    std::uint64_t timer_gen = 0;
    std::optional<core::time_point> timer_at;
    std::map<neighbour_id, std::shared_ptr<sim_conn>> conns;
    std::vector<chunk_arrival> arrivals;
    std::uint64_t bytes_sent = 0, payload_sent = 0;
    std::function<std::optional<ps::message>(ps::message)> filter;
  };

  /// Chunk payload bytes carried by `m` (0 for control messages).
  static std::size_t payload_size(const ps::message& m) {
    const auto* c = std::get_if<ps::chunk_data>(&m);
    return c && c->chunk ? c->chunk->size() : 0;
  }
  [[nodiscard]] std::string host_of(index) const { return "10.0.0.1"; }
  [[nodiscard]] ps::peer_address address_of(index i) const {
    return {make_id(i), host_of(i), static_cast<std::uint16_t>(k_port_base + i)};
  }
  [[nodiscard]] core::micros one_way(index a, index b) const {
    return nodes_[a]->link.latency + nodes_[b]->link.latency;
  }

  void join(index i) {
    sim_node& n = *nodes_[i];
    n.alive = true;
    n.uplink_free = now_;
    n.node->on_timeout(now_);
    settle(i);
    announce(i);
  }

  void announce(index i) {
    sim_node& n = *nodes_[i];
    if (!n.alive) return;
    if (n.node->settings().role != ps::node_role::origin) {
      std::vector<ps::peer_address> peers, origins;
      for (index j = 0; j < nodes_.size(); ++j) {
        if (j == i || !nodes_[j]->alive) continue;
        (nodes_[j]->node->settings().role == ps::node_role::origin ? origins : peers)
            .push_back(address_of(j));
      }
      std::shuffle(peers.begin(), peers.end(), rng_);
      if (peers.size() > s_.tracker_candidates) peers.resize(s_.tracker_candidates);
      peers.insert(peers.end(), origins.begin(), origins.end());
      n.node->on_candidates(peers, now_);
      settle(i);
    }
    at(now_ + s_.announce_interval, [this, i] { announce(i); });
  }

  void produce(index origin) {
    sim_node& n = *nodes_[origin];
    if (!n.alive) return;
    const std::uint64_t k = produced_.size();
    chunk::chunk_header h;
    h.seq = core::chunk_seq{k};
    h.segment = core::segment_seq{k / stream_.chunks_per_segment};
    h.source_time = now_;
    h.duration = stream_.chunk_duration;
    if (k % stream_.chunks_per_segment == 0) h.flags = chunk::flag_segment_start | chunk::flag_keyframe;
    chunk::chunk_signature sig{};
    sig[0] = k_sim_signature_mark;
    const auto& payload =
        payloads_[std::uniform_int_distribution<std::size_t>(0, payloads_.size() - 1)(rng_)];
    chunk::chunk_ptr c = chunk::make_chunk(h, payload, sig);
    produced_.push_back(c);
    n.node->on_local_chunk(c, now_);
    settle(origin);
  }

  void dial(index i, const ps::peer_address& a) {
    const index j = a.port >= k_port_base ? static_cast<index>(a.port - k_port_base) : nodes_.size();
    const core::micros setup = j < nodes_.size() ? 3 * one_way(i, j) : core::micros{100'000};
    at(now_ + setup, [this, i, j, a] {
      sim_node& ni = *nodes_[i];
      if (!ni.alive) return;
      if (j >= nodes_.size() || !nodes_[j]->alive) {
        ni.node->on_dial_failed(a, now_);
        settle(i);
        return;
      }
      sim_node& nj = *nodes_[j];
      auto c = std::make_shared<sim_conn>();
      c->a = i;
      c->b = j;
      c->at_a = next_neighbour_++;
      c->at_b = next_neighbour_++;
      if (nj.node->on_neighbour_up(c->at_b, ni.node->local_hello(), true, now_, host_of(i))) {
        ni.node->on_dial_failed(a, now_);
        settle(j);
        settle(i);
        return;
      }
      nj.conns[c->at_b] = c;
      if (ni.node->on_neighbour_up(c->at_a, nj.node->local_hello(), false, now_, host_of(j))) {
        ni.conns[c->at_a] = c;
        close_conn(c, i);
        settle(j);
        return;
      }
      ni.conns[c->at_a] = c;
      const core::micros rtt = 2 * one_way(i, j);
      ni.node->on_rtt(c->at_a, rtt, now_);
      nj.node->on_rtt(c->at_b, rtt, now_);
      settle(i);
      settle(j);
    });
  }

  /// Breaks connection `c` at node `by`: `by` learns at once (if alive), the other end one
  /// latency later.
  void close_conn(const std::shared_ptr<sim_conn>& c, index by) {
    if (!c->up) return;
    c->up = false;
    const index other = c->other(by);
    if (nodes_[by]->alive) {
      nodes_[by]->node->on_neighbour_down(c->id_at(by), now_);
      settle(by);
    }
    at(now_ + one_way(by, other), [this, c, other] {
      if (!nodes_[other]->alive) return;
      nodes_[other]->node->on_neighbour_down(c->id_at(other), now_);
      settle(other);
    });
  }

  /// After any input to node `i`: collect its outputs and re-arm its timer.
  void settle(index i) {
    sim_node& n = *nodes_[i];
    if (!n.alive) return;
    while (auto a = n.node->poll_arrival()) n.arrivals.push_back(*a);
    while (auto d = n.node->poll_disconnect()) {
      if (const auto it = n.conns.find(d->neighbour); it != n.conns.end()) close_conn(it->second, i);
    }
    while (auto a = n.node->poll_dial()) dial(i, *a);
    for (auto& [nid, c] : n.conns) drain(i, *c);
    arm(i);
  }

  void drain(index i, sim_conn& c) {
    sim_node& n = *nodes_[i];
    while (c.up && n.alive && c.queued(i) < s_.socket_buffer_bytes) {
      std::optional<ps::message> m = n.node->next_message_for(c.id_at(i), now_);
      if (!m) break;
      if (n.filter) {
        m = n.filter(std::move(*m));
        if (!m) continue;
      }
      send(i, c, *m);
    }
  }

  void send(index i, sim_conn& c, const ps::message& m) {
    sim_node& n = *nodes_[i];
    const std::size_t size = ps::encoded_size(m);
    n.bytes_sent += size;
    n.payload_sent += payload_size(m);
    core::micros busy{0};
    if (n.link.upload_bytes_per_s > 0) {
      busy = core::micros{
          static_cast<std::int64_t>(static_cast<double>(size) * 1e6 / n.link.upload_bytes_per_s)};
    }
    core::time_point finish;
    if (payload_size(m) > 0) {
      finish = std::max({now_, n.uplink_free, c.busy(i)}) + busy;
      n.uplink_free = finish;
    } else {
      finish = std::max(now_, c.busy(i)) + busy;
      n.uplink_free = std::max(n.uplink_free, now_) + busy;  // its bytes still use the uplink
    }
    c.busy(i) = finish;
    c.queued(i) += size;
    const std::shared_ptr<sim_conn> cp = n.conns.at(c.id_at(i));
    const index j = c.other(i);
    if (trace_) trace_(i, j, m, now_, finish + one_way(i, j));
    at(finish, [this, cp, i, size] {
      cp->queued(i) -= size;
      if (cp->up && nodes_[i]->alive) settle(i);
    });
    at(finish + one_way(i, j), [this, cp, j, m] {
      if (!cp->up || !nodes_[j]->alive) return;
      nodes_[j]->node->on_message(cp->id_at(j), m, now_);
      settle(j);
    });
  }

  void arm(index i) {
    sim_node& n = *nodes_[i];
    const auto d = n.node->next_deadline();
    if (!d) return;
    // A deadline already due fires a moment later, so a node that keeps asking for "now"
    // cannot stall virtual time.
    const core::time_point t = std::max(*d, now_ + core::micros{100});
    if (n.timer_at && *n.timer_at <= t) return;
    n.timer_at = t;
    const std::uint64_t gen = ++n.timer_gen;
    at(t, [this, i, gen] {
      sim_node& m = *nodes_[i];
      if (!m.alive || m.timer_gen != gen) return;
      m.timer_at.reset();
      m.node->on_timeout(now_);
      settle(i);
    });
  }

  settings s_;
  core::time_point now_;
  std::mt19937_64 rng_;
  std::priority_queue<event, std::vector<event>, std::greater<>> events_;
  std::uint64_t order_ = 0;
  std::vector<std::unique_ptr<sim_node>> nodes_;
  neighbour_id next_neighbour_ = 1;
  sim_stream stream_;
  std::vector<core::shared_bytes> payloads_;
  std::vector<chunk::chunk_ptr> produced_;
  trace_fn trace_;
};

}  // namespace meshcast::swarm::testing
