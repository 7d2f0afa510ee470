// swarm_transport: the Asio driver of a swarm::node over TCP. One proto::swarm::session per
// connection (accepted or dialled); it feeds the node what the sessions decode, asks the node
// for the next message whenever a connection's writer is idle, dials and drops what the node
// orders, and keeps the node's and sessions' timers. Also estimates this node's clock offset to
// the origin from the sessions' RTT samples. Everything runs on one io_context thread.
// With a link_shaper in its settings (`meshcast lab` only) every write passes the node's emulated
// uplink and waits out the one-way delay to its neighbour, and reads pass its downlink.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"
#include "net/link_shaper.hpp"
#include "proto/swarm/session.hpp"
#include "swarm/node.hpp"

namespace meshcast::net {

struct swarm_transport_settings {
  boost::asio::ip::tcp::endpoint listen{boost::asio::ip::address_v4::any(), 7070};
  proto::swarm::session_settings session;
  std::size_t max_connections = 256;  ///< accepted + dialled; more are closed at once
  std::chrono::milliseconds connect_timeout{5'000};
  /// Link emulation (`meshcast lab`): this node's access link, shared by all its connections.
  /// Null (a real node): bytes go to the socket at once, as fast as TCP takes them.
  std::shared_ptr<link_shaper> shaper;
  /// With a shaper: the one-way delay to the node a neighbour's hello names. Applied from the
  /// moment that hello arrives (the two hellos themselves cross undelayed); unset = 0.
  std::function<core::micros(const proto::swarm::hello&)> link_delay;
  /// The node's time: the wall clock, or a lab's dilated clock (`meshcast lab --dilation`), whose
  /// spans the transport stretches into its timers' wall time.
  core::dilated_clock clock;
};

struct swarm_transport_stats {
  std::uint64_t accepted = 0;
  std::uint64_t dialled = 0;
  std::uint64_t dial_failures = 0;
  std::uint64_t closed_malformed = 0;  ///< sessions closed for protocol errors (ours or theirs)
  std::uint64_t accept_stalls = 0;     ///< accepts that failed for want of file descriptors
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t payload_in = 0, payload_out = 0;
  std::size_t connections = 0;
};

/// A connection as the stats page shows it.
struct swarm_connection_info {
  swarm::neighbour_id id = 0;
  std::string remote;  ///< "127.0.0.1:7071"
  bool inbound = false;
  bool established = false;
  std::optional<proto::swarm::hello> hello;
  std::optional<core::micros> rtt;
  proto::swarm::session_stats stats;
};

class swarm_transport {
 public:
  /// `local` is the hello this node sends (its listen_port is filled in by start()).
  swarm_transport(boost::asio::io_context& io, swarm::node& node, proto::swarm::hello local,
                  swarm_transport_settings settings);
  ~swarm_transport();
  swarm_transport(const swarm_transport&) = delete;
  swarm_transport& operator=(const swarm_transport&) = delete;

  /// Binds the listen address; "swarm: cannot listen on 0.0.0.0:7070: Address already in use".
  core::result<void> start();
  /// Closes every connection with close_reason::shutdown and stops accepting. Idempotent.
  void stop();
  /// Closes every socket at once, sending nothing more, and stops accepting: a node that crashed
  /// or was killed (the lab's kill event). The node is told nothing; do not use it afterwards.
  void abort();
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;

  /// Call after giving the node input from outside the transport (on_local_chunk,
  /// on_candidates): the node may now have messages to write and dials to make.
  void poke();

  /// Dials a node directly (the --join bootstrap); the node hears of it on handshake.
  void dial(const boost::asio::ip::tcp::endpoint& ep);

  /// Checks each remote hello before the node hears of it; a reason closes the connection.
  void set_hello_filter(std::function<std::optional<proto::swarm::close_reason>(const proto::swarm::hello&)> f);
  /// Told of every connection the node keeps, once its handshake completed: the neighbour id
  /// the node will name it by, and its hello (the lab maps neighbour ids to its node indices).
  void set_neighbour_observer(std::function<void(swarm::neighbour_id, const proto::swarm::hello&)> f);
  /// The origin key our hello names from now on (new connections).
  void set_origin_key(const std::array<std::uint8_t, 32>& key);

  /// This node's estimate of (origin clock − local clock); 0 at the origin.
  [[nodiscard]] core::micros origin_offset() const;
  void set_is_origin(bool origin);

  [[nodiscard]] swarm_transport_stats stats() const;
  [[nodiscard]] std::vector<swarm_connection_info> connections() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace meshcast::net
