// link_shaper: one node's access link as `meshcast lab` emulates it in one process, sans-IO —
// an uplink shared by every connection of the node, a downlink, and per connection a one-way
// delay and a TCP loss model. The swarm transport tells it what each connection writes and
// reads; it answers when written bytes have left the node and when they reach the other end's
// socket, and when read bytes may be handed on. It never touches a socket or a clock. A real
// node has no shaper. docs/lab.md.
//
// Inputs:  open_path / set_delay / close_path (one path per connection), send(path, now, bytes),
//          receive(now, bytes).
// Outputs: poll_sent(now) — writes that have left the uplink, with their delivery time;
//          next_deadline() — when the next write leaves (call poll_sent then).
// Single-threaded: the event loop of the transport that owns the node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <unordered_map>

#include "core/time.hpp"

namespace meshcast::net {

/// A link of `bytes_per_s` as a token bucket that holds at most `burst_bytes` and may go into
/// debt: each reservation gets the moment its last byte has passed, first come first served.
/// Default: unlimited. (The downlink: what arrives is taken in arrival order.)
class token_bucket {
 public:
  token_bucket() = default;
  /// `bytes_per_s` <= 0: unlimited. The bucket starts full.
  token_bucket(double bytes_per_s, double burst_bytes);

  /// `bytes` enter the link at `now`, behind everything reserved before: returns when their last
  /// byte has passed (`now` while the bucket holds enough tokens). A clock that steps back
  /// queues behind what is already reserved.
  core::time_point reserve(core::time_point now, std::size_t bytes);
  /// Bytes reserved but not yet passed at `now` (the queue in front of the link).
  [[nodiscard]] double backlog(core::time_point now) const;
  [[nodiscard]] bool limited() const { return rate_ > 0; }
  [[nodiscard]] double bytes_per_s() const { return rate_; }

 private:
  double rate_ = 0;    // bytes per second; 0 = unlimited
  double burst_ = 0;   // bytes
  double tokens_ = 0;  // may be negative: the debt is the queue
  core::time_point last_{};
  bool started_ = false;
};

struct link_shaper_settings {
  double upload_bps = 0;    ///< bits/s of everything the node writes, all connections; 0 = unlimited
  double download_bps = 0;  ///< bits/s of everything it reads; 0 = unlimited
  /// Packet loss probability on the node's outgoing links (0..0.5). TCP turns loss into delay:
  /// a write of n packets is delayed with probability 1-(1-loss)^n by a retransmission timeout
  /// max(min_rto, 2·RTT) (RTT = twice the path's one-way delay), and everything after it on the
  /// connection waits behind it.
  double loss = 0;
  core::micros min_rto{200'000};            ///< Linux TCP_RTO_MIN
  std::size_t mss = 1448;                   ///< bytes per packet (Ethernet MTU less IP/TCP headers)
  std::size_t download_burst_bytes = 1500;  ///< downlink bucket depth: one packet
  std::uint64_t seed = 1;                   ///< loss draws
};

/// A write that has left the uplink.
struct sent_write {
  std::uint64_t path = 0;
  core::time_point released;   ///< its last byte left the node
  core::time_point delivered;  ///< hand it to the other end's socket (released + delay, + RTO)
  bool lost = false;           ///< a packet of it was lost and retransmitted
};

struct link_shaper_stats {
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint64_t writes = 0, losses = 0;
};

/// The uplink serialises chunk data first come first served, whichever connection wrote it (so
/// the node's own order — first copies of fresh chunks before the rest — is the order they
/// leave in); control messages (have, request, reject, ping...) go ahead of waiting chunk data,
/// as small packets of an otherwise idle TCP connection interleave with a bulk transfer in the
/// sender's queue: a request is never stuck behind a chunk sent to someone else, only behind
/// earlier bytes on its own connection (the writer sends one write at a time). The same uplink
/// as the simulator's (sim/, swarm/testing/sim_harness.hpp).
class link_shaper {
 public:
  explicit link_shaper(link_shaper_settings s);

  /// A connection's outgoing path, named by the caller (the transport's neighbour id). Its
  /// one-way delay is 0 until set_delay.
  void open_path(std::uint64_t path);
  void set_delay(std::uint64_t path, core::micros one_way);
  /// Forgets the path and drops its writes still waiting in the uplink (the socket is gone).
  void close_path(std::uint64_t path);

  /// `bytes` written on `path` at `now`: chunk data (`bulk`) or a control message. It leaves
  /// through poll_sent(); until then the writer should take nothing more on this path (a slow
  /// link's socket buffer is full: that is the backpressure the node's scheduler sees).
  void send(std::uint64_t path, core::time_point now, std::size_t bytes, bool bulk);
  /// The next write that has left the uplink by `now`, in the order they left.
  std::optional<sent_write> poll_sent(core::time_point now);
  /// When the next write leaves the uplink; unset when none waits (or all have left).
  [[nodiscard]] std::optional<core::time_point> next_deadline() const;

  /// `bytes` just read from a socket at `now`: hand them on at the returned time and read
  /// nothing more until then (TCP flow control then slows the sender).
  core::time_point receive(core::time_point now, std::size_t bytes);
  /// How many bytes to read at a time: ~10 ms of the download rate within [mss, 64 KiB] (the
  /// bytes of one read arrive together, so a big read would hold a chunk back behind the bytes
  /// after it); 64 KiB when unlimited.
  [[nodiscard]] std::size_t read_size() const;

  [[nodiscard]] const link_shaper_settings& settings() const { return s_; }
  [[nodiscard]] const link_shaper_stats& stats() const { return stats_; }
  /// Bytes waiting in the uplink, all paths.
  [[nodiscard]] double upload_backlog() const;

 private:
  struct write {
    std::uint64_t path = 0;
    std::size_t bytes = 0;
    double remaining = 0;  // bytes not yet serialised
  };
  struct path_state {
    core::micros one_way{0};
    core::time_point last_delivery{};
  };

  /// Serialises the uplink's queues up to `now`, control before bulk.
  void advance(core::time_point now);
  void release(const write& w, core::time_point at);

  link_shaper_settings s_;
  double up_rate_ = 0;  // bytes/s, 0 = unlimited
  token_bucket down_;
  std::unordered_map<std::uint64_t, path_state> paths_;
  std::deque<write> control_, bulk_;  // waiting in the uplink; the head of control_ goes first
  double served_at_us_ = 0;           // the uplink has served everything before this instant
  std::deque<sent_write> sent_;
  std::mt19937_64 rng_;
  link_shaper_stats stats_;
};

}  // namespace meshcast::net
