#include "proto/tracker/client.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace meshcast::proto::tracker {
namespace {

using namespace std::chrono_literals;

const core::time_point t0 = core::from_us(1'700'000'000'000'000);

std::string response_body(double interval_s, std::string_view key = "ab12") {
  return nlohmann::json{{"interval", interval_s},
                        {"public_key", key},
                        {"candidates",
                         {{{"node_id", "0102030405060708090a0b0c0d0e0f10"},
                           {"host", "10.0.0.1"},
                           {"port", 7071},
                           {"role", "origin"}}}}}
      .dump();
}

class tracker_client_core : public ::testing::Test {
 protected:
  static client_settings settings() {
    client_settings s;
    s.node.id = *node_id_from_hex("ffeeddccbbaa99887766554433221100");
    s.node.stream = "live/cam";
    s.node.role = ps::node_role::peer;
    s.node.port = 7072;
    s.node.upload_kbps = 5000;
    s.backoff_jitter = 0;  // exact delays
    return s;
  }

  // Sends what is due now and answers it.
  client_request send(core::time_point now) {
    auto r = c.poll_request(now);
    EXPECT_TRUE(r) << "nothing due at +" << (now - t0).count() << " us";
    return r ? *r : client_request{};
  }
  void answer(core::time_point now, int status, const std::string& body) {
    const client_request r = send(now);
    c.on_response(r.id, status, body, now);
  }
  void fail(core::time_point now) {
    const client_request r = send(now);
    c.on_failure(r.id, "connect: Connection refused", now);
  }
  template <class E>
  E next_event() {
    auto e = c.poll_event();
    EXPECT_TRUE(e);
    EXPECT_TRUE(e && std::holds_alternative<E>(*e));
    return e && std::holds_alternative<E>(*e) ? std::get<E>(*e) : E{};
  }

  client c{settings(), t0};
};

TEST_F(tracker_client_core, first_announce_is_due_at_once_and_carries_the_node) {
  EXPECT_EQ(c.next_deadline(), t0);
  const client_request r = send(t0);
  EXPECT_EQ(r.kind, request_kind::announce);
  EXPECT_EQ(r.target, k_announce_path);
  const auto decoded = decode_announce_request(r.body);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->stream, "live/cam");
  EXPECT_EQ(decoded->port, 7072);
  EXPECT_EQ(decoded->upload_kbps, 5000u);
}

TEST_F(tracker_client_core, one_request_is_in_flight_at_a_time) {
  send(t0);
  EXPECT_FALSE(c.poll_request(t0 + 1h));
  EXPECT_FALSE(c.next_deadline());
  EXPECT_EQ(c.current_state(), client::state::announcing);
}

TEST_F(tracker_client_core, answer_gives_candidates_and_schedules_the_next_announce) {
  answer(t0, 200, response_body(5));
  const auto e = next_event<announced_event>();
  EXPECT_EQ(e.response.interval, 5s);
  EXPECT_EQ(e.response.public_key, "ab12");
  ASSERT_EQ(e.response.candidates.size(), 1u);
  EXPECT_EQ(e.response.candidates[0].address.host, "10.0.0.1");
  EXPECT_EQ(e.response.candidates[0].role, ps::node_role::origin);
  EXPECT_EQ(c.next_deadline(), t0 + 5s);
  EXPECT_FALSE(c.poll_request(t0 + 4s));
  EXPECT_TRUE(c.poll_request(t0 + 5s));
}

TEST_F(tracker_client_core, interval_is_clamped_to_the_settings) {
  answer(t0, 200, response_body(0.01));
  EXPECT_EQ(c.next_deadline(), t0 + 1s);  // min_interval
  answer(t0 + 1s, 200, response_body(86400));
  EXPECT_EQ(c.next_deadline(), t0 + 1s + 600s);  // max_interval
}

TEST_F(tracker_client_core, failures_back_off_from_one_second_doubling_up_to_thirty) {
  core::time_point now = t0;
  const std::vector<core::micros> expected{1s, 2s, 4s, 8s, 16s, 30s, 30s};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    fail(now);
    const auto e = next_event<failed_event>();
    EXPECT_EQ(e.consecutive_failures, i + 1);
    EXPECT_EQ(e.retry_at - now, expected[i]) << "failure " << i + 1;
    EXPECT_EQ(e.error.code, static_cast<int>(client_errc::transport));
    EXPECT_EQ(e.error.message, "tracker announce: connect: Connection refused");
    now = e.retry_at;
  }
}

TEST_F(tracker_client_core, success_resets_the_backoff) {
  fail(t0);
  fail(t0 + 1s);
  answer(t0 + 3s, 200, response_body(5));
  EXPECT_EQ(c.consecutive_failures(), 0u);
  fail(t0 + 8s);
  (void)next_event<failed_event>();
  (void)next_event<failed_event>();
  (void)next_event<announced_event>();
  EXPECT_EQ(next_event<failed_event>().retry_at, t0 + 9s);
}

