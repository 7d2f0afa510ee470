// netns_wire: the links between the nodes of a lab run in network namespaces, emulated in the lab
// process. Every node's namespace has one TUN device; the lab reads each IPv4 packet a node sends,
// gives it to the wire, and writes what the wire delivers into the destination's TUN. A packet
// from a to b goes through, like a chunk in the simulator:
//   a's uplink (at upload_bps; tail drop past max_queue of backlog) → loss (plan.loss)
//   → one-way delay (plan.one_way(a, b): both access delays plus the region delay)
//   → b's downlink (FIFO at download_bps, same queue bound) → delivered.
// The uplink is a FIFO except for sparse flows, as fq_codel (a home router's usual qdisc) treats
// them: a packet of a flow (addresses and ports) with nothing of it still queued goes out ahead
// of the backlog, so a node uploading a chunk does not hold up its own requests, haves and ACKs
// on its other connections for the chunk's whole serialisation (as the in-process lab's shaper
// and the simulator send control messages ahead of chunk data). A flow's packets never overtake
// each other; per-pair delays are constant: one flow is never reordered.
// tracker_stop is modelled by dropping TCP to and from the tracker port of one node (the origin,
// which embeds the tracker): the tracker "stops answering" while the swarm carries on.
// Why in user space and not tc netem: the kernel this lab must run on may lack sch_netem (this
// one does: only tbf/htb, no qdisc can delay a packet); TUN is always there, and the same link
// model as the simulator and the in-process lab makes the three comparable. docs/lab.md.
// Sans-IO: on_packet(from, bytes, now) in; poll_delivery(now), next_deadline() out. Times are
// microseconds of one monotonic clock. Single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "core/bytes.hpp"
#include "core/time.hpp"

namespace meshcast::lab {

struct wire_settings {
  std::vector<std::uint32_t> addresses;  ///< node i's IPv4 address, host byte order
  std::vector<double> upload_bps;        ///< per node, bits/s; 0 = unlimited
  std::vector<double> download_bps;      ///< per node, bits/s; 0 = unlimited
  std::vector<core::micros> one_way;     ///< n×n, row-major: [a * n + b] = delay from a to b
  double loss = 0;                       ///< probability a packet is lost (each packet, once)
  std::uint64_t seed = 1;
  /// A packet finding more than this backlog ahead of it on an uplink or downlink is dropped:
  /// a home router's buffer. A node's upload budget lets one chunk burst out (at least 16 KiB,
  /// 260 ms at 0.5 Mbit/s), which must fit: at 250 ms, ~0.8 % of the CI scenario's packets were
  /// dropped and its slowest peers lost continuity; at 500 ms a handful are. Bounded, so a
  /// sustained overload shows as loss rather than seconds of queue (netem's default of 1000
  /// packets would be 12 s at 1 Mbit/s).
  core::micros max_queue{500'000};
  std::uint32_t tracker_node = 0;     ///< the node whose tracker port tracker blocking affects
  std::uint16_t tracker_port = 8080;  ///< TCP port of the tracker at tracker_node
};

struct wire_stats {
  std::uint64_t packets_in = 0, bytes_in = 0;
  std::uint64_t delivered = 0, bytes_delivered = 0;
  std::uint64_t lost = 0;         ///< by the loss model
  std::uint64_t queue_drops = 0;  ///< uplink or downlink backlog over max_queue
  std::uint64_t unroutable = 0;   ///< not IPv4, malformed, or to an address no node has
  std::uint64_t blocked = 0;      ///< tracker traffic while the tracker is stopped
  // Time packets waited behind others on uplinks and downlinks (capped links only).
  std::int64_t queue_wait_total_us = 0, queue_wait_max_us = 0;
  std::uint64_t queued = 0;  ///< packets that went through a capped link
  // How late the driver delivered (now − due, at poll_delivery): the emulation's own error.
  std::uint64_t late_over_1ms = 0;
  std::int64_t late_max_us = 0;
  std::int64_t late_total_us = 0;
};

class wire {
 public:
  /// Sizes of the per-node vectors must match `addresses` (one_way: its square); asserted.
  explicit wire(wire_settings s);

  /// One IPv4 packet node `from` sent, at `now_us`.
  void on_packet(std::uint32_t from, core::bytes packet, std::int64_t now_us);

  struct delivery {
    std::uint32_t to = 0;
    core::bytes packet;
  };
  /// The next packet due for delivery by `now_us`, in time order; nullopt when none is due yet.
  std::optional<delivery> poll_delivery(std::int64_t now_us);
  /// When poll_delivery will next have something (nullopt: nothing in flight).
  [[nodiscard]] std::optional<std::int64_t> next_deadline() const;

  /// tracker_stop / tracker_start.
  void set_tracker_blocked(bool blocked) { tracker_blocked_ = blocked; }
  [[nodiscard]] std::optional<std::uint32_t> node_of(std::uint32_t address) const;
  [[nodiscard]] const wire_stats& stats() const { return stats_; }
  [[nodiscard]] std::size_t in_flight() const { return heap_.size(); }

 private:
  enum class stage : std::uint8_t { at_downlink, delivered };
  struct flight {
    std::int64_t at = 0;
    std::uint64_t order = 0;  // ties in time: first sent first
    std::uint32_t to = 0;
    stage st = stage::at_downlink;
    core::bytes packet;
  };
  struct later {
    bool operator()(const flight& a, const flight& b) const { return a.at != b.at ? a.at > b.at : a.order > b.order; }
  };

  struct flow_key {
    std::uint32_t src = 0, dst = 0;
    std::uint32_t ports = 0;  // source << 16 | destination (TCP, UDP); 0 for other protocols
    std::uint8_t proto = 0;
    bool operator==(const flow_key&) const = default;
  };
  struct flow_hash {
    std::size_t operator()(const flow_key& k) const {
      return std::hash<std::uint64_t>{}((std::uint64_t{k.src} << 32 | k.dst) ^ (std::uint64_t{k.ports} << 8 | k.proto) * 0x9e3779b97f4a7c15ULL);
    }
  };
  [[nodiscard]] static flow_key flow_of(const core::bytes& p);
  [[nodiscard]] bool is_tracker_traffic(const core::bytes& p) const;
  void note_wait(double us);
  void push(flight f);
  flight pop();

  wire_settings s_;
  std::unordered_map<std::uint32_t, std::uint32_t> by_address_;
  std::vector<double> up_free_, down_free_;  // µs at which each link is idle again
  std::unordered_map<flow_key, double, flow_hash> flow_sent_;  // when each flow's last packet leaves its uplink
  std::size_t next_prune_ = 4096;  // forget idle flows once the table grows past this
  std::vector<flight> heap_;
  std::uint64_t order_ = 0;
  std::mt19937_64 rng_;
  std::bernoulli_distribution lose_;
  bool tracker_blocked_ = false;
  wire_stats stats_;
};

/// Destination and source address of an IPv4 packet (host byte order); nullopt if it is not one.
struct ipv4_addresses {
  std::uint32_t src = 0, dst = 0;
};
std::optional<ipv4_addresses> read_ipv4_addresses(core::byte_view packet);

}  // namespace meshcast::lab
