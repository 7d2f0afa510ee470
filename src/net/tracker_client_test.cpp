#include "net/tracker_client.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "net/http_server.hpp"
#include "net/testing/loopback.hpp"
#include "net/tracker_routes.hpp"

namespace meshcast::net {
namespace {

namespace asio = boost::asio;
namespace pt = proto::tracker;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

proto::swarm::node_id id_of(std::string_view name) {
  proto::swarm::node_id id{};
  std::copy_n(name.begin(), std::min(name.size(), id.size()), id.begin());
  return id;
}

// What one client reported.
struct reports {
  std::vector<pt::announce_response> responses;
  std::vector<core::error> errors;
  bool stopped = false;
};

// A tracker (http_server + routes, interval 100 ms) on 127.0.0.1:0 and tracker clients on it.
class tracker_client_test : public ::testing::Test {
 protected:
  static tracker::service_settings tracker_settings() {
    tracker::service_settings s;
    s.registry.interval = 100ms;
    s.expiry_scan_interval = 10ms;
    s.policy.default_stream_kbps = 1000;
    return s;
  }

  void start_tracker(tracker::service_settings s = tracker_settings()) {
    tracker = std::make_unique<tracker::service>(s);
    http_settings hs;
    hs.endpoint = testing::loopback_any();
    server = std::make_unique<http_server>(ioc, streams, hs);
    add_tracker_routes(*server, *tracker);
    ASSERT_TRUE(server->start());
    tracker_url = testing::loopback_url(server->local_endpoint().port());
  }

  void TearDown() override {
    clients.clear();  // no leave: just cancel
    if (server) server->stop();
    ioc.restart();
    ioc.run_for(200ms);
  }

  tracker_client_settings client_settings(std::string_view name, proto::swarm::node_role role,
                                          std::uint16_t port) {
    tracker_client_settings s;
    s.url = tracker_url;
    s.request_timeout = 2s;
    s.leave_timeout = 300ms;
    s.client.node.id = id_of(name);
    s.client.node.stream = "live/cam";
    s.client.node.role = role;
    s.client.node.port = port;
    s.client.node.upload_kbps = 5000;
    s.client.min_interval = 50ms;
    s.client.backoff_initial = 50ms;
    s.client.backoff_max = 200ms;
    s.client.backoff_jitter = 0;
    return s;
  }

  // Creates and starts a client; its reports collect in the returned object.
  std::shared_ptr<reports> add_client(tracker_client_settings s) {
    auto r = std::make_shared<reports>();
    auto c = std::make_unique<tracker_client>(
        ioc, std::move(s), [r](const pt::announce_response& a) { r->responses.push_back(a); },
        [r](const core::error& e) { r->errors.push_back(e); });
    const auto started = c->start();
    EXPECT_TRUE(started) << (started ? "" : started.error().message);
    clients.push_back(std::move(c));
    return r;
  }

  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
    return testing::run_until(ioc, pred, timeout);
  }

  const tracker::stream_swarm* cam() const { return tracker->nodes().find("live/cam"); }

  asio::io_context ioc;
  media::stream_registry streams{media::stream_settings{}};
  std::unique_ptr<tracker::service> tracker;
  std::unique_ptr<http_server> server;
  std::string tracker_url;
  std::vector<std::unique_ptr<tracker_client>> clients;
};

TEST_F(tracker_client_test, a_peer_learns_the_origin_and_its_key) {
  start_tracker();
  auto os = client_settings("o", proto::swarm::node_role::origin, 9000);
  os.client.node.public_key = "c0ffee";
  const auto origin = add_client(os);
  ASSERT_TRUE(run_until([&] { return !origin->responses.empty(); }));
  const auto peer = add_client(client_settings("p", proto::swarm::node_role::peer, 7001));
  ASSERT_TRUE(run_until([&] { return !peer->responses.empty(); }));
  const pt::announce_response& r = peer->responses.front();
  EXPECT_EQ(r.interval, 100ms);
  EXPECT_EQ(r.public_key, "c0ffee");
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_EQ(r.candidates[0].address.id, id_of("o"));
  EXPECT_EQ(r.candidates[0].address.host, "127.0.0.1");
  EXPECT_EQ(r.candidates[0].address.port, 9000);
  EXPECT_EQ(r.candidates[0].role, proto::swarm::node_role::origin);
  EXPECT_TRUE(peer->errors.empty());
  EXPECT_EQ(clients[1]->last_response()->candidates.size(), 1u);
}

TEST_F(tracker_client_test, clients_announce_again_at_the_trackers_interval) {
  start_tracker();
  const auto origin = add_client(client_settings("o", proto::swarm::node_role::origin, 9000));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return origin->responses.size() >= 4; }));
  // Four answers take three intervals of 100 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  EXPECT_GE(cam()->find(id_of("o"))->announces, 4u);
}

TEST_F(tracker_client_test, stats_reach_the_tracker) {
  start_tracker();
  add_client(client_settings("o", proto::swarm::node_role::origin, 9000));
  const auto peer = add_client(client_settings("p", proto::swarm::node_role::peer, 7001));
  ASSERT_TRUE(run_until([&] { return !peer->responses.empty(); }));
  clients[1]->set_stats({{"continuity", 0.9}, {"upload_kbps_used", 1500}});
  clients[1]->set_upload_kbps(6000);
  clients[1]->announce_soon();
  ASSERT_TRUE(run_until([&] {
    const auto* e = cam() ? cam()->find(id_of("p")) : nullptr;
    return e && e->used_kbps == 1500;
  }));
  EXPECT_EQ(cam()->find(id_of("p"))->upload_kbps, 6000u);
}

