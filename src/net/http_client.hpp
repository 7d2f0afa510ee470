// http_client: a small HTTP/1.1 client (Boost.Beast, C++20 coroutines) for meshcast's own
// control requests — the tracker announce and leave. http:// only, numeric host or localhost (no
// DNS), one connection per request (Connection: close), one deadline for the whole exchange,
// response body capped. Failures are result errors naming the URL and the step, never
// exceptions. Event-loop thread only; an http_client must outlive the requests it runs.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace meshcast::net {

/// Where requests go: "http://127.0.0.1:8080/prefix" parsed.
struct http_url {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string authority;  ///< "127.0.0.1:8080": the Host header and error messages
  std::string base_path;  ///< "" or "/prefix" (no trailing slash): prepended to every target
};

/// "http://ADDR[:PORT][/PATH]" -> http_url (port 80 by default). ADDR is numeric IPv4,
/// [IPv6] or localhost. Errors name what was wrong: "only http:// URLs are supported, got ...".
core::result<http_url> parse_http_url(std::string_view url);

/// Per-domain error codes of http_client errors (core::error::code).
enum class http_client_errc { connect = 1, timeout = 2, io = 3, too_large = 4, cancelled = 5 };

struct http_client_response {
  unsigned status = 0;
  std::string body;
  std::string content_type;
};

using http_headers = std::vector<std::pair<std::string, std::string>>;

/// Limits of one request.
struct http_client_limits {
  std::chrono::milliseconds timeout{5'000};  ///< connect + write + read, in all
  std::size_t body_limit = 1 << 20;          ///< response body; more -> too_large
};

/// Runs requests one at a time and can abort the one in flight (for a prompt shutdown).
class http_client {
 public:
  explicit http_client(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends `method url.base_path+target` with `body` (Content-Type application/json when not
  /// empty) and `headers`, and reads the whole response. Any status is a value; only a failure
  /// to get one is an error: "http://127.0.0.1:9/api/v1/announce: connect: Connection refused".
  boost::asio::awaitable<core::result<http_client_response>> request(
      const http_url& url, boost::beast::http::verb method, std::string target, std::string body,
      http_client_limits limits = {}, http_headers headers = {});

  /// Ends the request in flight now with a `cancelled` error. No effect when none is.
  void cancel();

 private:
  struct in_flight;
  boost::asio::any_io_executor executor_;
  in_flight* current_ = nullptr;
};

/// One request on a throwaway client: send_http_request(ex, url, verb::post, "/api/v1/announce",
/// body, 5s).
boost::asio::awaitable<core::result<http_client_response>> send_http_request(
    boost::asio::any_io_executor executor, const http_url& url, boost::beast::http::verb method,
    std::string target, std::string body, std::chrono::milliseconds timeout,
    http_headers headers = {});

}  // namespace meshcast::net
