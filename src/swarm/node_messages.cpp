// What neighbours send us, and what we tell them when a chunk is stored (node.hpp).
#include "swarm/node_impl.hpp"

namespace meshcast::swarm {

// --- messages --------------------------------------------------------------------------------

void node::impl::message(neighbour_id n, const ps::message& msg, time_point now) {
  neighbour_state* nb = find(n);
  if (!nb || nb->closing) return;
  // What arrived and how our requests ended change what to pull (haves: see on_have).
  pick_wanted = pick_wanted || std::holds_alternative<ps::bitmap>(msg) ||
                std::holds_alternative<ps::chunk_data>(msg) || std::holds_alternative<ps::reject>(msg);
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, ps::have>) {
          on_have(*nb, m.seq, now);
        } else if constexpr (std::is_same_v<T, ps::bitmap>) {
          on_bitmap(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::request>) {
          on_request(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::cancel>) {
          on_cancel(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::chunk_data>) {
          on_chunk(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::reject>) {
          on_reject(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::pex>) {
          const std::size_t n_entries = std::min(m.peers.size(), ps::k_max_pex_entries);
          candidates.add_pex(std::span(m.peers.data(), n_entries));
        }
        // hello, ping, pong and close are the session's business.
      },
      msg);
}

void node::impl::on_have(neighbour_state& nb, chunk_seq seq, time_point now) {
  if (!plausible(seq, now)) {
    ++stats.haves_ignored;
    return;
  }
  nb.has.insert(seq);
  note_known(seq);
  // Held or asked for already: the pick problem did not change (a failed request wakes the picker
  // itself); a pick round for each such have was ~10 % of a simulated node's time.
  if (!log.contains(seq) && in_flight.count(seq) == 0) {
    const time_point heard = heard_at.try_emplace(seq, now).first->second;
    // Pick now if it may be pulled now; else only wake up when it may (most haves name a chunk
    // still in its push grace, and a full pick round per have is the node's main cost).
    const auto dl = deadline_of(seq);
    const time_point from = dl && join ? picker.eligible_at(*dl, heard) : now;
    if (from <= now) {
      pick_wanted = true;
    } else if (!recheck_at || from < *recheck_at) {
      recheck_at = from;
    }
  }
  // It has it: a push to it is moot, and so is its request.
  nb.pushes.erase(std::remove_if(nb.pushes.begin(), nb.pushes.end(), [&](const pending_push& p) { return p.seq == seq; }),
                  nb.pushes.end());
  nb.serving.cancel(seq);
}

void node::impl::on_bitmap(neighbour_state& nb, const ps::bitmap& b, time_point now) {
  const std::size_t n = std::min(b.bits.size(), ps::k_max_bitmap_bits);
  for (std::size_t i = 0; i < n; ++i) {
    if (!b.bits[i]) continue;
    const chunk_seq seq = b.base + i;
    if (!plausible(seq, now)) {
      ++stats.haves_ignored;
      break;  // the rest are further still
    }
    nb.has.insert(seq);
    note_known(seq);
    if (!log.contains(seq)) heard_at.try_emplace(seq, now);
  }
}

void node::impl::on_request(neighbour_state& nb, const ps::request& r, time_point now) {
  nb.guard.on_requested(r.seqs.size(), now);
  sends_queued = true;
  std::size_t strikes = 0;
  for (const chunk_seq seq : r.seqs) {
    if (far_outside(seq)) {
      ++strikes;
      queue_reject(nb, seq, ps::reject_reason::not_held);
      continue;
    }
    // We pushed it to it and it is on its way (or the request crossed a push).
    if (nb.sent.contains(seq)) continue;
    const chunk::chunk* c = log.peek(seq);  // borrowed: nothing below changes the log
    const time_point dl = c ? deadline_of(*c) : time_point{};
    if (!c) {
      queue_reject(nb, seq, ps::reject_reason::not_held);
    } else if (dl <= now) {
      queue_reject(nb, seq, ps::reject_reason::too_late);
    } else if (now + serve_wait(serve_key(dl, nb), now) + nb.rtt.value_or(k_default_rtt) / 2 > dl) {
      // Our upload is committed past its deadline: say so now, so it asks elsewhere in time.
      queue_reject(nb, seq, ps::reject_reason::busy);
    } else if (nb.serving.admit(seq, now) == serve_queue::admit_result::busy) {
      ++strikes;  // it ignores our queue limit
      queue_reject(nb, seq, ps::reject_reason::busy);
    }
  }
  nb.guard.strike(strikes, now);
  if (nb.guard.flooding(now)) {
    ++stats.floods;
    punish(nb, ps::close_reason::flood,
           "request flood: " + std::to_string(nb.guard.strikes(now)) + " strikes", now);
  }
}

void node::impl::on_cancel(neighbour_state& nb, const ps::cancel& c, time_point now) {
  for (const chunk_seq seq : c.seqs) {
    nb.serving.cancel(seq);
    if (nb.ready && !nb.ready->pushed && nb.ready->chunk->seq() == seq) {
      budget.refund(nb.ready->chunk->size(), now);
      nb.ready.reset();
    }
  }
}

void node::impl::on_reject(neighbour_state& nb, const ps::reject& r, time_point now) {
  ++stats.rejects_received;
  const auto at = nb.asked.take(r.seq);
  if (!at) return;
  request_gone(*at);
  if (r.reason == ps::reject_reason::busy) note_response(nb, r.seq, now);
  nb.asked_at.erase(r.seq);
  if (const auto it = in_flight.find(r.seq); it != in_flight.end() && it->second == nb.id)
    in_flight.erase(it);
  switch (r.reason) {
    case ps::reject_reason::not_held:
      nb.has.erase(r.seq);
      failed_from[r.seq].push_back(nb.id);
      break;
    case ps::reject_reason::busy:
      nb.busy_until = now + s.busy_backoff;
      busy_next_exact = false;
      break;
    case ps::reject_reason::too_late:
      failed_from[r.seq].push_back(nb.id);
      break;
  }
}

void node::impl::on_chunk(neighbour_state& nb, const ps::chunk_data& d, time_point now) {
  if (!d.chunk) return;
  const chunk::chunk_ptr& c = d.chunk;
  const chunk_seq seq = c->seq();
  const std::size_t size = c->size();
  nb.down.add(size, now);
  nb.bytes_down += size;
  total_down.add(size, now);
  stats.bytes_down.add(nb.hello.role, size);
  nb.has.insert(seq);
  if (const auto at = nb.asked.take(seq)) {
    request_gone(*at);
    note_response(nb, seq, now);
  }
  if (const auto it = in_flight.find(seq); it != in_flight.end() && it->second == nb.id) in_flight.erase(it);

  if (log.contains(seq)) {
    ++stats.duplicate_chunks;
    if (d.pushed) ++stats.duplicate_pushes;
    stats.duplicate_bytes += size;
    return;
  }
  if (!log.empty() && seq < log.first_seq()) {
    ++stats.stale_chunks;
    return;
  }
  // Verify before storing, forwarding or playing: a forged chunk goes at most one hop.
  if (!verify(*c)) {
    ++stats.bad_signatures;
    punish(nb, ps::close_reason::bad_signature, "chunk " + std::to_string(seq.value()) + " signature fails",
           now);
    return;
  }
  if (log.insert(c) != chunk::insert_result::inserted) {
    ++stats.stale_chunks;
    return;
  }
  stored(c, &nb, d.pushed, now);
}

// --- storing and announcing ------------------------------------------------------------------

void node::impl::stored(const chunk::chunk_ptr& c, neighbour_state* from, bool pushed, time_point now) {
  const chunk_seq seq = c->seq();
  const std::size_t size = c->size();
  const bool newest = !newest_held || seq > *newest_held;
  if (newest) {
    newest_held = seq;
    const micros d = c->header().duration > micros{0} ? c->header().duration : k_default_chunk_duration;
    ref = timing_ref{seq, c->header().source_time, d};
  }
  note_known(seq);
  last_stored = now;
  chunk_bytes = chunk_bytes == 0 ? size : (chunk_bytes * 7 + size) / 8;
  budget.raise_burst(size);
  if (!join) join = seq;

  if (from) {
    from->useful_recent += size;
    (pushed ? stats.chunks_pushed_in : stats.chunks_pulled_in) += 1;
    if (s.max_arrival_records > 0) {
      if (arrivals.size() >= s.max_arrival_records) {
        arrivals.pop_front();
        ++stats.arrivals_dropped;
      }
      arrivals.push_back({seq, c->header().source_time, now, from->id, from->hello.role, pushed});
    }
  }

  // Withdraw a request for it elsewhere: it arrived by push or from someone else.
  if (const auto it = in_flight.find(seq); it != in_flight.end()) {
    if (neighbour_state* other = find(it->second); other && other != from) {
      if (const auto at = other->asked.take(seq)) request_gone(*at);
      other->asked_at.erase(seq);
      queue(*other, ps::cancel{{seq}});
      ++stats.cancels_sent;
    }
    in_flight.erase(it);
  }
  failed_from.erase(seq);
  heard_at.erase(seq);

  // Tell everyone that may lack it (push targets too: a push may wait for budget, and meanwhile
  // the target must not push the chunk back to us); push the newest to a few that lack it,
  // downstream ones first. Downstream or not (the same walk), judged on the chunk we got about
  // k_behind_lag ago: a neighbour that got it from someone else meanwhile is as close to the
  // source as we are.
  bool judge = false;
  chunk_seq probe = seq;
  if (newest) {
    const std::int64_t k = std::max<std::int64_t>(1, k_behind_lag / chunk_duration());
    probe = seq - static_cast<std::uint64_t>(std::min<std::int64_t>(k, static_cast<std::int64_t>(seq.value())));
    judge = probe < seq && log.contains(probe);
  }
  for (auto& [id, nb] : nbs) {
    if (judge) {
      const bool elsewhere = nb.has.contains(probe) && !nb.sent.contains(probe);
      nb.behind = 0.9 * nb.behind + (elsewhere ? 0.0 : 0.1);
    }
    if (!nb.closing && !holds(nb, seq)) queue(nb, ps::have{seq});
  }
  const std::size_t fanout = from ? s.relay_fanout : s.push_fanout;
  if (newest && fanout > 0 && fresh(seq, now)) queue_pushes(seq, fanout);
}

void node::impl::queue_pushes(chunk_seq seq, std::size_t fanout) {
  std::vector<push_candidate> cands;
  for (auto& [id, nb] : nbs) {
    if (nb.closing) continue;
    cands.push_back({id, nb.has.contains(seq), nb.hello.role == ps::node_role::origin,
                     nb.pushes.size() + nb.serving.size() + (nb.ready ? 1 : 0), nb.hello.upload_kbps,
                     nb.behind});
  }
  const std::vector<neighbour_id> targets = choose_push_targets(cands, fanout, rng);
  for (auto t = targets.begin(); t != targets.end(); ++t) {
    neighbour_state& nb = nbs.at(*t);
    if (nb.pushes.size() >= k_max_pending_pushes) {
      nb.pushes.pop_front();
      ++stats.pushes_dropped;
    }
    nb.pushes.push_back({seq, t == targets.begin()});
    sends_queued = true;
  }
}

void node::impl::local_chunk(const chunk::chunk_ptr& c, time_point now) {
  if (const chunk::chunk_ptr held = log.find(c->seq())) {
    if (held != c) return;  // the swarm brought it first and it was announced then
  } else if (log.insert(c) != chunk::insert_result::inserted) {
    return;
  }
  ++stats.chunks_local;
  pick_wanted = true;
  stored(c, nullptr, false, now);
}

}  // namespace meshcast::swarm
