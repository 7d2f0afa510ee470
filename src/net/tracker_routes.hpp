// tracker_routes: mounts a tracker::service on an http_server (standalone `meshcast tracker`,
// or embedded in `meshcast origin` at the same paths) —
//   POST /api/v1/announce          register or refresh a node, answer its ranked candidates
//   POST /api/v1/leave             remove a node (204)
//   GET  /api/v1/swarm             every stream with its node counts
//   GET  /api/v1/swarm/live/NAME   one swarm: health and nodes (the dashboard's view)
// plus the tracker's /metrics families. docs/tracker.md is the API. The service (and the clock)
// must outlive the server, or the server be stopped first. Event-loop thread only.
#pragma once

#include "core/time.hpp"
#include "net/http_server.hpp"
#include "tracker/service.hpp"

namespace meshcast::net {

/// Adds the routes and the metrics hook, reading `now` from the wall clock.
void add_tracker_routes(http_server& server, tracker::service& tracker);
/// The same with another clock (tests, the simulator's virtual time).
void add_tracker_routes(http_server& server, tracker::service& tracker, const core::clock& clock);

/// The numeric address of the peer of `stream` (an IPv4-mapped IPv6 address as IPv4), or "".
std::string remote_address(const boost::beast::tcp_stream& stream);

}  // namespace meshcast::net
