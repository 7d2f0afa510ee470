// What we pull from whom, and what we upload when (node.hpp; docs/swarm.md "Pull", "Upload").
#include "swarm/node_impl.hpp"

namespace meshcast::swarm {

// --- pull --------------------------------------------------------------------------------------

void node::impl::skip_late(time_point now) {
  // Chunks past their deadline are skipped, never requested; count the ones we never got.
  // late_mark only moves forward, so each chunk is looked at here once.
  if (!join || !ref || !newest_known) return;
  chunk_seq low = std::max(late_mark.value_or(*join), log.empty() ? *join : log.first_seq());
  while (low <= *newest_known) {
    const auto dl = deadline_of(low);
    if (!dl || *dl > now) break;
    if (!log.contains(low)) ++stats.chunks_skipped_late;
    ++low;
  }
  late_mark = low;
}

void node::impl::pick(time_point now) {
  // Only when something that can change the answer happened: an input marked it, or a time the
  // last round named (a grace period ends, a busy neighbour may be asked again) came.
  const bool due = pick_wanted || (recheck_at && now >= *recheck_at);
  if (!due) return;
  pick_wanted = false;
  recheck_at.reset();
  if (s.role == ps::node_role::origin || nbs.empty() || !newest_known) return;
  chunk_seq low = *newest_known;
  if (join) {
    low = std::max(late_mark.value_or(*join), log.empty() ? *join : log.first_seq());
  } else if (!in_flight.empty()) {
    // Joining: one request at a time for the newest chunk known — the live edge, never the
    // oldest. Whatever arrives first becomes the join point (the log keeps nothing older than
    // its first chunk, so a second request would only fetch what it must refuse).
    return;
  }

  if (*newest_known < low) return;
  if (*newest_known - low + 1 > k_max_pick_range) low = *newest_known + 1 - k_max_pick_range;
  const auto count = static_cast<std::size_t>(*newest_known - low + 1);

  // The snapshot is rebuilt in buffers kept from round to round (no allocation once warm; one
  // set per thread, not per node: a simulator runs 10^5 nodes on one thread), and it holds only
  // the wanted chunks (most of the range is held or asked for already).
  struct scratch {
    pick_problem p;
    std::vector<const std::vector<neighbour_id>*> failed;
    std::vector<pick_neighbour> spare;  // entries (their `has` buffers) not used this round
    std::vector<std::pair<neighbour_id, std::size_t>> order;
  };
  static thread_local scratch buffers;
  pick_problem& p = buffers.p;
  p.first = low;
  p.now = now;
  p.seqs.clear();
  p.deadline.clear();
  p.heard.clear();
  std::vector<const std::vector<neighbour_id>*>& failed = buffers.failed;
  failed.clear();
  // The maps are sorted by seq, like the range: one cursor each walks along with it instead of a
  // search per seq.
  auto fl = in_flight.lower_bound(low);
  auto h = heard_at.lower_bound(low);
  auto f = failed_from.lower_bound(low);
  for (std::size_t i = 0; i < count; ++i) {
    const chunk_seq seq = low + i;
    while (fl != in_flight.end() && fl->first < seq) ++fl;
    if (log.contains(seq) || (fl != in_flight.end() && fl->first == seq)) continue;
    p.seqs.push_back(seq);
    p.deadline.push_back(deadline_of(seq));
    while (h != heard_at.end() && h->first < seq) ++h;
    p.heard.push_back(h != heard_at.end() && h->first == seq ? std::optional<time_point>(h->second) : std::nullopt);
    while (f != failed_from.end() && f->first < seq) ++f;
    failed.push_back(f != failed_from.end() && f->first == seq ? &f->second : nullptr);
  }
  if (p.seqs.empty()) return;
  const std::size_t wanted = p.seqs.size();
  p.wanted.assign(wanted, true);
  std::optional<time_point> busy_end;  // the first busy neighbour that may be asked again
  std::size_t k = 0;
  for (const auto& [id, nb] : nbs) {
    if (nb.closing) continue;
    if (k == p.neighbours.size()) {
      if (buffers.spare.empty()) {
        p.neighbours.emplace_back();
      } else {
        p.neighbours.push_back(std::move(buffers.spare.back()));
        buffers.spare.pop_back();
      }
    }
    pick_neighbour& pn = p.neighbours[k++];
    // What it holds first, and without a branch on what its bitmap says: the bitmap is a cache
    // miss away, and the rest below (and the next neighbours' misses) can go on while it comes.
    pn.has.resize(wanted);
    for (std::size_t i = 0; i < wanted; ++i) pn.has[i] = holds(nb, p.seqs[i]);
    pn.id = id;
    pn.cls = class_of(nb.hello.role);
    pn.response = nb.response.value_or(nb.rtt.value_or(k_default_rtt) + transfer_time(0));
    const std::size_t limit = request_limit(nb.down.rate(now, nb.since), chunk_bytes, rq);
    pn.free_slots = nb.busy_until > now || nb.asked.size() >= limit ? 0 : limit - nb.asked.size();
    if (nb.busy_until > now) busy_end = busy_end ? std::min(*busy_end, nb.busy_until) : nb.busy_until;
    pn.outstanding = nb.asked.size();
  }
  // A holder that failed us (timed out, or refused: not held, too late) is not asked again.
  for (std::size_t i = 0; i < wanted; ++i) {
    if (!failed[i]) continue;
    for (std::size_t j = 0; j < k; ++j) {
      pick_neighbour& pn = p.neighbours[j];
      if (std::find(failed[i]->begin(), failed[i]->end(), pn.id) != failed[i]->end()) pn.has[i] = 0;
    }
  }
  while (p.neighbours.size() > k) {
    buffers.spare.push_back(std::move(p.neighbours.back()));
    p.neighbours.pop_back();
  }

  picker.set_urgent_threshold(3 * chunk_duration() + mean_rtt());
  const pick_result result = picker.pick(p);
  recheck_at = result.recheck_at;
  if (busy_end && (!recheck_at || *busy_end < *recheck_at)) recheck_at = busy_end;

  // One request per neighbour, in ascending id order, each naming its chunks in pick order: the
  // picks' indices sorted by (neighbour, index) (no map built and freed each round).
  std::vector<std::pair<neighbour_id, std::size_t>>& order = buffers.order;
  order.clear();
  for (std::size_t i = 0; i < result.picks.size(); ++i) order.emplace_back(result.picks[i].neighbour, i);
  std::sort(order.begin(), order.end());
  for (std::size_t b = 0; b < order.size();) {
    const neighbour_id id = order[b].first;
    std::size_t e = b;
    while (e < order.size() && order[e].first == id) ++e;
    std::vector<chunk_seq> seqs;
    seqs.reserve(e - b);
    for (; b < e; ++b) seqs.push_back(result.picks[order[b].second].seq);
    neighbour_state& nb = nbs.at(id);
    const double rate = nb.down.rate(now, nb.since);
    const micros rtt = nb.rtt.value_or(k_default_rtt);
    for (const chunk_seq seq : seqs) {
      micros timeout = request_timeout(rtt, nb.asked.size(), chunk_bytes, rate, rq);
      // With a deadline: wait until the last moment a retry elsewhere could still make it (a
      // server that cannot answer in time says busy at once), but at least twice the expected
      // time, so an answer on its way is not asked for twice.
      if (const auto dl = deadline_of(seq)) {
        const micros expected = rtt + transfer_time(rate);
        timeout = std::min(rq.max_timeout, std::max(2 * expected, (*dl - now) - expected));
      }
      if (!nb.asked.add(seq, now + timeout)) requests_expire_exact = false;  // replaced a timeout
      requests_expire_from = std::min(requests_expire_from, now + timeout);
      nb.asked_at[seq] = now;
      in_flight[seq] = id;
    }
    stats.requests_sent += seqs.size();
    queue(nb, ps::request{std::move(seqs)});
  }
}

// --- upload --------------------------------------------------------------------------------------

void node::impl::schedule_sends(time_point now) {
  send_ready_at.reset();
  // Nothing queued anywhere (most inputs, between one chunk's answers and pushes and the next):
  // the walk below would find nothing to drop and nothing to send.
  if (!sends_queued) return;
  const micros urgent = 3 * chunk_duration() + mean_rtt();
  while (true) {
    // One walk over the neighbours finds both. Pull answers: each neighbour's FIFO head; among
    // them the largest serve key (the newest chunk, requesters with more upload first). Pushes:
    // the newest first, a chunk's first copy before its others; stale ones (the target has it,
    // or too old to be worth a push) are dropped. (What one neighbour's answers are pruned by,
    // its pushes never touch, and the reverse: one walk does what two did, in the same order.)
    neighbour_state* serve_nb = nullptr;
    time_point serve_dl, serve_rank;
    neighbour_state* push_nb = nullptr;
    std::size_t push_index = 0;
    const auto better_push = [](const pending_push& x, const pending_push& y) {
      return x.first != y.first ? x.first : x.seq > y.seq;
    };
    bool queued = false;  // a live neighbour has answers or pushes waiting after this walk
    for (auto& [id, nb] : nbs) {
      if (nb.closing) continue;
      if (nb.ready) {
        queued = queued || !nb.serving.empty() || !nb.pushes.empty();
        continue;
      }
      std::optional<time_point> head_dl;  // the head's chunk is looked up once per walk
      while (const serve_queue::entry* e = nb.serving.front()) {
        const chunk::chunk* c = log.peek(e->seq);
        if (!c) {
          queue_reject(nb, e->seq, ps::reject_reason::not_held);
        } else if (const time_point dl = deadline_of(*c); dl <= now) {
          queue_reject(nb, e->seq, ps::reject_reason::too_late);
        } else if (now - e->received > s.max_serve_wait) {
          queue_reject(nb, e->seq, ps::reject_reason::busy);  // ask elsewhere while there is time
        } else {
          head_dl = dl;
          break;
        }
        nb.serving.pop_front();
      }
      if (head_dl) {
        const time_point dl = *head_dl;
        const time_point rank = serve_key(dl, nb);
        if (!serve_nb || rank > serve_rank) {
          serve_nb = &nb;
          serve_dl = dl;
          serve_rank = rank;
        }
      }
      for (auto it = nb.pushes.begin(); it != nb.pushes.end();) {
        if (nb.has.contains(it->seq) || !fresh(it->seq, now)) {
          if (it->first) promote_first(nb.id, it->seq);
          ++stats.pushes_dropped;
          it = nb.pushes.erase(it);
        } else {
          ++it;
        }
      }
      for (std::size_t i = 0; i < nb.pushes.size(); ++i) {
        if (!push_nb || better_push(nb.pushes[i], push_nb->pushes[push_index])) {
          push_nb = &nb;
          push_index = i;
        }
      }
      queued = queued || !nb.serving.empty() || !nb.pushes.empty();
    }
    sends_queued = queued;
    // The order (docs/swarm.md, "Upload"): the answer that ranks first if someone's playout is
    // about to wait on it; then first copies of fresh chunks — each holder forwarding each new
    // chunk at least once keeps the epidemic from dying at the few nodes next to the source, for
    // at most 1× the stream rate; then the other answers, by serve key (newest chunk first); then
    // extra push copies, which only spare upload pays for (they are the likeliest duplicates).
    // At a source (origin, edge) its pushes go first, urgent answers or not: they are the only
    // way a chunk enters the swarm on time, and answers crowding them out of a limited upload
    // make every chunk urgent (a 3× origin in front of 200 peers: continuity 0.07 without this
    // rule, 0.83 with it).
    const bool first_push = push_nb && push_nb->pushes[push_index].first;
    const bool source = s.role != ps::node_role::peer;
    const bool serve_first = serve_nb && (source ? !push_nb : (serve_dl - now < urgent || !first_push));
    neighbour_state* nb = serve_first ? serve_nb : push_nb;
    if (!nb) return;
    const chunk_seq seq = serve_first ? serve_nb->serving.front()->seq : push_nb->pushes[push_index].seq;
    const chunk::chunk_ptr c = log.find(seq);
    if (!budget.can_send(c->size(), now)) {
      send_ready_at = budget.ready_at(c->size(), now);
      return;
    }
    budget.spend(c->size(), now);
    nb->ready = ps::chunk_data{c, !serve_first};
    output_queued = true;
    nb->has.insert(seq);
    nb->sent.insert(seq);
    if (serve_first) {
      serve_nb->serving.pop_front();
    } else {
      push_nb->pushes.erase(push_nb->pushes.begin() + static_cast<std::ptrdiff_t>(push_index));
      push_nb->serving.cancel(seq);  // a request that crossed the push is answered by it
    }
  }
}

}  // namespace meshcast::swarm
