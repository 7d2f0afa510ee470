#include "net/tracker_routes.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "net/http_client.hpp"
#include "net/testing/loopback.hpp"

namespace meshcast::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace pt = proto::tracker;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;

std::string hex_id(std::string_view name) {
  proto::swarm::node_id id{};
  std::copy_n(name.begin(), std::min(name.size(), id.size()), id.begin());
  return pt::to_hex(id);
}

json announce_body(std::string_view name, std::string_view role, int port = 7000,
                   std::string_view stream = "live/cam") {
  return json{{"node_id", hex_id(name)},
              {"stream", stream},
              {"role", role},
              {"swarm", {{"port", port}}},
              {"upload_kbps", 5000}};
}

// An http_server on 127.0.0.1:0 with the tracker routes, and a client to talk to it. The
// tracker's interval is 300 ms, so nodes expire after 900 ms of silence.
class tracker_routes_test : public ::testing::Test {
 protected:
  static tracker::service_settings settings() {
    tracker::service_settings s;
    s.registry.interval = 300ms;
    s.registry.expiry_intervals = 3;
    s.expiry_scan_interval = 10ms;
    s.policy.default_stream_kbps = 1000;
    return s;
  }

  void SetUp() override {
    http_settings hs;
    hs.endpoint = testing::loopback_any();
    server = std::make_unique<http_server>(ioc, streams, hs);
    add_tracker_routes(*server, tracker);
    ASSERT_TRUE(server->start());
    url = *parse_http_url(testing::loopback_url(server->local_endpoint().port()));
  }
  void TearDown() override {
    server->stop();
    ioc.restart();
    ioc.run_for(200ms);
  }

  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
    return testing::run_until(ioc, pred, timeout);
  }
  void run_for(std::chrono::milliseconds d) { testing::run_for(ioc, d); }

  http_client_response request(http::verb verb, std::string target, std::string body = "") {
    return testing::blocking_request(ioc, url, verb, std::move(target), std::move(body));
  }
  http_client_response post(std::string target, const json& body) {
    return request(http::verb::post, std::move(target), body.dump());
  }
  http_client_response announce(std::string_view name, std::string_view role, int port = 7000) {
    return post("/api/v1/announce", announce_body(name, role, port));
  }
  json swarm(std::string_view stream = "live/cam") {
    const auto r = request(http::verb::get, "/api/v1/swarm/" + std::string(stream));
    EXPECT_EQ(r.status, 200u) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  static std::set<std::string> candidate_ids(const http_client_response& r) {
    std::set<std::string> ids;
    const json j = json::parse(r.body, nullptr, false);
    for (const auto& c : j["candidates"]) ids.insert(c["node_id"].get<std::string>());
    return ids;
  }

  asio::io_context ioc;
  media::stream_registry streams{media::stream_settings{}};
  tracker::service tracker{settings()};  // outlives the server
  std::unique_ptr<http_server> server;
  http_url url;
};

TEST_F(tracker_routes_test, origin_and_peers_announce_and_get_ranked_candidates) {
  const auto o = announce("o", "origin", 9000);
  ASSERT_EQ(o.status, 200u) << o.body;
  EXPECT_EQ(o.content_type, "application/json");
  EXPECT_TRUE(json::parse(o.body)["candidates"].empty()) << "an origin gets nobody";

  const auto a = announce("a", "peer", 7001);
  ASSERT_EQ(a.status, 200u) << a.body;
  const json ja = json::parse(a.body);
  EXPECT_DOUBLE_EQ(ja["interval"].get<double>(), 0.3);
  ASSERT_EQ(ja["candidates"].size(), 1u);
  EXPECT_EQ(ja["candidates"][0]["node_id"], hex_id("o"));
  EXPECT_EQ(ja["candidates"][0]["host"], "127.0.0.1") << "the address the tracker saw";
  EXPECT_EQ(ja["candidates"][0]["port"], 9000);
  EXPECT_EQ(ja["candidates"][0]["role"], "origin");

  const auto b = announce("b", "peer", 7002);
  EXPECT_EQ(candidate_ids(b), (std::set<std::string>{hex_id("a"), hex_id("o")}));
  EXPECT_EQ(candidate_ids(announce("a", "peer", 7001)),
            (std::set<std::string>{hex_id("b"), hex_id("o")}))
      << "never the requester itself";
}

TEST_F(tracker_routes_test, a_peer_of_a_stream_with_no_origin_gets_404) {
  const auto r = announce("a", "peer");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.body, "unknown stream live/cam\n");
}

TEST_F(tracker_routes_test, bad_requests_get_400_with_the_reason) {
  auto r = request(http::verb::post, "/api/v1/announce", "{\"node_id\": ");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, "body is not valid JSON\n");

  r = request(http::verb::post, "/api/v1/announce", "");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, "empty body, expected a JSON object\n");

  json j = announce_body("a", "peer");
  j.erase("stream");
  r = post("/api/v1/announce", j);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, "missing field 'stream'\n");

  j = announce_body("a", "peer");
  j["swarm"]["port"] = "seven";
  r = post("/api/v1/announce", j);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, "field 'swarm.port' must be an integer in 0..65535, got string\n");

  j = announce_body("a", "peer");
  j["node_id"] = "xyz";
  r = post("/api/v1/announce", j);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, "field 'node_id' must be 32 hex digits, got 'xyz'\n");

  r = request(http::verb::post, "/api/v1/announce", std::string(20'000, ' '));
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, "body of 20000 bytes exceeds limit 16384\n");

  r = request(http::verb::post, "/api/v1/leave", "{}");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, "missing field 'node_id'\n");
}

