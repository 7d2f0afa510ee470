#include "swarm/upload_budget.hpp"

#include <algorithm>
#include <cmath>

namespace meshcast::swarm {

upload_budget::upload_budget(std::uint32_t kbps, std::size_t burst_bytes, core::time_point now)
    : bytes_per_s_(static_cast<double>(kbps) * 125.0),
      burst_(static_cast<double>(burst_bytes)),
      tokens_(static_cast<double>(burst_bytes)),
      updated_(now) {}

void upload_budget::raise_burst(std::size_t burst_bytes) {
  const auto b = static_cast<double>(burst_bytes);
  if (b > burst_) burst_ = b;
}

double upload_budget::need(std::size_t bytes) const { return std::min(static_cast<double>(bytes), burst_); }

double upload_budget::tokens(core::time_point now) const {
  if (unlimited()) return burst_;
  const double dt = static_cast<double>(std::max<std::int64_t>(0, (now - updated_).count())) / 1e6;
  return std::min(burst_, tokens_ + dt * bytes_per_s_);
}

void upload_budget::refill(core::time_point now) {
  tokens_ = tokens(now);
  if (now > updated_) updated_ = now;
}

bool upload_budget::can_send(std::size_t bytes, core::time_point now) const {
  return unlimited() || tokens(now) >= need(bytes);
}

void upload_budget::spend(std::size_t bytes, core::time_point now) {
  if (unlimited()) return;
  refill(now);
  tokens_ -= static_cast<double>(bytes);
}

void upload_budget::refund(std::size_t bytes, core::time_point now) {
  if (unlimited()) return;
  refill(now);
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(bytes));
}

core::time_point upload_budget::ready_at(std::size_t bytes, core::time_point now) const {
  const double have = tokens(now);
  const double want = need(bytes);
  if (unlimited() || have >= want) return now;
  const double seconds = (want - have) / bytes_per_s_;
  return now + core::micros{static_cast<std::int64_t>(std::ceil(seconds * 1e6))};
}

serve_queue::admit_result serve_queue::admit(chunk_seq seq, core::time_point now) {
  for (const entry& e : items_) {
    if (e.seq == seq) return admit_result::duplicate;
  }
  if (items_.size() >= limit_) return admit_result::busy;
  items_.push_back({seq, now});
  return admit_result::queued;
}

bool serve_queue::cancel(chunk_seq seq) {
  const auto it = std::find_if(items_.begin(), items_.end(), [&](const entry& e) { return e.seq == seq; });
  if (it == items_.end()) return false;
  items_.erase(it);
  return true;
}

}  // namespace meshcast::swarm
