#include "net/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/message_generator.hpp>
#include <functional>
#include <memory>

#include "net/http_server.hpp"
#include "net/testing/loopback.hpp"

namespace meshcast::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

TEST(http_client_url, numeric_hosts_and_localhost_are_accepted) {
  auto u = parse_http_url("http://127.0.0.1:8080");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->endpoint, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 8080));
  EXPECT_EQ(u->authority, "127.0.0.1:8080");
  EXPECT_EQ(u->base_path, "");
  u = parse_http_url("http://localhost/tracker/");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->endpoint.port(), 80);
  EXPECT_EQ(u->base_path, "/tracker");
  u = parse_http_url("http://[::1]:9000/");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_TRUE(u->endpoint.address().is_v6());
  EXPECT_EQ(u->endpoint.port(), 9000);
  u = parse_http_url("http://[::1]");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->endpoint.port(), 80);
}

TEST(http_client_url, other_schemes_names_and_nowhere_are_refused) {
  EXPECT_EQ(parse_http_url("https://127.0.0.1").error().message,
            "only http:// URLs are supported, got 'https://127.0.0.1'");
  EXPECT_FALSE(parse_http_url("http://tracker.example.com:80"));
  EXPECT_FALSE(parse_http_url("http://"));
  EXPECT_FALSE(parse_http_url("http://127.0.0.1:99999"));
  EXPECT_FALSE(parse_http_url("http://0.0.0.0:80"));
  EXPECT_FALSE(parse_http_url("127.0.0.1:80"));
}

class http_client_test : public ::testing::Test {
 protected:
  struct outcome {
    bool done = false;
    std::optional<core::result<http_client_response>> result;
  };

  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
    return testing::run_until(ioc, pred, timeout);
  }

  std::shared_ptr<outcome> spawn(http_client& c, const http_url& url, http::verb verb,
                                 std::string target, std::string body,
                                 std::chrono::milliseconds timeout = 2s) {
    auto out = std::make_shared<outcome>();
    asio::co_spawn(
        ioc,
        [](http_client& cl, http_url u, http::verb v, std::string t, std::string b,
           std::chrono::milliseconds to, std::shared_ptr<outcome> o) -> asio::awaitable<void> {
          o->result = co_await cl.request(u, v, std::move(t), std::move(b),
                                          http_client_limits{.timeout = to});
          o->done = true;
        }(c, url, verb, std::move(target), std::move(body), timeout, out),
        asio::detached);
    return out;
  }

  // A port where nothing listens (bound once, then released).
  std::uint16_t closed_port() { return testing::closed_port(ioc); }

  asio::io_context ioc;
  http_client client{ioc.get_executor()};
};

TEST_F(http_client_test, status_and_body_come_back_whatever_the_status) {
  media::stream_registry streams{media::stream_settings{}};
  http_settings hs;
  hs.endpoint = testing::loopback_any();
  http_server server(ioc, streams, hs);
  server.add_route(
      http::verb::post, "/echo",
      [](http_exchange& ex) -> asio::awaitable<http_reply> {
        auto res = make_response(ex.request, http::status::created,
                                 std::string(ex.request[http::field::content_type]) + " " +
                                     ex.request.body() + " " + std::string(ex.request["X-Test"]),
                                 "text/plain");
        co_return http::message_generator(std::move(res));
      },
      "test");
  ASSERT_TRUE(server.start());
  const http_url url =
      *parse_http_url("http://127.0.0.1:" + std::to_string(server.local_endpoint().port()) + "/");

  auto out = std::make_shared<outcome>();
  asio::co_spawn(
      ioc,
      [](http_url u, std::shared_ptr<outcome> o,
         asio::any_io_executor ex) -> asio::awaitable<void> {
        // Named, not literals: GCC 12 miscompiles array temporaries in a co_await expression.
        std::string target = "/echo";
        std::string body = "{\"a\":1}";
        http_headers headers{{std::string("X-Test"), std::string("yes")}};
        o->result = co_await send_http_request(ex, u, http::verb::post, std::move(target),
                                               std::move(body), 2s, std::move(headers));
        o->done = true;
      }(url, out, ioc.get_executor()),
      asio::detached);
  ASSERT_TRUE(run_until([&] { return out->done; }));
  ASSERT_TRUE(*out->result) << out->result->error().message;
  EXPECT_EQ((*out->result)->status, 201u);
  EXPECT_EQ((*out->result)->content_type, "text/plain");
  EXPECT_EQ((*out->result)->body, "application/json {\"a\":1} yes");

  const auto missing = spawn(client, url, http::verb::get, "/nothing", "");
  ASSERT_TRUE(run_until([&] { return missing->done; }));
  ASSERT_TRUE(*missing->result);
  EXPECT_EQ((*missing->result)->status, 404u);
  server.stop();
}

TEST_F(http_client_test, a_closed_port_is_a_connect_error_naming_the_url) {
  const std::uint16_t port = closed_port();
  const http_url url = *parse_http_url("http://127.0.0.1:" + std::to_string(port));
  const auto out = spawn(client, url, http::verb::post, "/api/v1/announce", "{}");
  ASSERT_TRUE(run_until([&] { return out->done; }));
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().code, static_cast<int>(http_client_errc::connect));
  EXPECT_EQ(out->result->error().message.rfind(
                "http://127.0.0.1:" + std::to_string(port) + "/api/v1/announce: connect: ", 0),
            0u)
      << out->result->error().message;
}

using testing::silent_server;

TEST_F(http_client_test, a_silent_server_times_out) {
  silent_server silent(ioc);
  const http_url url = *parse_http_url(testing::loopback_url(silent.port()));
  const auto start = std::chrono::steady_clock::now();
  const auto out = spawn(client, url, http::verb::get, "/", "", 200ms);
  ASSERT_TRUE(run_until([&] { return out->done; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().code, static_cast<int>(http_client_errc::timeout));
  EXPECT_NE(out->result->error().message.find("timed out after 200 ms"), std::string::npos)
      << out->result->error().message;
}

TEST_F(http_client_test, cancel_ends_the_request_in_flight_at_once) {
  silent_server silent(ioc);
  const http_url url = *parse_http_url(testing::loopback_url(silent.port()));
  const auto out = spawn(client, url, http::verb::get, "/", "", 10s);
  ASSERT_TRUE(run_until([&] { return !silent.held.empty(); }));
  client.cancel();
  ASSERT_TRUE(run_until([&] { return out->done; }, 1s));
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().code, static_cast<int>(http_client_errc::cancelled));
  client.cancel();  // nothing in flight: no effect
}

}  // namespace
}  // namespace meshcast::net
