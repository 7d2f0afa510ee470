#include "tracker/service.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tracker/test_fixture.hpp"

namespace meshcast::tracker {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::id_of;

const core::time_point t0 = core::from_us(1'700'000'000'000'000);

json announce_body(std::string_view name, std::string_view role,
                   std::string_view stream = "live/cam") {
  return json{{"node_id", pt::to_hex(id_of(name))},
              {"stream", stream},
              {"role", role},
              {"swarm", {{"port", 7000}}},
              {"upload_kbps", 5000}};
}

class service_test : public ::testing::Test {
 protected:
  static service_settings settings() {
    service_settings s;
    s.registry.interval = 5s;
    s.policy.default_stream_kbps = 1000;
    return s;
  }
  reply announce(const json& body, std::string address = "10.0.0.1", std::string_view auth = "") {
    return svc.announce(body.dump(), request_context{std::move(address), auth}, now);
  }
  reply leave(std::string_view name, std::string address = "10.0.0.1") {
    const json body{{"node_id", pt::to_hex(id_of(name))}, {"stream", "live/cam"}};
    return svc.leave(body.dump(), request_context{std::move(address), ""}, now);
  }
  json listing(std::string_view stream = "live/cam") {
    const reply r = svc.swarm_listing(stream, request_context{"10.0.0.1", ""}, now);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::uint64_t rejected(std::string_view reason) {
    const auto it = svc.counters().rejected.find(reason);
    return it == svc.counters().rejected.end() ? 0 : it->second;
  }

  core::time_point now = t0;
  service svc{settings()};
};

TEST_F(service_test, announce_answers_interval_key_and_candidates) {
  json origin = announce_body("o", "origin");
  origin["public_key"] = "a1b2";
  origin["swarm"]["host"] = "192.0.2.1";
  ASSERT_EQ(announce(origin).status, 200);
  const reply r = announce(announce_body("p", "peer"), "198.51.100.7");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const json j = json::parse(r.body);
  EXPECT_EQ(j["interval"], 5);
  EXPECT_EQ(j["public_key"], "a1b2");
  ASSERT_EQ(j["candidates"].size(), 1u);
  EXPECT_EQ(j["candidates"][0]["node_id"], pt::to_hex(id_of("o")));
  EXPECT_EQ(j["candidates"][0]["host"], "192.0.2.1");
  EXPECT_EQ(j["candidates"][0]["port"], 7000);
  EXPECT_EQ(j["candidates"][0]["role"], "origin");
}

TEST_F(service_test, the_swarm_host_defaults_to_the_requesters_address) {
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  ASSERT_EQ(announce(announce_body("p", "peer"), "198.51.100.7").status, 200);
  const json j = json::parse(announce(announce_body("q", "peer"), "198.51.100.8").body);
  std::set<std::string> hosts;
  for (const auto& c : j["candidates"]) hosts.insert(c["host"].get<std::string>());
  EXPECT_EQ(hosts, (std::set<std::string>{"10.0.0.1", "198.51.100.7"}));
}

TEST_F(service_test, bad_bodies_get_400_with_the_reason_and_are_counted) {
  struct bad {
    std::string body;
    std::string reason;
    std::string label;
  };
  json no_port = announce_body("p", "peer");
  no_port["swarm"].erase("port");
  json wrong_type = announce_body("p", "peer");
  wrong_type["upload_kbps"] = "lots";
  json bad_role = announce_body("p", "peer");
  bad_role["role"] = "king";
  const std::vector<bad> cases{
      {"{not json", "body is not valid JSON\n", "malformed_json"},
      {no_port.dump(), "missing field 'swarm.port'\n", "missing_field"},
      {wrong_type.dump(), "field 'upload_kbps' must be an integer in 0..100000000, got string\n",
       "wrong_type"},
      {bad_role.dump(), "field 'role' must be one of origin, edge, peer, got 'king'\n",
       "invalid_value"},
      {std::string(20'000, '{'), "body of 20000 bytes exceeds limit 16384\n", "too_large"},
  };
  for (const bad& b : cases) {
    const reply r = svc.announce(b.body, request_context{"10.0.0.1", ""}, now);
    EXPECT_EQ(r.status, 400) << b.label;
    EXPECT_EQ(r.body, b.reason);
    EXPECT_EQ(rejected(b.label), 1u) << b.label;
  }
}

TEST_F(service_test, a_peer_of_a_stream_without_origin_gets_404) {
  const reply r = announce(announce_body("p", "peer"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "unknown stream live/cam\n");
  EXPECT_EQ(rejected("unknown_stream"), 1u);
}

TEST_F(service_test, with_a_token_origins_and_edges_must_present_it) {
  service_settings s = settings();
  s.token = "s3cret";
  svc = service{s};
  reply r = announce(announce_body("o", "origin"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "role origin needs the tracker token (Authorization: Bearer ...)\n");
  EXPECT_EQ(announce(announce_body("o", "origin"), "10.0.0.1", "Bearer wrong!").status, 403);
  EXPECT_EQ(announce(announce_body("o", "origin"), "10.0.0.1", "Bearer s3cret").status, 200);
  EXPECT_EQ(announce(announce_body("p", "peer")).status, 200) << "peers need no token";
  EXPECT_EQ(rejected("forbidden"), 2u);
}

TEST_F(service_test, another_address_cannot_take_a_node_id_over) {
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  const reply r = announce(announce_body("o", "peer"), "10.6.6.6");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(rejected("conflict"), 1u);
}

TEST_F(service_test, requests_beyond_the_per_address_rate_get_429) {
  service_settings s = settings();
  s.per_address_rate = 1;
  s.per_address_burst = 3;
  svc = service{s};
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  EXPECT_EQ(announce(announce_body("o", "origin")).status, 200);
  EXPECT_EQ(announce(announce_body("o", "origin")).status, 200);
  const reply r = announce(announce_body("o", "origin"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body, "rate limit: at most 1.0 requests per second per address\n");
  EXPECT_EQ(announce(announce_body("x", "origin", "live/x"), "10.0.0.2").status, 200)
      << "other addresses have their own budget";
  EXPECT_EQ(announce(announce_body("o", "origin"), "127.0.0.1").status, 409)
      << "loopback is exempt (then refused: o registered from 10.0.0.1)";
  now += 1s;
  EXPECT_EQ(announce(announce_body("o", "origin")).status, 200) << "refilled";
  EXPECT_EQ(rejected("rate_limited"), 1u);
}

TEST_F(service_test, loopback_is_limited_when_asked) {
  service_settings s = settings();
  s.per_address_rate = 1;
  s.per_address_burst = 1;
  s.limit_loopback = true;
  svc = service{s};
  EXPECT_EQ(announce(announce_body("o", "origin"), "::1").status, 200);
  EXPECT_EQ(announce(announce_body("o", "origin"), "::1").status, 429);
}

TEST_F(service_test, leave_answers_204_and_removes_the_node) {
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  ASSERT_EQ(announce(announce_body("p", "peer"), "10.0.0.2").status, 200);
  EXPECT_EQ(leave("p", "10.0.0.9").status, 403) << "only from the address it registered from";
  const reply r = leave("p", "10.0.0.2");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(svc.nodes().find("live/cam")->find(id_of("p")), nullptr);
  EXPECT_EQ(leave("p", "10.0.0.2").status, 204) << "idempotent";
  EXPECT_EQ(svc.counters().leaves, 1u);
  EXPECT_EQ(svc.leave("[]", request_context{"10.0.0.1", ""}, now).status, 400);
}

TEST_F(service_test, nodes_expire_on_later_requests) {
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  ASSERT_EQ(announce(announce_body("p", "peer"), "10.0.0.2").status, 200);
  now += 10s;
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  now += 6s;
  EXPECT_EQ(listing()["nodes_total"], 1);
  EXPECT_EQ(svc.counters().expired, 1u);
  now += 20s;
  EXPECT_EQ(svc.swarm_listing("live/cam", request_context{"10.0.0.1", ""}, now).status, 404);
}

TEST_F(service_test, swarm_listing_describes_every_node) {
  json origin = announce_body("o", "origin");
  origin["stream_kbps"] = 2000;
  origin["public_key"] = "beef";
  ASSERT_EQ(announce(origin).status, 200);
  json peer = announce_body("p", "peer");
  peer["region"] = "eu-west";
  peer["stats"] = {{"continuity", 0.98}, {"upload_kbps_used", 1250}, {"neighbours", 6}};
  ASSERT_EQ(announce(peer, "10.0.0.2").status, 200);
  now += 2s;
  const json j = listing();
  EXPECT_EQ(j["stream"], "live/cam");
  EXPECT_EQ(j["public_key"], "beef");
  EXPECT_EQ(j["interval"], 5.0);
  EXPECT_EQ(j["expiry"], 15.0);
  EXPECT_EQ(j["counts"], (json{{"origin", 1}, {"edge", 0}, {"peer", 1}}));
  EXPECT_EQ(j["health"]["stream_kbps"], 2000);
  EXPECT_EQ(j["health"]["supply_kbps"], 5000);
  EXPECT_EQ(j["health"]["used_kbps"], 1250);
  EXPECT_EQ(j["health"]["demand_kbps"], 2000);
  EXPECT_EQ(j["nodes_total"], 2);
  EXPECT_EQ(j["truncated"], false);
  ASSERT_EQ(j["nodes"].size(), 2u);
  const json& o = j["nodes"][0];
  EXPECT_EQ(o["role"], "origin");
  EXPECT_EQ(o["host"], "10.0.0.1");
  const json& p = j["nodes"][1];
  EXPECT_EQ(p["node_id"], pt::to_hex(id_of("p")));
  EXPECT_EQ(p["role"], "peer");
  EXPECT_EQ(p["host"], "10.0.0.2");
  EXPECT_EQ(p["port"], 7000);
  EXPECT_EQ(p["region"], "eu-west");
  EXPECT_EQ(p["upload_kbps"], 5000);
  EXPECT_EQ(p["upload_kbps_used"], 1250);
  EXPECT_DOUBLE_EQ(p["load"].get<double>(), 0.25);
  EXPECT_EQ(p["last_seen_ms_ago"], 2000);
  EXPECT_EQ(p["announces"], 1);
  EXPECT_DOUBLE_EQ(p["stats"]["continuity"].get<double>(), 0.98);
  EXPECT_EQ(p["stats"]["neighbours"], 6);
}

TEST_F(service_test, swarm_listing_is_capped) {
  service_settings s = settings();
  s.max_listed_nodes = 2;
  svc = service{s};
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  for (const char* p : {"a", "b", "c"}) ASSERT_EQ(announce(announce_body(p, "peer")).status, 200);
  const json j = listing();
  EXPECT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes_total"], 4);
  EXPECT_EQ(j["truncated"], true);
}

TEST_F(service_test, unknown_stream_listing_is_404) {
  const reply r = svc.swarm_listing("live/nope", request_context{"10.0.0.1", ""}, now);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "unknown stream live/nope\n");
  EXPECT_EQ(svc.swarm_listing("../etc", request_context{}, now).body, "unknown stream ?\n");
}

TEST_F(service_test, stream_listing_counts_nodes_by_role) {
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  ASSERT_EQ(announce(announce_body("p", "peer")).status, 200);
  ASSERT_EQ(announce(announce_body("o2", "origin", "live/two")).status, 200);
  const reply r = svc.stream_listing(request_context{}, now);
  const json j = json::parse(r.body);
  ASSERT_EQ(j["streams"].size(), 2u);
  EXPECT_EQ(j["streams"][0]["stream"], "live/cam");
  EXPECT_EQ(j["streams"][0]["counts"]["peer"], 1);
  EXPECT_EQ(j["streams"][1]["nodes"], 1);
}

TEST_F(service_test, counters_count_announces_by_role_and_streams_created) {
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  ASSERT_EQ(announce(announce_body("o", "origin")).status, 200);
  ASSERT_EQ(announce(announce_body("p", "peer")).status, 200);
  const auto& c = svc.counters();
  EXPECT_EQ(c.announces[static_cast<int>(ps::node_role::origin)], 2u);
  EXPECT_EQ(c.announces[static_cast<int>(ps::node_role::peer)], 1u);
  EXPECT_EQ(c.streams_created, 1u);
}

TEST_F(service_test, typed_announce_without_any_address_is_refused) {
  pt::announce_request a = testing::announce("origin o");
  const auto r = svc.announce(a, request_context{}, now);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, 400);
  a.host = "10.1.1.1";
  EXPECT_TRUE(svc.announce(a, request_context{}, now));
}

}  // namespace
}  // namespace meshcast::tracker
