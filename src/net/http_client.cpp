#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "net/endpoint.hpp"

namespace meshcast::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

struct http_client::in_flight {
  beast::tcp_stream* stream = nullptr;
  bool cancelled = false;
};

core::result<http_url> parse_http_url(std::string_view url) {
  constexpr std::string_view k_scheme = "http://";
  if (!url.starts_with(k_scheme)) {
    return core::error{1, "only http:// URLs are supported, got '" + std::string(url) + "'"};
  }
  const std::string_view rest = url.substr(k_scheme.size());
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (authority.empty()) return core::error{1, "no host in URL '" + std::string(url) + "'"};

  // A port is present when a ':' follows the host ("[::1]:80", "127.0.0.1:80").
  const bool bracketed = authority.front() == '[';
  const auto close = authority.find(']');
  const bool has_port = bracketed ? (close != std::string_view::npos &&
                                     close + 1 < authority.size() && authority[close + 1] == ':')
                                  : authority.find(':') != std::string_view::npos;
  std::string with_port(authority);
  if (!has_port) with_port += ":80";
  auto ep = parse_endpoint(with_port);
  if (!ep) return ep.error().with_context("URL '" + std::string(url) + "'");
  if (ep->address().is_unspecified()) {
    return core::error{1, "URL '" + std::string(url) + "' names no host to connect to"};
  }
  return http_url{*ep, std::string(authority), std::string(path)};
}

asio::awaitable<core::result<http_client_response>> http_client::request(
    const http_url& url, http::verb method, std::string target, std::string body,
    http_client_limits limits, http_headers headers) {
  beast::tcp_stream stream(executor_);
  in_flight self{&stream, false};
  current_ = &self;
  struct reset_guard {
    http_client* client;
    in_flight* self;
    ~reset_guard() {
      if (client->current_ == self) client->current_ = nullptr;
    }
  } guard{this, &self};

  const std::string full_target = url.base_path + target;
  const std::string where = "http://" + url.authority + full_target;
  const auto fail = [&](std::string_view step, const beast::error_code& ec) {
    if (self.cancelled) {
      return core::make_error(http_client_errc::cancelled,
                              where + ": " + std::string(step) + ": cancelled");
    }
    if (ec == beast::error::timeout) {
      return core::make_error(http_client_errc::timeout,
                              where + ": " + std::string(step) + ": timed out after " +
                                  std::to_string(limits.timeout.count()) + " ms");
    }
    if (ec == http::error::body_limit) {
      return core::make_error(
          http_client_errc::too_large,
          where + ": response body exceeds " + std::to_string(limits.body_limit) + " bytes");
    }
    return core::make_error(step == "connect" ? http_client_errc::connect : http_client_errc::io,
                            where + ": " + std::string(step) + ": " + ec.message());
  };

  stream.expires_after(limits.timeout);  // one deadline for the whole exchange
  auto [cec] = co_await stream.async_connect(url.endpoint, use_tuple);
  if (cec || self.cancelled) co_return fail("connect", cec);

  http::request<http::string_body> req{method, full_target, 11};
  req.set(http::field::host, url.authority);
  req.set(http::field::user_agent, "meshcast");
  req.keep_alive(false);
  for (auto& [name, value] : headers) req.set(name, value);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
  }
  req.prepare_payload();
  auto [wec, written] = co_await http::async_write(stream, req, use_tuple);
  if (wec || self.cancelled) co_return fail("write", wec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(limits.body_limit);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (rec || self.cancelled) co_return fail("read", rec);

  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  auto res = parser.release();
  http_client_response out;
  out.status = res.result_int();
  out.content_type = std::string(res[http::field::content_type]);
  out.body = std::move(res.body());
  co_return out;
}

void http_client::cancel() {
  if (!current_) return;
  current_->cancelled = true;
  current_->stream->cancel();
}

asio::awaitable<core::result<http_client_response>> send_http_request(
    asio::any_io_executor executor, const http_url& url, http::verb method, std::string target,
    std::string body, std::chrono::milliseconds timeout, http_headers headers) {
  http_client client(std::move(executor));
  co_return co_await client.request(url, method, std::move(target), std::move(body),
                                    http_client_limits{.timeout = timeout}, std::move(headers));
}

}  // namespace meshcast::net
