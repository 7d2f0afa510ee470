#include "swarm/node.hpp"

#include "swarm/node_impl.hpp"

#include <cassert>
#include <utility>

namespace meshcast::swarm {

// --- membership ------------------------------------------------------------------------------

std::optional<ps::close_reason> node::impl::neighbour_up(neighbour_id n, const ps::hello& remote,
                                                         bool inbound, time_point now, std::string host) {
  const auto existing = by_node.find(remote.id);
  bool new_wins = false;
  if (existing != by_node.end()) {
    // Both ends keep the connection dialled by the lower node id; the same direction twice is
    // a redial, and the old connection is the one more likely dead.
    const neighbour_state& old = nbs.at(existing->second);
    const ps::node_id& dialer_new = inbound ? remote.id : s.id;
    const ps::node_id& dialer_old = old.inbound ? remote.id : s.id;
    new_wins = dialer_new == dialer_old || dialer_new < dialer_old;
  }
  const admission a = admit({remote.id == s.id, bans.banned(remote.id, now), existing != by_node.end(),
                             new_wins, live_count() - (new_wins ? 1 : 0), s.max_neighbours});
  switch (a) {
    case admission::accept:
      break;
    case admission::self:
      ++stats.refused_duplicate;
      return ps::close_reason::duplicate;
    case admission::banned:
      ++stats.refused_banned;
      return ps::close_reason::banned;
    case admission::duplicate:
      ++stats.refused_duplicate;
      return ps::close_reason::duplicate;
    case admission::full:
      ++stats.refused_full;
      return ps::close_reason::normal;
  }
  if (existing != by_node.end())
    drop(nbs.at(existing->second), ps::close_reason::duplicate, "replaced by a newer connection", now);
  dialing.erase(remote.id);

  pick_wanted = true;
  // Room for one more at a time, not the vector's 60 % growth: ~700 bytes a neighbour, 10^6
  // nodes in one simulator (a neighbour comes up a few times a minute: the copy is cheap).
  if (nbs.size() == nbs.capacity()) nbs.reserve(nbs.size() + 1);
  auto [it, inserted] =
      nbs.try_emplace(n, n, remote, std::move(host), inbound, now, s.serve_queue_limit, flood);
  if (!inserted) return ps::close_reason::duplicate;  // the driver reused an id: a local bug
  index_neighbours();
  by_node[remote.id] = n;
  neighbour_state& nb = it->second;
  ++live;

  // Our window first, so it can pull at once; then whom we know, so it can grow its set.
  ps::bitmap bm;
  if (!log.empty()) {
    const std::int64_t count = log.last_seq() - log.first_seq() + 1;
    const auto bits = static_cast<std::size_t>(std::min<std::int64_t>(count, ps::k_max_bitmap_bits));
    bm.base = log.last_seq() + 1 - bits;
    bm.bits.resize(bits);
    for (std::size_t i = 0; i < bits; ++i) bm.bits[i] = log.contains(bm.base + i);
  } else {
    bm.base = newest_held.value_or(chunk_seq{0});
  }
  queue(nb, std::move(bm));
  if (auto peers = pex_entries(n); !peers.empty()) queue(nb, ps::pex{std::move(peers)});
  return std::nullopt;
}

void node::impl::neighbour_down(neighbour_id n) {
  neighbour_state* nb = find(n);
  if (!nb) return;
  pick_wanted = true;
  busy_next_exact = false;
  release(*nb, last_now);
  if (const auto it = by_node.find(nb->hello.id); it != by_node.end() && it->second == n) by_node.erase(it);
  if (!nb->closing) unlist(*nb);
  nbs.erase(n);
  if (nbs.capacity() > nbs.size() + 1) nbs.shrink_to_fit();  // ~500 bytes a neighbour
  index_neighbours();
}

void node::impl::release(neighbour_state& nb, time_point now) {
  for (chunk_seq seq : nb.asked.seqs()) {
    if (const auto it = in_flight.find(seq); it != in_flight.end() && it->second == nb.id)
      in_flight.erase(it);
  }
  if (const auto t = nb.asked.next_timeout()) request_gone(*t);
  nb.asked = outstanding_requests{};
  nb.asked_at.clear();
  if (nb.ready) {
    budget.refund(nb.ready->chunk->size(), now);
    nb.ready.reset();
  }
  nb.pushes.clear();
  nb.serving = serve_queue{s.serve_queue_limit};
  nb.control.clear();
}

void node::impl::drop(neighbour_state& nb, ps::close_reason reason, std::string text, time_point now) {
  if (nb.closing) return;
  pick_wanted = true;
  busy_next_exact = false;
  release(nb, now);
  unlist(nb);
  nb.closing = true;
  if (const auto it = by_node.find(nb.hello.id); it != by_node.end() && it->second == nb.id)
    by_node.erase(it);
  disconnects.push_back({nb.id, reason, std::move(text)});
}

void node::impl::punish(neighbour_state& nb, ps::close_reason reason, std::string text, time_point now) {
  bans.ban(nb.hello.id, now + s.ban_duration);
  ++stats.bans;
  candidates.remove(nb.hello.id);
  drop(nb, reason, std::move(text), now);
}

// --- the periodic work -----------------------------------------------------------------------

void node::impl::step(time_point now) {
  if (!started) {
    started = true;
    started_at = now;
    next_candidates_ask = now;
    candidates_ask_gap = s.starve_after;
    next_housekeeping = now;
    next_replace = now + replace_interval(now);
    next_pex = now + s.pex_interval;
  }
  if (now > last_now) last_now = now;
  expire_requests(now);
  if (now >= next_housekeeping) {
    housekeeping(now);
    next_housekeeping = now + k_housekeeping_interval;
  }
  if (now >= next_replace) {
    replace_worst(now);
    next_replace = now + replace_interval(now);
  }
  if (now >= next_pex) {
    send_pex(now);
    next_pex = now + s.pex_interval;
  }
  maybe_dial(now);
  skip_late(now);
  pick(now);
  schedule_sends(now);
  if (!requests_expire_exact) find_earliest_timeout();
  if (!busy_next_exact || last_now >= busy_next) find_busy_next();
}

void node::impl::find_earliest_timeout() {
  requests_expire_from = time_point::max();
  for (const auto& [id, nb] : nbs) {
    if (nb.closing) continue;
    if (const auto t = nb.asked.next_timeout()) requests_expire_from = std::min(requests_expire_from, *t);
  }
  requests_expire_exact = true;
}

void node::impl::find_busy_next() {
  busy_next = time_point::max();
  for (const auto& [id, nb] : nbs) {
    if (!nb.closing && nb.busy_until > last_now) busy_next = std::min(busy_next, nb.busy_until);
  }
  busy_next_exact = true;
}

void node::impl::expire_requests(time_point now) {
  if (now < requests_expire_from) return;
  requests_expire_from = time_point::max();
  for (auto& [id, nb] : nbs) {
    if (nb.closing) continue;
    const std::vector<chunk_seq> expired = nb.asked.expire(now);  // nothing allocated when none
    if (const auto t = nb.asked.next_timeout()) requests_expire_from = std::min(requests_expire_from, *t);
    if (expired.empty()) continue;
    for (const chunk_seq seq : expired) {
      note_response(nb, seq, now);
      if (const auto it = in_flight.find(seq); it != in_flight.end() && it->second == id) in_flight.erase(it);
      failed_from[seq].push_back(id);
    }
    pick_wanted = true;
    stats.requests_timed_out += expired.size();
    stats.cancels_sent += expired.size();
    queue(nb, ps::cancel{expired});
  }
  requests_expire_exact = true;
}

void node::impl::housekeeping(time_point now) {
  bans.expire(now);
  // Starving, ask the tracker for fresh candidates after starve_after, then after twice that and
  // so on up to k_max_candidates_ask_gap: in a swarm where most peers starve (a playout delay
  // shorter than the swarm's depth needs) asking every starve_after flooded the tracker and the
  // full peers it named with dials that changed nothing. Fed again, the gap starts over.
  if (!starving(now)) {
    candidates_ask_gap = s.starve_after;
    next_candidates_ask = now;
  } else if (looking_wider(now) && now >= next_candidates_ask) {
    candidates_wanted = true;
    next_candidates_ask = now + candidates_ask_gap;
    candidates_ask_gap = std::min(candidates_ask_gap * 2, std::max(s.starve_after, k_max_candidates_ask_gap));
  }
  for (auto it = dialing.begin(); it != dialing.end();) {
    it = now - it->second >= s.dial_timeout ? dialing.erase(it) : std::next(it);
  }
  if (!log.empty()) {
    const chunk_seq low = log.first_seq();
    while (!failed_from.empty() && failed_from.begin()->first < low) failed_from.erase(failed_from.begin());
    while (!heard_at.empty() && heard_at.begin()->first < low) heard_at.erase(heard_at.begin());
  }
  // Buffers used in bursts (the dials at start, a wave of departures) keep their room when they
  // empty; give it back. Nothing to a single node, a third of a kilobyte each of 10^6 simulated.
  if (dialing.empty()) dialing.shrink_to_fit();
  if (dial_out.empty()) dial_out.shrink_to_fit();
  if (disconnects.empty()) disconnects.shrink_to_fit();
}

void node::impl::maybe_dial(time_point now) {
  if (s.role == ps::node_role::origin) return;
  const auto excluded = [&](const ps::node_id& id) {
    return by_node.count(id) != 0 || dialing.count(id) != 0 || bans.banned(id, now);
  };
  // Starving (nothing stored for starve_after): the neighbours we have may be as cut off as we
  // are, so take more, up to max_neighbours, from whatever fresh candidates come.
  const std::size_t want = looking_wider(now) ? std::max(s.min_neighbours, s.max_neighbours) : s.min_neighbours;
  while (live_count() + dialing.size() < want) {
    const std::optional<ps::peer_address> a = candidates.next(now, excluded);
    if (!a) break;
    dialing[a->id] = now;
    dial_out.push_back(*a);
    ++stats.dials;
  }
}

micros node::impl::replace_interval(time_point now) const {
  return now - started_at < s.young_for ? s.young_replace_interval : s.neighbour_replace_interval;
}

void node::impl::replace_worst(time_point now) {
  const auto excluded = [&](const ps::node_id& id) {
    return by_node.count(id) != 0 || dialing.count(id) != 0 || bans.banned(id, now);
  };
  // The member list only when a round can replace (every 0.5 s while the node is young).
  if (s.role != ps::node_role::origin && live_count() >= s.min_neighbours &&
      candidates.has_next(now, excluded)) {
    std::vector<member_view> members;
    members.reserve(live_count());
    for (const auto& [id, nb] : nbs) {
      if (!nb.closing) members.push_back({id, nb.hello.role, nb.since, nb.useful_recent,
                                           !nb.asked.empty() || !nb.serving.empty() || nb.ready.has_value()});
    }
    if (const auto victim = least_useful_peer(members, now, replace_interval(now))) {
      ++stats.replaced;
      drop(nbs.at(*victim), ps::close_reason::replaced, "replaced by a more useful neighbour", now);
      if (const auto a = candidates.next(now, excluded)) {
        dialing[a->id] = now;
        dial_out.push_back(*a);
        ++stats.dials;
      }
    }
  }
  for (auto& [id, nb] : nbs) nb.useful_recent = 0;
}

std::vector<ps::peer_address> node::impl::pex_entries(neighbour_id except) const {
  std::vector<ps::peer_address> out;
  for (const auto& [id, nb] : nbs) {
    if (id == except || nb.closing || nb.hello.listen_port == 0 || nb.host.empty()) continue;
    out.push_back({nb.hello.id, nb.host, nb.hello.listen_port});
    if (out.size() >= ps::k_max_pex_entries) break;
  }
  return out;
}

void node::impl::send_pex(time_point) {
  for (auto& [id, nb] : nbs) {
    if (nb.closing) continue;
    if (auto peers = pex_entries(id); !peers.empty()) queue(nb, ps::pex{std::move(peers)});
  }
}

// --- node ----------------------------------------------------------------------------------------

node::node(node_settings settings, chunk::chunk_log& log, chunk_verifier verify)
    : impl_(std::make_unique<impl>(std::move(settings), log, std::move(verify))) {}
node::~node() = default;

ps::hello node::local_hello() const {
  ps::hello h;
  h.stream = impl_->s.stream;
  h.rendition = impl_->s.rendition;
  h.id = impl_->s.id;
  h.role = impl_->s.role;
  h.upload_kbps = impl_->s.upload_kbps;
  h.listen_port = impl_->s.listen_port;
  return h;
}

std::optional<ps::close_reason> node::on_neighbour_up(neighbour_id n, const ps::hello& remote, bool inbound,
                                                      core::time_point now, std::string remote_host) {
  auto r = impl_->neighbour_up(n, remote, inbound, now, std::move(remote_host));
  impl_->step(now);
  return r;
}

void node::on_message(neighbour_id n, const ps::message& msg, core::time_point now) {
  impl_->message(n, msg, now);
  impl_->step(now);
}

void node::on_rtt(neighbour_id n, core::micros rtt, core::time_point now) {
  if (auto* nb = impl_->find(n)) impl_->set_rtt(*nb, rtt);
  impl_->step(now);
}

void node::on_neighbour_down(neighbour_id n, core::time_point now) {
  impl_->neighbour_down(n);
  impl_->step(now);
}

void node::on_dial_failed(const ps::peer_address& a, core::time_point now) {
  impl_->dialing.erase(a.id);
  impl_->step(now);
}

void node::on_local_chunk(const chunk::chunk_ptr& c, core::time_point now) {
  if (!c) return;
  impl_->local_chunk(c, now);
  impl_->step(now);
}

void node::on_candidates(const std::vector<ps::peer_address>& candidates, core::time_point now) {
  impl_->candidates.add_ranked(candidates);
  impl_->step(now);
}

void node::set_origin_offset(core::micros offset) { impl_->origin_offset = offset; }

void node::on_timeout(core::time_point now) { impl_->step(now); }

std::optional<ps::message> node::next_message_for(neighbour_id n, core::time_point now) {
  neighbour_state* nb = impl_->find(n);
  if (!nb || nb->closing) return std::nullopt;
  if (!nb->control.empty()) {
    ps::message m = std::move(nb->control.front());
    nb->control.pop_front();
    // Drained (the usual case: the driver takes everything after each input): give the room
    // back rather than keep ~150 bytes a slot per neighbour for the next burst.
    if (nb->control.empty()) nb->control.shrink_to_fit();
    return m;
  }
  if (!nb->ready) return std::nullopt;
  ps::chunk_data d = std::move(*nb->ready);
  nb->ready.reset();
  const std::size_t size = d.chunk->size();
  nb->up.add(size, now);
  nb->bytes_up += size;
  nb->useful_recent += size;
  impl_->total_up.add(size, now);
  impl_->stats.bytes_up.add(nb->hello.role, size);
  (d.pushed ? impl_->stats.chunks_pushed_out : impl_->stats.requests_served) += 1;
  return d;
}

bool node::has_output() const {
  if (!impl_->output_queued) return false;
  impl_->output_queued = std::any_of(impl_->nbs.begin(), impl_->nbs.end(), [](const auto& e) {
    const neighbour_state& nb = e.second;
    return !nb.closing && (!nb.control.empty() || nb.ready);
  });
  return impl_->output_queued;
}

std::optional<ps::peer_address> node::poll_dial() {
  if (impl_->dial_out.empty()) return std::nullopt;
  ps::peer_address a = std::move(impl_->dial_out.front());
  impl_->dial_out.pop_front();
  return a;
}

std::optional<disconnect_order> node::poll_disconnect() {
  if (impl_->disconnects.empty()) return std::nullopt;
  disconnect_order d = std::move(impl_->disconnects.front());
  impl_->disconnects.pop_front();
  return d;
}

std::optional<chunk_arrival> node::poll_arrival() {
  if (impl_->arrivals.empty()) return std::nullopt;
  chunk_arrival a = impl_->arrivals.front();
  impl_->arrivals.pop_front();
  return a;
}

std::optional<core::time_point> node::next_deadline() const {
  const impl& m = *impl_;
  if (!m.started) return std::nullopt;
  std::optional<time_point> t = m.next_housekeeping;
  const auto consider = [&](std::optional<time_point> x) {
    if (x && (!t || *x < *t)) t = x;
  };
  if (m.s.role != ps::node_role::origin) consider(m.next_replace);
  consider(m.next_pex);
  consider(m.recheck_at);
  consider(m.send_ready_at);
  // Our requests' earliest timeout: kept by the node (exact after every input's step).
  assert(m.requests_expire_exact);
  if (m.requests_expire_from != time_point::max()) consider(m.requests_expire_from);
  // The first busy neighbour that may be asked again: kept by the node too.
  assert(m.busy_next_exact);
  if (m.busy_next != time_point::max()) consider(m.busy_next);
  // Answers and pushes waiting (none anywhere while !sends_queued, after most inputs).
  bool sends_waiting = false;
  if (m.sends_queued) {
    for (const auto& [id, nb] : m.nbs) {
      if (nb.closing || nb.ready) continue;
      sends_waiting = sends_waiting || !nb.serving.empty() || !nb.pushes.empty();
      // A request that will have waited max_serve_wait is refused busy then, not at the next input.
      if (const auto* e = nb.serving.front()) consider(e->received + m.s.max_serve_wait + micros{1});
    }
  }
  // A ready chunk was taken since the last input and more waits: schedule when tokens allow —
  // unless the budget already names that time (send_ready_at, for the chunk actually next). This
  // estimate is for an average chunk and was often due already: a node whose next chunk needed
  // more tokens was woken again and again (every 100 µs in the simulator, at the transport's timer
  // grain on a real loop: at once when unshaped) for nothing — 86 % of a simulated node's
  // timeouts, 30 % of all events.
  if (sends_waiting && !m.send_ready_at) consider(m.budget.ready_at(std::max<std::size_t>(m.chunk_bytes, 1), m.last_now));
  return t;
}

const node_settings& node::settings() const { return impl_->s; }
const node_stats& node::stats() const { return impl_->stats; }

std::vector<neighbour_info> node::neighbours() const {
  std::vector<neighbour_info> out;
  for (const auto& [id, nb] : impl_->nbs) {
    if (nb.closing) continue;
    neighbour_info i;
    i.id = id;
    i.node = nb.hello.id;
    i.role = nb.hello.role;
    i.inbound = nb.inbound;
    i.host = nb.host;
    i.listen_port = nb.hello.listen_port;
    i.rtt = nb.rtt;
    i.since = nb.since;
    i.rate_down = nb.down.rate(impl_->last_now, nb.since);
    i.rate_up = nb.up.rate(impl_->last_now);
    i.bytes_down = nb.bytes_down;
    i.bytes_up = nb.bytes_up;
    i.requests_outstanding = nb.asked.size();
    i.requests_queued = nb.serving.size();
    out.push_back(std::move(i));
  }
  return out;
}

std::size_t node::neighbour_count() const { return impl_->live_count(); }

bool node::starving(core::time_point now) const { return impl_->starving(now); }

bool node::take_candidates_wanted() { return std::exchange(impl_->candidates_wanted, false); }
std::optional<core::chunk_seq> node::join_point() const { return impl_->join; }
double node::rate_down(core::time_point now) const { return impl_->total_down.rate(now, impl_->started_at); }
double node::rate_up(core::time_point now) const { return impl_->total_up.rate(now, impl_->started_at); }

}  // namespace meshcast::swarm
