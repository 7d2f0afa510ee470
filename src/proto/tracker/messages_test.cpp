#include "proto/tracker/messages.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace meshcast::proto::tracker {
namespace {

using json = nlohmann::json;

constexpr std::string_view k_id = "00112233445566778899aabbccddeeff";

// A valid announce body; tests edit one field at a time.
json good_announce() {
  return json{
      {"node_id", k_id},
      {"stream", "live/cam"},
      {"rendition", "source"},
      {"role", "peer"},
      {"swarm", {{"host", "10.0.0.7"}, {"port", 7071}}},
      {"upload_kbps", 8000},
      {"region", "eu-west"},
      {"stats", {{"continuity", 0.99}, {"delay_p95_ms", 1800}, {"upload_kbps_used", 2500}}}};
}

// Decodes `j` as an announce and returns the error message ("" when it decoded).
std::string announce_error(const json& j, errc* code = nullptr) {
  const auto r = decode_announce_request(j.dump());
  if (r) return "";
  if (code) *code = static_cast<errc>(r.error().code);
  return r.error().message;
}

json without(json j, const std::string& key) {
  j.erase(key);
  return j;
}

TEST(tracker_messages, announce_request_decodes_every_field) {
  const auto r = decode_announce_request(good_announce().dump());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(to_hex(r->id), k_id);
  EXPECT_EQ(r->stream, "live/cam");
  EXPECT_EQ(r->rendition, "source");
  EXPECT_EQ(r->role, ps::node_role::peer);
  EXPECT_EQ(r->host, "10.0.0.7");
  EXPECT_EQ(r->port, 7071);
  EXPECT_EQ(r->upload_kbps, 8000u);
  EXPECT_EQ(r->region, "eu-west");
  EXPECT_DOUBLE_EQ(r->stats.at("continuity"), 0.99);
  EXPECT_DOUBLE_EQ(r->stats.at("upload_kbps_used"), 2500);
}

TEST(tracker_messages, announce_request_round_trips_through_encode) {
  announce_request a;
  a.id = *node_id_from_hex(k_id);
  a.stream = "live/cam";
  a.role = ps::node_role::origin;
  a.host = "::1";
  a.port = 9000;
  a.upload_kbps = 100'000;
  a.stream_kbps = 3000;
  a.public_key = "abcd01";
  a.stats = {{"neighbours", 7}};
  const auto r = decode_announce_request(encode(a));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, a.id);
  EXPECT_EQ(r->role, a.role);
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 9000);
  EXPECT_EQ(r->stream_kbps, 3000u);
  EXPECT_EQ(r->public_key, "abcd01");
  EXPECT_EQ(r->stats, a.stats);
}

TEST(tracker_messages, optional_fields_take_their_defaults) {
  json j = without(without(without(good_announce(), "rendition"), "region"), "stats");
  j.erase("upload_kbps");
  j["swarm"].erase("host");
  const auto r = decode_announce_request(j.dump());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rendition, "source");
  EXPECT_EQ(r->host, "");
  EXPECT_EQ(r->region, "");
  EXPECT_EQ(r->upload_kbps, 0u);
  EXPECT_TRUE(r->stats.empty());
}

TEST(tracker_messages, unspecified_host_means_the_requesters_address) {
  for (const char* any : {"0.0.0.0", "::", "0:0::0"}) {
    json j = good_announce();
    j["swarm"]["host"] = any;
    const auto r = decode_announce_request(j.dump());
    ASSERT_TRUE(r) << any << ": " << r.error().message;
    EXPECT_EQ(r->host, "") << any;
  }
}

TEST(tracker_messages, malformed_json_is_refused) {
  for (const char* body :
       {"", "{", "not json", "{\"node_id\": }", "[1,2]", "42", "\"x\"", "null"}) {
    const auto r = decode_announce_request(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code, static_cast<int>(errc::malformed_json)) << body;
  }
  EXPECT_EQ(decode_announce_request("[1]").error().message, "expected a JSON object, got array");
}

TEST(tracker_messages, missing_field_is_named) {
  errc code{};
  EXPECT_EQ(announce_error(without(good_announce(), "node_id"), &code), "missing field 'node_id'");
  EXPECT_EQ(code, errc::missing_field);
  EXPECT_EQ(announce_error(without(good_announce(), "stream")), "missing field 'stream'");
  EXPECT_EQ(announce_error(without(good_announce(), "role")), "missing field 'role'");
  EXPECT_EQ(announce_error(without(good_announce(), "swarm")), "missing field 'swarm'");
  json j = good_announce();
  j["swarm"].erase("port");
  EXPECT_EQ(announce_error(j), "missing field 'swarm.port'");
  j = good_announce();
  j["node_id"] = nullptr;
  EXPECT_EQ(announce_error(j), "missing field 'node_id'");
}

