// The engine's loop, its messages, links and connections (engine.hpp).
#include "sim/engine.hpp"
#include "core/splitmix.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>

#include "proto/swarm/codec.hpp"

namespace meshcast::sim::detail {

namespace {

/// A TCP segment's payload: loss is drawn per packet of this size.
constexpr std::uint32_t k_segment_bytes = 1448;
/// A message lost on the way waits for the retransmission: max(this, 2 × RTT) (Linux's minimum
/// RTO is 200 ms).
constexpr std::int64_t k_min_rto_us = 200'000;
/// A node deadline already due fires this much later, so a node that keeps asking for "now"
/// cannot stall virtual time (as in swarm/testing/sim_harness.hpp).
constexpr std::int64_t k_min_timer_step_us = 100;

std::uint32_t flow_of(std::uint32_t slot, int d) { return slot * 2 + static_cast<std::uint32_t>(d); }

}  // namespace

// --- the loop --------------------------------------------------------------------------------

report::run_result engine::run(sim_stats* stats) {
  for (std::uint32_t i = 0; i < p_.nodes.size(); ++i) {
    const scenario::planned_node& pn = p_.nodes[i];
    if (pn.join_at.count() > end_us_) continue;
    queue_.push(pn.join_at.count(), event_kind::join, i);
    if (pn.leave_at && pn.leave_at->count() <= end_us_) {
      queue_.push(std::max(pn.leave_at->count(), pn.join_at.count()), event_kind::leave, i);
    }
  }
  for (std::uint32_t k = 0; k < p_.events.size(); ++k) {
    if (p_.events[k].at.count() <= end_us_) queue_.push(p_.events[k].at.count(), event_kind::plan_event, k);
  }
  if (!p_.nodes.empty() && p_.nodes[0].join_at.count() <= end_us_) {
    queue_.push(p_.nodes[0].join_at.count() + cut_.start_us(1), event_kind::produce, 0);
  }
  if (settings_.progress) queue_.push(1'000'000, event_kind::progress, 1);

  while (!queue_.empty() && queue_.top().t <= end_us_) {
    const event e = queue_.pop();
    now_ = e.t;
    now_tp_ = tp(now_);
    ++stats_.events;
    dispatch(e);
  }
  now_ = end_us_;
  for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
    if (alive(i)) tally(i);
    // The report is built from the collector alone: give the nodes' memory back first, or the
    // report's per-node results come on top of the run's peak (~1.4 KiB a peer).
    nodes_[i].node.reset();
    nodes_[i].log.reset();
  }
  stats_.peak_queue = queue_.peak();
  if (stats) *stats = stats_;
  return c_.finish(tp(end_us_));
}

void engine::dispatch(const event& e) {
  switch (e.kind()) {
    case event_kind::join:
      on_join(e.a);
      break;
    case event_kind::leave:
      on_leave(e.a);
      break;
    case event_kind::produce:
      on_produce(e.a);
      break;
    case event_kind::announce:
      on_announce(e.a, e.b == 0);
      break;
    case event_kind::timer:
      on_timer(e.a, e.b);
      break;
    case event_kind::uplink:
      on_uplink(e.a, e.b);
      break;
    case event_kind::downlink:
      on_downlink(e.a, e.b);
      break;
    case event_kind::arrive:
      on_arrive(e.a, e.b);
      break;
    case event_kind::dial:
      on_dial(e.a, e.b);
      break;
    case event_kind::notice:
      on_notice(e.a, e.b);
      break;
    case event_kind::plan_event:
      on_plan_event(e.a);
      break;
    case event_kind::progress:
      settings_.progress(static_cast<double>(now_) / 1e6, stats_.events, settings_.progress_user);
      queue_.push(now_ + 1'000'000, event_kind::progress, e.a + 1);
      break;
  }
}

// --- the message pool ------------------------------------------------------------------------

stored_message store(ps::message&& m) {
  return std::visit(
      [](auto&& x) -> stored_message {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ps::hello>) {
          return std::make_unique<ps::hello>(std::move(x));
        } else {
          return stored_message{std::in_place_type<T>, std::move(x)};
        }
      },
      std::move(m));
}