TEST_F(tracker_client_test, stop_sends_leave_and_the_node_is_gone) {
  start_tracker();
  add_client(client_settings("o", proto::swarm::node_role::origin, 9000));
  const auto peer = add_client(client_settings("p", proto::swarm::node_role::peer, 7001));
  ASSERT_TRUE(run_until([&] { return !peer->responses.empty(); }));
  ASSERT_NE(cam()->find(id_of("p")), nullptr);
  const std::size_t answers = peer->responses.size();
  clients[1]->stop([peer] { peer->stopped = true; });
  ASSERT_TRUE(run_until([&] { return peer->stopped; }, 2s));
  EXPECT_EQ(cam()->find(id_of("p")), nullptr);
  EXPECT_EQ(tracker->counters().leaves, 1u);
  EXPECT_FALSE(clients[1]->running());
  run_until([] { return false; }, 250ms);
  EXPECT_EQ(peer->responses.size(), answers) << "no callback after stop()";
}

TEST_F(tracker_client_test, an_unreachable_tracker_is_reported_and_retried_with_backoff) {
  const std::uint16_t port = testing::closed_port(ioc);
  tracker_url = testing::loopback_url(port);
  const auto peer = add_client(client_settings("p", proto::swarm::node_role::peer, 7001));
  ASSERT_TRUE(run_until([&] { return peer->errors.size() >= 3; }, 3s));
  const core::error& e = peer->errors.front();
  EXPECT_EQ(e.code, static_cast<int>(pt::client_errc::transport));
  EXPECT_NE(e.message.find("tracker announce: http://127.0.0.1:" + std::to_string(port) +
                           "/api/v1/announce: connect: "),
            std::string::npos)
      << e.message;
  bool stopped = false;
  clients[0]->stop([&] { stopped = true; });
  EXPECT_TRUE(run_until([&] { return stopped; }, 2s));
}

TEST_F(tracker_client_test, a_refusing_tracker_is_reported_with_its_reason) {
  start_tracker();
  const auto peer = add_client(client_settings("p", proto::swarm::node_role::peer, 7001));
  ASSERT_TRUE(run_until([&] { return !peer->errors.empty(); }));
  EXPECT_EQ(peer->errors.front().code, static_cast<int>(pt::client_errc::http_status));
  EXPECT_EQ(peer->errors.front().message, "tracker announce: HTTP 404: unknown stream live/cam");
  // The origin shows up: the peer's next try (after the backoff) succeeds.
  add_client(client_settings("o", proto::swarm::node_role::origin, 9000));
  EXPECT_TRUE(run_until([&] { return !peer->responses.empty(); }));
}

TEST_F(tracker_client_test, the_token_is_sent_when_configured) {
  auto s = tracker_settings();
  s.token = "letmein";
  start_tracker(s);
  const auto rejected = add_client(client_settings("x", proto::swarm::node_role::origin, 9000));
  ASSERT_TRUE(run_until([&] { return !rejected->errors.empty(); }));
  EXPECT_NE(rejected->errors.front().message.find("HTTP 403"), std::string::npos);
  auto with = client_settings("o", proto::swarm::node_role::origin, 9001);
  with.token = "letmein";
  const auto origin = add_client(with);
  EXPECT_TRUE(run_until([&] { return !origin->responses.empty(); }));
}

using testing::silent_server;

TEST_F(tracker_client_test, stop_against_a_silent_tracker_ends_within_the_leave_timeout) {
  silent_server silent(ioc);
  tracker_url = testing::loopback_url(silent.port());
  auto s = client_settings("p", proto::swarm::node_role::peer, 7001);
  s.request_timeout = 10s;
  const auto peer = add_client(s);
  ASSERT_TRUE(run_until([&] { return !silent.held.empty(); }));  // the announce is in flight
  const auto start = std::chrono::steady_clock::now();
  bool stopped = false;
  clients[0]->stop([&] { stopped = true; });
  ASSERT_TRUE(run_until([&] { return stopped; }, 3s));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 250ms) << "the leave waited for its answer";
  EXPECT_LT(took, 2s) << "but no longer than leave_timeout";
  EXPECT_TRUE(peer->errors.empty()) << "the aborted announce is not reported";
}

TEST_F(tracker_client_test, stop_before_any_announce_ends_at_once) {
  tracker_client c(ioc, client_settings("p", proto::swarm::node_role::peer, 7001), {}, {});
  bool stopped = false;
  c.stop([&] { stopped = true; });
  EXPECT_TRUE(run_until([&] { return stopped; }, 1s));
}

TEST_F(tracker_client_test, a_bad_url_fails_start) {
  auto s = client_settings("p", proto::swarm::node_role::peer, 7001);
  s.url = "https://tracker.example";
  tracker_client c(ioc, s, {}, {});
  const auto r = c.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "tracker: only http:// URLs are supported, got 'https://tracker.example'");
}

}  // namespace
}  // namespace meshcast::net
