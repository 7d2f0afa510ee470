#include "proto/swarm/session.hpp"
#include "core/splitmix.hpp"

#include <algorithm>

namespace meshcast::proto::swarm {
namespace {

/// Pongs are matched against the last few pings only; with a 2 s keepalive, 4 covers RTTs up
/// to 8 s, far beyond any neighbour worth keeping.
constexpr std::size_t k_max_pending_pings = 4;

std::string duration_text(core::micros d) {
  if (d.count() % 1'000'000 == 0) return std::to_string(d.count() / 1'000'000) + " s";
  return std::to_string(d.count() / 1000) + " ms";
}

/// splitmix64: spreads the nonce seed and a counter into an unpredictable-looking nonce.
std::uint64_t mix(std::uint64_t x) { return core::splitmix64(x); }

/// A close text fit for the wire: at most k_max_close_text_bytes (not cutting a UTF-8
/// sequence), control characters replaced by '?'.
std::string wire_text(std::string text) {
  if (text.size() > k_max_close_text_bytes) {
    text.resize(k_max_close_text_bytes);
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xc0) == 0x80) {
      text.pop_back();
    }
    if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xc0) text.pop_back();
  }
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return text;
}

close_reason reason_for(const core::error& e) {
  return e.code == static_cast<int>(codec_errc::bad_version) ? close_reason::bad_version
                                                             : close_reason::malformed;
}

bool session_handles(const message& m) {
  return std::holds_alternative<hello>(m) || std::holds_alternative<ping>(m) ||
         std::holds_alternative<pong>(m) || std::holds_alternative<swarm::close>(m);
}

}  // namespace

session::session(hello local, session_settings settings, core::time_point now)
    : local_(std::move(local)), settings_(settings), reader_(settings.max_frame_bytes) {
  timers_.handshake = now + settings_.handshake_timeout;
  timers_.idle = now + settings_.idle_timeout;
  ping_window_start_ = now;
  if (auto t = encode_frame(local_)) {
    queue(std::move(*t));
  } else {  // our own configuration breaks a wire limit: nothing to talk about
    enter_closed(close_reason::malformed, "local " + t.error().message, false);
  }
}

// ---------------------------------------------------------------------------------------------
// inputs

void session::on_bytes(core::byte_view data, core::time_point now) {
  if (state_ == state::closed) return;
  stats_.bytes_in += data.size();
  if (!data.empty()) timers_.idle = now + settings_.idle_timeout;
  const auto fed = reader_.feed(data);
  // Frames completed before a bad one are still handled, in order.
  while (state_ != state::closed) {
    auto frame = reader_.next();
    if (!frame) break;
    ++stats_.frames_in;
    auto msg = decode(std::move(*frame));
    if (!msg) {
      fail(reason_for(msg.error()), msg.error().message);
      return;
    }
    on_frame(std::move(*msg), now);
  }
  if (!fed && state_ != state::closed) fail(reason_for(fed.error()), fed.error().message);
}

void session::on_timeout(core::time_point now) {
  if (state_ == state::closed) return;
  if (timers_.handshake && now >= *timers_.handshake) {
    fail(close_reason::timeout,
         "swarm handshake not completed within " + duration_text(settings_.handshake_timeout));
    return;
  }
  if (timers_.idle && now >= *timers_.idle) {
    fail(close_reason::timeout,
         "swarm: nothing received for " + duration_text(settings_.idle_timeout));
    return;
  }
  if (timers_.keepalive && now >= *timers_.keepalive) send_ping(now);
}

bool session::send(const message& msg) {
  if (state_ != state::established || session_handles(msg)) return false;
  auto t = encode_frame(msg);
  if (!t) return false;
  if (const auto* c = std::get_if<chunk_data>(&msg)) stats_.payload_out += c->chunk->size();
  queue(std::move(*t));
  return true;
}

void session::close(close_reason reason, std::string text) {
  if (state_ == state::closed) return;
  text = wire_text(std::move(text));
  queue_frame(swarm::close{reason, text});
  enter_closed(reason, std::move(text), false);
}

// ---------------------------------------------------------------------------------------------
// outputs

std::optional<transmit> session::poll_transmit() {
  if (out_.empty()) return std::nullopt;
  transmit t = std::move(out_.front());
  out_.pop_front();
  queued_bytes_ -= t.size();
  return t;
}

