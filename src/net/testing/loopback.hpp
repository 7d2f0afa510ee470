#pragma once

// Shared fixtures for the net tests: driving an io_context from the test thread until a
// condition holds, servers on 127.0.0.1:0, and a blocking HTTP request helper.

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/http_client.hpp"

namespace meshcast::net::testing {

/// 127.0.0.1 with port 0: the OS picks a free port.
inline boost::asio::ip::tcp::endpoint loopback_any() {
  return {boost::asio::ip::address_v4::loopback(), 0};
}

/// "http://127.0.0.1:PORT"
inline std::string loopback_url(std::uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

/// Runs the event loop (server and test clients alike) until `pred` or the timeout.
inline bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& pred,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(10));
  }
  return true;
}

/// Runs the event loop for `d`.
inline void run_for(boost::asio::io_context& ioc, std::chrono::milliseconds d) {
  run_until(ioc, [] { return false; }, d);
}

/// A port where nothing listens (bound once, then released).
inline std::uint16_t closed_port(boost::asio::io_context& ioc) {
  boost::asio::ip::tcp::acceptor a(ioc, loopback_any());
  return a.local_endpoint().port();
}

/// A server that accepts connections and never answers.
struct silent_server {
  explicit silent_server(boost::asio::io_context& ioc) : acceptor(ioc, loopback_any()) {
    boost::asio::co_spawn(ioc, accept(), boost::asio::detached);
  }
  silent_server(const silent_server&) = delete;
  silent_server& operator=(const silent_server&) = delete;
  ~silent_server() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    for (auto& s : held) s->close(ignored);
  }

  boost::asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, s] =
          co_await acceptor.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      held.push_back(std::make_unique<boost::asio::ip::tcp::socket>(std::move(s)));
    }
  }

  [[nodiscard]] std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  boost::asio::ip::tcp::acceptor acceptor;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> held;
};

/// Sends one request with send_http_request and runs `ioc` until it completes (5 s at most).
/// Fails the current test (non-fatally) if it does not complete or errs; then returns {}.
inline http_client_response blocking_request(boost::asio::io_context& ioc, const http_url& url,
                                             boost::beast::http::verb verb, std::string target,
                                             std::string body = "",
                                             std::chrono::milliseconds timeout =
                                                 std::chrono::seconds(2)) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  auto out = std::make_shared<std::optional<core::result<http_client_response>>>();
  asio::co_spawn(
      ioc,
      [](asio::any_io_executor ex, http_url u, http::verb v, std::string t, std::string b,
         std::chrono::milliseconds to,
         std::shared_ptr<std::optional<core::result<http_client_response>>> o)
          -> asio::awaitable<void> {
        *o = co_await send_http_request(ex, u, v, std::move(t), std::move(b), to);
      }(ioc.get_executor(), url, verb, std::move(target), std::move(body), timeout, out),
      asio::detached);
  EXPECT_TRUE(run_until(ioc, [&] { return out->has_value(); }));
  if (!out->has_value()) return {};
  EXPECT_TRUE(**out) << (**out).error().message;
  return **out ? ***out : http_client_response{};
}

}  // namespace meshcast::net::testing
