#include "lab/sansio/netns_wire.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace meshcast::lab {
namespace {

constexpr std::uint8_t k_ip_proto_tcp = 6;
constexpr std::uint8_t k_ip_proto_udp = 17;
/// Flows whose last packet left this long ago are forgotten (once the table is this big).
constexpr double k_flow_idle_us = 1e6;
constexpr std::size_t k_flow_table_prune = 4096;

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

/// Microseconds to put `bytes` on a link of `bps` bits/s.
double tx_us(std::size_t bytes, double bps) { return static_cast<double>(bytes) * 8.0 * 1e6 / bps; }

}  // namespace

std::optional<ipv4_addresses> read_ipv4_addresses(core::byte_view p) {
  if (p.size() < 20 || (p[0] >> 4) != 4 || (p[0] & 0x0f) < 5) return std::nullopt;
  return ipv4_addresses{be32(p.data() + 12), be32(p.data() + 16)};
}

wire::wire(wire_settings s) : s_(std::move(s)), rng_(s_.seed), lose_(std::clamp(s_.loss, 0.0, 1.0)) {
  const std::size_t n = s_.addresses.size();
  assert(s_.upload_bps.size() == n && s_.download_bps.size() == n && s_.one_way.size() == n * n);
  for (std::uint32_t i = 0; i < n; ++i) by_address_[s_.addresses[i]] = i;
  up_free_.assign(n, 0.0);
  down_free_.assign(n, 0.0);
}

std::optional<std::uint32_t> wire::node_of(std::uint32_t address) const {
  const auto it = by_address_.find(address);
  if (it == by_address_.end()) return std::nullopt;
  return it->second;
}

wire::flow_key wire::flow_of(const core::bytes& p) {
  flow_key k{be32(p.data() + 12), be32(p.data() + 16), 0, p[9]};
  const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
  if ((p[9] == k_ip_proto_tcp || p[9] == k_ip_proto_udp) && p.size() >= ihl + 4) k.ports = be32(p.data() + ihl);
  return k;
}

bool wire::is_tracker_traffic(const core::bytes& p) const {
  const flow_key k = flow_of(p);
  if (k.proto != k_ip_proto_tcp) return false;
  const std::uint32_t tracker = s_.addresses[s_.tracker_node];
  const auto sport = static_cast<std::uint16_t>(k.ports >> 16), dport = static_cast<std::uint16_t>(k.ports);
  return (k.dst == tracker && dport == s_.tracker_port) || (k.src == tracker && sport == s_.tracker_port);
}

void wire::note_wait(double us) {
  const auto w = static_cast<std::int64_t>(us);
  ++stats_.queued;
  stats_.queue_wait_total_us += w;
  stats_.queue_wait_max_us = std::max(stats_.queue_wait_max_us, w);
}

void wire::push(flight f) {
  heap_.push_back(std::move(f));
  std::push_heap(heap_.begin(), heap_.end(), later{});
}

wire::flight wire::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), later{});
  flight f = std::move(heap_.back());
  heap_.pop_back();
  return f;
}

void wire::on_packet(std::uint32_t from, core::bytes packet, std::int64_t now_us) {
  ++stats_.packets_in;
  stats_.bytes_in += packet.size();
  const auto addr = read_ipv4_addresses(packet);
  const auto to = addr ? node_of(addr->dst) : std::nullopt;
  if (from >= s_.addresses.size() || !to || *to == from) {
    ++stats_.unroutable;
    return;
  }
  if (tracker_blocked_ && is_tracker_traffic(packet)) {
    ++stats_.blocked;
    return;
  }
  const auto now = static_cast<double>(now_us);
  double depart = now;
  if (s_.upload_bps[from] > 0) {
    const double tx = tx_us(packet.size(), s_.upload_bps[from]);
    double& flow_sent = flow_sent_[flow_of(packet)];
    if (flow_sent <= now) {
      // A sparse flow (nothing of it queued): out ahead of the backlog, which leaves that much
      // later — what is already queued keeps its times, the next packets wait for this one.
      note_wait(0);
      depart = now + tx;
      up_free_[from] = std::max(up_free_[from], now) + tx;
    } else {
      const double start = std::max(now, up_free_[from]);
      if (start - now > static_cast<double>(s_.max_queue.count())) {
        ++stats_.queue_drops;
        return;
      }
      note_wait(start - now);
      up_free_[from] = start + tx;
      depart = up_free_[from];
    }
    flow_sent = depart;
    if (flow_sent_.size() > next_prune_) {
      std::erase_if(flow_sent_, [&](const auto& kv) { return kv.second < now - k_flow_idle_us; });
      next_prune_ = std::max(k_flow_table_prune, 2 * flow_sent_.size());  // amortised: O(1) a packet
    }
  }
  // Lost after the uplink: the packet used the sender's capacity, as on a real path.
  if (s_.loss > 0 && lose_(rng_)) {
    ++stats_.lost;
    return;
  }
  const auto delay =
      static_cast<double>(s_.one_way[static_cast<std::size_t>(from) * s_.addresses.size() + *to].count());
  push({static_cast<std::int64_t>(std::ceil(depart + delay)), order_++, *to, stage::at_downlink, std::move(packet)});
}

std::optional<wire::delivery> wire::poll_delivery(std::int64_t now_us) {
  while (!heap_.empty() && heap_.front().at <= now_us) {
    flight f = pop();
    if (f.st == stage::at_downlink && s_.download_bps[f.to] > 0) {
      // Reaching the downlink at f.at (not now: the driver may poll late).
      const auto arrive = static_cast<double>(f.at);
      const double start = std::max(arrive, down_free_[f.to]);
      if (start - arrive > static_cast<double>(s_.max_queue.count())) {
        ++stats_.queue_drops;
        continue;
      }
      note_wait(start - arrive);
      down_free_[f.to] = start + tx_us(f.packet.size(), s_.download_bps[f.to]);
      f.at = static_cast<std::int64_t>(std::ceil(down_free_[f.to]));
      f.st = stage::delivered;
      if (f.at > now_us) {
        push(std::move(f));
        continue;
      }
    }
    ++stats_.delivered;
    stats_.bytes_delivered += f.packet.size();
    const std::int64_t late = now_us - f.at;
    stats_.late_total_us += late;
    stats_.late_max_us = std::max(stats_.late_max_us, late);
    if (late > 1000) ++stats_.late_over_1ms;
    return delivery{f.to, std::move(f.packet)};
  }
  return std::nullopt;
}

std::optional<std::int64_t> wire::next_deadline() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().at;
}

}  // namespace meshcast::lab
