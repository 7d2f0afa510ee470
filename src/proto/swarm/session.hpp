// session: one swarm connection as a sans-IO state machine (quinn-proto style). It frames and
// parses bytes, runs the handshake (both sides send hello at once), answers pings and sends
// keepalive pings, enforces frame limits and timeouts. It never touches a socket or a clock.
//
// Inputs:   on_bytes(data, now), on_timeout(now), send(message), close(reason, text)
// Outputs:  poll_transmit() — bytes to write, in order (a chunk frame comes as a head plus the
//           shared payload buffer, for a gather write with no copy);
//           poll_event() — established{remote hello}, received{message}, rtt{sample},
//           closed{reason, text, by_remote};
//           next_deadline() — when to call on_timeout.
// Drain order after each input: poll_transmit until empty, then poll_event until empty (handling
// an event may send(), so drain transmit again), then re-arm the timer with next_deadline().
//
// States: handshaking --(valid remote hello)--> established --(close either side, error,
//         timeout)--> closed. A malformed frame, an oversized frame, a hello for another stream or
//         version, or any frame but hello or close before hello closes with a reason (sent to the
//         peer when possible). A close frame is accepted in any state. Single-threaded.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <variant>

#include "core/bytes.hpp"
#include "core/time.hpp"
#include "proto/swarm/codec.hpp"
#include "proto/swarm/messages.hpp"

namespace meshcast::proto::swarm {

struct session_settings {
  core::micros handshake_timeout{10'000'000};
  core::micros keepalive_interval{2'000'000};  ///< ping period, also the RTT sample period
  core::micros idle_timeout{20'000'000};       ///< nothing received for this long closes
  std::size_t max_frame_bytes = k_max_frame_bytes;
  /// A remote sending more pings than this per keepalive_interval is closed (flood): each ping
  /// costs us a pong, and pings never reach the node's own flood accounting.
  std::uint32_t max_pings_per_interval = 8;
  /// Random bits from the driver's seeded rng: ping nonces are derived from them so a remote
  /// cannot answer a ping before it arrives (and fake a low RTT).
  std::uint64_t nonce_seed = 0;
};

// `transmit` (bytes to write: head, then a chunk's shared payload) is defined in codec.hpp.

struct established_event {
  hello remote;
};
struct received_event {
  message msg;  ///< never a hello, ping, pong or close: the session handles those itself
};
struct rtt_event {
  core::micros rtt{0};
  /// The remote's estimate of the origin clock at the moment we received the pong, corrected
  /// by half the RTT: origin_clock - now is a sample of our offset to the origin.
  core::time_point origin_clock_at_receipt;
};
struct closed_event {
  close_reason reason = close_reason::normal;
  std::string text;
  bool by_remote = false;
};
using session_event = std::variant<established_event, received_event, rtt_event, closed_event>;

struct session_stats {
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t payload_in = 0, payload_out = 0;  ///< chunk payload bytes (the rest is overhead)
  std::uint64_t frames_in = 0, frames_out = 0;
};

class session {
 public:
  enum class state { handshaking, established, closed };

  /// `local` is our hello (sent at once); the remote's must name the same stream and rendition.
  session(hello local, session_settings settings, core::time_point now);

  void on_bytes(core::byte_view data, core::time_point now);
  void on_timeout(core::time_point now);
  /// Queues a message (not hello/ping/pong/close: use close()). Returns false and sends nothing
  /// unless established, or when the codec refuses the message (codec.hpp validate(): an
  /// unsigned chunk, a list over a wire limit, a non-numeric pex host) — a frame the remote
  /// would reject as malformed is never sent.
  bool send(const message& msg);
  /// Queues a close frame after whatever is queued and moves to closed; a closed_event
  /// (by_remote=false) follows. `text` is cut to k_max_close_text_bytes, control characters
  /// replaced. Ignored when already closed.
  void close(close_reason reason, std::string text);
  /// The node's current offset to the origin clock (origin - local), used in pong answers.
  void set_origin_offset(core::micros offset) { origin_offset_ = offset; }

  /// Still returns the queued bytes (ending with our close frame) after the session closed: the
  /// driver writes them, then shuts the socket.
  std::optional<transmit> poll_transmit();
  std::optional<session_event> poll_event();
  [[nodiscard]] std::optional<core::time_point> next_deadline() const;

  [[nodiscard]] state current_state() const { return state_; }
  [[nodiscard]] const session_stats& stats() const { return stats_; }
  [[nodiscard]] std::optional<core::micros> rtt() const { return rtt_; }
  /// Bytes queued for transmit and not yet drained (for the driver's back-pressure).
  [[nodiscard]] std::size_t queued_bytes() const { return queued_bytes_; }

 private:
  // Implementation detail, see session.cpp.
  struct pending_ping {
    std::uint64_t nonce = 0;
    core::time_point sent;
  };
  /// Every timer of the session; unset = not running.
  struct timer_table {
    std::optional<core::time_point> handshake;  ///< handshaking: remote hello due
    std::optional<core::time_point> idle;       ///< last bytes received + idle_timeout
    std::optional<core::time_point> keepalive;  ///< established: next ping
  };

  void on_frame(message msg, core::time_point now);
  void on_remote_hello(const hello& remote, core::time_point now);
  void on_ping(const ping& p, core::time_point now);
  void on_pong(const pong& p, core::time_point now);
  void send_ping(core::time_point now);
  void queue(transmit t);
  void queue_frame(const message& msg);
  /// Closes because of the remote or a timer: drops what is queued (but our hello), sends a
  /// close frame.
  void fail(close_reason reason, std::string text);
  void enter_closed(close_reason reason, std::string text, bool by_remote);

  hello local_;
  session_settings settings_;
  state state_ = state::handshaking;
  frame_reader reader_;
  std::deque<transmit> out_;
  std::deque<session_event> events_;
  std::size_t queued_bytes_ = 0;
  session_stats stats_;
  std::optional<core::micros> rtt_;
  core::micros origin_offset_{0};
  timer_table timers_;
  std::deque<pending_ping> pings_out_;  ///< sent, pong not yet received (a few at most)
  std::uint64_t ping_count_ = 0;
  core::time_point ping_window_start_;  ///< flood accounting of received pings
  std::uint32_t pings_in_window_ = 0;
};

}  // namespace meshcast::proto::swarm