TEST_F(tracker_client_core, jitter_shortens_the_backoff_by_at_most_its_share) {
  client_settings s = settings();
  s.backoff_jitter = 0.5;
  client j{s, t0};
  core::time_point now = t0;
  for (int i = 0; i < 8; ++i) {
    const auto r = j.poll_request(now);
    ASSERT_TRUE(r);
    j.on_failure(r->id, "timeout", now);
    const auto e = std::get<failed_event>(*j.poll_event());
    const core::micros full = std::min<core::micros>(1s * (1 << i), 30s);
    EXPECT_LE(e.retry_at - now, full);
    EXPECT_GE(e.retry_at - now, full / 2);
    now = e.retry_at;
  }
}

TEST_F(tracker_client_core, http_error_reports_the_status_and_the_trackers_reason) {
  answer(t0, 404, "unknown stream live/cam\n");
  const auto e = next_event<failed_event>();
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.error.code, static_cast<int>(client_errc::http_status));
  EXPECT_EQ(e.error.message, "tracker announce: HTTP 404: unknown stream live/cam");
  EXPECT_EQ(e.retry_at, t0 + 1s);
}

TEST_F(tracker_client_core, malformed_answer_is_a_failure_with_the_reason) {
  answer(t0, 200, R"({"interval":"soon","candidates":[]})");
  const auto e = next_event<failed_event>();
  EXPECT_EQ(e.error.code, static_cast<int>(client_errc::bad_response));
  EXPECT_EQ(e.error.message,
            "tracker announce: bad response: field 'interval' must be a number, got string");
}

TEST_F(tracker_client_core, answers_to_other_requests_are_ignored) {
  const client_request r = send(t0);
  c.on_response(r.id + 1, 200, response_body(5), t0);
  c.on_failure(0, "x", t0);
  EXPECT_FALSE(c.poll_event());
  EXPECT_EQ(c.current_state(), client::state::announcing);
}

TEST_F(tracker_client_core, stats_updates_go_into_the_next_announce) {
  answer(t0, 200, response_body(5));
  c.set_stats({{"continuity", 0.5}, {"upload_kbps_used", 1200}});
  c.set_upload_kbps(9000);
  const auto decoded = decode_announce_request(send(t0 + 5s).body);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->upload_kbps, 9000u);
  EXPECT_DOUBLE_EQ(decoded->stats.at("continuity"), 0.5);
}

TEST_F(tracker_client_core, announce_soon_waits_for_min_interval_since_the_last_request) {
  answer(t0, 200, response_body(30));
  c.announce_soon(t0 + 100ms);
  EXPECT_EQ(c.next_deadline(), t0 + 1s);
  c.announce_soon(t0 + 2s);
  EXPECT_EQ(c.next_deadline(), t0 + 1s);  // already sooner
}

TEST_F(tracker_client_core, leave_overtakes_an_announce_in_flight) {
  answer(t0, 200, response_body(5));
  (void)next_event<announced_event>();
  const client_request announce = send(t0 + 5s);
  c.leave(t0 + 6s);
  EXPECT_EQ(c.current_state(), client::state::leaving);
  const client_request leave = send(t0 + 6s);
  EXPECT_EQ(leave.kind, request_kind::leave);
  EXPECT_EQ(leave.target, k_leave_path);
  const auto body = decode_leave_request(leave.body);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->stream, "live/cam");
  c.on_response(announce.id, 200, response_body(5), t0 + 6s);  // too late: ignored
  EXPECT_FALSE(c.poll_event());
  c.on_response(leave.id, 204, "", t0 + 6s);
  EXPECT_TRUE(next_event<left_event>().acknowledged);
  EXPECT_EQ(c.current_state(), client::state::done);
  EXPECT_FALSE(c.poll_request(t0 + 1h));
  EXPECT_FALSE(c.next_deadline());
}

TEST_F(tracker_client_core, leave_that_fails_still_ends) {
  answer(t0, 200, response_body(5));
  c.leave(t0 + 1s);
  fail(t0 + 1s);
  (void)next_event<announced_event>();
  EXPECT_FALSE(next_event<left_event>().acknowledged);
  EXPECT_EQ(c.current_state(), client::state::done);
}

TEST_F(tracker_client_core, leave_before_any_announce_sends_nothing) {
  c.leave(t0);
  EXPECT_FALSE(c.poll_request(t0));
  EXPECT_FALSE(next_event<left_event>().acknowledged);
  EXPECT_EQ(c.current_state(), client::state::done);
}

}  // namespace
}  // namespace meshcast::proto::tracker
