#include "tracker/registry.hpp"

#include "core/splitmix.hpp"

#include <algorithm>
#include <cmath>

namespace meshcast::tracker {

namespace {

bool is_infrastructure(ps::node_role r) { return r != ps::node_role::peer; }

/// A reported stat, when present and a number.
std::optional<double> stat(const pt::node_stats& stats, std::string_view name) {
  const auto it = stats.find(name);
  if (it == stats.end()) return std::nullopt;
  return it->second;
}

std::uint32_t used_kbps_of(const pt::node_stats& stats) {
  const auto used = stat(stats, pt::k_stat_upload_kbps_used);
  if (!used || !(*used > 0)) return 0;
  return static_cast<std::uint32_t>(std::lround(std::min(*used, static_cast<double>(pt::k_max_kbps))));
}

}  // namespace

// ---- stream_swarm ----

std::size_t stream_swarm::id_hash::operator()(const ps::node_id& id) const noexcept {
  // All 16 bytes, mixed: the simulator's ids differ only in their last 8.
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    a = (a << 8) | id[i];
    b = (b << 8) | id[8 + i];
  }
  return static_cast<std::size_t>(core::splitmix64(a ^ core::splitmix64(b)));
}

const node_entry* stream_swarm::find(const ps::node_id& id) const {
  const auto it = index_.find(id);
  if (it == index_.end()) return nullptr;
  return it->second.infra ? &infra_[it->second.index] : &peers_[it->second.index];
}

std::size_t stream_swarm::count(ps::node_role role) const {
  if (role == ps::node_role::peer) return peers_.size();
  return static_cast<std::size_t>(std::count_if(
      infra_.begin(), infra_.end(), [role](const node_entry& e) { return e.role == role; }));
}

void stream_swarm::account(const node_entry& e, bool add) {
  if (is_infrastructure(e.role)) return;
  if (add) {
    peer_upload_ += e.upload_kbps;
    peer_used_ += e.used_kbps;
    peer_spare_ += e.spare_kbps();
  } else {
    peer_upload_ -= e.upload_kbps;
    peer_used_ -= e.used_kbps;
    peer_spare_ -= e.spare_kbps();
  }
}

std::uint32_t stream_swarm::name_index(std::string_view name) const {
  const auto it = name_ids_.find(std::string(name));
  return it == name_ids_.end() ? k_no_name : it->second;
}

std::uint32_t stream_swarm::intern(const std::string& name) {
  if (const auto it = name_ids_.find(name); it != name_ids_.end()) {
    ++name_refs_[it->second];
    return it->second;
  }
  std::uint32_t k;
  if (!free_names_.empty()) {
    k = free_names_.back();
    free_names_.pop_back();
    names_[k] = name;
    name_refs_[k] = 1;
  } else {
    k = static_cast<std::uint32_t>(names_.size());
    names_.push_back(name);
    name_refs_.push_back(1);
  }
  name_ids_.emplace(name, k);
  return k;
}

void stream_swarm::release(std::uint32_t k) {
  if (--name_refs_[k] != 0) return;
  name_ids_.erase(names_[k]);
  names_[k].clear();
  free_names_.push_back(k);
}

stream_swarm::peer_brief stream_swarm::brief_of(const node_entry& e) {
  peer_brief b;
  b.id = e.id;
  b.last_seen = e.last_seen;
  b.spare_kbps = e.spare_kbps();
  b.rendition = intern(e.rendition);
  b.region = intern(e.region);
  b.dialable = e.dialable();
  b.full = e.full;
  b.starving = e.starving;
  return b;
}

node_entry& stream_swarm::insert(node_entry e) {
  account(e, true);
  const bool infra = is_infrastructure(e.role);
  auto& list = infra ? infra_ : peers_;
  index_[e.id] = slot{infra, list.size()};
  if (!infra) briefs_.push_back(brief_of(e));
  list.push_back(std::move(e));
  return list.back();
}

void stream_swarm::remove(const ps::node_id& id) {
  const auto it = index_.find(id);
  if (it == index_.end()) return;
  const slot where = it->second;
  index_.erase(it);
  auto& list = where.infra ? infra_ : peers_;
  account(list[where.index], false);
  if (!where.infra) {
    release(briefs_[where.index].rendition);
    release(briefs_[where.index].region);
    briefs_[where.index] = briefs_.back();
    briefs_.pop_back();
  }
  if (where.index + 1 != list.size()) {
    list[where.index] = std::move(list.back());
    index_[list[where.index].id].index = where.index;
  }
  list.pop_back();
}

