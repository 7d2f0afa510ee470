#include "tracker/service.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace meshcast::tracker {

namespace {

using json = nlohmann::json;
constexpr std::string_view k_text = "text/plain; charset=utf-8";

bool is_loopback(std::string_view address) {
  return address.starts_with("127.") || address == "::1";
}

std::string_view reason_of(registry_errc e) {
  switch (e) {
    case registry_errc::unknown_stream:
      return "unknown_stream";
    case registry_errc::conflict:
      return "conflict";
    case registry_errc::swarm_full:
    case registry_errc::too_many_streams:
      return "full";
  }
  return "other";
}

service_errc status_of(registry_errc e) {
  switch (e) {
    case registry_errc::unknown_stream:
      return service_errc::not_found;
    case registry_errc::conflict:
      return service_errc::conflict;
    case registry_errc::swarm_full:
    case registry_errc::too_many_streams:
      return service_errc::unavailable;
  }
  return service_errc::unavailable;
}

std::int64_t to_ms(core::micros d) { return d.count() / 1000; }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json node_json(const node_entry& e, core::time_point now) {
  json stats = json::object();
  for (const auto& [name, value] : e.stats) stats[name] = value;
  return json{
      {"node_id", pt::to_hex(e.id)},
      {"role", pt::role_name(e.role)},
      {"rendition", e.rendition},
      {"host", e.host},
      {"port", e.port},
      {"region", e.region},
      {"upload_kbps", e.upload_kbps},
      {"upload_kbps_used", e.used_kbps},
      {"load",
       e.upload_kbps == 0 ? json() : json(static_cast<double>(e.used_kbps) / e.upload_kbps)},
      {"stream_kbps", e.stream_kbps},
      {"first_seen_ms", core::to_us(e.first_seen) / 1000},
      {"last_seen_ms", core::to_us(e.last_seen) / 1000},
      {"last_seen_ms_ago", to_ms(now - e.last_seen)},
      {"announces", e.announces},
      {"stats", std::move(stats)},
  };
}

json counts_json(const stream_swarm& s) {
  return json{{"origin", s.count(ps::node_role::origin)},
              {"edge", s.count(ps::node_role::edge)},
              {"peer", s.count(ps::node_role::peer)}};
}

}  // namespace

service::service(service_settings settings)
    : settings_(std::move(settings)), registry_(settings_.registry), policy_(settings_.policy) {}

bool service::authorized(const request_context& ctx) const {
  if (settings_.token.empty()) return false;
  constexpr std::string_view k_bearer = "Bearer ";
  if (!ctx.authorization.starts_with(k_bearer)) return false;
  const std::string_view given = ctx.authorization.substr(k_bearer.size());
  if (given.size() != settings_.token.size()) return false;
  unsigned diff = 0;  // the same time whatever the first wrong byte
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned>(given[i] ^ settings_.token[i]);
  }
  return diff == 0;
}