TEST(tracker_messages, wrong_type_is_named_with_what_came) {
  errc code{};
  json j = good_announce();
  j["swarm"]["port"] = "7071";
  EXPECT_EQ(announce_error(j, &code),
            "field 'swarm.port' must be an integer in 0..65535, got string");
  EXPECT_EQ(code, errc::wrong_type);
  j = good_announce();
  j["swarm"] = 7071;
  EXPECT_EQ(announce_error(j), "field 'swarm' must be an object, got number");
  j = good_announce();
  j["node_id"] = 12;
  EXPECT_EQ(announce_error(j), "field 'node_id' must be a string, got number");
  j = good_announce();
  j["stats"]["continuity"] = "high";
  EXPECT_EQ(announce_error(j), "field 'stats.continuity' must be a number, got string");
  j = good_announce();
  j["stats"] = json::array();
  EXPECT_EQ(announce_error(j), "field 'stats' must be an object, got array");
  j = good_announce();
  j["upload_kbps"] = true;
  EXPECT_EQ(announce_error(j),
            "field 'upload_kbps' must be an integer in 0..100000000, got boolean");
}

TEST(tracker_messages, invalid_values_are_named_with_what_came) {
  const auto with = [](const std::string& key, json v) {
    json j = good_announce();
    j[key] = std::move(v);
    return announce_error(j);
  };
  EXPECT_EQ(with("node_id", "0011"), "field 'node_id' must be 32 hex digits, got '0011'");
  EXPECT_EQ(with("node_id", std::string(32, 'g')),
            "field 'node_id' must be 32 hex digits, got '" + std::string(32, 'g') + "'");
  EXPECT_NE(with("stream", "cam").find("field 'stream' must be live/NAME"), std::string::npos);
  EXPECT_NE(with("stream", "live/").find("field 'stream'"), std::string::npos);
  EXPECT_NE(with("stream", "live/a b").find("field 'stream'"), std::string::npos);
  EXPECT_NE(with("stream", "live/" + std::string(200, 'a')).find("field 'stream'"),
            std::string::npos);
  EXPECT_EQ(with("role", "king"), "field 'role' must be one of origin, edge, peer, got 'king'");
  EXPECT_EQ(with("upload_kbps", -5),
            "field 'upload_kbps' must be an integer in 0..100000000, got -5");
  EXPECT_EQ(with("upload_kbps", 1.5),
            "field 'upload_kbps' must be an integer in 0..100000000, got 1.5");
  EXPECT_NE(with("region", "eu west").find("field 'region'"), std::string::npos);
  EXPECT_NE(with("public_key", "abc").find("field 'public_key'"), std::string::npos);

  json j = good_announce();
  j["swarm"]["port"] = 70000;
  EXPECT_EQ(announce_error(j), "field 'swarm.port' must be an integer in 0..65535, got 70000");
  j = good_announce();
  j["swarm"]["host"] = "example.com";
  EXPECT_EQ(announce_error(j),
            "field 'swarm.host' must be a numeric IPv4 or IPv6 address, got 'example.com'");
  j = good_announce();
  j["stats"]["bad name"] = 1;
  EXPECT_NE(announce_error(j).find("stat name 'bad name'"), std::string::npos);
}

TEST(tracker_messages, hostile_strings_are_shortened_and_made_printable_in_errors) {
  json j = good_announce();
  j["role"] = std::string("\x01\x02", 2) + std::string(500, 'x');
  const std::string e = announce_error(j);
  EXPECT_LT(e.size(), 120u);
  EXPECT_NE(e.find("'??xxx"), std::string::npos);
  EXPECT_NE(e.find("...'"), std::string::npos);
}

TEST(tracker_messages, integral_floats_are_accepted_as_integers) {
  json j = good_announce();
  j["swarm"]["port"] = 7071.0;
  const auto r = decode_announce_request(j.dump());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->port, 7071);
}

TEST(tracker_messages, oversized_bodies_and_lists_are_too_large) {
  const std::string huge(k_max_request_bytes + 1, ' ');
  const auto r = decode_announce_request(huge);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, static_cast<int>(errc::too_large));
  EXPECT_EQ(r.error().message, "body of 16385 bytes exceeds limit 16384");

  json j = good_announce();
  for (int i = 0; i < 40; ++i) j["stats"]["s" + std::to_string(i)] = i;
  errc code{};
  EXPECT_EQ(announce_error(j, &code), "field 'stats' has 43 entries, limit 32");
  EXPECT_EQ(code, errc::too_large);
}

TEST(tracker_messages, deep_nesting_is_refused_without_crashing) {
  std::string deep = "{\"stats\":";
  deep += std::string(6000, '[') + std::string(6000, ']') + "}";
  EXPECT_FALSE(decode_announce_request(deep));
}

TEST(tracker_messages, unknown_fields_are_ignored) {
  json j = good_announce();
  j["future_field"] = {{"x", 1}};
  EXPECT_TRUE(decode_announce_request(j.dump()));
}

