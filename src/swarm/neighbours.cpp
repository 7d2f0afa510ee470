#include "swarm/neighbours.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace meshcast::swarm {

namespace {

/// Node ids compared as two words (std::array's == is a memcmp call).
bool same_id(const ps::node_id& a, const ps::node_id& b) {
  std::uint64_t x[2];
  std::uint64_t y[2];
  std::memcpy(x, a.data(), sizeof x);
  std::memcpy(y, b.data(), sizeof y);
  return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/// `host` as four bytes when it is a canonical dotted quad ("10.0.0.1": no leading zeros, each
/// part ≤ 255), so that formatting them gives `host` back exactly.
std::optional<std::uint32_t> parse_v4(const std::string& host) {
  std::uint32_t out = 0;
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= host.size() || host[i] != '.') return std::nullopt;
      ++i;
    }
    const std::size_t start = i;
    std::uint32_t v = 0;
    while (i < host.size() && host[i] >= '0' && host[i] <= '9' && i - start < 3) {
      v = v * 10 + static_cast<std::uint32_t>(host[i] - '0');
      ++i;
    }
    const std::size_t digits = i - start;
    if (digits == 0 || v > 255 || (digits > 1 && host[start] == '0')) return std::nullopt;
    out = (out << 8) | v;
  }
  if (i != host.size()) return std::nullopt;
  return out;
}

std::string format_v4(std::uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 8) & 0xff) +
         "." + std::to_string(v & 0xff);
}

}  // namespace

candidate_list::item candidate_list::make_item(const ps::peer_address& a) {
  item it;
  it.id = a.id;
  it.port = a.port;
  if (const auto v4 = parse_v4(a.host)) {
    it.v4 = *v4;
  } else {
    it.long_host = true;
    long_hosts_.emplace_back(a.id, a.host);
  }
  return it;
}

ps::peer_address candidate_list::address_of(const item& it) const {
  if (!it.long_host) return {it.id, format_v4(it.v4), it.port};
  const auto h = std::find_if(long_hosts_.begin(), long_hosts_.end(),
                              [&](const auto& e) { return same_id(e.first, it.id); });
  return {it.id, h != long_hosts_.end() ? h->second : std::string{}, it.port};
}

void candidate_list::forget(const item& it) {
  if (!it.long_host) return;
  const auto h = std::find_if(long_hosts_.begin(), long_hosts_.end(),
                              [&](const auto& e) { return same_id(e.first, it.id); });
  if (h != long_hosts_.end()) long_hosts_.erase(h);
}

void candidate_list::truncate(std::size_t n) {
  if (items_.size() <= n) return;
  for (auto it = items_.begin() + static_cast<std::ptrdiff_t>(n); it != items_.end(); ++it) forget(*it);
  items_.resize(n);
}

std::vector<candidate_list::item>::iterator candidate_list::find(const ps::node_id& id) {
  return std::find_if(items_.begin(), items_.end(), [&](const item& it) { return same_id(it.id, id); });
}

void candidate_list::add_ranked(std::span<const ps::peer_address> list) {
  std::vector<item> front;
  for (const ps::peer_address& a : list) {
    if (a.id == self_ || a.port == 0) continue;
    if (std::any_of(front.begin(), front.end(), [&](const item& it) { return same_id(it.id, a.id); })) continue;
    std::int64_t tried = k_never;
    if (auto it = find(a.id); it != items_.end()) {
      tried = it->tried_us;
      forget(*it);
      items_.erase(it);
    }
    front.push_back(make_item(a));
    front.back().tried_us = tried;
  }
  // Drop what would fall off the end first, and never hold room for more than max_size_: a
  // vector grown by an insert past a full list would keep twice the room it needs.
  if (items_.size() + front.size() > max_size_) truncate(max_size_ - std::min(max_size_, front.size()));
  reserve_for(items_.size() + front.size());
  items_.insert(items_.begin(), front.begin(), front.end());
  truncate(max_size_);
}

void candidate_list::reserve_for(std::size_t n) {
  if (n <= items_.capacity()) return;
  items_.reserve(std::min(std::max(n, 2 * items_.capacity()), std::max(n, max_size_)));
}

void candidate_list::add_pex(std::span<const ps::peer_address> list) {
  for (const ps::peer_address& a : list) {
    if (items_.size() >= max_size_) break;
    if (a.id == self_ || a.port == 0 || find(a.id) != items_.end()) continue;
    reserve_for(items_.size() + 1);
    items_.push_back(make_item(a));
  }
}

bool candidate_list::usable(const item& it, core::time_point now,
                            const std::function<bool(const ps::node_id&)>& excluded) const {
  if (it.tried_us != k_never && now.time_since_epoch().count() - it.tried_us < backoff_.count()) return false;
  return !excluded || !excluded(it.id);
}

std::optional<ps::peer_address> candidate_list::next(
    core::time_point now, const std::function<bool(const ps::node_id&)>& excluded) {
  for (item& it : items_) {
    if (!usable(it, now, excluded)) continue;
    it.tried_us = now.time_since_epoch().count();
    return address_of(it);
  }
  return std::nullopt;
}

bool candidate_list::has_next(core::time_point now,
                              const std::function<bool(const ps::node_id&)>& excluded) const {
  return std::any_of(items_.begin(), items_.end(), [&](const item& it) { return usable(it, now, excluded); });
}

void candidate_list::remove(const ps::node_id& id) {
  if (auto it = find(id); it != items_.end()) {
    forget(*it);
    items_.erase(it);
  }
}

std::vector<ps::peer_address> candidate_list::addresses() const {
  std::vector<ps::peer_address> out;
  out.reserve(items_.size());
  for (const item& it : items_) out.push_back(address_of(it));
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
    if (m.engaged) continue;  // dropping it would lose what is under way
    if (!worst || m.useful_bytes < worst->useful_bytes) worst = &m;
  }
  if (!worst) return std::nullopt;
  return worst->id;
}

}  // namespace meshcast::swarm
