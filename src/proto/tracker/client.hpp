// client: one node's tracker client as a sans-IO state machine. It decides when to announce (the
// tracker's interval after an answer, exponential backoff after a failure), builds the request
// bodies (proto/tracker/messages.hpp) and turns answers into events. No socket, no clock: the net
// driver (net/tracker_client.hpp) and the simulator feed it `now` and HTTP answers.
//
// Inputs:  poll_request(now) — also the timer input; on_response(id, status, body, now) and
//          on_failure(id, what, now) complete the request with that id; set_stats() and kin
//          change what the next announce says; announce_soon(now); leave(now).
// Outputs: poll_request(now) — the request to send now, if one is due (one in flight at most);
//          poll_event() — announced{response} | failed{error, retry_at} | left{acknowledged};
//          next_deadline() — when poll_request will next have something to send (nullopt while a
//          request is in flight, and once done).
// Drain order after each input: poll_request(now) (send what it gives), then poll_event until
// empty, then sleep until next_deadline().
//
// States: waiting (an announce is due at next_announce_; the first at construction)
//           --poll_request--> announcing --2xx with a valid body--> waiting (+ interval)
//           announcing --transport failure, non-2xx, bad body--> waiting (+ backoff)
//         any --leave()--> leaving (the leave is due at once; skipped if nothing was ever sent)
//           --answer or failure--> done.
// An answer with an id other than the request in flight (an announce overtaken by leave()) is
// ignored. Single-threaded; randomness (backoff jitter) only from settings.seed.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <variant>

#include "core/result.hpp"
#include "core/time.hpp"
#include "proto/tracker/messages.hpp"

namespace meshcast::proto::tracker {

struct client_settings {
  announce_request node;  ///< what this node announces (id, stream, role, swarm port, ...)
  /// The tracker's interval is clamped to [min_interval, max_interval]: a broken or hostile
  /// tracker can neither make the node flood it nor go silent for a day.
  core::micros min_interval{1'000'000};
  core::micros max_interval{600'000'000};
  /// After the n-th failure in a row the next announce waits backoff_initial * 2^(n-1), at
  /// most backoff_max, less up to `backoff_jitter` of it (so a restarted tracker is not hit by
  /// every node in the same second).
  core::micros backoff_initial{1'000'000};
  core::micros backoff_max{30'000'000};
  double backoff_jitter = 0.2;
  std::uint64_t seed = 1;
};

/// Per-domain error codes of client errors (core::error::code).
enum class client_errc {
  transport = 1,    ///< no answer: connect, write, read or timeout
  http_status = 2,  ///< an answer other than 2xx
  bad_response = 3  ///< a 2xx whose body is not a valid announce response
};

enum class request_kind { announce, leave };

/// An HTTP request to send: always POST, JSON body.
struct client_request {
  std::uint64_t id = 0;  ///< echo it to on_response / on_failure
  request_kind kind = request_kind::announce;
  std::string_view target;  ///< k_announce_path or k_leave_path
  std::string body;
};

struct announced_event {
  announce_response response;
};
struct failed_event {
  core::error error;    ///< "tracker announce: HTTP 404: unknown stream live/x"
  int http_status = 0;  ///< 0 for transport failures
  std::uint32_t consecutive_failures = 0;
  core::time_point retry_at;
};
struct left_event {
  bool acknowledged = false;  ///< the tracker answered the leave with 2xx
};
using client_event = std::variant<announced_event, failed_event, left_event>;

class client {
 public:
  enum class state { waiting, announcing, leaving, done };

  /// The first announce is due at `now`.
  client(client_settings settings, core::time_point now);

  std::optional<client_request> poll_request(core::time_point now);
  void on_response(std::uint64_t id, int http_status, std::string_view body, core::time_point now);
  void on_failure(std::uint64_t id, std::string_view what, core::time_point now);

  /// What the next announce reports.
  void set_stats(node_stats stats) { settings_.node.stats = std::move(stats); }
  void set_upload_kbps(std::uint32_t kbps) { settings_.node.upload_kbps = kbps; }
  void set_stream_kbps(std::uint32_t kbps) { settings_.node.stream_kbps = kbps; }
  /// Announce as soon as min_interval since the last request allows (e.g. the node lost
  /// neighbours and wants fresh candidates). No effect while backing off or leaving.
  void announce_soon(core::time_point now);
  /// Stop announcing; the next poll_request gives the leave request. Idempotent.
  void leave(core::time_point now);

  std::optional<client_event> poll_event();
  [[nodiscard]] std::optional<core::time_point> next_deadline() const;

  [[nodiscard]] state current_state() const { return state_; }
  [[nodiscard]] const announce_request& node() const { return settings_.node; }
  [[nodiscard]] std::uint32_t consecutive_failures() const { return failures_; }
  /// The last successful answer, if any.
  [[nodiscard]] const std::optional<announce_response>& last_response() const { return last_; }

 private:
  void fail(client_errc code, std::string message, int http_status, core::time_point now);
  [[nodiscard]] core::micros backoff();

  client_settings settings_;
  state state_ = state::waiting;
  core::time_point next_announce_;
  std::optional<core::time_point> last_sent_;
  std::uint64_t next_id_ = 1;
  std::uint64_t in_flight_ = 0;  // id of the request in flight, 0 = none
  bool leave_due_ = false;
  bool ever_sent_ = false;
  std::uint32_t failures_ = 0;
  std::optional<announce_response> last_;
  std::deque<client_event> events_;
  std::mt19937_64 rng_;
};

}  // namespace meshcast::proto::tracker
