#include "net/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_generator.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <set>
#include <vector>

#include "net/http_routes.hpp"
#include "net/endpoint.hpp"
#include "net/metrics.hpp"

namespace meshcast::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct route {
  http::verb method;
  std::string path;
  route_handler handler;
  std::string route_class;
};

}  // namespace

struct http_server::state {
  state(asio::io_context& ioc, http_settings s) : acceptor(ioc), settings(std::move(s)) {}

  tcp::acceptor acceptor;
  http_settings settings;
  std::vector<route> routes;
  std::vector<metrics_hook> metrics;
  std::set<beast::tcp_stream*> connections;
  std::map<std::string, std::uint64_t, std::less<>> requests;    // by route class
  std::map<std::string, std::uint64_t, std::less<>> bytes_sent;  // by route class
  std::uint64_t connections_total = 0;
  std::uint64_t connections_rejected = 0;
  std::uint64_t bad_requests = 0;
  bool started = false;
  bool stopped = false;
};

namespace {

using state_ptr = std::shared_ptr<http_server::state>;

// The status for a request that could not be parsed, or nullopt when the connection just ended
// (closed, reset, timed out) and there is nobody to answer.
std::optional<http::status> parse_error_status(const beast::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_method).category()) {
    return std::nullopt;
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return std::nullopt;
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return http::status::request_header_fields_too_large;
  }
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  return http::status::bad_request;
}

asio::awaitable<void> reject(const state_ptr& st, beast::tcp_stream& stream, http::status status,
                             std::string why) {
  http_request req;  // nothing usable came: answer HTTP/1.1 and close
  req.version(11);
  req.keep_alive(false);
  http_response res = make_response(req, status, std::move(why) + "\n", "text/plain");
  stream.expires_after(st->settings.write_timeout);
  co_await http::async_write(stream, res, use_tuple);
}

// Finds the route for `req` and runs it. `route_class` is set for the metrics.
asio::awaitable<http_reply> dispatch(state_ptr st, const http_request& req,
                                     beast::tcp_stream& stream, std::string& route_class) {
  const std::string_view target = req.target();
  if (target.empty() || target.front() != '/') {
    route_class = "bad_request";
    co_return text_reply(req, http::status::bad_request, "bad request target");
  }
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);

  if (req.method() == http::verb::options) {  // CORS preflight, for browsers
    route_class = "options";
    http_response res = make_response(req, http::status::no_content, "", "text/plain");
    res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
    res.set(http::field::access_control_allow_headers, "*");
    res.set(http::field::access_control_max_age, "86400");
    co_return http::message_generator(std::move(res));
  }

  const route* best = nullptr;
  std::string allow;
  for (const route& r : st->routes) {
    const bool match = r.path.ends_with('/') ? path.starts_with(r.path) : path == r.path;
    if (!match) continue;
    if (r.method != req.method()) {
      const std::string_view m = http::to_string(r.method);
      if (allow.find(m) == std::string::npos) allow += (allow.empty() ? "" : ", ") + std::string(m);
      continue;
    }
    if (!best || r.path.size() >= best->path.size()) best = &r;  // later wins a tie
  }
  if (!best) {
    if (!allow.empty()) {
      route_class = "bad_method";
      http_response res = make_response(req, http::status::method_not_allowed,
                                        "method " + std::string(req.method_string()) +
                                            " not allowed on " + std::string(path) + "\n",
                                        "text/plain");
      res.set(http::field::allow, allow);
      co_return http::message_generator(std::move(res));
    }
    route_class = "not_found";
    co_return text_reply(req, http::status::not_found, "no such path " + std::string(path));
  }

  // Copies: a handler may add routes while it runs.
  const route_handler handler = best->handler;
  http_exchange ex{req, path, query, path.substr(best->path.size()), stream, best->route_class};
  http_reply reply;
  std::string failure;
  try {
    reply = co_await handler(ex);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  route_class = ex.route_class;
  if (!failure.empty()) {
    spdlog::error("http: {} {} failed: {}", req.method_string(), target, failure);
    co_return text_reply(req, http::status::internal_server_error, "internal error");
  }
  co_return reply;
}

struct connection_guard {
  state_ptr st;
  beast::tcp_stream* stream;
  ~connection_guard() { st->connections.erase(stream); }
};