ps::message unstore(stored_message&& m) {
  return std::visit(
      [](auto&& x) -> ps::message {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::unique_ptr<ps::hello>>) {
          return ps::message{std::in_place_type<ps::hello>, std::move(*x)};
        } else {
          return ps::message{std::in_place_type<T>, std::move(x)};
        }
      },
      std::move(m));
}

std::uint32_t engine::alloc_msg(ps::message m, std::uint32_t wire) {
  std::uint32_t i;
  if (!free_msgs_.empty()) {
    i = free_msgs_.back();
    free_msgs_.pop_back();
    pool_[i].msg = store(std::move(m));
  } else {
    i = static_cast<std::uint32_t>(pool_.size());
    pool_.emplace_back().msg = store(std::move(m));
  }
  pool_[i].next = k_nil;
  pool_[i].wire = wire;
  pool_[i].pex = k_nil;
  stats_.peak_messages = std::max(stats_.peak_messages, ++live_msgs_);
  return i;
}

void engine::free_msg(std::uint32_t i) {
  pool_[i].msg = ps::have{};  // drops a chunk reference, a vector
  if (pool_[i].pex != k_nil) {
    pex_store_[pool_[i].pex].clear();
    free_pex_.push_back(pool_[i].pex);
    pool_[i].pex = k_nil;
  }
  free_msgs_.push_back(i);
  --live_msgs_;
}

void engine::compact_pex(std::uint32_t mi) {
  auto* px = std::get_if<ps::pex>(&pool_[mi].msg);
  if (!px || px->peers.empty()) return;
  for (const ps::peer_address& a : px->peers) {
    const std::uint32_t j = index_of(a.id);
    if (j >= nodes_.size() || a.port != k_swarm_port || a.host != host_of(j) || a.id != id_of(j)) return;
  }
  std::uint32_t k;
  if (!free_pex_.empty()) {
    k = free_pex_.back();
    free_pex_.pop_back();
  } else {
    k = static_cast<std::uint32_t>(pex_store_.size());
    pex_store_.emplace_back();
  }
  std::vector<std::uint32_t>& v = pex_store_[k];
  v.reserve(px->peers.size());
  for (const ps::peer_address& a : px->peers) v.push_back(index_of(a.id));
  v.shrink_to_fit();
  pool_[mi].msg = ps::pex{};
  pool_[mi].pex = k;
}

ps::message engine::take_msg(std::uint32_t mi) {
  ps::message m = unstore(std::move(pool_[mi].msg));
  if (pool_[mi].pex != k_nil) {
    ps::pex px;
    const std::vector<std::uint32_t>& v = pex_store_[pool_[mi].pex];
    px.peers.reserve(v.size());
    for (const std::uint32_t j : v) px.peers.push_back(address_of(j));
    m = std::move(px);
  }
  return m;
}

void engine::fifo_push(msg_fifo& f, std::uint32_t i) {
  pool_[i].next = k_nil;
  if (f.tail == k_nil) {
    f.head = i;
  } else {
    pool_[f.tail].next = i;
  }
  f.tail = i;
}

std::uint32_t engine::fifo_pop(msg_fifo& f) {
  const std::uint32_t i = f.head;
  f.head = pool_[i].next;
  if (f.head == k_nil) f.tail = k_nil;
  return i;
}

void engine::fifo_clear(msg_fifo& f) {
  while (!f.empty()) free_msg(fifo_pop(f));
}

// --- links -----------------------------------------------------------------------------------

void engine::send(std::uint32_t slot, int d, ps::message m) {
  const std::uint32_t from = conns_[slot].node[d];
  const auto wire = static_cast<std::uint32_t>(ps::encoded_size(m));
  const auto* data = std::get_if<ps::chunk_data>(&m);
  const std::size_t payload = data && data->chunk ? data->chunk->size() : 0;
  c_.on_sent(from, now_tp_, wire, payload);
  ++stats_.messages;
  const bool control = data == nullptr;
  const std::uint32_t mi = alloc_msg(std::move(m), wire);
  compact_pex(mi);
  pool_[mi].ticket = {++tickets_, control};
  conn_dir& cd = conns_[slot].dir[d];
  const bool idle = cd.sock.empty();
  fifo_push(cd.sock, mi);
  cd.sock_bytes += wire;
  fair_link& up = nodes_[from].up;
  if (up.unlimited()) {
    pool_[mi].t = now_;
    serialised(slot, d);
  } else if (idle) {
    pool_[mi].t = now_;
    up.add(flow_of(slot, d), wire, now_, pool_[mi].ticket);
    reschedule(from, true);
  }
}

