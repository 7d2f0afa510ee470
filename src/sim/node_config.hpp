// node_config: the swarm::node_settings a planned node runs with — one mapping from a scenario
// (its [swarm] section, the origin's limits, the scheduling mode) and a planned node (role,
// upload, index) to node settings, shared by the simulator and the lab so both run exactly the
// same nodes. The caller fills in what belongs to its world: id, stream, rendition, listen
// port, arrival records. Also what a swarm node reports to the tracker in its announces, the
// same for the simulator, the lab and a real peer. Pure functions.
#pragma once

#include <cstdint>

#include "core/time.hpp"
#include "proto/tracker/messages.hpp"
#include "scenario/scenario.hpp"
#include "swarm/node.hpp"

namespace meshcast::sim {

/// bits/s → kbit/s for node settings and announces; 0 (unlimited) stays 0, anything else ≥ 1.
std::uint32_t kbps_of(double bps);

/// Role, neighbour limits, upload budget, playout delay, seed (from the scenario's seed and the
/// node's index) and the scheduling variant of `s.swarm.mode`: "push" sends no request (the
/// request bound is 0), "pull" pushes nothing and so waits for nothing before pulling.
swarm::node_settings node_settings_for(const scenario::scenario& s, const scenario::planned_node& pn);

/// The stats a node's announce carries that the tracker ranks candidates by: upload in use
/// (kbit/s of chunk payload, last 2 s), neighbours, open neighbour slots, and whether it is
/// starving (nothing stored lately). tracker::policy offers full and starving peers last.
proto::tracker::node_stats announce_stats(const swarm::node& n, core::time_point now);

}  // namespace meshcast::sim
