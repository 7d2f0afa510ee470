#include "net/http_server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>

#include "media/chunk_spec.hpp"
#include "media/hls_playlist.hpp"
#include "net/testing/loopback.hpp"

namespace meshcast::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct fetched {
  bool done = false;
  beast::error_code ec;
  std::vector<http::response<http::string_body>> responses;
  [[nodiscard]] const http::response<http::string_body>& res() const { return responses.at(0); }
};

// Sends each target in turn on one keep-alive connection and reads the responses.
asio::awaitable<void> fetch_co(tcp::endpoint ep, http::verb verb, std::vector<std::string> targets,
                               std::shared_ptr<fetched> out) {
  beast::tcp_stream s(co_await asio::this_coro::executor);
  s.expires_after(5s);
  auto [ec] = co_await s.async_connect(ep, use_tuple);
  beast::flat_buffer buffer;
  for (const auto& target : targets) {
    if (ec) break;
    http::request<http::empty_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    std::tie(ec, std::ignore) = co_await http::async_write(s, req, use_tuple);
    if (ec) break;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    std::tie(ec, std::ignore) = co_await http::async_read(s, buffer, parser, use_tuple);
    if (!ec) out->responses.push_back(parser.release());
  }
  out->ec = ec;
  out->done = true;
}

// A client on a raw socket: sends `request` as is and collects every byte until the server
// closes (or the test closes `socket`).
struct raw_client {
  explicit raw_client(asio::io_context& ioc) : socket(ioc) {}
  tcp::socket socket;
  std::string received;
  bool closed = false;

  [[nodiscard]] std::string head() const { return received.substr(0, received.find("\r\n\r\n")); }
  [[nodiscard]] std::string body() const {
    const auto p = received.find("\r\n\r\n");
    return p == std::string::npos ? std::string{} : received.substr(p + 4);
  }
};

asio::awaitable<void> raw_co(std::shared_ptr<raw_client> c, tcp::endpoint ep, std::string request,
                             bool connect) {
  beast::error_code ec;
  if (connect) std::tie(ec) = co_await c->socket.async_connect(ep, use_tuple);
  if (!ec && !request.empty()) {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(c->socket, asio::buffer(request), use_tuple);
  }
  std::array<char, 16384> buf{};
  while (!ec) {
    std::size_t n = 0;
    std::tie(ec, n) = co_await c->socket.async_read_some(asio::buffer(buf), use_tuple);
    c->received.append(buf.data(), n);
  }
  c->closed = true;
}

std::string get_request(std::string_view target) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

class http_server_test : public ::testing::Test {
 protected:
  static http_settings test_settings() {
    http_settings s;
    s.endpoint = testing::loopback_any();
    s.playlist_wait = 300ms;
    s.ts_start_wait = 300ms;
    s.poll_interval = 10ms;
    s.write_timeout = 5s;
    return s;
  }

  void start(http_settings s = test_settings()) {
    server = std::make_unique<http_server>(ioc, registry, s);
    const auto r = server->start();
    ASSERT_TRUE(r.has_value()) << r.error().message;
  }

  void TearDown() override {
    if (server) server->stop();
    for (auto& c : raws) {
      beast::error_code ignored;
      c->socket.close(ignored);
    }
    ioc.restart();
    ioc.run_for(2s);  // let every coroutine see its closed socket and end
  }

  // Runs the event loop (server and test clients alike) until `pred` or the timeout.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
    return testing::run_until(ioc, pred, timeout);
  }
  void run_for(std::chrono::milliseconds d) { testing::run_for(ioc, d); }

  media::rendition& add_stream(const std::string& name) {
    media::rendition& r = registry.get_or_create(name).source();
    media::rendition_info info;
    info.codecs = "avc1.64001f,mp4a.40.2";
    info.width = 1280;
    info.height = 720;
    info.frame_rate = 30;
    info.has_video = info.has_audio = true;
    r.set_info(info);
    return r;
  }
  std::vector<chunk::chunk_ptr> add(media::rendition& r, std::string_view spec) {
    auto chunks = maker.make(spec);
    for (const auto& c : chunks) r.add(c);
    return chunks;
  }

  fetched fetch(std::vector<std::string> targets, http::verb verb = http::verb::get) {
    auto out = std::make_shared<fetched>();
    asio::co_spawn(ioc, fetch_co(server->local_endpoint(), verb, std::move(targets), out),
                   asio::detached);
    EXPECT_TRUE(run_until([&] { return out->done; }));
    return *out;
  }
  http::response<http::string_body> get(const std::string& target,
                                        http::verb verb = http::verb::get) {
    const fetched f = fetch({target}, verb);
    EXPECT_FALSE(f.ec) << target << ": " << f.ec.message();
    return f.responses.empty() ? http::response<http::string_body>{} : f.res();
  }

  std::shared_ptr<raw_client> raw(std::string request) {
    auto c = std::make_shared<raw_client>(ioc);
    raws.push_back(c);
    asio::co_spawn(ioc, raw_co(c, server->local_endpoint(), std::move(request), true),
                   asio::detached);
    return c;
  }

  int viewers(const std::string& name) { return registry.find(name)->viewers(); }

  asio::io_context ioc;
  media::stream_registry registry{media::stream_settings{}};
  std::unique_ptr<http_server> server;
  media::testing::chunk_maker maker{4};
  std::vector<std::shared_ptr<raw_client>> raws;
};

