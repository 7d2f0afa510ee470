#include "swarm/protection.hpp"

#include <algorithm>

namespace meshcast::swarm {

void flood_guard::on_requested(std::size_t seqs, core::time_point now) {
  const double dt = static_cast<double>(std::max<std::int64_t>(0, (now - updated_).count())) / 1e6;
  tokens_ = std::min(settings_->request_burst, tokens_ + dt * settings_->max_request_rate);
  if (now > updated_) updated_ = now;
  const auto n = static_cast<double>(seqs);
  if (tokens_ >= n) {
    tokens_ -= n;
    return;
  }
  const auto over = static_cast<std::size_t>(n - std::max(0.0, tokens_));
  tokens_ = 0;
  strike(over, now);
}

void flood_guard::strike(std::size_t n, core::time_point now) {
  if (n == 0) return;
  drop_old(now);
  strikes_.emplace_back(now, n);
}

void flood_guard::drop_old(core::time_point now) {
  while (!strikes_.empty() && now - strikes_.front().first >= settings_->strike_period) strikes_.pop_front();
}

std::size_t flood_guard::strikes(core::time_point now) const {
  std::size_t sum = 0;
  for (const auto& [t, n] : strikes_) {
    if (now - t < settings_->strike_period) sum += n;
  }
  return sum;
}

bool flood_guard::flooding(core::time_point now) const { return strikes(now) > settings_->max_strikes; }

}  // namespace meshcast::swarm