TEST(tracker_messages, announce_response_round_trips_with_a_fractional_interval) {
  announce_response a;
  a.interval = core::micros{250'000};
  a.public_key = "aa55";
  candidate c;
  c.address = {*node_id_from_hex(k_id), "10.0.0.1", 7000};
  c.role = ps::node_role::origin;
  c.region = "eu";
  c.rtt_hint_ms = 12;
  a.candidates.push_back(c);
  c.address.host = "fe80::1";
  c.role = ps::node_role::peer;
  c.region.clear();
  c.rtt_hint_ms.reset();
  a.candidates.push_back(c);

  const std::string body = encode(a);
  EXPECT_NE(body.find("\"interval\":0.25"), std::string::npos) << body;
  const auto r = decode_announce_response(body);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->interval, core::micros{250'000});
  EXPECT_EQ(r->public_key, "aa55");
  ASSERT_EQ(r->candidates.size(), 2u);
  EXPECT_EQ(r->candidates[0].address.host, "10.0.0.1");
  EXPECT_EQ(r->candidates[0].address.port, 7000);
  EXPECT_EQ(r->candidates[0].role, ps::node_role::origin);
  EXPECT_EQ(r->candidates[0].region, "eu");
  EXPECT_EQ(r->candidates[0].rtt_hint_ms, 12u);
  EXPECT_EQ(r->candidates[1].address.host, "fe80::1");
  EXPECT_FALSE(r->candidates[1].rtt_hint_ms);
  EXPECT_EQ(r->skipped_candidates, 0u);
}

TEST(tracker_messages, whole_second_intervals_are_integers_on_the_wire) {
  announce_response a;
  a.interval = core::micros{5'000'000};
  EXPECT_TRUE(json::parse(encode(a))["interval"].is_number_integer()) << encode(a);
}

TEST(tracker_messages, malformed_candidates_are_skipped_and_counted) {
  const json ok{{"node_id", k_id}, {"host", "10.0.0.1"}, {"port", 7000}, {"role", "peer"}};
  json relay = ok;
  relay["role"] = "relay";  // a role from a newer tracker
  json no_port = ok;
  no_port["port"] = 0;
  json name_host = ok;
  name_host["host"] = "peer.example";
  const json body{{"interval", 5}, {"candidates", {ok, relay, 17, no_port, name_host, ok}}};
  const auto r = decode_announce_response(body.dump());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->candidates.size(), 2u);
  EXPECT_EQ(r->skipped_candidates, 4u);
}

TEST(tracker_messages, response_without_interval_or_candidates_is_refused) {
  EXPECT_EQ(decode_announce_response(R"({"candidates":[]})").error().message,
            "missing field 'interval'");
  EXPECT_EQ(decode_announce_response(R"({"interval":5})").error().message,
            "missing field 'candidates'");
  EXPECT_EQ(decode_announce_response(R"({"interval":5,"candidates":{}})").error().message,
            "field 'candidates' must be an array, got object");
  EXPECT_EQ(decode_announce_response(R"({"interval":-1,"candidates":[]})").error().code,
            static_cast<int>(errc::invalid_value));
}

TEST(tracker_messages, response_interval_is_clamped) {
  auto r = decode_announce_response(R"({"interval":0,"candidates":[]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->interval, k_min_interval);
  r = decode_announce_response(R"({"interval":1e8,"candidates":[]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->interval, k_max_interval);
}

TEST(tracker_messages, leave_request_round_trips_and_validates) {
  const leave_request l{*node_id_from_hex(k_id), "live/cam"};
  const auto r = decode_leave_request(encode(l));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, l.id);
  EXPECT_EQ(r->stream, "live/cam");
  EXPECT_EQ(decode_leave_request(R"({"stream":"live/cam"})").error().message,
            "missing field 'node_id'");
  EXPECT_FALSE(decode_leave_request("{"));
}

TEST(tracker_messages, field_helpers_accept_only_what_they_say) {
  EXPECT_TRUE(is_numeric_host("127.0.0.1"));
  EXPECT_TRUE(is_numeric_host("::ffff:10.0.0.1"));
  EXPECT_FALSE(is_numeric_host("localhost"));
  EXPECT_FALSE(is_numeric_host("[::1]"));
  EXPECT_FALSE(is_numeric_host("1.2.3.4.5"));
  EXPECT_FALSE(is_numeric_host(std::string(100, '1')));
  EXPECT_FALSE(is_numeric_host(std::string("1.2.3.4\0", 8)));
  EXPECT_TRUE(is_unspecified_host("::"));
  EXPECT_FALSE(is_unspecified_host("::1"));
  EXPECT_EQ(to_hex(*node_id_from_hex("00112233445566778899AABBCCDDEEFF")), k_id);
  EXPECT_FALSE(node_id_from_hex(std::string(33, 'a')));
  EXPECT_EQ(role_from_name(role_name(ps::node_role::edge)), ps::node_role::edge);
  EXPECT_FALSE(role_from_name("Peer"));
}

}  // namespace
}  // namespace meshcast::proto::tracker