TEST_F(http_server_test, master_and_media_playlists_are_served_with_hls_headers) {
  start();
  media::rendition& r = add_stream("live/cam");
  add(r, "S0 c c S1 c c S2");

  const auto master = get("/live/cam.m3u8");
  EXPECT_EQ(master.result(), http::status::ok);
  EXPECT_EQ(master[http::field::content_type], "application/vnd.apple.mpegurl");
  EXPECT_EQ(master[http::field::access_control_allow_origin], "*");
  EXPECT_EQ(master.body(), *media::master_playlist(*registry.find("live/cam")));
  EXPECT_NE(master.body().find("\ncam/source.m3u8\n"), std::string::npos);

  const auto media = get("/live/cam/source.m3u8");
  EXPECT_EQ(media.result(), http::status::ok);
  EXPECT_EQ(media[http::field::cache_control], "no-cache");
  EXPECT_EQ(media.body(), *media::media_playlist(r.log(), "source", 6));
  EXPECT_NE(media.body().find("\nsource/1.ts\n"), std::string::npos);
}

TEST_F(http_server_test, playlist_lists_only_the_configured_number_of_segments) {
  auto s = test_settings();
  s.playlist_segments = 2;
  start(s);
  add(add_stream("live/cam"), "S0 S1 S2 S3 S4");
  const auto media = get("/live/cam/source.m3u8");
  EXPECT_NE(media.body().find("#EXT-X-MEDIA-SEQUENCE:2\n"), std::string::npos) << media.body();
}

TEST_F(http_server_test, segment_bytes_are_the_concatenation_of_its_chunks) {
  start();
  media::rendition& r = add_stream("live/cam");
  add(r, "S0 c c S1 c c c S2");

  const auto seg = get("/live/cam/source/1.ts");
  EXPECT_EQ(seg.result(), http::status::ok);
  EXPECT_EQ(seg[http::field::content_type], "video/mp2t");
  EXPECT_NE(seg[http::field::cache_control].find("max-age="), std::string::npos);
  EXPECT_EQ(seg.body(), media::testing::concat(r.log().segment_chunks(core::segment_seq{1})));
  EXPECT_EQ(seg.body().size(), 4u * 4 * 188);
  EXPECT_EQ(seg[http::field::content_length], std::to_string(seg.body().size()));
}

TEST_F(http_server_test, unknown_streams_segments_and_paths_answer_404) {
  start();
  add(add_stream("live/cam"), "S0 c S1 c S2");
  const auto unknown = get("/live/foo.m3u8");
  EXPECT_EQ(unknown.result(), http::status::not_found);
  EXPECT_EQ(unknown.body(), "unknown stream live/foo\n");
  EXPECT_EQ(unknown[http::field::cache_control], "no-cache");
  EXPECT_EQ(get("/live/foo.ts").body(), "unknown stream live/foo\n");
  EXPECT_EQ(get("/live/cam/source/99.ts").body(), "segment 99 of live/cam/source is not held\n");
  EXPECT_EQ(get("/live/cam/source/2.ts").result(), http::status::not_found);  // incomplete
  EXPECT_EQ(get("/live/cam/source/x1.ts").result(), http::status::not_found);
  EXPECT_EQ(get("/live/cam/hd.m3u8").body(), "unknown rendition live/cam/hd\n");
  EXPECT_EQ(get("/live/cam/source/1/2.ts").result(), http::status::not_found);
  EXPECT_EQ(get("/live//source.m3u8").result(), http::status::not_found);
  EXPECT_EQ(get("/nothing/here").result(), http::status::not_found);
  EXPECT_EQ(get("/live/cam.mp4").result(), http::status::not_found);
}

