// The tracker's HTTP + JSON API (/api/v1/announce, /api/v1/leave) as C++ values, and their JSON
// form both ways: the tracker decodes requests and encodes responses, the tracker client does the
// opposite. docs/tracker.md is the normative description of the wire form.
// Decoders take hostile bytes: they never throw, and an error names the field, what was expected
// and what came ("field 'swarm.port' must be an integer in 0..65535, got 70000").
// Plain value types and pure functions; no thread affinity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"
#include "proto/swarm/messages.hpp"

namespace meshcast::proto::tracker {

namespace ps = proto::swarm;

inline constexpr std::string_view k_announce_path = "/api/v1/announce";
inline constexpr std::string_view k_leave_path = "/api/v1/leave";
/// GET k_swarm_path + "/live/NAME" lists one swarm; GET k_swarm_path lists the streams.
inline constexpr std::string_view k_swarm_path = "/api/v1/swarm";

/// Largest request body the tracker reads. An announce with every stat is under 2 KiB; 16 KiB
/// leaves room without letting one request cost much to parse.
inline constexpr std::size_t k_max_request_bytes = 16 * 1024;
/// Largest announce response the client reads: 200 candidates at ~150 bytes each, with margin.
inline constexpr std::size_t k_max_response_bytes = 256 * 1024;
inline constexpr std::size_t k_max_stats = 32;        ///< entries in an announce's "stats" object
inline constexpr std::size_t k_max_token_bytes = 64;  ///< a region, a stat name, a rendition
inline constexpr std::size_t k_max_stream_name_bytes = 128;  ///< "live/NAME", prefix included
inline constexpr std::size_t k_max_public_key_chars = 512;   ///< hex digits
inline constexpr std::size_t k_max_candidates = 200;         ///< candidates a client accepts
/// 100 Gbit/s: anything above is a typo or a lie, and sums of it stay far from overflow.
inline constexpr std::uint32_t k_max_kbps = 100'000'000;
/// Announce intervals a client accepts from a tracker, clamped further by client settings.
inline constexpr core::micros k_min_interval{10'000};
inline constexpr core::micros k_max_interval{3'600'000'000};

/// Why a body was refused (core::error::code).
enum class errc {
  malformed_json = 1,  ///< not JSON, or not a JSON object
  missing_field = 2,
  wrong_type = 3,     ///< e.g. a string where a number belongs
  invalid_value = 4,  ///< right type, value out of range or badly formed
  too_large = 5,      ///< the body, or a list or string inside it, exceeds its limit
};
/// "malformed_json", "missing_field", ... (metrics label).
std::string_view to_string(errc e);

/// Free-form numeric statistics a node reports: continuity, delay_p95_ms, neighbours,
/// upload_kbps_used, ... Names are tokens ([A-Za-z0-9._-]); values finite numbers.
using node_stats = std::map<std::string, double, std::less<>>;

/// Stat names the tracker itself reads.
inline constexpr std::string_view k_stat_upload_kbps_used = "upload_kbps_used";
/// Neighbour slots still open (max_neighbours − neighbours); 0 = it refuses newcomers.
inline constexpr std::string_view k_stat_neighbour_slots = "neighbour_slots";
/// 1 = the node stored no chunk lately (swarm::node::starving): no source for newcomers.
inline constexpr std::string_view k_stat_starving = "starving";

/// POST /api/v1/announce: who the node is, where it listens and what it can give.
struct announce_request {
  ps::node_id id{};
  std::string stream;                ///< "live/NAME"
  std::string rendition = "source";  ///< a peer's rendition; origins and edges carry them all
  ps::node_role role = ps::node_role::peer;
  /// Swarm listen address; empty = the address the tracker sees the request come from (also
  /// when the node sends 0.0.0.0 or ::, i.e. it listens on every interface).
  std::string host;
  std::uint16_t port = 0;         ///< swarm port others may dial; 0 = accepts no connections
  std::uint32_t upload_kbps = 0;  ///< advertised upload capacity; 0 = unknown
  std::uint32_t stream_kbps = 0;  ///< the rendition's bitrate as the node measures it; 0 = unknown
  std::string region;             ///< e.g. "eu-west"; empty = unknown
  std::string public_key;         ///< hex; from an origin only: the stream's chunk-signing key
  node_stats stats;
};

/// One node a newcomer may dial, best first in announce_response::candidates.
struct candidate {
  ps::peer_address address;
  ps::node_role role = ps::node_role::peer;
  std::string region;
  std::optional<std::uint32_t> rtt_hint_ms;  ///< the tracker's guess, when it has one
};

/// The answer to an announce.
struct announce_response {
  core::micros interval{5'000'000};  ///< announce again after this long
  std::string public_key;            ///< hex; empty when the tracker knows none yet
  std::vector<candidate> candidates;
  /// Candidates a client dropped as malformed or of an unknown role (tolerable: a newer tracker
  /// may offer roles this client does not know). Not on the wire.
  std::size_t skipped_candidates = 0;
};

/// POST /api/v1/leave: the node is going away (answered 204).
struct leave_request {
  ps::node_id id{};
  std::string stream;
};

// ---- encoding (our own values: never fails) ----
std::string encode(const announce_request& r);
std::string encode(const announce_response& r);
std::string encode(const leave_request& r);

// ---- decoding (hostile bytes) ----
/// Also validates every field (stream name, numeric host, limits). Unknown fields are ignored.
core::result<announce_request> decode_announce_request(std::string_view body);
core::result<leave_request> decode_leave_request(std::string_view body);
/// Malformed candidates are skipped and counted (skipped_candidates); more than
/// k_max_candidates are dropped. The interval is clamped to [k_min_interval, k_max_interval].
core::result<announce_response> decode_announce_response(std::string_view body);

// ---- field helpers ----
/// 32 lowercase hex digits.
std::string to_hex(const ps::node_id& id);
/// 32 hex digits, either case; nullopt otherwise.
std::optional<ps::node_id> node_id_from_hex(std::string_view text);
/// "origin", "edge", "peer".
std::string_view role_name(ps::node_role role);
std::optional<ps::node_role> role_from_name(std::string_view name);
/// "live/NAME", NAME being 1+ of [A-Za-z0-9._-], k_max_stream_name_bytes in all.
bool is_valid_stream_name(std::string_view name);
/// 1..k_max_token_bytes of [A-Za-z0-9._-].
bool is_valid_token(std::string_view token);
/// A numeric IPv4 or IPv6 address (no brackets, no zone, no names).
bool is_numeric_host(std::string_view host);
/// 0.0.0.0 or :: (a node that listens on every interface).
bool is_unspecified_host(std::string_view host);
/// Even-length hex, at most k_max_public_key_chars.
bool is_valid_public_key(std::string_view hex);

}  // namespace meshcast::proto::tracker