std::optional<session_event> session::poll_event() {
  if (events_.empty()) return std::nullopt;
  session_event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<core::time_point> session::next_deadline() const {
  if (state_ == state::closed) return std::nullopt;
  std::optional<core::time_point> d;
  for (const auto& t : {timers_.handshake, timers_.idle, timers_.keepalive}) {
    if (t && (!d || *t < *d)) d = t;
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// frames

void session::on_frame(message msg, core::time_point now) {
  if (auto* c = std::get_if<swarm::close>(&msg)) {  // in any state: a refusal may come first
    enter_closed(c->reason, std::move(c->text), true);
    return;
  }
  if (state_ == state::handshaking) {
    if (const auto* h = std::get_if<hello>(&msg)) {
      on_remote_hello(*h, now);
    } else {
      fail(close_reason::malformed,
           std::string("swarm ") + to_string(type_of(msg)) + " frame before hello");
    }
    return;
  }
  if (std::holds_alternative<hello>(msg)) {
    fail(close_reason::malformed, "swarm hello frame after the handshake");
  } else if (const auto* p = std::get_if<ping>(&msg)) {
    on_ping(*p, now);
  } else if (const auto* q = std::get_if<pong>(&msg)) {
    on_pong(*q, now);
  } else {
    if (const auto* d = std::get_if<chunk_data>(&msg)) stats_.payload_in += d->chunk->size();
    events_.push_back(received_event{std::move(msg)});
  }
}

void session::on_remote_hello(const hello& remote, core::time_point now) {
  if (remote.stream != local_.stream || remote.rendition != local_.rendition) {
    fail(close_reason::wrong_stream, "swarm hello names stream \"" + remote.stream +
                                         "\" rendition \"" + remote.rendition +
                                         "\", this node serves \"" + local_.stream +
                                         "\" rendition \"" + local_.rendition + "\"");
    return;
  }
  if (remote.id == local_.id) {
    fail(close_reason::duplicate, "swarm hello carries our own node id (connected to ourselves)");
    return;
  }
  state_ = state::established;
  timers_.handshake.reset();
  events_.push_back(established_event{remote});
  // First RTT sample at once: neighbour selection wants it before the first keepalive period.
  send_ping(now);
}

void session::on_ping(const ping& p, core::time_point now) {
  if (now - ping_window_start_ >= settings_.keepalive_interval) {
    ping_window_start_ = now;
    pings_in_window_ = 0;
  }
  if (++pings_in_window_ > settings_.max_pings_per_interval) {
    fail(close_reason::flood, "swarm: more than " +
                                  std::to_string(settings_.max_pings_per_interval) +
                                  " pings within " + duration_text(settings_.keepalive_interval));
    return;
  }
  queue_frame(pong{p.nonce, p.sent_us, core::to_us(now + origin_offset_)});
}

void session::on_pong(const pong& p, core::time_point now) {
  // Only our own record of the send time counts: the echoed sent_us is the remote's word.
  const auto it = std::find_if(pings_out_.begin(), pings_out_.end(),
                               [&](const pending_ping& q) { return q.nonce == p.nonce; });
  if (it == pings_out_.end()) return;  // late answer to a ping we gave up on, or made up
  const core::micros rtt = std::max(core::micros{0}, now - it->sent);
  pings_out_.erase(pings_out_.begin(), it + 1);  // older pings will not be answered any more
  rtt_ = rtt;
  // The remote's origin clock is its word: bound the implied offset (±100 years) so that the
  // node's arithmetic on it (origin clock − now, + playout delay) cannot overflow.
  constexpr std::int64_t k_max_offset_us = 100LL * 365 * 24 * 3600 * 1'000'000;
  const std::int64_t now_us = core::to_us(now);
  const std::int64_t at_receipt =
      std::clamp(p.origin_clock_us, now_us - k_max_offset_us, now_us + k_max_offset_us) +
      rtt.count() / 2;
  events_.push_back(rtt_event{rtt, core::from_us(at_receipt)});
}

void session::send_ping(core::time_point now) {
  const std::uint64_t nonce = mix(settings_.nonce_seed ^ mix(++ping_count_));
  if (pings_out_.size() == k_max_pending_pings) pings_out_.pop_front();
  pings_out_.push_back({nonce, now});
  queue_frame(ping{nonce, core::to_us(now)});
  timers_.keepalive = now + settings_.keepalive_interval;
}

// ---------------------------------------------------------------------------------------------
// plumbing

void session::queue(transmit t) {
  ++stats_.frames_out;
  stats_.bytes_out += t.size();
  queued_bytes_ += t.size();
  out_.push_back(std::move(t));
}

void session::queue_frame(const message& msg) {
  // Only the session's own ping, pong and close (text cleaned by wire_text) come here, and
  // those always encode; a close reason outside the enum is a local bug and is sent as normal.
  auto t = encode_frame(msg);
  if (!t) t = encode_frame(swarm::close{close_reason::normal, {}});
  if (t) queue(std::move(*t));
}

void session::fail(close_reason reason, std::string text) {
  if (state_ == state::closed) return;
  // Queued frames are dropped, the close frame goes first. While handshaking the queue holds
  // only our hello, which stays: a close before hello would read as malformed to the remote.
  if (state_ == state::established) {
    out_.clear();
    queued_bytes_ = 0;
  }
  close(reason, std::move(text));
}

void session::enter_closed(close_reason reason, std::string text, bool by_remote) {
  state_ = state::closed;
  timers_ = {};
  pings_out_.clear();
  if (by_remote) {  // the remote reads nothing more
    out_.clear();
    queued_bytes_ = 0;
  }
  events_.push_back(closed_event{reason, std::move(text), by_remote});
}

}  // namespace meshcast::proto::swarm