TEST_F(tracker_routes_test, a_body_beyond_the_servers_limit_gets_413) {
  const auto r = request(http::verb::post, "/api/v1/announce", std::string(100'000, ' '));
  EXPECT_EQ(r.status, 413u);
}

TEST_F(tracker_routes_test, wrong_method_gets_405) {
  EXPECT_EQ(request(http::verb::get, "/api/v1/announce").status, 405u);
  EXPECT_EQ(request(http::verb::post, "/api/v1/swarm/live/cam", "{}").status, 405u);
}

TEST_F(tracker_routes_test, swarm_listing_shows_nodes_with_their_stats) {
  json o = announce_body("o", "origin", 9000);
  o["public_key"] = "00ff";
  ASSERT_EQ(post("/api/v1/announce", o).status, 200u);
  json p = announce_body("p", "peer", 7001);
  p["region"] = "eu-west";
  p["stats"] = {{"continuity", 0.97}, {"delay_p95_ms", 1800}, {"upload_kbps_used", 800}};
  ASSERT_EQ(post("/api/v1/announce", p).status, 200u);

  const json j = swarm();
  EXPECT_EQ(j["stream"], "live/cam");
  EXPECT_EQ(j["public_key"], "00ff");
  EXPECT_EQ(j["counts"]["origin"], 1);
  EXPECT_EQ(j["counts"]["peer"], 1);
  ASSERT_EQ(j["nodes"].size(), 2u);
  const json& peer = j["nodes"][1];
  EXPECT_EQ(peer["node_id"], hex_id("p"));
  EXPECT_EQ(peer["host"], "127.0.0.1");
  EXPECT_EQ(peer["port"], 7001);
  EXPECT_EQ(peer["region"], "eu-west");
  EXPECT_EQ(peer["upload_kbps"], 5000);
  EXPECT_EQ(peer["upload_kbps_used"], 800);
  EXPECT_EQ(peer["stats"]["delay_p95_ms"], 1800);
  EXPECT_TRUE(peer.contains("last_seen_ms_ago"));

  const auto all = request(http::verb::get, "/api/v1/swarm");
  ASSERT_EQ(all.status, 200u);
  EXPECT_EQ(json::parse(all.body)["streams"][0]["nodes"], 2);
  EXPECT_EQ(request(http::verb::get, "/api/v1/swarm/live/none").status, 404u);
}

TEST_F(tracker_routes_test, silent_nodes_expire_while_announcing_ones_stay) {
  ASSERT_EQ(announce("o", "origin").status, 200u);
  ASSERT_EQ(announce("p", "peer").status, 200u);
  // Keep the origin alive for 1.2 s (> 3 intervals of 300 ms); the peer says nothing.
  const auto until = std::chrono::steady_clock::now() + 1200ms;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(announce("o", "origin").status, 200u);
    run_for(100ms);
  }
  const json j = swarm();
  EXPECT_EQ(j["counts"]["peer"], 0);
  EXPECT_EQ(j["counts"]["origin"], 1);
  EXPECT_GE(tracker.counters().expired, 1u);
}

TEST_F(tracker_routes_test, leave_answers_204_and_removes_the_node) {
  ASSERT_EQ(announce("o", "origin").status, 200u);
  ASSERT_EQ(announce("p", "peer").status, 200u);
  const auto r = post("/api/v1/leave", json{{"node_id", hex_id("p")}, {"stream", "live/cam"}});
  EXPECT_EQ(r.status, 204u);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(swarm()["counts"]["peer"], 0);
}

TEST_F(tracker_routes_test, metrics_count_nodes_announces_and_bad_requests) {
  ASSERT_EQ(announce("o", "origin").status, 200u);
  ASSERT_EQ(announce("p", "peer").status, 200u);
  ASSERT_EQ(announce("p", "peer").status, 200u);
  ASSERT_EQ(request(http::verb::post, "/api/v1/announce", "nope").status, 400u);
  const auto m = request(http::verb::get, "/metrics");
  ASSERT_EQ(m.status, 200u);
  for (const char* line : {
           "meshcast_tracker_streams 1\n",
           "meshcast_tracker_nodes{stream=\"live/cam\",role=\"origin\"} 1\n",
           "meshcast_tracker_nodes{stream=\"live/cam\",role=\"peer\"} 1\n",
           "meshcast_tracker_announces_total{role=\"peer\"} 2\n",
           "meshcast_tracker_bad_requests_total{reason=\"malformed_json\"} 1\n",
           "meshcast_http_requests_total{route=\"tracker\"} 4\n",
       }) {
    EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
  }
}

}  // namespace
}  // namespace meshcast::net
