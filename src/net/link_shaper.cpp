#include "net/link_shaper.hpp"

#include <algorithm>
#include <cmath>

namespace meshcast::net {

token_bucket::token_bucket(double bytes_per_s, double burst_bytes)
    : rate_(bytes_per_s > 0 ? bytes_per_s : 0), burst_(std::max(burst_bytes, 1.0)), tokens_(burst_) {}

core::time_point token_bucket::reserve(core::time_point now, std::size_t bytes) {
  if (!limited()) return now;
  if (!started_) {
    started_ = true;
    last_ = now;
  }
  // A clock that stepped back refills nothing and queues behind what is already reserved.
  const core::time_point t = std::max(now, last_);
  tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>((t - last_).count()) / 1e6);
  last_ = t;
  tokens_ -= static_cast<double>(bytes);
  if (tokens_ >= 0) return t;
  return t + core::micros{static_cast<std::int64_t>(std::ceil(-tokens_ / rate_ * 1e6))};
}

double token_bucket::backlog(core::time_point now) const {
  if (!limited() || !started_) return 0;
  const double dt = now > last_ ? static_cast<double>((now - last_).count()) / 1e6 : 0;
  return std::max(0.0, -(tokens_ + rate_ * dt));
}

link_shaper::link_shaper(link_shaper_settings s)
    : s_(s),
      up_rate_(s.upload_bps > 0 ? s.upload_bps / 8 : 0),
      down_(s.download_bps / 8, static_cast<double>(s.download_burst_bytes)),
      rng_(s.seed) {}

void link_shaper::open_path(std::uint64_t path) { paths_.try_emplace(path); }

void link_shaper::set_delay(std::uint64_t path, core::micros one_way) { paths_[path].one_way = one_way; }

void link_shaper::close_path(std::uint64_t path) {
  paths_.erase(path);
  const auto of_path = [path](const write& w) { return w.path == path; };
  std::erase_if(control_, of_path);
  std::erase_if(bulk_, of_path);
}

void link_shaper::advance(core::time_point now) {
  const auto now_us = static_cast<double>(core::to_us(now));
  if (now_us <= served_at_us_) return;  // nothing new (or the clock stepped back: wait for it)
  double t = served_at_us_;
  while (!control_.empty() || !bulk_.empty()) {
    std::deque<write>& q = control_.empty() ? bulk_ : control_;
    write& w = q.front();
    const double done = t + w.remaining / up_rate_ * 1e6;
    if (done > now_us) {
      w.remaining -= (now_us - t) * up_rate_ / 1e6;
      break;
    }
    t = done;
    const write left = w;
    q.pop_front();
    release(left, core::from_us(static_cast<std::int64_t>(std::ceil(done))));
  }
  served_at_us_ = now_us;
}

void link_shaper::release(const write& w, core::time_point at) {
  const auto it = paths_.find(w.path);
  if (it == paths_.end()) return;  // closed meanwhile
  path_state& p = it->second;
  sent_write out{w.path, at, at + p.one_way, false};
  if (s_.loss > 0) {
    const auto mss = std::max<std::size_t>(s_.mss, 1);
    const auto packets = static_cast<double>(std::max<std::size_t>(1, (w.bytes + mss - 1) / mss));
    const double p_hit = 1 - std::pow(1 - std::min(s_.loss, 1.0), packets);
    if (std::uniform_real_distribution<double>(0, 1)(rng_) < p_hit) {
      const core::micros rtt = 2 * p.one_way;
      out.lost = true;
      ++stats_.losses;
      out.delivered += std::max(s_.min_rto, 2 * rtt);
    }
  }
  // In order: bytes after a retransmission wait for it, as TCP's receiver holds them back.
  out.delivered = std::max(out.delivered, p.last_delivery);
  p.last_delivery = out.delivered;
  sent_.push_back(out);
}

void link_shaper::send(std::uint64_t path, core::time_point now, std::size_t bytes, bool bulk) {
  ++stats_.writes;
  stats_.bytes_sent += bytes;
  paths_.try_emplace(path);
  const write w{path, bytes, static_cast<double>(bytes)};
  if (up_rate_ <= 0) {
    release(w, now);
    return;
  }
  advance(now);
  if (control_.empty() && bulk_.empty()) served_at_us_ = static_cast<double>(core::to_us(now));
  (bulk ? bulk_ : control_).push_back(w);
}

std::optional<sent_write> link_shaper::poll_sent(core::time_point now) {
  if (up_rate_ > 0) advance(now);
  if (sent_.empty()) return std::nullopt;
  sent_write w = sent_.front();
  sent_.pop_front();
  return w;
}

std::optional<core::time_point> link_shaper::next_deadline() const {
  const auto at = core::from_us(static_cast<std::int64_t>(std::ceil(served_at_us_)));
  if (!sent_.empty()) return at;
  if (up_rate_ <= 0 || (control_.empty() && bulk_.empty())) return std::nullopt;
  const write& w = control_.empty() ? bulk_.front() : control_.front();
  return core::from_us(static_cast<std::int64_t>(std::ceil(served_at_us_ + w.remaining / up_rate_ * 1e6)));
}

double link_shaper::upload_backlog() const {
  double b = 0;
  for (const auto& w : control_) b += w.remaining;
  for (const auto& w : bulk_) b += w.remaining;
  return b;
}

core::time_point link_shaper::receive(core::time_point now, std::size_t bytes) {
  stats_.bytes_received += bytes;
  return down_.reserve(now, bytes);
}

std::size_t link_shaper::read_size() const {
  constexpr std::size_t k_max = 64 * 1024;
  if (!down_.limited()) return k_max;
  const auto ten_ms = static_cast<std::size_t>(down_.bytes_per_s() / 100);
  return std::clamp(ten_ms, std::max<std::size_t>(s_.mss, 1), k_max);
}

}  // namespace meshcast::net
