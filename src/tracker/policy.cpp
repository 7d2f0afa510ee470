#include "tracker/policy.hpp"

#include <algorithm>
#include <tuple>

namespace meshcast::tracker {

namespace {

// Spare capacity counts in whole streams, up to this many: a peer that can serve 4 more streams
// and one that can serve 40 are equally good for one newcomer, and the shuffle then spreads load.
constexpr std::uint64_t k_max_spare_streams = 4;
// Recency counts in whole intervals since the last announce, up to this many.
constexpr std::int64_t k_max_age_intervals = 3;
// Load of an edge or origin in quarters of its capacity; unknown capacity ranks mid-way.
constexpr std::uint32_t k_unknown_load_quarters = 2;

struct ranked {
  const node_entry* node = nullptr;
  std::tuple<int, std::int64_t, std::int64_t, std::uint64_t> key;  // ascending = better
};

pt::candidate to_candidate(const node_entry& e) {
  pt::candidate c;
  c.address.id = e.id;
  c.address.host = e.host;
  c.address.port = e.port;
  c.role = e.role;
  c.region = e.region;
  return c;
}

int region_rank(const node_entry& e, const node_entry& requester) {
  return !requester.region.empty() && e.region == requester.region ? 0 : 1;
}

std::uint32_t load_quarters(const node_entry& e) {
  if (e.upload_kbps == 0) return k_unknown_load_quarters;
  return static_cast<std::uint32_t>(
      std::min<std::uint64_t>(4, std::uint64_t{e.used_kbps} * 4 / e.upload_kbps));
}

void sort_ranked(std::vector<ranked>& v) {
  std::sort(v.begin(), v.end(), [](const ranked& a, const ranked& b) { return a.key < b.key; });
}

/// Puts the best `n` first, in order (the rest in no order): only they can make the answer.
/// Keys end in a 64-bit random draw, so they are distinct and this equals a full sort's prefix.
void sort_best(std::vector<ranked>& v, std::size_t n) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(std::min(n, v.size()));
  std::partial_sort(v.begin(), mid, v.end(), [](const ranked& a, const ranked& b) { return a.key < b.key; });
}

}  // namespace

swarm_health policy::health(const stream_swarm& s) const {
  swarm_health h;
  h.stream_kbps = s.stream_kbps() != 0 ? s.stream_kbps() : settings_.default_stream_kbps;
  h.peers = s.peers().size();
  h.supply_kbps = s.peer_upload_kbps();
  h.used_kbps = s.peer_used_kbps();
  h.free_kbps = s.peer_spare_kbps();
  h.demand_kbps = std::uint64_t{h.stream_kbps} * h.peers;
  h.spare = static_cast<double>(h.supply_kbps) >=
                static_cast<double>(h.demand_kbps) * settings_.supply_ratio &&
            h.free_kbps >= h.stream_kbps;
  return h;
}