asio::awaitable<void> serve_connection(state_ptr st, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  if (st->stopped) co_return;
  st->connections.insert(&stream);
  const connection_guard guard{st, &stream};
  beast::flat_buffer buffer(st->settings.header_limit + st->settings.body_limit);

  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st->settings.header_limit));
    parser.body_limit(st->settings.body_limit);
    stream.expires_after(st->settings.read_timeout);
    const auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (st->stopped) co_return;
    if (ec) {
      // Malformed HTTP: answer once and close this connection only.
      if (const auto status = parse_error_status(ec)) {
        ++st->bad_requests;
        ++st->requests["bad_request"];
        spdlog::debug("http: malformed request: {}", ec.message());
        co_await reject(st, stream, *status, "malformed request: " + ec.message());
      }
      co_return;
    }

    const http_request req = parser.release();
    std::string route_class;
    http_reply reply = co_await dispatch(st, req, stream, route_class);
    ++st->requests[route_class];
    if (!reply || st->stopped) co_return;  // the handler wrote to the stream itself

    const bool keep_alive = reply->keep_alive();
    stream.expires_after(st->settings.write_timeout);
    const auto [wec, written] = co_await beast::async_write(stream, std::move(*reply), use_tuple);
    st->bytes_sent[route_class] += written;
    if (wec || !keep_alive || st->stopped) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(state_ptr st) {
  for (;;) {
    auto [ec, socket] = co_await st->acceptor.async_accept(use_tuple);
    if (st->stopped || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning on the error.
      spdlog::warn("http: accept failed: {}", ec.message());
      asio::steady_timer pause(st->acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      if (st->stopped) co_return;
      continue;
    }
    if (st->connections.size() >= st->settings.max_connections) {
      ++st->connections_rejected;
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++st->connections_total;
    asio::co_spawn(st->acceptor.get_executor(), serve_connection(st, std::move(socket)),
                   asio::detached);
  }
}

asio::awaitable<http_reply> serve_metrics(state_ptr st, http_exchange& ex) {
  std::string text;
  prometheus_writer w{text};
  w.family("meshcast_http_requests_total", "counter", "HTTP requests answered, by route class.");
  for (const auto& [cls, n] : st->requests)
    w.sample("meshcast_http_requests_total", {{"route", cls}}, n);
  w.family("meshcast_http_sent_bytes_total", "counter",
           "Bytes of HTTP responses written, headers included, by route class (continuous TS "
           "is counted in meshcast_ts_sent_bytes_total).");
  for (const auto& [cls, n] : st->bytes_sent) {
    w.sample("meshcast_http_sent_bytes_total", {{"route", cls}}, n);
  }
  w.family("meshcast_http_connections", "gauge", "Open HTTP connections.");
  w.sample("meshcast_http_connections", {}, static_cast<std::uint64_t>(st->connections.size()));
  w.family("meshcast_http_connections_total", "counter", "HTTP connections accepted.");
  w.sample("meshcast_http_connections_total", {}, st->connections_total);
  w.family("meshcast_http_rejected_connections_total", "counter",
           "HTTP connections closed at once because max_connections were open.");
  w.sample("meshcast_http_rejected_connections_total", {}, st->connections_rejected);
  w.family("meshcast_http_bad_requests_total", "counter",
           "Malformed HTTP requests (answered 400, 413 or 431, connection closed).");
  w.sample("meshcast_http_bad_requests_total", {}, st->bad_requests);
  for (const auto& hook : st->metrics) hook(text);
  co_return http::message_generator(make_response(ex.request, http::status::ok, std::move(text),
                                                  "text/plain; version=0.0.4; charset=utf-8"));
}

}  // namespace

http_response make_response(const http_request& req, http::status status, std::string body,
                            std::string_view content_type, std::string_view cache_control) {
  http_response res{status, req.version()};
  set_common_headers(res, req, content_type, cache_control);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http_reply text_reply(const http_request& req, http::status status, std::string body) {
  if (!body.ends_with('\n')) body += '\n';
  return http::message_generator(
      make_response(req, status, std::move(body), "text/plain; charset=utf-8", "no-cache"));
}

http_server::http_server(asio::io_context& ioc, media::stream_registry& streams,
                         http_settings settings)
    : state_(std::make_shared<state>(ioc, std::move(settings))),
      live_(std::make_unique<live_routes>(streams, state_->settings)) {
  // Weak: the state holds the routes, a strong capture would keep it alive forever. The
  // connection running the handler holds the state, so lock() always succeeds there.
  add_route(
      http::verb::get, "/metrics",
      [weak = std::weak_ptr<state>(state_)](http_exchange& ex) {
        return serve_metrics(weak.lock(), ex);
      },
      "metrics");
  live_->install(*this);
}

http_server::~http_server() {
  stop();
  // Handlers and hooks may hold anything of the app's; connection coroutines still alive hold
  // the state but dispatch nothing after stop().
  state_->routes.clear();
  state_->metrics.clear();
}

core::result<void> http_server::start() {
  state& st = *state_;
  const std::string where = endpoint_text(st.settings.endpoint);
  if (st.started || st.stopped) {
    return core::error{1, "http: server on " + where + " already started"};
  }
  if (auto r = listen_on(st.acceptor, st.settings.endpoint, "http"); !r) return r;
  st.started = true;
  spdlog::info("http: listening on {}", endpoint_text(local_endpoint()));
  asio::co_spawn(st.acceptor.get_executor(), accept_loop(state_), asio::detached);
  return core::ok();
}

void http_server::stop() {
  state& st = *state_;
  if (st.stopped) return;
  st.stopped = true;
  live_->stop();
  beast::error_code ignored;
  st.acceptor.close(ignored);
  // Pending reads and writes complete with operation_aborted; each coroutine then ends.
  for (beast::tcp_stream* s : st.connections) s->close();
}

asio::ip::tcp::endpoint http_server::local_endpoint() const {
  beast::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

void http_server::add_route(http::verb method, std::string path, route_handler handler,
                            std::string route_class) {
  state_->routes.push_back(
      route{method, std::move(path), std::move(handler), std::move(route_class)});
}

void http_server::add_metrics(metrics_hook hook) { state_->metrics.push_back(std::move(hook)); }

ts_output_stats http_server::ts_stats(std::string_view stream) const {
  return live_->ts_stats(stream);
}

std::map<std::string, std::uint64_t, std::less<>> http_server::requests() const {
  return state_->requests;
}

std::size_t http_server::open_connections() const { return state_->connections.size(); }

}  // namespace meshcast::net
