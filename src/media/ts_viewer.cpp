#include "media/ts_viewer.hpp"

#include <algorithm>

namespace meshcast::media {

ts_viewer::ts_viewer(ts_viewer_settings settings) : settings_(settings) {
  settings_.max_drops = std::max(settings_.max_drops, 1);
}

void ts_viewer::start(const chunk::chunk_log& log) {
  const auto edge = log.live_edge();
  if (!edge) {
    state_ = state::waiting_for_segment_start;
    if (!log.empty()) next_seq_ = log.last_seq() + 1;
    return;
  }
  state_ = state::streaming;
  // A gap after the edge leaves next_seq_ on the missing chunk: the next on_chunk() beyond it
  // is treated as a gap and skips forward to the following segment start.
  for (chunk::chunk_seq q = *edge; q <= log.last_seq(); ++q) {
    const chunk::chunk_ptr c = log.find(q);
    if (!c) break;
    enqueue(c);
  }
}

void ts_viewer::on_chunk(const chunk::chunk_ptr& c) {
  if (state_ == state::disconnected) return;
  const chunk::chunk_seq seq = c->seq();
  if (next_seq_ && seq < *next_seq_) return;  // older than what we have: late or duplicate

  const bool gap = next_seq_ && seq > *next_seq_;
  if (gap && state_ == state::streaming) {
    ++stats_.gaps;
    state_ = state::waiting_for_segment_start;
  }
  if (state_ == state::waiting_for_segment_start) {
    if (!c->header().segment_start()) {
      // Without a segment start (PAT/PMT + keyframe) the player could not decode it anyway.
      ++stats_.chunks_dropped;
      stats_.bytes_dropped += c->size();
      next_seq_ = seq + 1;
      return;
    }
    state_ = state::streaming;
  }
  enqueue(c);

  if (queued_bytes_ > settings_.hard_limit_bytes) {
    disconnect(reason::queue_over_hard_limit);
  } else if (behind()) {
    drop_forward(c->header().source_time);
  }
}

chunk::chunk_ptr ts_viewer::next_to_send() {
  if (state_ == state::disconnected || queue_.empty()) return nullptr;
  chunk::chunk_ptr c = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= c->size();
  queued_duration_ -= c->header().duration;
  return c;
}

void ts_viewer::on_sent(const chunk::chunk_ptr& c) {
  stats_.bytes_sent += c->size();
  ++stats_.chunks_sent;
}

std::string_view ts_viewer::reason_text() const {
  switch (reason_) {
    case reason::none:
      return "none";
    case reason::too_slow:
      return "too slow: repeated drop-forwards to the live edge";
    case reason::queue_over_hard_limit:
      return "queue over its hard limit";
  }
  return "unknown";
}

void ts_viewer::enqueue(const chunk::chunk_ptr& c) {
  queue_.push_back(c);
  queued_bytes_ += c->size();
  queued_duration_ += c->header().duration;
  next_seq_ = c->seq() + 1;
  stats_.peak_queued_bytes = std::max(stats_.peak_queued_bytes, queued_bytes_);
}

void ts_viewer::discard_front() {
  const chunk::chunk_ptr& c = queue_.front();
  ++stats_.chunks_dropped;
  stats_.bytes_dropped += c->size();
  queued_bytes_ -= c->size();
  queued_duration_ -= c->header().duration;
  queue_.pop_front();
}

void ts_viewer::clear_queue() {
  while (!queue_.empty()) discard_front();
}

bool ts_viewer::behind() const {
  return queued_bytes_ > settings_.soft_limit_bytes &&
         queued_duration_ > settings_.soft_limit_duration;
}

void ts_viewer::drop_forward(core::time_point now) {
  ++stats_.drop_forwards;
  drop_times_.push_back(now);
  while (!drop_times_.empty() && drop_times_.front() < now - settings_.drop_window) {
    drop_times_.pop_front();
  }
  if (drop_times_.size() >= static_cast<std::size_t>(settings_.max_drops)) {
    disconnect(reason::too_slow);
    return;
  }
  // Jump to the newest segment start already queued (not the head: that would skip nothing)
  // when what follows it is within the limit; otherwise drop everything and wait for the next
  // segment start to arrive.
  std::size_t tail_bytes = 0;
  core::micros tail_duration{0};
  for (std::size_t i = queue_.size(); i-- > 1;) {
    tail_bytes += queue_[i]->size();
    tail_duration += queue_[i]->header().duration;
    if (!queue_[i]->header().segment_start()) continue;
    const bool tail_behind =
        tail_bytes > settings_.soft_limit_bytes && tail_duration > settings_.soft_limit_duration;
    if (tail_behind) break;
    for (std::size_t n = 0; n < i; ++n) discard_front();
    return;
  }
  clear_queue();
  state_ = state::waiting_for_segment_start;
}

void ts_viewer::disconnect(reason why) {
  clear_queue();
  state_ = state::disconnected;
  reason_ = why;
}

}  // namespace meshcast::media