void engine::serialised(std::uint32_t slot, int d) {
  conn& c = conns_[slot];
  conn_dir& cd = c.dir[d];
  const std::uint32_t mi = fifo_pop(cd.sock);
  cd.sock_bytes -= pool_[mi].wire;
  pool_[mi].t = now_ - pool_[mi].t;
  std::int64_t arrival = now_ + c.one_way;
  if (p_.loss > 0 && lost(pool_[mi].wire)) arrival += std::max(k_min_rto_us, 4 * c.one_way);
  arrival = std::max(arrival, cd.last_arrival);
  cd.last_arrival = arrival;
  fifo_push(cd.flight, mi);
  queue_.push(arrival, event_kind::arrive, flow_of(slot, d), c.gen);
}

bool engine::lost(std::uint32_t wire_bytes) {
  // SplitMix64 over a counter: the draws depend only on the order of events.
  const double u = core::unit_interval(core::splitmix64_next(rng_state_));
  const double packets = std::ceil(static_cast<double>(wire_bytes) / k_segment_bytes);
  return u < 1.0 - std::pow(1.0 - p_.loss, packets);
}

void engine::reschedule(std::uint32_t i, bool uplink) {
  fair_link& l = uplink ? nodes_[i].up : nodes_[i].down;
  const std::int64_t t = l.next_completion();
  // One completion event per link. A later completion (more flows joined) keeps the queued
  // event: it comes early, finds nothing done and reschedules.
  if (t == fair_link::k_never || t >= l.scheduled_at) return;
  l.scheduled_at = t;
  queue_.push_owned(owner_of(i, uplink ? owned::uplink : owned::downlink), t,
                    uplink ? event_kind::uplink : event_kind::downlink, i, ++l.gen);
}

void engine::on_uplink(std::uint32_t i, std::uint32_t gen) {
  sim_node& n = nodes_[i];
  if (n.st != sim_node::state::alive || n.up.gen != gen) {
    ++stats_.stale_events;
    return;
  }
  n.up.scheduled_at = fair_link::k_never;
  done_scratch_.clear();
  n.up.take_done(now_, done_scratch_);
  drain_scratch_.clear();
  for (const fair_link::done& dn : done_scratch_) {
    const std::uint32_t slot = dn.flow / 2;
    const int d = static_cast<int>(dn.flow % 2);
    serialised(slot, d);
    conn_dir& cd = conns_[slot].dir[d];
    if (!cd.sock.empty()) {
      pool_[cd.sock.head].t = now_;
      n.up.resume(dn, pool_[cd.sock.head].wire, pool_[cd.sock.head].ticket);
    }
    if (cd.blocked && cd.sock_bytes < socket_buffer_) drain_scratch_.push_back(dn.flow);
  }
  reschedule(i, true);
  if (drain_scratch_.empty()) return;
  // Room in a socket the node wanted to write to: ask it again (next_message_for may hand out
  // a ready chunk, which moves its budget deadline: re-arm). Nothing below touches the scratch.
  for (std::size_t k = 0; k < drain_scratch_.size(); ++k) drain(i, drain_scratch_[k]);
  arm(i);
}

void engine::on_arrive(std::uint32_t flow, std::uint32_t gen) {
  const std::uint32_t slot = flow / 2;
  const int d = static_cast<int>(flow % 2);
  conn& c = conns_[slot];
  if (!c.open || c.gen != gen) {
    ++stats_.stale_events;
    return;
  }
  conn_dir& cd = c.dir[d];
  const std::uint32_t mi = fifo_pop(cd.flight);
  const std::uint32_t r = c.node[1 - d];
  fair_link& down = nodes_[r].down;
  // Cut-through, not store-and-forward: the bytes streamed in while the sender serialised them,
  // and the downlink could take rate × that time meanwhile; only the rest queues here. One flow
  // through a slower downlink thus takes bytes / download rate, as TCP would, not the sum.
  // (The fifo discipline stays store-and-forward, as the lab's shaper is.)
  const double absorbed = settings_.sharing == link_sharing::fifo
                              ? 0.0
                              : down.bytes_per_s() * static_cast<double>(pool_[mi].t) / 1e6;
  const double rest = static_cast<double>(pool_[mi].wire) - absorbed;
  pool_[mi].down_bytes = rest > 0 ? static_cast<std::uint32_t>(std::ceil(rest)) : 0;
  const bool idle = cd.down.empty();
  if (down.unlimited() || (idle && pool_[mi].down_bytes == 0)) {
    deliver(slot, d, mi);
    return;
  }
  fifo_push(cd.down, mi);
  pool_[mi].ticket = {++tickets_, false};  // a downlink takes what arrives in arrival order
  if (idle) {
    down.add(flow, pool_[mi].down_bytes, now_, pool_[mi].ticket);
    reschedule(r, false);
  }
}