bool service::admit(const request_context& ctx, core::time_point now) {
  if (settings_.per_address_rate <= 0 || ctx.remote_address.empty()) return true;
  if (!settings_.limit_loopback && is_loopback(ctx.remote_address)) return true;
  const auto refilled = [&](const bucket& b) {
    const double dt = std::max(0.0, static_cast<double>((now - b.last).count()) / 1e6);
    return std::min(settings_.per_address_burst, b.tokens + dt * settings_.per_address_rate);
  };
  auto it = buckets_.find(ctx.remote_address);
  if (it == buckets_.end()) {
    if (buckets_.size() >= settings_.max_tracked_addresses) {
      // Forget the addresses whose bucket has refilled: they are not flooding.
      std::erase_if(buckets_, [&](const auto& kv) {
        return refilled(kv.second) >= settings_.per_address_burst;
      });
      if (buckets_.size() >= settings_.max_tracked_addresses) buckets_.clear();
    }
    it = buckets_.emplace(ctx.remote_address, bucket{settings_.per_address_burst, now}).first;
  }
  bucket& b = it->second;
  b.tokens = refilled(b);
  b.last = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void service::maybe_expire(core::time_point now) {
  if (now < next_scan_) return;
  expire(now);
}

void service::expire(core::time_point now) {
  counters_.expired += registry_.expire(now);
  next_scan_ = now + settings_.expiry_scan_interval;
}

reply service::refuse(const core::error& e, std::string_view reason) {
  ++counters_.rejected[std::string(reason)];
  return reply{e.code, e.message + "\n", k_text};
}

reply service::refuse_decode(const core::error& e) {
  ++counters_.rejected[std::string(pt::to_string(static_cast<pt::errc>(e.code)))];
  return reply{400, e.message + "\n", k_text};
}

core::result<pt::announce_response> service::announce(const pt::announce_request& a,
                                                      const request_context& ctx,
                                                      core::time_point now) {
  const bool trusted = authorized(ctx);
  const auto refuse_typed = [&](service_errc code, std::string message, std::string_view reason) {
    ++counters_.rejected[std::string(reason)];
    return core::make_error(code, std::move(message));
  };
  if (a.role != ps::node_role::peer && !settings_.token.empty() && !trusted) {
    return refuse_typed(service_errc::forbidden,
                        "role " + std::string(pt::role_name(a.role)) +
                            " needs the tracker token (Authorization: Bearer ...)",
                        "forbidden");
  }
  std::string host = a.host.empty() ? ctx.remote_address : a.host;
  if (host.empty()) {
    return refuse_typed(service_errc::bad_request,
                        "missing field 'swarm.host' and the requester's address is unknown",
                        "missing_field");
  }
  maybe_expire(now);
  const bool existed = registry_.find(a.stream) != nullptr;
  auto entry = registry_.announce(a, std::move(host), ctx.remote_address, trusted, now);
  if (!entry) {
    const auto e = static_cast<registry_errc>(entry.error().code);
    return refuse_typed(status_of(e), entry.error().message, reason_of(e));
  }
  if (!existed) ++counters_.streams_created;
  ++counters_.announces[static_cast<std::size_t>(a.role)];
  const stream_swarm& s = *registry_.find(a.stream);
  pt::announce_response r;
  r.interval = settings_.registry.interval;
  r.public_key = s.public_key();
  r.candidates = policy_.candidates_for(registry_, s, **entry, now);
  return r;
}

reply service::announce(std::string_view body, const request_context& ctx, core::time_point now) {
  if (!admit(ctx, now)) {
    return refuse(
        core::make_error(service_errc::rate_limited, "rate limit: at most " +
                                                         json(settings_.per_address_rate).dump() +
                                                         " requests per second per address"),
        "rate_limited");
  }
  auto request = pt::decode_announce_request(body);
  if (!request) return refuse_decode(request.error());
  auto answer = announce(*request, ctx, now);
  if (!answer) return reply{answer.error().code, answer.error().message + "\n", k_text};
  return reply{200, pt::encode(*answer)};
}

reply service::leave(std::string_view body, const request_context& ctx, core::time_point now) {
  if (!admit(ctx, now)) {
    return refuse(core::make_error(service_errc::rate_limited, "rate limit exceeded"),
                  "rate_limited");
  }
  auto request = pt::decode_leave_request(body);
  if (!request) return refuse_decode(request.error());
  if (const stream_swarm* s = registry_.find(request->stream)) {
    if (const node_entry* e = s->find(request->id)) {
      if (e->observed_host != ctx.remote_address && !authorized(ctx)) {
        return refuse(
            core::make_error(service_errc::forbidden, "node_id " + pt::to_hex(request->id) +
                                                          " is registered from another address"),
            "forbidden");
      }
      registry_.leave(request->stream, request->id);
      ++counters_.leaves;
    }
  }
  return reply{204, "", k_text};
}

reply service::swarm_listing(std::string_view stream, const request_context& ctx,
                             core::time_point now) {
  if (!admit(ctx, now)) {
    return refuse(core::make_error(service_errc::rate_limited, "rate limit exceeded"),
                  "rate_limited");
  }
  maybe_expire(now);
  const stream_swarm* s = registry_.find(stream);
  if (!s) {
    return reply{404,
                 "unknown stream " +
                     (pt::is_valid_stream_name(stream) ? std::string(stream) : std::string("?")) +
                     "\n",
                 k_text};
  }
  const swarm_health h = policy_.health(*s);
  json nodes = json::array();
  std::size_t listed = 0;
  const auto list = [&](std::span<const node_entry> entries) {
    for (const node_entry& e : entries) {
      if (listed >= settings_.max_listed_nodes) return;
      if (registry_.is_stale(e, now)) continue;
      nodes.push_back(node_json(e, now));
      ++listed;
    }
  };
  list(s->infrastructure());
  list(s->peers());
  const json body{
      {"stream", s->name()},
      {"public_key", s->public_key()},
      {"interval", static_cast<double>(settings_.registry.interval.count()) / 1e6},
      {"expiry", static_cast<double>(registry_.expiry().count()) / 1e6},
      {"created_ms", core::to_us(s->created()) / 1000},
      {"counts", counts_json(*s)},
      {"health",
       {{"stream_kbps", h.stream_kbps},
        {"peers", h.peers},
        {"supply_kbps", h.supply_kbps},
        {"used_kbps", h.used_kbps},
        {"free_kbps", h.free_kbps},
        {"demand_kbps", h.demand_kbps},
        {"spare", h.spare}}},
      {"nodes_total", s->size()},
      {"truncated", listed >= settings_.max_listed_nodes && s->size() > listed},
      {"nodes", std::move(nodes)},
  };
  return reply{200, dump(body) + "\n"};
}

reply service::stream_listing(const request_context& ctx, core::time_point now) {
  if (!admit(ctx, now)) {
    return refuse(core::make_error(service_errc::rate_limited, "rate limit exceeded"),
                  "rate_limited");
  }
  maybe_expire(now);
  json streams = json::array();
  for (const auto& [name, s] : registry_.swarms()) {
    streams.push_back(json{{"stream", name}, {"nodes", s.size()}, {"counts", counts_json(s)}});
  }
  return reply{200, dump(json{{"streams", std::move(streams)}}) + "\n"};
}

}  // namespace meshcast::tracker
