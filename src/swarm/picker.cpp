#include "swarm/picker.hpp"

#include <algorithm>
#include <tuple>

namespace meshcast::swarm {

namespace {

struct candidate {
  std::size_t index = 0;
  bool urgent = false;
  core::time_point deadline;  // `now` when unknown: joining chunks are the most urgent
  std::size_t holders = 0;
};

bool holds(const pick_neighbour& n, std::size_t i) { return i < n.has.size() && n.has[i]; }

}  // namespace

core::time_point chunk_picker::eligible_at(core::time_point deadline,
                                           std::optional<core::time_point> heard) const {
  const core::time_point source = deadline - settings_.playout_delay;
  core::time_point grace_end = source + settings_.pull_grace;
  if (heard)
    grace_end =
        std::max(grace_end, std::min(*heard + settings_.local_grace, source + settings_.push_horizon));
  return std::min(grace_end, deadline - settings_.urgent_threshold);
}

pick_result chunk_picker::pick(const pick_problem& p) const {
  pick_result out;
  auto recheck = [&](core::time_point t) {
    if (t > p.now && (!out.recheck_at || t < *out.recheck_at)) out.recheck_at = t;
  };

  // Working buffers kept from round to round (one set per thread: a simulator runs 10^5 nodes on
  // one thread, each picking after most of its inputs); nothing carries over but their capacity.
  struct scratch {
    std::vector<candidate> cands;
    std::vector<std::size_t> free, outstanding;
  };
  static thread_local scratch buffers;
  std::vector<candidate>& cands = buffers.cands;
  cands.clear();
  for (std::size_t i = 0; i < p.wanted.size(); ++i) {
    if (!p.wanted[i]) continue;
    const std::optional<core::time_point> dl = i < p.deadline.size() ? p.deadline[i] : std::nullopt;
    if (dl && *dl <= p.now) continue;  // late: skipped, never waited for

    std::size_t holders = 0;
    bool peer_holder = false;
    for (const pick_neighbour& n : p.neighbours) {
      if (!holds(n, i)) continue;
      ++holders;
      peer_holder = peer_holder || n.cls != source_class::origin;
    }
    if (holders == 0) continue;

    const bool urgent = !dl || *dl - p.now < settings_.urgent_threshold;
    if (!urgent) {
      if (!peer_holder && !settings_.origin_like_a_peer) {
        recheck(*dl - settings_.urgent_threshold);  // only the origin has it: wait until urgent
        continue;
      }
      const core::time_point from = eligible_at(*dl, i < p.heard.size() ? p.heard[i] : std::nullopt);
      if (p.now < from) {
        recheck(from);
        continue;
      }
    }
    cands.push_back({i, urgent, dl.value_or(p.now), holders});
  }

  // The index settles every tie, so the order is total: std::sort, which allocates nothing, gives
  // what a stable sort would.
  std::sort(cands.begin(), cands.end(), [](const candidate& a, const candidate& b) {
    if (a.urgent != b.urgent) return a.urgent;
    if (a.urgent) return std::tie(a.deadline, a.index) < std::tie(b.deadline, b.index);
    return std::tie(a.holders, a.index) < std::tie(b.holders, b.index);
  });

  std::vector<std::size_t>& free = buffers.free;
  std::vector<std::size_t>& outstanding = buffers.outstanding;
  free.resize(p.neighbours.size());
  outstanding.resize(p.neighbours.size());
  for (std::size_t k = 0; k < p.neighbours.size(); ++k) {
    free[k] = p.neighbours[k].free_slots;
    outstanding[k] = p.neighbours[k].outstanding;
  }

  for (const candidate& c : cands) {
    std::optional<std::size_t> best;
    for (std::size_t k = 0; k < p.neighbours.size(); ++k) {
      const pick_neighbour& n = p.neighbours[k];
      if (free[k] == 0 || !holds(n, c.index)) continue;
      if (!c.urgent && n.cls == source_class::origin && !settings_.origin_like_a_peer) continue;
      if (!best) {
        best = k;
        continue;
      }
      // Lower class first, then the shorter expected wait; the first listed wins remaining
      // ties so a fixture reads deterministically.
      const auto key = [&](std::size_t x) {
        const auto wait = p.neighbours[x].response.count() * static_cast<std::int64_t>(outstanding[x] + 1);
        return std::make_tuple(static_cast<int>(p.neighbours[x].cls), wait);
      };
      if (key(k) < key(*best)) best = k;
    }
    if (!best) continue;
    --free[*best];
    ++outstanding[*best];
    out.picks.push_back({p.neighbours[*best].id, p.seqs.empty() ? p.first + c.index : p.seqs[c.index], c.urgent});
  }
  return out;
}

}  // namespace meshcast::swarm