void engine::on_downlink(std::uint32_t i, std::uint32_t gen) {
  sim_node& n = nodes_[i];
  if (n.st != sim_node::state::alive || n.down.gen != gen) {
    ++stats_.stale_events;
    return;
  }
  n.down.scheduled_at = fair_link::k_never;
  done_scratch_.clear();
  n.down.take_done(now_, done_scratch_);
  // Pop every completed head and resume its flow before delivering anything: a delivery may
  // close connections, which must find the link consistent.
  std::vector<delivery>& ready_now = delivery_scratch_;  // on_downlink never nests
  ready_now.clear();
  for (const fair_link::done& dn : done_scratch_) {
    const std::uint32_t slot = dn.flow / 2;
    const int d = static_cast<int>(dn.flow % 2);
    conn_dir& cd = conns_[slot].dir[d];
    const std::uint32_t mi = fifo_pop(cd.down);
    if (!cd.down.empty()) n.down.resume(dn, pool_[cd.down.head].down_bytes, pool_[cd.down.head].ticket);
    ready_now.push_back({slot, d, conns_[slot].gen, mi});
  }
  reschedule(i, false);
  for (std::size_t k = 0; k < ready_now.size(); ++k) {
    const delivery rd = ready_now[k];
    if (conns_[rd.slot].open && conns_[rd.slot].gen == rd.gen && alive(i)) {
      deliver(rd.slot, rd.d, rd.mi);
    } else {
      free_msg(rd.mi);  // its connection closed while the others were delivered
    }
  }
}

void engine::deliver(std::uint32_t slot, int d, std::uint32_t mi) {
  ps::message m = take_msg(mi);
  free_msg(mi);
  const int end = 1 - d;
  const std::uint32_t r = conns_[slot].node[end];
  if (!alive(r)) return;
  if (const auto* h = std::get_if<ps::hello>(&m)) {
    on_hello(slot, end, *h);
    return;
  }
  if (!conns_[slot].up[end]) return;
  ++stats_.node_inputs;
  nodes_[r].node->on_message(neighbour_of(slot, end), m, now_tp_);
  settle(r);
}

// --- connections -----------------------------------------------------------------------------

swarm::neighbour_id engine::neighbour_of(std::uint32_t slot, int end) const {
  return (static_cast<swarm::neighbour_id>(conns_[slot].gen) << 32) | flow_of(slot, end);
}

std::uint32_t engine::sender_of(swarm::neighbour_id n) const {
  const auto flow = static_cast<std::uint32_t>(n & 0xffffffffU);
  const auto gen = static_cast<std::uint32_t>(n >> 32);
  const std::uint32_t slot = flow / 2;
  if (slot >= conns_.size() || conns_[slot].gen != gen) return report::k_no_node;
  return conns_[slot].node[1 - flow % 2];
}

void engine::start_dial(std::uint32_t i, const ps::peer_address& a) {
  ++stats_.dials;
  std::uint32_t j = index_of(a.id);
  if (j >= nodes_.size()) j = k_nil;
  // Connected (or refused) after one RTT: SYN, SYN-ACK.
  const std::int64_t at = j == k_nil ? now_ : now_ + 2 * one_way_us(i, j);
  queue_.push(at, event_kind::dial, i, j);
}

