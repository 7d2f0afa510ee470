// Neighbour set policy: which nodes to dial, whom to admit, whom to drop for a better one.
//   candidate_list — nodes we may dial, best first: the tracker's ranked list in its order, then
//     pex entries in arrival order; deduplicated by node id, never ourselves, bounded; a node
//     dialled once is not dialled again before `redial_backoff`.
//   admit() — keep or refuse a connection that finished its handshake.
//   least_useful_peer() — the replacement victim: the peer neighbour (never the origin or an
//     edge) that exchanged the fewest useful chunk bytes with us (either way) over the last
//     interval, among those connected for at least that long and with no request under way
//     either way.
// Plain value types and pure functions; no thread affinity.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <optional>
#include <span>
#include <vector>

#include "proto/swarm/messages.hpp"
#include "swarm/picker.hpp"

namespace meshcast::swarm {

namespace ps = proto::swarm;

class candidate_list {
 public:
  explicit candidate_list(ps::node_id self, std::size_t max_size = 256,
                          core::micros redial_backoff = core::micros{30'000'000})
      : self_(self), max_size_(max_size), backoff_(redial_backoff) {}

  /// The tracker's answer, best first: these move to the front in this order.
  void add_ranked(std::span<const ps::peer_address> list);
  /// Pex entries: appended after everything known. Entries with port 0 are dropped.
  void add_pex(std::span<const ps::peer_address> list);

  /// The best candidate that is not `excluded` (connected, being dialled, banned) and not tried
  /// within the backoff; marks it tried at `now`.
  std::optional<ps::peer_address> next(core::time_point now,
                                       const std::function<bool(const ps::node_id&)>& excluded);
  /// Whether next() would return something (without marking it tried).
  [[nodiscard]] bool has_next(core::time_point now,
                              const std::function<bool(const ps::node_id&)>& excluded) const;
  void remove(const ps::node_id& id);

  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] std::vector<ps::peer_address> addresses() const;

 private:
  /// 32 bytes (a peer_address with its optional tried time took 72): a list holds up to
  /// max_size of them per node, most of a simulated node's memory otherwise.
  struct item {
    ps::node_id id{};
    std::int64_t tried_us = k_never;  // µs since the epoch of the last next() that gave it
    std::uint32_t v4 = 0;             // the host as a dotted-quad IPv4 address, unless long_host
    std::uint16_t port = 0;
    bool long_host = false;  // any other host form (IPv6, a name): in long_hosts_
  };
  static constexpr std::int64_t k_never = std::numeric_limits<std::int64_t>::min();
  item make_item(const ps::peer_address& a);
  [[nodiscard]] ps::peer_address address_of(const item& it) const;
  void forget(const item& it);  // drops its long host, if any (the item is going)
  [[nodiscard]] bool usable(const item& it, core::time_point now,
                            const std::function<bool(const ps::node_id&)>& excluded) const;
  std::vector<item>::iterator find(const ps::node_id& id);
  void reserve_for(std::size_t n);
  void truncate(std::size_t n);  // keeps the first n  // room for n items, at most max_size_ (unless n is more)

  ps::node_id self_;
  std::size_t max_size_;
  core::micros backoff_;
  std::vector<item> items_;
  std::vector<std::pair<ps::node_id, std::string>> long_hosts_;  // of the items with long_host
};

enum class admission { accept, self, banned, duplicate, full };

struct admission_input {
  bool is_self = false;
  bool banned = false;
  bool already_connected = false;   ///< a live connection to the same node id exists
  bool new_wins_duplicate = false;  ///< ...and the tie-break keeps the new one (see node.cpp)
  std::size_t neighbours = 0;       ///< live neighbours now
  std::size_t max_neighbours = 24;
};
admission admit(const admission_input& in);

struct member_view {
  neighbour_id id = 0;
  ps::node_role role = ps::node_role::peer;
  core::time_point since;
  /// Chunk payload bytes exchanged over the last interval: new chunks it sent us plus chunks we
  /// sent it. A neighbour we feed counts as much as one that feeds us: dropping it would cut a
  /// peer that depends on us.
  std::uint64_t useful_bytes = 0;
  bool engaged = false;  ///< requests under way either way (ours at it, its at us, an answer ready)
};

std::optional<neighbour_id> least_useful_peer(std::span<const member_view> members, core::time_point now,
                                              core::micros min_age);

}  // namespace meshcast::swarm
