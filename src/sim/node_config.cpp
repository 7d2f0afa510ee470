#include "sim/node_config.hpp"
#include "core/splitmix.hpp"

#include <algorithm>
#include <cmath>

namespace meshcast::sim {

std::uint32_t kbps_of(double bps) {
  if (bps <= 0) return 0;
  return static_cast<std::uint32_t>(std::max(1.0, std::round(bps / 1000.0)));
}

swarm::node_settings node_settings_for(const scenario::scenario& s, const scenario::planned_node& pn) {
  namespace ps = proto::swarm;
  const bool origin = pn.kind == scenario::node_kind::origin;
  swarm::node_settings ns;
  ns.role = origin ? ps::node_role::origin : ps::node_role::peer;
  ns.min_neighbours = origin ? 0 : s.swarm.min_neighbours;
  ns.max_neighbours = origin ? s.origin.max_neighbours : s.swarm.max_neighbours;
  ns.upload_kbps = kbps_of(pn.upload_bps);
  ns.playout_delay = core::micros{std::int64_t{s.swarm.playout_delay_ms} * 1000};
  ns.seed = core::splitmix64(s.seed * 0x100000001b3ULL + pn.index);
  if (s.swarm.mode == "push") {
    // Epidemic push only: no request is ever sent, so a joiner starts from the first chunk
    // pushed to it. Each receiver relays as many copies as its upload carries (at least one), while
    // the chunk is younger than half the playout delay: with push-pull's one relay copy within
    // 300 ms a push made a chain, not a tree, and reached ~4 % of 200 peers; these settings reach
    // ~56 % (4 s playout, docs/sim.md).
    ns.request_floor = 0;
    ns.request_cap = 0;
    if (!origin) {
      ns.relay_fanout = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(pn.upload_bps / s.stream_bps())));
      ns.push_max_age = ns.playout_delay / 2;
    }
  } else if (s.swarm.mode == "pull") {
    // Pull only: nothing is pushed, so nothing is worth waiting for before pulling, and the origin
    // is pulled like any peer (it is Pixtream's source peer). Before, it was pulled only when a
    // chunk turned urgent, as in push-pull where it pushes: every chunk entered the swarm at
    // its last moment, and 10^4 peers played 0.9 % of it.
    ns.push_fanout = 0;
    ns.relay_fanout = 0;
    ns.pull_grace = core::micros{0};
    ns.local_grace = core::micros{0};
    ns.pull_origin_like_a_peer = true;
  }
  return ns;
}

proto::tracker::node_stats announce_stats(const swarm::node& n, core::time_point now) {
  namespace pt = proto::tracker;
  const std::size_t neighbours = n.neighbour_count();
  const std::size_t max = n.settings().max_neighbours;
  pt::node_stats out;
  out[std::string(pt::k_stat_upload_kbps_used)] = std::round(n.rate_up(now) * 8.0 / 1000.0);
  out["neighbours"] = static_cast<double>(neighbours);
  out[std::string(pt::k_stat_neighbour_slots)] = static_cast<double>(max > neighbours ? max - neighbours : 0);
  out[std::string(pt::k_stat_starving)] = n.starving(now) ? 1.0 : 0.0;
  return out;
}

}  // namespace meshcast::sim
