// service: the tracker as a sans-IO request handler — the registry (who is in each swarm), the
// policy (whom a newcomer should dial), per-address rate limits, the origin/edge token, counters
// for /metrics. It takes a request body, the requester's address and `now`, and returns the
// status and body to answer (docs/tracker.md is the API). net/tracker_routes.hpp mounts it on an
// http_server; the simulator can call it directly. Single-threaded: the owner's thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.hpp"
#include "core/time.hpp"
#include "proto/tracker/messages.hpp"
#include "tracker/policy.hpp"
#include "tracker/registry.hpp"

namespace meshcast::tracker {

struct service_settings {
  registry_settings registry;
  policy_settings policy;
  /// Non-empty: announcing as origin or edge, and a request from an address other than the one
  /// a node registered from, need "Authorization: Bearer <token>". Empty: anyone may (lab,
  /// embedded tracker on a trusted network).
  std::string token;
  /// Requests per second allowed per remote address (token bucket), and the burst. 0 = no limit.
  /// A node announces every few seconds, but many viewers may share one address behind a NAT:
  /// 20/s (a hundred nodes at the default interval) with a burst of 100 only stops floods.
  double per_address_rate = 20;
  double per_address_burst = 100;
  /// Loopback clients are exempt unless this is set: `meshcast lab` runs every peer on 127.0.0.1.
  bool limit_loopback = false;
  std::size_t max_tracked_addresses = 100'000;  ///< rate-limit state kept; beyond it, forgotten
  /// How often requests trigger the O(nodes) expiry scan (stale nodes are skipped meanwhile).
  core::micros expiry_scan_interval{1'000'000};
  std::size_t max_listed_nodes = 1'000;  ///< nodes in one GET /api/v1/swarm/live/NAME answer
};

/// The requester as the HTTP layer sees it.
struct request_context {
  std::string remote_address;      ///< numeric, IPv4-mapped IPv6 given as IPv4; empty = unknown
  std::string_view authorization;  ///< the Authorization header, or empty
};

/// What to answer. 204 has an empty body; errors are text/plain reasons.
struct reply {
  int status = 200;
  std::string body;
  std::string_view content_type = "application/json";
};

/// Typed errors (core::error::code) carry the HTTP status that answers them.
enum class service_errc {
  bad_request = 400,
  forbidden = 403,
  not_found = 404,
  conflict = 409,
  rate_limited = 429,
  unavailable = 503,
};

/// Counters since start, for /metrics.
struct service_counters {
  std::array<std::uint64_t, 3> announces{};  ///< accepted, indexed by node_role
  std::uint64_t leaves = 0;
  std::uint64_t expired = 0;
  std::uint64_t streams_created = 0;
  /// Refused requests by reason: malformed_json, missing_field, wrong_type, invalid_value,
  /// too_large, unknown_stream, forbidden, conflict, rate_limited, full.
  std::map<std::string, std::uint64_t, std::less<>> rejected;
};

class service {
 public:
  explicit service(service_settings settings);

  /// POST /api/v1/announce.
  reply announce(std::string_view body, const request_context& ctx, core::time_point now);
  /// POST /api/v1/leave: 204 whether or not the node was registered.
  reply leave(std::string_view body, const request_context& ctx, core::time_point now);
  /// GET /api/v1/swarm/live/NAME: the swarm's health and nodes (404 for an unknown stream).
  reply swarm_listing(std::string_view stream, const request_context& ctx, core::time_point now);
  /// GET /api/v1/swarm: every stream with its node counts by role.
  reply stream_listing(const request_context& ctx, core::time_point now);

  /// The typed announce behind announce(): registers the node and ranks its candidates.
  /// Errors carry a service_errc and a reason ("unknown stream live/x").
  core::result<pt::announce_response> announce(const pt::announce_request& a,
                                               const request_context& ctx, core::time_point now);

  /// Fixes a stream's chunk-signing key (hex): the embedded tracker of an origin knows it.
  void set_public_key(const std::string& stream, std::string hex) {
    registry_.set_public_key(stream, std::move(hex));
  }
  /// Runs the expiry scan now (it otherwise runs on requests, see expiry_scan_interval).
  void expire(core::time_point now);

  [[nodiscard]] const registry& nodes() const { return registry_; }
  [[nodiscard]] swarm_health health(const stream_swarm& s) const { return policy_.health(s); }
  [[nodiscard]] const service_counters& counters() const { return counters_; }
  [[nodiscard]] const service_settings& settings() const { return settings_; }

 private:
  struct bucket {
    double tokens = 0;
    core::time_point last;
  };
  [[nodiscard]] bool authorized(const request_context& ctx) const;
  bool admit(const request_context& ctx, core::time_point now);
  void maybe_expire(core::time_point now);
  reply refuse(const core::error& e, std::string_view reason);
  reply refuse_decode(const core::error& e);

  service_settings settings_;
  registry registry_;
  policy policy_;
  service_counters counters_;
  std::unordered_map<std::string, bucket> buckets_;
  core::time_point next_scan_{};
};

}  // namespace meshcast::tracker
