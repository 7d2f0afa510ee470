// policy: whom a node that announces should get the stream from — the ranked candidate list of
// the tracker's announce answer, in DESIGN's first form (docs/tracker.md, "Policy"):
//   - a peer gets peers first when the swarm has spare upload: those that reported an open
//     neighbour slot and not starving before the others (a full peer refuses the newcomer, a
//     starving one has nothing to give it), then its own region, then spare capacity, then
//     recency, shuffled (seeded) among equals so load spreads; then edges;
//     the origin is added while the swarm is small or short of upload, and goes first (after
//     the edges) when it is short, so a newcomer can always get the stream;
//   - an edge gets the origins, then other edges; an origin gets nobody;
//   - never the requester itself, never a node that accepts no connections or has gone stale,
//     never a peer of another rendition; at most max_candidates.
// Sans-IO and deterministic for a given seed. Reads a stream_swarm, owns nothing of it.
// The seam for the traffic manager (later): it will sit beside the policy in src/tracker/, read
// the same registry and order standby edges awake or asleep; the policy then offers only awake
// edges and checks the origin's load against its threshold. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "core/time.hpp"
#include "proto/tracker/messages.hpp"
#include "tracker/registry.hpp"

namespace meshcast::tracker {

struct policy_settings {
  std::size_t max_candidates = 20;
  /// The origin is offered to peers while the swarm has fewer other peers than this: a small
  /// swarm's advertised capacity says little (a few nodes, some of them just joined).
  std::size_t small_swarm_peers = 10;
  /// The swarm has spare upload when the peers' advertised upload is at least this multiple of
  /// the demand (stream rate × peers) and their unused upload can carry one more stream.
  double supply_ratio = 1.2;
  /// Stream rate assumed until an origin or edge reports one (stream_kbps in its announce).
  std::uint32_t default_stream_kbps = 2'500;
  /// In a bigger swarm only this many peers, sampled at random, are ranked per announce: it
  /// keeps an announce O(1) in the swarm size (10^5 peers × one announce per interval).
  std::size_t max_considered = 1'000;
  std::uint64_t seed = 1;
};

/// The upload balance of one swarm's peers (kbit/s), for the policy and the dashboard.
struct swarm_health {
  std::uint32_t stream_kbps = 0;  ///< reported, or the default
  std::size_t peers = 0;
  std::uint64_t supply_kbps = 0;  ///< sum of peers' advertised upload
  std::uint64_t used_kbps = 0;    ///< sum of peers' reported upload in use
  std::uint64_t free_kbps = 0;    ///< sum of max(0, advertised - used)
  std::uint64_t demand_kbps = 0;  ///< stream_kbps × peers
  bool spare = false;             ///< see policy_settings::supply_ratio
};

class policy {
 public:
  explicit policy(policy_settings settings) : settings_(settings), rng_(settings.seed) {}

  /// The balance of `s` as a whole (every peer counted).
  [[nodiscard]] swarm_health health(const stream_swarm& s) const;

  /// The ranked candidates for `requester` (already registered in `s`). `reg` tells stale
  /// nodes apart. Advances the random state (the shuffle among equals).
  std::vector<pt::candidate> candidates_for(const registry& reg, const stream_swarm& s,
                                            const node_entry& requester, core::time_point now);

  [[nodiscard]] const policy_settings& settings() const { return settings_; }

 private:
  policy_settings settings_;
  std::mt19937_64 rng_;
  std::vector<std::uint32_t> picked_;  // sampling: picked_[i] == round_ when peer i is taken
  std::uint32_t round_ = 0;
};

}  // namespace meshcast::tracker
