// registry: who is in each swarm — per stream, the nodes that announced, with their role,
// address, upload capacity and use, region, stats and when they were last heard from. Sans-IO:
// plain data, `now` passed in; nodes silent for expiry() leave at the next expire(now). Which
// node a newcomer should dial is not decided here but by tracker::policy, which reads a swarm.
// Owned by tracker::service; single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"
#include "proto/tracker/messages.hpp"

namespace meshcast::tracker {

namespace ps = proto::swarm;
namespace pt = proto::tracker;

struct registry_settings {
  core::micros interval{5'000'000};    ///< announce interval the tracker asks of nodes
  std::uint32_t expiry_intervals = 3;  ///< a node silent this many intervals is dropped
  std::size_t max_streams = 1'000;
  std::size_t max_nodes_per_stream = 100'000;
};

/// Why an announce was refused (core::error::code).
enum class registry_errc {
  unknown_stream = 1,  ///< a peer or edge named a stream no origin announced
  conflict = 2,        ///< the node id is registered with another role, or from another address
  swarm_full = 3,      ///< max_nodes_per_stream
  too_many_streams = 4,
};

/// One node as the tracker knows it.
struct node_entry {
  ps::node_id id{};
  ps::node_role role = ps::node_role::peer;
  std::string rendition;
  std::string host;               ///< published swarm address (announced, or as seen)
  std::string observed_host;      ///< where its announces come from; only it may refresh or remove
  std::uint16_t port = 0;         ///< 0 = accepts no connections (never offered as a candidate)
  std::uint32_t upload_kbps = 0;  ///< advertised capacity; 0 = unknown
  std::uint32_t used_kbps = 0;    ///< stats.upload_kbps_used, clamped to [0, k_max_kbps]
  std::uint32_t stream_kbps = 0;
  bool full = false;      ///< stats.neighbour_slots reported as 0: it refuses newcomers
  bool starving = false;  ///< stats.starving reported non-zero: it has nothing to give
  std::string region;
  pt::node_stats stats;
  core::time_point first_seen;
  core::time_point last_seen;
  std::uint64_t announces = 0;

  /// Capacity not in use, in kbit/s (0 when the capacity is unknown).
  [[nodiscard]] std::uint32_t spare_kbps() const {
    return upload_kbps > used_kbps ? upload_kbps - used_kbps : 0;
  }
  [[nodiscard]] bool dialable() const { return port != 0; }
};

/// The swarm of one stream. Peers sit in a vector so the policy can sample them at random in
/// O(1); origins and edges ("infrastructure") are few and kept apart.
class stream_swarm {
 public:
  explicit stream_swarm(std::string name, core::time_point now)
      : name_(std::move(name)), created_(now) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] core::time_point created() const { return created_; }
  /// Hex chunk-signing key: the one configured on the registry, else the latest an origin sent.
  [[nodiscard]] const std::string& public_key() const { return public_key_; }
  /// The rendition's bitrate as the latest origin or edge reported it; 0 = unknown.
  [[nodiscard]] std::uint32_t stream_kbps() const { return stream_kbps_; }

  [[nodiscard]] std::span<const node_entry> peers() const { return peers_; }
  [[nodiscard]] std::span<const node_entry> infrastructure() const { return infra_; }
  [[nodiscard]] const node_entry* find(const ps::node_id& id) const;
  [[nodiscard]] std::size_t size() const { return peers_.size() + infra_.size(); }
  [[nodiscard]] std::size_t count(ps::node_role role) const;

  /// What the policy reads of every sampled peer, packed in a vector parallel to peers(): a
  /// random sample of 1,000 peers per announce then reads 40 bytes each, not a 240-byte entry
  /// and its strings (at 10^5 peers those are far out of cache, one miss after another).
  struct peer_brief {
    ps::node_id id{};
    core::time_point last_seen;
    std::uint32_t spare_kbps = 0;
    std::uint32_t rendition = 0;  ///< name_index() of its rendition
    std::uint32_t region = 0;     ///< name_index() of its region
    bool dialable = false;
    bool full = false;
    bool starving = false;
  };
  [[nodiscard]] std::span<const peer_brief> peer_briefs() const { return briefs_; }
  static constexpr std::uint32_t k_no_name = 0xffffffffU;
  /// The number standing for a rendition or region name some peer has, or k_no_name.
  [[nodiscard]] std::uint32_t name_index(std::string_view name) const;