TEST_F(http_server_test, playlist_waits_briefly_for_a_first_segment) {
  start();
  media::rendition& r = add_stream("live/cam");
  add(r, "S0 c");
  auto out = std::make_shared<fetched>();
  asio::co_spawn(
      ioc, fetch_co(server->local_endpoint(), http::verb::get, {"/live/cam/source.m3u8"}, out),
      asio::detached);
  run_for(50ms);
  EXPECT_FALSE(out->done);
  add(r, "c S1");
  ASSERT_TRUE(run_until([&] { return out->done; }));
  EXPECT_EQ(out->res().result(), http::status::ok);
  EXPECT_NE(out->res().body().find("source/0.ts"), std::string::npos);

  add_stream("live/empty");
  const auto t0 = std::chrono::steady_clock::now();
  const auto none = get("/live/empty/source.m3u8");
  EXPECT_EQ(none.result(), http::status::not_found);
  EXPECT_EQ(none.body(), "no segment yet in live/empty/source\n");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
}

TEST_F(http_server_test, bad_method_is_405_and_malformed_http_is_400_on_that_connection_only) {
  start();
  add(add_stream("live/cam"), "S0 c S1");
  const auto post = get("/live/cam.m3u8", http::verb::post);
  EXPECT_EQ(post.result(), http::status::method_not_allowed);
  EXPECT_EQ(post[http::field::allow], "GET");

  const auto garbage = raw("GARBAGE\r\n\r\n");
  ASSERT_TRUE(run_until([&] { return garbage->closed; }));
  EXPECT_TRUE(garbage->received.starts_with("HTTP/1.1 400 Bad Request\r\n")) << garbage->received;

  const auto huge = raw("GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  ASSERT_TRUE(run_until([&] { return huge->closed; }));
  EXPECT_TRUE(huge->received.starts_with("HTTP/1.1 431")) << huge->head();

  EXPECT_EQ(get("/live/cam/source.m3u8").result(), http::status::ok);  // the server goes on
}

TEST_F(http_server_test, keep_alive_serves_several_requests_on_one_connection) {
  start();
  add(add_stream("live/cam"), "S0 c S1 c S2");
  const fetched f = fetch({"/live/cam.m3u8", "/live/cam/source.m3u8", "/live/cam/source/0.ts",
                           "/live/cam/source/9.ts", "/live/cam/source/1.ts", "/metrics"});
  ASSERT_FALSE(f.ec) << f.ec.message();
  ASSERT_EQ(f.responses.size(), 6u);
  EXPECT_EQ(f.responses[3].result(), http::status::not_found);
  EXPECT_EQ(f.responses[4].result(), http::status::ok);
  const std::string& text = f.responses[5].body();
  EXPECT_NE(text.find("meshcast_http_connections_total 1\n"), std::string::npos) << text;
}

TEST_F(http_server_test, api_streams_describes_streams_and_renditions) {
  start();
  add(add_stream("live/cam"), "S0 c c S1 c");
  registry.get_or_create("live/other");
  const auto res = get("/api/v1/streams");
  EXPECT_EQ(res[http::field::content_type], "application/json");
  const auto j = nlohmann::json::parse(res.body());
  ASSERT_EQ(j["streams"].size(), 2u);
  const auto& cam = j["streams"][0];
  EXPECT_EQ(cam["name"], "live/cam");
  EXPECT_EQ(cam["publisher"]["state"], "idle");
  EXPECT_EQ(cam["viewers"], 0);
  const auto& src = cam["renditions"][0];
  EXPECT_EQ(src["name"], "source");
  EXPECT_EQ(src["codecs"], "avc1.64001f,mp4a.40.2");
  EXPECT_EQ(src["width"], 1280);
  EXPECT_EQ(src["chunks"], 5);
  EXPECT_EQ(src["bytes"], 5 * 4 * 188);
  EXPECT_EQ(src["first_seq"], 0);
  EXPECT_EQ(src["last_seq"], 4);
  EXPECT_EQ(src["live_edge"], 3);
  EXPECT_GT(src["bitrate_bps"].get<double>(), 0);
  EXPECT_TRUE(j["streams"][1]["renditions"].empty());
}

TEST_F(http_server_test, metrics_are_prometheus_text_with_stream_labels_and_app_hooks) {
  start();
  add(add_stream("live/cam"), "S0 c c S1 c");
  server->add_metrics([](std::string& out) { out += "meshcast_app_thing 7\n"; });
  get("/live/cam/source.m3u8");
  get("/live/cam/source/0.ts");
  get("/live/nope.m3u8");
  const auto res = get("/metrics");
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = res.body();
  for (const char* line : {
           "# TYPE meshcast_http_requests_total counter\n",
           "meshcast_http_requests_total{route=\"playlist\"} 1\n",
           "meshcast_http_requests_total{route=\"segment\"} 1\n",
           "meshcast_http_requests_total{route=\"master\"} 1\n",
           "# TYPE meshcast_ts_viewers gauge\n",
           "meshcast_rendition_chunks{stream=\"live/cam\",rendition=\"source\"} 5\n",
           "meshcast_rendition_bytes{stream=\"live/cam\",rendition=\"source\"} 3760\n",
           "meshcast_stream_viewers{stream=\"live/cam\"} 0\n",
           "meshcast_app_thing 7\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST_F(http_server_test, added_routes_are_served_and_take_precedence) {
  start();
  server->add_route(http::verb::get, "/hello",
                    [](http_exchange& ex) -> asio::awaitable<http_reply> {
                      co_return text_reply(ex.request, http::status::ok, "hi");
                    });
  server->add_route(
      http::verb::post, "/api/v1/announce/",
      [](http_exchange& ex) -> asio::awaitable<http_reply> {
        co_return text_reply(ex.request, http::status::accepted, "rest=" + std::string(ex.rest));
      },
      "tracker");
  server->add_route(http::verb::get, "/api/v1/streams",
                    [](http_exchange& ex) -> asio::awaitable<http_reply> {
                      co_return text_reply(ex.request, http::status::ok, "mine");
                    });
  EXPECT_EQ(get("/hello").body(), "hi\n");
  EXPECT_EQ(get("/api/v1/streams").body(), "mine\n");
  const auto announce = get("/api/v1/announce/node7?x=1", http::verb::post);
  EXPECT_EQ(announce.result(), http::status::accepted);
  EXPECT_EQ(announce.body(), "rest=node7\n");
  EXPECT_EQ(server->requests().at("tracker"), 1u);
}

TEST_F(http_server_test, continuous_ts_starts_at_the_live_edge_and_follows_new_chunks) {
  start();
  media::rendition& r = add_stream("live/cam");
  const auto first = add(r, "S0 c c S1 c");  // live edge: seq 3
  const auto client = raw(get_request("/live/cam.ts"));
  std::string expected = media::testing::concat({first[3], first[4]});
  ASSERT_TRUE(run_until([&] { return client->body().size() >= expected.size(); }));
  EXPECT_TRUE(client->head().starts_with("HTTP/1.1 200 OK\r\n")) << client->head();
  EXPECT_NE(client->head().find("Content-Type: video/mp2t"), std::string::npos);
  EXPECT_NE(client->head().find("Connection: close"), std::string::npos);
  EXPECT_EQ(client->head().find("Content-Length"), std::string::npos);
  EXPECT_EQ(client->head().find("Transfer-Encoding"), std::string::npos);
  EXPECT_EQ(client->body(), expected);
  EXPECT_EQ(viewers("live/cam"), 1);

  expected += media::testing::concat(add(r, "c S2 c"));
  ASSERT_TRUE(run_until([&] { return client->body().size() >= expected.size(); }));
  EXPECT_EQ(client->body(), expected);

  // The publisher goes away: the connection stays open and resumes with the next chunks.
  run_for(200ms);
  EXPECT_FALSE(client->closed);
  expected += media::testing::concat(add(r, "D3 c"));
  ASSERT_TRUE(run_until([&] { return client->body().size() >= expected.size(); }));
  EXPECT_EQ(client->body(), expected);

  // The viewer leaves: noticed without any chunk to write.
  client->socket.close();
  ASSERT_TRUE(run_until([&] { return viewers("live/cam") == 0; }));
  EXPECT_EQ(server->ts_stats("live/cam").viewers, 0);
  EXPECT_EQ(server->ts_stats("live/cam").bytes_sent, expected.size());
}

TEST_F(http_server_test, continuous_ts_waits_for_a_segment_start_then_404) {
  start();
  media::rendition& r = add_stream("live/cam");
  add(r, "c c");
  const auto waiting = raw(get_request("/live/cam.ts"));
  run_for(50ms);
  EXPECT_TRUE(waiting->received.empty());
  const auto later = add(r, "S1 c");
  ASSERT_TRUE(run_until([&] { return waiting->body().size() >= 2 * 4 * 188; }));
  EXPECT_EQ(waiting->body(), media::testing::concat(later));

  add_stream("live/quiet");
  const auto none = get("/live/quiet.ts");
  EXPECT_EQ(none.result(), http::status::not_found);
  EXPECT_EQ(none.body(), "no segment yet in live/quiet/source\n");
}

TEST_F(http_server_test, a_viewer_that_never_reads_is_dropped_while_another_keeps_flowing) {
  auto s = test_settings();
  s.ts_send_buffer_bytes = 16 * 1024;
  s.ts_viewer.soft_limit_bytes = 64 * 1024;
  s.ts_viewer.soft_limit_duration = core::micros{2'000'000};
  s.ts_viewer.hard_limit_bytes = 8u << 20;
  s.ts_viewer.max_drops = 3;
  s.ts_viewer.drop_window = core::micros{3'600'000'000LL};
  start(s);
  maker = media::testing::chunk_maker{50};  // 9400 bytes per 1 s chunk
  media::rendition& r = add_stream("live/cam");
  add(r, "S0 c c c");

  // The stalled viewer: tiny receive window, never reads.
  tcp::socket stalled(ioc);
  stalled.open(tcp::v4());
  stalled.set_option(asio::socket_base::receive_buffer_size(4096));
  stalled.connect(server->local_endpoint());
  asio::write(stalled, asio::buffer(get_request("/live/cam.ts")));
  const auto good = raw(get_request("/live/cam.ts"));
  ASSERT_TRUE(run_until([&] { return viewers("live/cam") == 2; }));
  std::string expected;
  for (std::uint64_t q = 0; q < 4; ++q) {
    expected += core::as_chars(r.log().find(core::chunk_seq{q})->payload());
  }
  ASSERT_TRUE(run_until([&] { return good->body().size() >= expected.size(); }));

  for (int i = 0; i < 60 && server->ts_stats("live/cam").slow_disconnects == 0; ++i) {
    expected += media::testing::concat(add(r, "S1 c c c"));
    ASSERT_TRUE(run_until([&] { return good->body().size() >= expected.size(); }));
  }
  const ts_output_stats stats = server->ts_stats("live/cam");
  EXPECT_EQ(stats.slow_disconnects, 1u);
  EXPECT_EQ(stats.drop_forwards, 3u);
  EXPECT_LE(stats.peak_queued_bytes, 64u * 1024 + 9400);
  ASSERT_TRUE(run_until([&] { return viewers("live/cam") == 1; }));

  // The good viewer got every byte, in order, and keeps flowing.
  expected += media::testing::concat(add(r, "S2 c"));
  ASSERT_TRUE(run_until([&] { return good->body().size() >= expected.size(); }));
  EXPECT_EQ(good->body(), expected);
  EXPECT_FALSE(good->closed);
  EXPECT_EQ(server->ts_stats("live/cam").viewers, 1);

  // The stalled viewer's connection was closed by the server: draining it reaches the end.
  auto drained = std::make_shared<raw_client>(ioc);
  drained->socket = std::move(stalled);
  asio::co_spawn(ioc, raw_co(drained, {}, "", false), asio::detached);
  raws.push_back(drained);
  ASSERT_TRUE(run_until([&] { return drained->closed; }));
  EXPECT_TRUE(drained->received.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_LT(drained->body().size(), expected.size());
}

TEST_F(http_server_test, stop_ends_continuous_ts_sessions_and_counts_viewers_out) {
  start();
  add(add_stream("live/cam"), "S0 c");
  const auto client = raw(get_request("/live/cam.ts"));
  ASSERT_TRUE(run_until([&] { return viewers("live/cam") == 1; }));
  server->stop();
  EXPECT_EQ(viewers("live/cam"), 0);
  ASSERT_TRUE(run_until([&] { return client->closed; }));
}

TEST_F(http_server_test, start_fails_with_a_clear_message_when_the_port_is_taken) {
  start();
  auto s = test_settings();
  s.endpoint = server->local_endpoint();
  http_server second{ioc, registry, s};
  const auto r = second.start();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(
      r.error().message.find("http: cannot listen on 127.0.0.1:" + std::to_string(s.endpoint.port())),
      std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace meshcast::net