std::vector<pt::candidate> policy::candidates_for(const registry& reg, const stream_swarm& s,
                                                  const node_entry& requester,
                                                  core::time_point now) {
  const auto usable = [&](const node_entry& e) {
    return e.id != requester.id && e.dialable() && !reg.is_stale(e, now);
  };
  const core::micros interval = std::max(reg.settings().interval, core::micros{1});

  // Infrastructure: origins (most recently heard first) and edges (own region, least loaded).
  std::vector<ranked> origins;
  std::vector<ranked> edges;
  for (const node_entry& e : s.infrastructure()) {
    if (!usable(e)) continue;
    if (e.role == ps::node_role::origin) {
      origins.push_back({&e, {0, (now - e.last_seen).count(), 0, rng_()}});
    } else {
      edges.push_back({&e, {region_rank(e, requester), load_quarters(e), 0, rng_()}});
    }
  }
  sort_ranked(origins);
  sort_ranked(edges);

  std::vector<pt::candidate> out;
  const auto append = [&](const std::vector<ranked>& v) {
    for (const ranked& r : v) {
      if (out.size() >= settings_.max_candidates) return;
      out.push_back(to_candidate(*r.node));
    }
  };

  if (requester.role == ps::node_role::origin) return out;
  if (requester.role == ps::node_role::edge) {
    append(origins);
    append(edges);
    return out;
  }

  // A peer. The balance without the requester's own capacity: a newcomer with a big uplink
  // does not make the others any less busy.
  swarm_health h = health(s);
  const std::size_t other_peers = h.peers > 0 ? h.peers - 1 : 0;
  if (requester.role == ps::node_role::peer && s.find(requester.id)) {
    h.free_kbps -= std::min<std::uint64_t>(h.free_kbps, requester.spare_kbps());
    h.spare = static_cast<double>(h.supply_kbps) >=
                  static_cast<double>(h.demand_kbps) * settings_.supply_ratio &&
              h.free_kbps >= h.stream_kbps;
  }
  // A starving requester gets the origin too: the swarm's advertised upload says little when
  // the requester cannot reach it.
  const bool include_origin = !h.spare || other_peers < settings_.small_swarm_peers || (requester.starving && requester.upload_kbps >= h.stream_kbps);

  // Peers: all of them in a small swarm, a random sample in a big one. Read from the packed
  // briefs (the same fields as the entries: id, port, last seen, spare, rendition, region).
  const auto peers = s.peers();
  const auto briefs = s.peer_briefs();
  const std::uint32_t rendition = s.name_index(requester.rendition);
  const std::uint32_t region = requester.region.empty() ? stream_swarm::k_no_name : s.name_index(requester.region);
  std::vector<ranked> ranked_peers;
  const auto consider_at = [&](std::size_t k) {
    const stream_swarm::peer_brief& b = briefs[k];
    if (b.id == requester.id || !b.dialable || now - b.last_seen > reg.expiry() || b.rendition != rendition) return;
    const std::int64_t spare_streams = static_cast<std::int64_t>(
        std::min<std::uint64_t>(k_max_spare_streams, b.spare_kbps / std::max(h.stream_kbps, 1u)));
    const std::int64_t age =
        std::min<std::int64_t>(k_max_age_intervals, (now - b.last_seen) / interval);
    // A peer that reported no open neighbour slot refuses the newcomer, and one that reported
    // starving has nothing to give it: offering them anyway (first, for their advertised
    // upload) is how late joiners ended up among each other, cut off (docs/tracker.md).
    const int other_region = region != stream_swarm::k_no_name && b.region == region ? 0 : 1;
    const int rank = (b.full ? 4 : 0) + (b.starving ? 2 : 0) + other_region;
    ranked_peers.push_back({&peers[k], {rank, -spare_streams, age, rng_()}});
  };
  if (peers.size() <= settings_.max_considered) {
    for (std::size_t k = 0; k < peers.size(); ++k) consider_at(k);
  } else {
    // Floyd's sampling: max_considered distinct indices in O(max_considered). Membership is a
    // stamp per index (this round's number), not a hash set: no hashing, no allocation.
    const std::size_t n = peers.size();
    if (picked_.size() < n) picked_.resize(n, 0);
    if (++round_ == 0) {
      std::fill(picked_.begin(), picked_.end(), 0);
      round_ = 1;
    }
    const auto insert = [&](std::size_t x) {
      if (picked_[x] == round_) return false;
      picked_[x] = round_;
      return true;
    };
    for (std::size_t j = n - settings_.max_considered; j < n; ++j) {
      std::size_t pick = static_cast<std::size_t>(rng_() % (j + 1));
      if (!insert(pick)) {
        pick = j;
        insert(j);
      }
      consider_at(pick);
    }
  }
  // Only the first max_candidates can be offered (fewer, when edges or the origin go first).
  sort_best(ranked_peers, settings_.max_candidates);

  if (h.spare) {
    append(ranked_peers);
    append(edges);
    if (include_origin && !origins.empty() && settings_.max_candidates > 0) {
      // The freshest origin survives the cut: it is the one node sure to have the stream.
      if (out.size() >= settings_.max_candidates) out.pop_back();
      out.push_back(to_candidate(*origins.front().node));
    }
  } else {
    append(edges);
    append(origins);
    append(ranked_peers);
  }
  return out;
}

}  // namespace meshcast::tracker
