#include "chunk/playout.hpp"

#include <algorithm>

namespace meshcast::chunk {

playout::playout(playout_settings settings, sink out, core::time_point joined)
    : settings_(settings), out_(std::move(out)), joined_(joined) {}

void playout::on_chunk(const chunk_ptr& c, core::time_point origin_now) {
  const std::uint64_t seq = c->seq().value();
  delays_us_.push_back((origin_now - c->header().source_time).count());
  while (delays_us_.size() > settings_.delay_samples) delays_us_.pop_front();

  if (!stats_.startup && c->header().segment_start()) stats_.startup = origin_now - joined_;
  if (next_ && seq < *next_) {
    // Behind the playhead: before playout began it never counted; after, it was skipped as
    // missed and now turns out late.
    if (seq >= start_ && stats_.missed > 0) {
      --stats_.missed;
      ++stats_.late;
    }
    return;
  }
  if (!next_) {
    // Not started: keep only from the newest segment start on (the live edge).
    if (c->header().segment_start()) {
      std::erase_if(pending_, [&](const auto& kv) { return kv.first < seq && seq - kv.first < (1u << 20); });
    } else if (pending_.empty() || !pending_.begin()->second->header().segment_start() ||
               seq < pending_.begin()->first) {
      return;  // before any segment start: nothing playable yet
    }
  }
  pending_.emplace(seq, c);
  on_timeout(origin_now);
}

void playout::on_timeout(core::time_point origin_now) {
  if (!next_) {
    if (pending_.empty() || !pending_.begin()->second->header().segment_start()) return;
    next_ = pending_.begin()->first;
    start_ = *next_;
  }
  while (!pending_.empty()) {
    auto it = pending_.begin();
    if (deadline(it->second) > origin_now) break;
    if (it->first > *next_) stats_.missed += it->first - *next_;  // skipped holes
    ++stats_.on_time;
    ++stats_.released;
    stats_.last_lag = origin_now - it->second->header().source_time;
    if (!stats_.first_release) {
      stats_.first_release = origin_now - joined_;
      stats_.first_seq = it->first;
    }
    next_ = it->first + 1;
    const chunk_ptr c = it->second;
    pending_.erase(it);
    out_(c);
  }
}

std::optional<core::time_point> playout::next_deadline() const {
  if (pending_.empty()) return std::nullopt;
  if (!next_ && !pending_.begin()->second->header().segment_start()) return std::nullopt;
  return deadline(pending_.begin()->second);
}

std::optional<core::micros> playout::delay_percentile(double p) const {
  if (delays_us_.empty()) return std::nullopt;
  std::vector<std::int64_t> v(delays_us_.begin(), delays_us_.end());
  const auto k = static_cast<std::size_t>(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return core::micros{v[k]};
}

}  // namespace meshcast::chunk