// ---- registry ----

core::result<const node_entry*> registry::announce(const pt::announce_request& a, std::string host,
                                                   std::string_view observed_host, bool trusted,
                                                   core::time_point now) {
  auto it = swarms_.find(a.stream);
  if (it == swarms_.end()) {
    if (a.role != ps::node_role::origin) {
      return core::make_error(registry_errc::unknown_stream, "unknown stream " + a.stream);
    }
    if (swarms_.size() >= settings_.max_streams) {
      return core::make_error(registry_errc::too_many_streams,
                              "tracker holds " + std::to_string(swarms_.size()) +
                                  " streams, limit " + std::to_string(settings_.max_streams));
    }
    it = swarms_.emplace(a.stream, stream_swarm(a.stream, now)).first;
    if (const auto key = keys_.find(a.stream); key != keys_.end())
      it->second.public_key_ = key->second;
  }
  stream_swarm& s = it->second;

  node_entry fresh;
  fresh.id = a.id;
  fresh.role = a.role;
  fresh.rendition = a.rendition;
  fresh.host = std::move(host);
  fresh.observed_host = std::string(observed_host);
  fresh.port = a.port;
  fresh.upload_kbps = a.upload_kbps;
  fresh.used_kbps = used_kbps_of(a.stats);
  const auto slots = stat(a.stats, pt::k_stat_neighbour_slots);
  fresh.full = slots && *slots < 1;
  const auto starving = stat(a.stats, pt::k_stat_starving);
  fresh.starving = starving && *starving != 0;
  fresh.stream_kbps = a.stream_kbps;
  fresh.region = a.region;
  fresh.stats = a.stats;
  fresh.first_seen = now;
  fresh.last_seen = now;
  fresh.announces = 1;

  if (const node_entry* old = s.find(a.id)) {
    if (!trusted && !is_stale(*old, now)) {
      if (old->role != a.role) {
        return core::make_error(registry_errc::conflict,
                                "node_id " + pt::to_hex(a.id) + " is registered as " +
                                    std::string(pt::role_name(old->role)) + ", not " +
                                    std::string(pt::role_name(a.role)));
      }
      if (old->observed_host != observed_host) {
        return core::make_error(registry_errc::conflict, "node_id " + pt::to_hex(a.id) +
                                                             " is registered from another address");
      }
    }
    if (!is_stale(*old, now)) {
      fresh.first_seen = old->first_seen;
      fresh.announces = old->announces + 1;
    }
    s.remove(a.id);
  } else if (s.size() >= settings_.max_nodes_per_stream) {
    return core::make_error(registry_errc::swarm_full,
                            "swarm of " + a.stream + " is full (" +
                                std::to_string(settings_.max_nodes_per_stream) + " nodes)");
  }

  if (a.role == ps::node_role::origin && !a.public_key.empty() && !keys_.contains(a.stream)) {
    s.public_key_ = a.public_key;
  }
  if (is_infrastructure(a.role) && a.stream_kbps != 0) s.stream_kbps_ = a.stream_kbps;
  return &s.insert(std::move(fresh));
}

bool registry::leave(std::string_view stream, const ps::node_id& id) {
  const auto it = swarms_.find(stream);
  if (it == swarms_.end() || !it->second.find(id)) return false;
  it->second.remove(id);
  if (it->second.size() == 0) swarms_.erase(it);
  return true;
}

std::size_t registry::expire(core::time_point now) {
  std::size_t removed = 0;
  for (auto it = swarms_.begin(); it != swarms_.end();) {
    stream_swarm& s = it->second;
    std::vector<ps::node_id> stale;
    for (const auto* list : {&s.peers_, &s.infra_}) {
      for (const node_entry& e : *list) {
        if (is_stale(e, now)) stale.push_back(e.id);
      }
    }
    for (const auto& id : stale) s.remove(id);
    removed += stale.size();
    it = s.size() == 0 ? swarms_.erase(it) : std::next(it);
  }
  return removed;
}

void registry::set_public_key(const std::string& stream, std::string hex) {
  if (const auto it = swarms_.find(stream); it != swarms_.end()) it->second.public_key_ = hex;
  keys_[stream] = std::move(hex);
}

const stream_swarm* registry::find(std::string_view stream) const {
  const auto it = swarms_.find(stream);
  return it == swarms_.end() ? nullptr : &it->second;
}

std::size_t registry::node_count() const {
  std::size_t n = 0;
  for (const auto& [name, s] : swarms_) n += s.size();
  return n;
}

}  // namespace meshcast::tracker
