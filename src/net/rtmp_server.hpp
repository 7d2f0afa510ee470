// rtmp_server: the RTMP ingest listener (Boost.Asio, C++20 coroutines). One coroutine per TCP
// connection drives a proto::rtmp::session (read -> on_bytes -> write what it transmits), checks
// the stream key on publish, and feeds the publisher's media through media::flv_ingest into
// stream_registry (begin_publish / push / end_publish). A bad client is logged with its session id
// and peer, counted, and closed alone. Runs on one single-threaded io_context, which owns the
// registry: every member function must be called on that thread; the io_context and the registry
// must outlive the server. See docs/rtmp.md.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "media/flv_ingest.hpp"
#include "media/live_stream.hpp"
#include "proto/rtmp/session.hpp"

namespace meshcast::net {

struct rtmp_server_settings {
  boost::asio::ip::tcp::endpoint endpoint{boost::asio::ip::address_v4::any(), 1935};
  /// Chunk size, handshake and idle timeouts (10 s each), message and chunk stream limits.
  proto::rtmp::session_settings session;
  media::flv_ingest_settings ingest;
  std::size_t max_connections = 1000;  ///< connections accepted beyond this are closed at once
};

/// Counters for /metrics and /api/v1/stats; read them on the io_context thread.
struct rtmp_server_stats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  ///< over max_connections
  std::uint64_t connections_active = 0;
  std::uint64_t publishes_accepted = 0;
  std::uint64_t publishes_rejected = 0;   ///< bad app/name, bad key, stream already live
  std::uint64_t protocol_errors = 0;      ///< connections closed for malformed input or limits
  std::uint64_t timeouts = 0;             ///< connections closed by the handshake/idle timers
  std::uint64_t media_errors = 0;         ///< FLV tags skipped as malformed, unsupported codecs
  std::uint64_t bytes_in = 0;
  std::uint64_t frames_in = 0;            ///< frames pushed into streams
};

/// Decides whether `key` may publish `stream_name` ("live/NAME"); the error message is logged
/// and sent to the client in NetStream.Publish.Denied.
using key_checker =
    std::function<core::result<void>(const std::string& stream_name, const std::string& key)>;

class rtmp_server {
 public:
  /// `check` may be empty: every publish is then denied.
  rtmp_server(boost::asio::io_context& io, media::stream_registry& streams, key_checker check,
              rtmp_server_settings settings = {});
  ~rtmp_server();
  rtmp_server(const rtmp_server&) = delete;
  rtmp_server& operator=(const rtmp_server&) = delete;

  /// Binds and starts accepting. Fails with e.g.
  /// "rtmp: cannot listen on 0.0.0.0:1935: Address already in use".
  core::result<void> start();
  /// Stops accepting and closes every connection; live publications end at once.
  void stop();

  /// The bound address (with the real port when the settings said port 0).
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;
  [[nodiscard]] rtmp_server_stats stats() const;
  /// Appends the counters in Prometheus text format (meshcast_rtmp_* families).
  void write_metrics(std::string& out) const;

  struct state;  ///< implementation; shared with the connections so they may outlive stop()

 private:
  std::shared_ptr<state> state_;
};

}  // namespace meshcast::net