void engine::on_dial(std::uint32_t from, std::uint32_t to) {
  // An address we never handed out: the node forgets the dial after its dial_timeout.
  if (!alive(from) || to == k_nil) return;
  if (to == from || !alive(to)) {
    // Nobody listens there any more: refused (RST) after one RTT.
    ++stats_.node_inputs;
    nodes_[from].node->on_dial_failed(address_of(to), now_tp_);
    settle(from);
    return;
  }
  std::uint32_t slot;
  if (!free_conns_.empty()) {
    slot = free_conns_.back();
    free_conns_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(conns_.size());
    conns_.emplace_back();
  }
  conn& c = conns_[slot];
  const std::uint32_t gen = c.gen;
  c = conn{};
  c.gen = gen;
  c.node[0] = from;
  c.node[1] = to;
  c.open = true;
  c.one_way = one_way_us(from, to);
  stats_.peak_connections = std::max(stats_.peak_connections, ++open_conns_);
  nodes_[from].conns.push_back(flow_of(slot, 0));
  nodes_[to].conns.push_back(flow_of(slot, 1));
  // The dialler's hello goes first; the acceptor answers with its own once it took the
  // connection, so setup costs 1.5 RTT at the acceptor and 2 RTT at the dialler.
  send(slot, 0, nodes_[from].node->local_hello());
}

void engine::on_hello(std::uint32_t slot, int end, const ps::hello& h) {
  const std::uint32_t r = conns_[slot].node[end];
  const std::uint32_t other = conns_[slot].node[1 - end];
  swarm::node& node = *nodes_[r].node;
  const swarm::neighbour_id id = neighbour_of(slot, end);
  ++stats_.node_inputs;
  const bool inbound = end == 1;
  if (node.on_neighbour_up(id, h, inbound, now_tp_, host_of(other))) {
    close_conn(slot, end);
    settle(r);
    return;
  }
  conns_[slot].up[end] = true;
  node.on_rtt(id, core::micros{2 * conns_[slot].one_way}, now_tp_);
  if (inbound) send(slot, end, node.local_hello());
  settle(r);
}

void engine::close_conn(std::uint32_t slot, int end) {
  conn& c = conns_[slot];
  const std::uint32_t closer = c.node[end];
  if (c.open) {
    c.open = false;
    --open_conns_;
    for (int d = 0; d < 2; ++d) {
      conn_dir& cd = c.dir[d];
      const std::uint32_t sender = c.node[d];
      const std::uint32_t receiver = c.node[1 - d];
      if (!cd.sock.empty() && !nodes_[sender].up.unlimited()) {
        nodes_[sender].up.remove(flow_of(slot, d), now_);
        reschedule(sender, true);
      }
      if (!cd.down.empty()) {
        nodes_[receiver].down.remove(flow_of(slot, d), now_);
        reschedule(receiver, false);
      }
      fifo_clear(cd.sock);
      fifo_clear(cd.flight);
      fifo_clear(cd.down);
      cd.sock_bytes = 0;
    }
    for (int k = 0; k < 2; ++k) {
      auto& v = nodes_[c.node[k]].conns;
      if (const auto it = std::find(v.begin(), v.end(), flow_of(slot, k)); it != v.end()) v.erase(it);
    }
    queue_.push(now_ + c.one_way, event_kind::notice, flow_of(slot, 1 - end), c.gen);
  }
  if (c.up[end]) {
    c.up[end] = false;
    if (alive(closer)) {
      ++stats_.node_inputs;
      nodes_[closer].node->on_neighbour_down(neighbour_of(slot, end), now_tp_);
    }
  }
}

void engine::on_notice(std::uint32_t flow, std::uint32_t gen) {
  const std::uint32_t slot = flow / 2;
  const int end = static_cast<int>(flow % 2);
  conn& c = conns_[slot];
  if (c.gen != gen) return;
  const std::uint32_t r = c.node[end];
  if (alive(r)) {
    if (c.up[end]) {
      c.up[end] = false;
      ++stats_.node_inputs;
      nodes_[r].node->on_neighbour_down(neighbour_of(slot, end), now_tp_);
      settle(r);
    } else if (end == 0) {
      // Refused during the handshake: a failed dial for the dialler.
      ++stats_.node_inputs;
      nodes_[r].node->on_dial_failed(address_of(c.node[1]), now_tp_);
      settle(r);
    }
  }
  conn& cc = conns_[slot];
  cc.up[0] = cc.up[1] = false;
  ++cc.gen;
  free_conns_.push_back(slot);
}

// --- driving one node ------------------------------------------------------------------------

