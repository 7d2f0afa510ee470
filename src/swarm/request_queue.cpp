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

bool outstanding_requests::add(chunk_seq seq, core::time_point timeout_at) {
  const auto it = std::lower_bound(items_.begin(), items_.end(), seq,
                                   [](const item& x, chunk_seq s) { return x.seq < s; });
  if (it != items_.end() && it->seq == seq) {
    const bool was_earliest = it->at == earliest_;
    it->at = timeout_at;
    if (was_earliest && timeout_at > earliest_) {
      recompute_earliest();
    } else if (timeout_at < earliest_) {
      earliest_ = timeout_at;
    }
    return false;
  }
  if (items_.empty() || timeout_at < earliest_) earliest_ = timeout_at;
  items_.insert(it, item{seq, timeout_at});
  return true;
}

std::optional<core::time_point> outstanding_requests::take(chunk_seq seq) {
  const auto it = std::lower_bound(items_.begin(), items_.end(), seq,
                                   [](const item& x, chunk_seq s) { return x.seq < s; });
  if (it == items_.end() || it->seq != seq) return std::nullopt;
  const core::time_point at = it->at;
  items_.erase(it);
  if (at == earliest_) recompute_earliest();
  return at;
}

bool outstanding_requests::contains(chunk_seq seq) const {
  const auto it = std::lower_bound(items_.begin(), items_.end(), seq,
                                   [](const item& x, chunk_seq s) { return x.seq < s; });
  return it != items_.end() && it->seq == seq;
}

void outstanding_requests::recompute_earliest() {
  if (items_.empty()) return;
  earliest_ = items_.front().at;
  for (const item& x : items_) earliest_ = std::min(earliest_, x.at);
}

std::vector<chunk_seq> outstanding_requests::expire(core::time_point now) {
  std::vector<chunk_seq> out;
  if (!any_expired(now)) return out;
  items_.erase(std::remove_if(items_.begin(), items_.end(),
                              [&](const item& x) {
                                if (x.at > now) return false;
                                out.push_back(x.seq);
                                return true;
                              }),
               items_.end());
  recompute_earliest();
  return out;
}

std::vector<chunk_seq> outstanding_requests::seqs() const {
  std::vector<chunk_seq> out;
  out.reserve(items_.size());
  for (const item& x : items_) out.push_back(x.seq);
  return out;
}

}  // namespace meshcast::swarm
