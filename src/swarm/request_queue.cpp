#include "swarm/request_queue.hpp"

#include <algorithm>
#include <cmath>

namespace meshcast::swarm {

std::size_t request_limit(double bytes_per_s, std::size_t chunk_bytes, const request_queue_settings& s) {
  if (chunk_bytes == 0 || bytes_per_s <= 0) return std::min(s.floor, s.cap);
  const double seconds = static_cast<double>(s.target_queue_time.count()) / 1e6;
  const double n = std::floor(bytes_per_s * seconds / static_cast<double>(chunk_bytes));
  return std::clamp(static_cast<std::size_t>(n), s.floor, std::max(s.floor, s.cap));
}

core::micros request_timeout(core::micros rtt, std::size_t queued_ahead, std::size_t chunk_bytes,
                             double bytes_per_s, const request_queue_settings& s) {
  const double chunks = static_cast<double>(queued_ahead + 1);
  double transfer_us = chunks * 150'000.0;
  if (bytes_per_s > 0 && chunk_bytes > 0) {
    transfer_us = chunks * static_cast<double>(chunk_bytes) * 1e6 / bytes_per_s;
  }
  const auto expected = rtt + core::micros{static_cast<std::int64_t>(transfer_us)};
  return std::clamp(2 * expected, s.min_timeout, s.max_timeout);
}

std::vector<chunk_seq> outstanding_requests::expire(core::time_point now) {
  std::vector<chunk_seq> out;
  for (auto it = items_.begin(); it != items_.end();) {
    if (it->second <= now) {
      out.push_back(it->first);
      it = items_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::optional<core::time_point> outstanding_requests::next_timeout() const {
  std::optional<core::time_point> t;
  for (const auto& [seq, at] : items_) {
    if (!t || at < *t) t = at;
  }
  return t;
}

std::vector<chunk_seq> outstanding_requests::seqs() const {
  std::vector<chunk_seq> out;
  out.reserve(items_.size());
  for (const auto& [seq, at] : items_) out.push_back(seq);
  return out;
}

}  // namespace meshcast::swarm