void engine::drain(std::uint32_t i, std::uint32_t flow) {
  const std::uint32_t slot = flow / 2;
  const int end = static_cast<int>(flow % 2);
  if (!conns_[slot].open || !conns_[slot].up[end]) return;
  swarm::node& node = *nodes_[i].node;
  const swarm::neighbour_id id = neighbour_of(slot, end);
  while (conns_[slot].dir[end].sock_bytes < socket_buffer_) {
    std::optional<ps::message> m = node.next_message_for(id, now_tp_);
    if (!m) {
      conns_[slot].dir[end].blocked = false;
      return;
    }
    send(slot, end, std::move(*m));
  }
  conns_[slot].dir[end].blocked = true;
}

void engine::settle(std::uint32_t i) {
  if (!alive(i)) return;
  sim_node& n = nodes_[i];
  swarm::node& node = *n.node;
  for (;;) {
    observe(i);
    // Each connection slot sits somewhere in a table of 10^5-10^6: fetch them all at once
    // rather than miss the cache once per connection, one after the other (the drain loop was
    // a tenth of the run at 10^5 peers, nearly all waiting for memory).
    for (const std::uint32_t f : n.conns) {
      const char* c = reinterpret_cast<const char*>(&conns_[f / 2]);
      __builtin_prefetch(c);
      __builtin_prefetch(c + sizeof(conn) - 1);
    }
    if (node.has_output()) {
      for (std::size_t k = 0; k < n.conns.size(); ++k) drain(i, n.conns[k]);
    } else {
      // What drain() does when every next_message_for says nothing, without asking each.
      for (const std::uint32_t f : n.conns) {
        conn& c = conns_[f / 2];
        const int end = static_cast<int>(f % 2);
        if (c.open && c.up[end]) c.dir[end].blocked = c.dir[end].sock_bytes >= socket_buffer_;
      }
    }
    bool input = false;
    while (const std::optional<swarm::disconnect_order> d = node.poll_disconnect()) {
      const auto flow = static_cast<std::uint32_t>(d->neighbour & 0xffffffffU);
      const auto gen = static_cast<std::uint32_t>(d->neighbour >> 32);
      const std::uint32_t slot = flow / 2;
      if (slot < conns_.size() && conns_[slot].gen == gen && conns_[slot].node[flow % 2] == i) {
        close_conn(slot, static_cast<int>(flow % 2));
        input = true;
      }
    }
    if (!input) break;
  }
  while (const std::optional<ps::peer_address> a = node.poll_dial()) start_dial(i, *a);
  // A starving node asks the tracker for fresh candidates now (an extra announce, b = 1, that
  // leaves the regular schedule alone), as a real tracker client's announce_soon does.
  if (node.take_candidates_wanted()) queue_.push(now_, event_kind::announce, i, 1);
  arm(i);
}

void engine::observe(std::uint32_t i) {
  sim_node& n = nodes_[i];
  swarm::node& node = *n.node;
  while (const std::optional<swarm::chunk_arrival> a = node.poll_arrival()) {
    const chunk::chunk_ptr c = n.log->find(a->seq);
    c_.on_arrival(i, a->seq.value(), a->source_time, a->arrival, sender_of(a->from), c ? c->size() : 0,
                  a->pushed);
  }
  if (!n.join_reported) {
    if (const auto jp = node.join_point()) {
      c_.on_join_point(i, jp->value());
      n.join_reported = true;
    }
  }
  const std::uint64_t dup = node.stats().duplicate_bytes;
  if (dup != n.duplicate_bytes_seen) {
    c_.on_duplicate(i, static_cast<std::size_t>(dup - n.duplicate_bytes_seen));
    n.duplicate_bytes_seen = dup;
  }
}

void engine::arm(std::uint32_t i) {
  sim_node& n = nodes_[i];
  const std::optional<core::time_point> d = n.node->next_deadline();
  if (!d) {
    if (n.timer_at != fair_link::k_never) {
      n.timer_at = fair_link::k_never;
      ++n.timer_gen;
      queue_.cancel_owned(owner_of(i, owned::timer));
    }
    return;
  }
  std::int64_t t = (*d - start_).count();
  if (t <= now_) t = now_ + k_min_timer_step_us;
  if (t == n.timer_at) return;
  n.timer_at = t;
  queue_.push_owned(owner_of(i, owned::timer), t, event_kind::timer, i, ++n.timer_gen);
}

}  // namespace meshcast::sim::detail
