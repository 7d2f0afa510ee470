// node_recorder: writes a swarm member's lab record (lab/sansio/record.hpp) while `meshcast origin|peer
// --record FILE` runs: its join; at the origin every chunk produced; at a peer its join point and
// every chunk arriving from the swarm (node::poll_arrival, drained right after the input that
// stored it, and on every tick); duplicate bytes and bytes sent (node and transport counters
// sampled every 100 ms as deltas); and, on stop(), its leaving. Writes out at every tick.
// Lives on the member's io_context thread; owned by swarm_member, which calls stop() before the
// node and transport go.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <unordered_map>

#include "chunk/chunk_log.hpp"
#include "lab/sansio/record.hpp"
#include "net/swarm_transport.hpp"
#include "swarm/node.hpp"

namespace meshcast::app {

class node_recorder {
 public:
  /// `producer`: record chunks stored in `log` as produced (the origin's source peer) rather than
  /// draining arrivals.
  node_recorder(boost::asio::io_context& io, lab::record_writer writer, swarm::node& node,
                net::swarm_transport& transport, chunk::chunk_log& log, bool producer);
  ~node_recorder();
  node_recorder(const node_recorder&) = delete;
  node_recorder& operator=(const node_recorder&) = delete;

  /// Writes the join line and starts sampling.
  void start();
  /// Last samples, the `left` line, flush. Idempotent; nothing is written afterwards.
  void stop();

 private:
  void on_stored(const chunk::chunk_ptr& c);
  void drain();
  void sample();
  void tick();
  std::string sender_hex(swarm::neighbour_id n);

  boost::asio::io_context& io_;
  lab::record_writer writer_;
  swarm::node& node_;
  net::swarm_transport& transport_;
  chunk::chunk_log& log_;
  bool producer_;
  boost::asio::steady_timer timer_;
  chunk::chunk_log::listener_id listener_ = 0;
  std::unordered_map<swarm::neighbour_id, std::string> senders_;  // neighbour → node id hex
  std::uint64_t wire_out_ = 0, payload_out_ = 0, duplicate_bytes_ = 0;
  bool join_point_written_ = false;
  bool drain_posted_ = false;
  bool stopped_ = false;
  bool write_failed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted drains check it
};

}  // namespace meshcast::app
