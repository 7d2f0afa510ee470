#include "proto/tracker/client.hpp"

#include <algorithm>

namespace meshcast::proto::tracker {

namespace {

// The start of an error body for a message: trackers answer short text/plain reasons.
std::string body_excerpt(std::string_view body) {
  constexpr std::size_t k_shown = 200;
  std::string out;
  for (const char c : body.substr(0, k_shown)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > k_shown) out += "...";
  return out;
}

}  // namespace

client::client(client_settings settings, core::time_point now)
    : settings_(std::move(settings)), next_announce_(now), rng_(settings_.seed) {}

std::optional<client_request> client::poll_request(core::time_point now) {
  if (in_flight_ != 0) return std::nullopt;
  if (state_ == state::leaving && leave_due_) {
    leave_due_ = false;
    in_flight_ = next_id_++;
    return client_request{in_flight_, request_kind::leave, k_leave_path,
                          encode(leave_request{settings_.node.id, settings_.node.stream})};
  }
  if (state_ != state::waiting || now < next_announce_) return std::nullopt;
  state_ = state::announcing;
  in_flight_ = next_id_++;
  last_sent_ = now;
  ever_sent_ = true;
  return client_request{in_flight_, request_kind::announce, k_announce_path,
                        encode(settings_.node)};
}

void client::on_response(std::uint64_t id, int http_status, std::string_view body,
                         core::time_point now) {
  if (id == 0 || id != in_flight_) return;
  in_flight_ = 0;
  if (state_ == state::leaving) {
    state_ = state::done;
    events_.emplace_back(left_event{http_status >= 200 && http_status < 300});
    return;
  }
  if (http_status < 200 || http_status >= 300) {
    std::string message = "tracker announce: HTTP " + std::to_string(http_status);
    if (const std::string why = body_excerpt(body); !why.empty()) message += ": " + why;
    fail(client_errc::http_status, std::move(message), http_status, now);
    return;
  }
  auto decoded = decode_announce_response(body);
  if (!decoded) {
    fail(client_errc::bad_response, "tracker announce: bad response: " + decoded.error().message,
         http_status, now);
    return;
  }
  announce_response response = std::move(decoded).value();
  response.interval = std::clamp(response.interval, settings_.min_interval, settings_.max_interval);
  failures_ = 0;
  state_ = state::waiting;
  next_announce_ = now + response.interval;
  last_ = response;
  events_.emplace_back(announced_event{std::move(response)});
}

void client::on_failure(std::uint64_t id, std::string_view what, core::time_point now) {
  if (id == 0 || id != in_flight_) return;
  in_flight_ = 0;
  if (state_ == state::leaving) {
    state_ = state::done;
    events_.emplace_back(left_event{false});
    return;
  }
  fail(client_errc::transport, "tracker announce: " + std::string(what), 0, now);
}

void client::fail(client_errc code, std::string message, int http_status, core::time_point now) {
  ++failures_;
  state_ = state::waiting;
  next_announce_ = now + backoff();
  events_.emplace_back(failed_event{core::make_error(code, std::move(message)), http_status,
                                    failures_, next_announce_});
}

core::micros client::backoff() {
  const auto base = std::max(settings_.backoff_initial, core::micros{1});
  core::micros delay = base;
  for (std::uint32_t i = 1; i < failures_ && delay < settings_.backoff_max; ++i) delay *= 2;
  delay = std::min(delay, settings_.backoff_max);
  const double jitter = std::clamp(settings_.backoff_jitter, 0.0, 1.0);
  if (jitter > 0) {
    const double u = static_cast<double>(rng_() >> 11) / static_cast<double>(1ull << 53);
    delay -=
        core::micros{static_cast<std::int64_t>(static_cast<double>(delay.count()) * jitter * u)};
  }
  return delay;
}

void client::announce_soon(core::time_point now) {
  if (state_ != state::waiting || failures_ != 0) return;
  const core::time_point earliest = last_sent_ ? *last_sent_ + settings_.min_interval : now;
  next_announce_ = std::min(next_announce_, std::max(now, earliest));
}

void client::leave(core::time_point /*now*/) {
  if (state_ == state::leaving || state_ == state::done) return;
  in_flight_ = 0;  // an announce still in flight is overtaken: its answer is ignored
  if (!ever_sent_) {
    state_ = state::done;
    events_.emplace_back(left_event{false});
    return;
  }
  state_ = state::leaving;
  leave_due_ = true;
}

std::optional<client_event> client::poll_event() {
  if (events_.empty()) return std::nullopt;
  client_event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<core::time_point> client::next_deadline() const {
  if (in_flight_ != 0 || state_ == state::done || state_ == state::announcing) return std::nullopt;
  if (state_ == state::leaving) {
    if (leave_due_) return core::time_point{};  // at once
    return std::nullopt;
  }
  return next_announce_;
}

}  // namespace meshcast::proto::tracker
