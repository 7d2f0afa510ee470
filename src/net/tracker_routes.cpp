#include "net/tracker_routes.hpp"

#include <boost/beast/http/message_generator.hpp>
#include <memory>

#include "net/metrics.hpp"

namespace meshcast::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using clock_ptr = std::shared_ptr<const core::clock>;

tracker::request_context context_of(const http_exchange& ex) {
  return tracker::request_context{remote_address(ex.stream),
                                  ex.request[http::field::authorization]};
}

http_reply to_http(const http_request& req, tracker::reply r) {
  return http::message_generator(
      make_response(req, static_cast<http::status>(r.status), std::move(r.body), r.content_type));
}

// Handlers are plain coroutines over pointers: the service does no I/O, so each answers at once.
asio::awaitable<http_reply> serve_announce(tracker::service* t, clock_ptr clock,
                                           http_exchange& ex) {
  co_return to_http(ex.request, t->announce(ex.request.body(), context_of(ex), clock->now()));
}

asio::awaitable<http_reply> serve_leave(tracker::service* t, clock_ptr clock, http_exchange& ex) {
  co_return to_http(ex.request, t->leave(ex.request.body(), context_of(ex), clock->now()));
}

asio::awaitable<http_reply> serve_swarm(tracker::service* t, clock_ptr clock, http_exchange& ex) {
  const auto ctx = context_of(ex);
  const std::string_view rest = ex.rest.starts_with('/') ? ex.rest.substr(1) : ex.rest;
  if (rest.empty()) co_return to_http(ex.request, t->stream_listing(ctx, clock->now()));
  co_return to_http(ex.request, t->swarm_listing(rest, ctx, clock->now()));
}

void write_metrics(const tracker::service& t, std::string& out) {
  prometheus_writer w{out};
  const tracker::registry& reg = t.nodes();
  w.family("meshcast_tracker_streams", "gauge", "Streams with a swarm on this tracker.");
  w.sample("meshcast_tracker_streams", {}, static_cast<std::uint64_t>(reg.swarms().size()));
  w.family("meshcast_tracker_nodes", "gauge", "Nodes registered, by stream and role.");
  for (const auto& [name, s] : reg.swarms()) {
    for (const auto role : {proto::swarm::node_role::origin, proto::swarm::node_role::edge,
                            proto::swarm::node_role::peer}) {
      w.sample("meshcast_tracker_nodes",
               {{"stream", name}, {"role", proto::tracker::role_name(role)}},
               static_cast<std::uint64_t>(s.count(role)));
    }
  }
  w.family("meshcast_tracker_supply_kbps", "gauge",
           "Sum of the upload capacity peers advertise, by stream (kbit/s).");
  for (const auto& [name, s] : reg.swarms()) {
    w.sample("meshcast_tracker_supply_kbps", {{"stream", name}}, s.peer_upload_kbps());
  }
  w.family("meshcast_tracker_demand_kbps", "gauge",
           "Stream rate times peers, by stream (kbit/s): what the peers need in all.");
  for (const auto& [name, s] : reg.swarms()) {
    w.sample("meshcast_tracker_demand_kbps", {{"stream", name}}, t.health(s).demand_kbps);
  }
  const auto& c = t.counters();
  w.family("meshcast_tracker_announces_total", "counter", "Announces accepted, by role.");
  for (const auto role : {proto::swarm::node_role::origin, proto::swarm::node_role::edge,
                          proto::swarm::node_role::peer}) {
    w.sample("meshcast_tracker_announces_total", {{"role", proto::tracker::role_name(role)}},
             c.announces[static_cast<std::size_t>(role)]);
  }
  w.family("meshcast_tracker_leaves_total", "counter", "Nodes removed by a leave request.");
  w.sample("meshcast_tracker_leaves_total", {}, c.leaves);
  w.family("meshcast_tracker_expired_total", "counter",
           "Nodes removed because they stopped announcing.");
  w.sample("meshcast_tracker_expired_total", {}, c.expired);
  w.family("meshcast_tracker_bad_requests_total", "counter",
           "Tracker requests refused, by reason (malformed_json, missing_field, wrong_type, "
           "invalid_value, too_large, unknown_stream, forbidden, conflict, rate_limited, full).");
  for (const auto& [reason, n] : c.rejected) {
    w.sample("meshcast_tracker_bad_requests_total", {{"reason", reason}}, n);
  }
}

void install(http_server& server, tracker::service& t, const clock_ptr& clock) {
  tracker::service* tp = &t;
  server.add_route(
      http::verb::post, std::string(proto::tracker::k_announce_path),
      [tp, clock](http_exchange& ex) { return serve_announce(tp, clock, ex); }, "tracker");
  server.add_route(
      http::verb::post, std::string(proto::tracker::k_leave_path),
      [tp, clock](http_exchange& ex) { return serve_leave(tp, clock, ex); }, "tracker");
  const auto swarm = [tp, clock](http_exchange& ex) { return serve_swarm(tp, clock, ex); };
  server.add_route(http::verb::get, std::string(proto::tracker::k_swarm_path), swarm, "tracker");
  server.add_route(http::verb::get, std::string(proto::tracker::k_swarm_path) + "/", swarm,
                   "tracker");
  server.add_metrics([tp](std::string& out) { write_metrics(*tp, out); });
}

}  // namespace

void add_tracker_routes(http_server& server, tracker::service& tracker) {
  install(server, tracker, std::make_shared<core::system_clock>());
}

void add_tracker_routes(http_server& server, tracker::service& tracker, const core::clock& clock) {
  install(server, tracker, clock_ptr(&clock, [](const core::clock*) {}));
}

std::string remote_address(const beast::tcp_stream& stream) {
  beast::error_code ec;
  const auto ep = stream.socket().remote_endpoint(ec);
  if (ec) return "";
  const auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).to_string();
  }
  return addr.to_string();
}

}  // namespace meshcast::net
