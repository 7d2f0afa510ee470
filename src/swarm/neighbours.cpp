#include "swarm/neighbours.hpp"

#include <algorithm>

namespace meshcast::swarm {

std::vector<candidate_list::item>::iterator candidate_list::find(const ps::node_id& id) {
  return std::find_if(items_.begin(), items_.end(), [&](const item& it) { return it.address.id == id; });
}

void candidate_list::add_ranked(std::span<const ps::peer_address> list) {
  std::vector<item> front;
  for (const ps::peer_address& a : list) {
    if (a.id == self_ || a.port == 0) continue;
    if (std::any_of(front.begin(), front.end(), [&](const item& it) { return it.address.id == a.id; }))
      continue;
    std::optional<core::time_point> tried;
    if (auto it = find(a.id); it != items_.end()) {
      tried = it->tried_at;
      items_.erase(it);
    }
    front.push_back({a, tried});
  }
  items_.insert(items_.begin(), front.begin(), front.end());
  if (items_.size() > max_size_) items_.resize(max_size_);
}

void candidate_list::add_pex(std::span<const ps::peer_address> list) {
  for (const ps::peer_address& a : list) {
    if (items_.size() >= max_size_) break;
    if (a.id == self_ || a.port == 0 || find(a.id) != items_.end()) continue;
    items_.push_back({a, std::nullopt});
  }
}

bool candidate_list::usable(const item& it, core::time_point now,
                            const std::function<bool(const ps::node_id&)>& excluded) const {
  if (it.tried_at && now - *it.tried_at < backoff_) return false;
  return !excluded || !excluded(it.address.id);
}

std::optional<ps::peer_address> candidate_list::next(
    core::time_point now, const std::function<bool(const ps::node_id&)>& excluded) {
  for (item& it : items_) {
    if (!usable(it, now, excluded)) continue;
    it.tried_at = now;
    return it.address;
  }
  return std::nullopt;
}

bool candidate_list::has_next(core::time_point now,
                              const std::function<bool(const ps::node_id&)>& excluded) const {
  return std::any_of(items_.begin(), items_.end(), [&](const item& it) { return usable(it, now, excluded); });
}

void candidate_list::remove(const ps::node_id& id) {
  if (auto it = find(id); it != items_.end()) items_.erase(it);
}

std::vector<ps::peer_address> candidate_list::addresses() const {
  std::vector<ps::peer_address> out;
  out.reserve(items_.size());
  for (const item& it : items_) out.push_back(it.address);
  return out;
}

admission admit(const admission_input& in) {
  if (in.is_self) return admission::self;
  if (in.banned) return admission::banned;
  if (in.already_connected) return in.new_wins_duplicate ? admission::accept : admission::duplicate;
  if (in.neighbours >= in.max_neighbours) return admission::full;
  return admission::accept;
}

std::optional<neighbour_id> least_useful_peer(std::span<const member_view> members, core::time_point now,
                                              core::micros min_age) {
  const member_view* worst = nullptr;
  for (const member_view& m : members) {
    if (m.role != ps::node_role::peer || now - m.since < min_age) continue;
    if (!worst || m.useful_bytes < worst->useful_bytes) worst = &m;
  }
  if (!worst) return std::nullopt;
  return worst->id;
}

}  // namespace meshcast::swarm