  /// Sums over peers, kept up to date on every change (kbit/s).
  [[nodiscard]] std::uint64_t peer_upload_kbps() const { return peer_upload_; }
  [[nodiscard]] std::uint64_t peer_used_kbps() const { return peer_used_; }
  [[nodiscard]] std::uint64_t peer_spare_kbps() const { return peer_spare_; }

 private:
  friend class registry;
  struct slot {
    bool infra = false;
    std::size_t index = 0;
  };
  node_entry& insert(node_entry e);
  void remove(const ps::node_id& id);
  void account(const node_entry& e, bool add);
  std::uint32_t intern(const std::string& name);
  void release(std::uint32_t k);
  [[nodiscard]] peer_brief brief_of(const node_entry& e);

  std::string name_;
  core::time_point created_;
  std::string public_key_;
  std::uint32_t stream_kbps_ = 0;
  std::vector<node_entry> peers_;
  std::vector<peer_brief> briefs_;  // briefs_[i] describes peers_[i]
  std::vector<node_entry> infra_;
  // Peers' rendition and region names, numbered while some peer has them.
  std::vector<std::string> names_;
  std::vector<std::uint32_t> name_refs_;
  std::vector<std::uint32_t> free_names_;
  std::unordered_map<std::string, std::uint32_t> name_ids_;
  /// Node ids are random (or, in the simulator, an index): their first 8 bytes hash them.
  struct id_hash {
    std::size_t operator()(const ps::node_id& id) const noexcept;
  };
  std::unordered_map<ps::node_id, slot, id_hash> index_;  // only looked up, never iterated
  std::uint64_t peer_upload_ = 0;
  std::uint64_t peer_used_ = 0;
  std::uint64_t peer_spare_ = 0;
};

class registry {
 public:
  explicit registry(registry_settings settings) : settings_(settings) {}

  /// Adds or refreshes the node of `a` in its stream's swarm. `host` is the swarm address to
  /// publish (the announced one, or `observed_host` when it announced none); `observed_host` is
  /// the address the request came from. An origin creates its stream; a peer or edge naming an
  /// unknown stream gets unknown_stream. A node keeps its role and its observed address while
  /// its entry lives (conflict otherwise), unless `trusted` (the request carried the tracker
  /// token). Returns the entry, valid until the next non-const call.
  core::result<const node_entry*> announce(const pt::announce_request& a, std::string host,
                                           std::string_view observed_host, bool trusted,
                                           core::time_point now);
  /// Removes the node; false when it was not there. Removing its last node removes the swarm.
  bool leave(std::string_view stream, const ps::node_id& id);
  /// Removes every node silent for longer than expiry() and the swarms left empty. O(nodes).
  /// Returns how many nodes were removed.
  std::size_t expire(core::time_point now);

  /// Fixes the chunk-signing key of a stream (an embedded tracker knows its origin's key);
  /// it then wins over keys announced by origins.
  void set_public_key(const std::string& stream, std::string hex);

  [[nodiscard]] const stream_swarm* find(std::string_view stream) const;
  [[nodiscard]] const std::map<std::string, stream_swarm, std::less<>>& swarms() const {
    return swarms_;
  }
  [[nodiscard]] std::size_t node_count() const;
  [[nodiscard]] const registry_settings& settings() const { return settings_; }
  [[nodiscard]] core::micros expiry() const {
    return settings_.interval * settings_.expiry_intervals;
  }
  /// True when `e` has been silent longer than expiry() (the policy skips such nodes even before
  /// expire() has run).
  [[nodiscard]] bool is_stale(const node_entry& e, core::time_point now) const {
    return now - e.last_seen > expiry();
  }

 private:
  registry_settings settings_;
  std::map<std::string, stream_swarm, std::less<>> swarms_;
  std::map<std::string, std::string, std::less<>> keys_;  // configured public keys
};

}  // namespace meshcast::tracker
