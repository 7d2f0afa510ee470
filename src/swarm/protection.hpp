// Protection against hostile neighbours. ban_list: node ids refused until a time (bad signature,
// flood). flood_guard: per neighbour, counts strikes — requested chunks beyond a sustained rate,
// requests refused as busy (it ignores our queue limit), requests far outside our window — and
// calls it a flood past `max_strikes` within `strike_period`. An honest node never strikes: it
// requests each chunk about once, keeps ≤ 16 requests outstanding per neighbour (our queue limit
// is 32) and only asks for chunks it saw advertised. (A busy refusal because our upload is
// committed is not a strike: that is our load, not its fault.) Plain value types; no thread
// affinity.
#pragma once

#include <cstddef>
#include <map>

#include "core/time.hpp"
#include "proto/swarm/messages.hpp"
#include "swarm/compact.hpp"

namespace meshcast::swarm {

namespace ps = proto::swarm;

class ban_list {
 public:
  void ban(const ps::node_id& id, core::time_point until) {
    auto& u = until_[id];
    if (until > u) u = until;
  }
  [[nodiscard]] bool banned(const ps::node_id& id, core::time_point now) const {
    const auto it = until_.find(id);
    return it != until_.end() && now < it->second;
  }
  void expire(core::time_point now) {
    std::erase_if(until_, [&](const auto& kv) { return kv.second <= now; });
  }
  [[nodiscard]] std::size_t size() const { return until_.size(); }

 private:
  std::map<ps::node_id, core::time_point> until_;
};

struct flood_settings {
  double max_request_rate = 100;  ///< requested chunks per second sustained (10× a 100 ms stream)
  double request_burst = 256;     ///< ...with this burst (one full request frame)
  std::size_t max_strikes = 64;   ///< more strikes than this within the period is a flood
  core::micros strike_period{10'000'000};
};

class flood_guard {
 public:
  /// `s` must outlive the guard (it is the node's: one guard per neighbour keeps a pointer, not
  /// a copy — 10^6 simulated nodes in one process).
  flood_guard(const flood_settings& s, core::time_point now)
      : settings_(&s), tokens_(s.request_burst), updated_(now) {}
  flood_guard(flood_settings&&, core::time_point) = delete;

  /// A request frame asking for `seqs` chunks arrived. Chunks beyond the rate are strikes.
  void on_requested(std::size_t seqs, core::time_point now);
  /// Other misbehaviour (busy refusals, requests far outside the window): `n` strikes.
  void strike(std::size_t n, core::time_point now);
  [[nodiscard]] bool flooding(core::time_point now) const;
  [[nodiscard]] std::size_t strikes(core::time_point now) const;

 private:
  void drop_old(core::time_point now);

  const flood_settings* settings_;
  double tokens_;
  core::time_point updated_;
  compact_devector<std::pair<core::time_point, std::size_t>> strikes_;  // empty: no allocation
};

}  // namespace meshcast::swarm
