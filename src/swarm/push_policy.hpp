// push policy: to whom a brand-new chunk is pushed (GRAPES-style epidemic push). The node pushes
// each chunk it just produced (push_fanout targets) or received (relay_fanout) — if it is the
// newest it holds and younger than push_max_age — to neighbours that do not have it; every
// neighbour that may lack it also gets a have. Pending pushes go out newest first and are
// dropped once the target has the chunk or it is no longer fresh, so a node short of upload
// spends it on the newest chunks, where a push saves the most pulls.
// Pure functions over plain values; randomness from the caller's seeded engine.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/splitmix.hpp"
#include "swarm/picker.hpp"

namespace meshcast::swarm {

struct push_candidate {
  neighbour_id id = 0;
  bool has_it = false;            ///< it told us it holds the chunk, or it sent it to us
  bool is_origin = false;         ///< the origin holds everything: never a target
  std::size_t queued = 0;         ///< chunks already waiting for it on our side (pushes + answers)
  std::uint32_t upload_kbps = 0;  ///< its advertised upload (hello); 0 = unknown
  /// How often it lacked our newest chunk when we got it (moving average, 0..1): high = it is
  /// downstream of us and gets fresh chunks from nobody closer to the source.
  double behind = 0.5;
};

/// Chooses up to `fanout` targets among neighbours that lack the chunk. Preference: the most
/// often behind us (in steps of 1/8: a neighbour as close to the source as we are will get the
/// chunk from someone else, and a push to it is likely a duplicate), then the least queued on our
/// side (it gets the chunk soonest), then the larger advertised upload (it can push on; unknown
/// counts as average), then random among equals. Returns ids in push order.
std::vector<neighbour_id> choose_push_targets(std::span<const push_candidate> candidates, std::size_t fanout,
                                              core::splitmix64_engine& rng);

}  // namespace meshcast::swarm
