// http_server: the HTTP/1.1 front of a node (Boost.Beast, C++20 coroutines): HLS playlists and
// segments, continuous MPEG-TS, /api/v1/streams and /metrics, plus whatever routes the app adds
// (add_route). One coroutine per connection, keep-alive, header/body limits and timeouts.
// Runs on one io_context thread, the one that owns the stream registry: every member function
// must be called there. The io_context and the registry must outlive the server. See docs/http.md.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/message_generator.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "media/live_stream.hpp"
#include "media/ts_viewer.hpp"

namespace meshcast::net {

struct http_settings {
  boost::asio::ip::tcp::endpoint endpoint{boost::asio::ip::address_v4::any(), 8080};
  std::size_t playlist_segments = 6;    ///< segments listed in a live media playlist
  media::ts_viewer_settings ts_viewer;  ///< slow-viewer policy of continuous TS
  /// Waiting for the first request bytes and then the whole header; also the keep-alive idle time.
  std::chrono::milliseconds read_timeout{30'000};
  /// Writing one response, or one chunk of a continuous TS stream.
  std::chrono::milliseconds write_timeout{30'000};
  /// A playlist asked for before its stream has a complete segment waits this long, then 404.
  std::chrono::milliseconds playlist_wait{3'000};
  /// A continuous TS viewer waits this long for the stream's first segment start, then 404.
  std::chrono::milliseconds ts_start_wait{10'000};
  std::chrono::milliseconds poll_interval{50};  ///< how often those waits look again
  std::size_t header_limit = 8 * 1024;          ///< request line + headers; more -> 431
  std::size_t body_limit = 64 * 1024;           ///< request body; more -> 413
  std::size_t max_connections = 10'000;         ///< accepted beyond this are closed at once
  /// SO_SNDBUF of continuous TS sockets; 0 keeps the kernel's (auto-tuned, up to megabytes).
  /// Smaller makes a stalled viewer visible to the drop-forward policy sooner.
  int ts_send_buffer_bytes = 0;
};

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

/// One request as a route handler sees it.
struct http_exchange {
  const http_request& request;
  std::string_view path;             ///< the target without its query: "/live/cam.m3u8"
  std::string_view query;            ///< after '?', or empty
  std::string_view rest;             ///< the path after the matched route path
  boost::beast::tcp_stream& stream;  ///< only for handlers that write the response themselves
  std::string route_class;           ///< metrics label; the handler may refine it ("segment")
};

/// A handler's answer: a message for the server to write (keep-alive as the message says), or
/// nullopt when the handler wrote to the stream itself; the server then closes the connection.
using http_reply = std::optional<boost::beast::http::message_generator>;
using route_handler = std::function<boost::asio::awaitable<http_reply>(http_exchange&)>;
/// Appends Prometheus text (use prometheus_writer from net/metrics.hpp) to a /metrics answer.
using metrics_hook = std::function<void(std::string&)>;

/// Sets the headers every answer carries: Server, CORS (any origin: hls.js in browsers),
/// Content-Type, Cache-Control (left out when empty) and keep-alive as the request asks.
template <class Body>
void set_common_headers(boost::beast::http::response<Body>& res, const http_request& req,
                        std::string_view content_type, std::string_view cache_control) {
  res.set(boost::beast::http::field::server, "meshcast");
  res.set(boost::beast::http::field::access_control_allow_origin, "*");
  res.set(boost::beast::http::field::content_type, content_type);
  if (!cache_control.empty()) res.set(boost::beast::http::field::cache_control, cache_control);
  res.keep_alive(req.keep_alive());
}

/// A response with the headers every answer carries (Server, CORS, keep-alive as the request
/// asks), Content-Length set. `cache_control` empty leaves the header out.
http_response make_response(const http_request& req, boost::beast::http::status status,
                            std::string body, std::string_view content_type,
                            std::string_view cache_control = "no-cache");
/// A short text/plain answer, e.g. 404 "unknown stream live/foo". Never cached.
http_reply text_reply(const http_request& req, boost::beast::http::status status, std::string body);

/// Continuous TS counters of one stream.
struct ts_output_stats {
  std::int64_t viewers = 0;  ///< connected now
  std::uint64_t viewers_total = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t drop_forwards = 0;
  std::uint64_t slow_disconnects = 0;  ///< viewers closed by the ts_viewer policy
  std::size_t peak_queued_bytes = 0;   ///< largest queue any viewer had
};

class live_routes;

class http_server {
 public:
  /// Registers the built-in routes (GET /live/..., /api/v1/streams, /metrics); nothing is bound
  /// until start().
  http_server(boost::asio::io_context& ioc, media::stream_registry& streams,
              http_settings settings);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens on settings.endpoint (port 0 picks a free port) and starts accepting.
  /// Fails with a message naming the address: "http: cannot listen on 0.0.0.0:80: Permission
  /// denied".
  core::result<void> start();
  /// Stops accepting, closes every connection and ends continuous TS sessions at once
  /// (unsubscribed, viewers accounted). Idempotent; the server cannot be restarted.
  void stop();
  /// The bound address (valid after a successful start()).
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;

  /// Adds a route. `path` ending in '/' matches every path below it, otherwise the exact path;
  /// the longest match wins; a path that matches only with another method answers 405.
  /// Routes added later take precedence over built-in ones with the same path and method.
  void add_route(boost::beast::http::verb method, std::string path, route_handler handler,
                 std::string route_class = "other");
  /// Adds text to every /metrics answer, after the server's own families.
  void add_metrics(metrics_hook hook);

  /// Continuous TS counters of one stream ("live/cam"); zeros when it never had a viewer.
  [[nodiscard]] ts_output_stats ts_stats(std::string_view stream) const;
  /// Requests answered so far, by route class.
  [[nodiscard]] std::map<std::string, std::uint64_t, std::less<>> requests() const;
  [[nodiscard]] std::size_t open_connections() const;

  struct state;  // shared with the connection coroutines, which may outlive the server object

 private:
  std::shared_ptr<state> state_;
  std::unique_ptr<live_routes> live_;
};

}  // namespace meshcast::net
