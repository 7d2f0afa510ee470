#include "chunk/chunk_log.hpp"

#include <algorithm>

namespace meshcast::chunk {

chunk_log::chunk_log(core::micros window, std::size_t max_chunks)
    : window_(window), max_chunks_(std::max<std::size_t>(max_chunks, 2)) {}

insert_result chunk_log::insert(chunk_ptr c) {
  const chunk_seq seq = c->seq();
  if (slots_.empty()) {
    base_ = seq;
    slots_.push_back(c);
  } else if (seq < base_) {
    return insert_result::too_old;
  } else if (seq - last_seq() > static_cast<std::int64_t>(max_chunks_)) {
    // A jump this far means the sender restarted its numbering or we were away too long:
    // nothing held can be stitched to it.
    slots_.clear();
    count_ = 0;
    bytes_ = 0;
    base_ = seq;
    slots_.push_back(c);
  } else {
    const auto index = static_cast<std::size_t>(seq - base_);
    if (index >= slots_.size()) {
      slots_.resize(index + 1);
    } else if (slots_[index]) {
      return insert_result::duplicate;
    }
    slots_[index] = c;
  }
  ++count_;
  bytes_ += c->size();
  trim();

  // Listeners may unsubscribe (even themselves) while being called: iterate by index over the
  // entries present at the start and skip the ones cleared meanwhile.
  const std::size_t n = listeners_.size();
  for (std::size_t i = 0; i < n && i < listeners_.size(); ++i) {
    if (listeners_[i].second) listeners_[i].second(c);
  }
  std::erase_if(listeners_, [](const auto& l) { return !l.second; });
  return insert_result::inserted;
}

void chunk_log::trim() {
  // The newest source time among the last slot; chunks are inserted roughly in order, so the
  // last slot holds (one of) the newest.
  const chunk_ptr& newest = slots_.back();
  const core::time_point horizon = newest->header().source_time - window_;
  while (slots_.size() > 1) {
    const chunk_ptr& front = slots_.front();
    const bool expired = !front || front->header().source_time < horizon;
    if (!expired && slots_.size() <= max_chunks_) break;
    if (front) {
      --count_;
      bytes_ -= front->size();
    }
    slots_.pop_front();
    ++base_;
  }
  // Never leave a gap at the front: base_ always names a held chunk.
  while (!slots_.empty() && !slots_.front()) {
    slots_.pop_front();
    ++base_;
  }
}

chunk_ptr chunk_log::find(chunk_seq seq) const {
  if (slots_.empty() || seq < base_ || seq > last_seq()) return nullptr;
  return slots_[static_cast<std::size_t>(seq - base_)];
}

std::optional<chunk_seq> chunk_log::live_edge() const {
  for (std::size_t i = slots_.size(); i-- > 0;) {
    if (slots_[i] && slots_[i]->header().segment_start()) return base_ + i;
  }
  return std::nullopt;
}

std::optional<chunk_seq> chunk_log::next_segment_start(chunk_seq after) const {
  if (slots_.empty() || after >= last_seq()) return std::nullopt;
  std::size_t i = after < base_ ? 0 : static_cast<std::size_t>(after - base_) + 1;
  for (; i < slots_.size(); ++i) {
    if (slots_[i] && slots_[i]->header().segment_start()) return base_ + i;
  }
  return std::nullopt;
}

std::vector<segment_view> chunk_log::complete_segments() const {
  std::vector<segment_view> out;
  std::optional<segment_view> open;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const chunk_ptr& c = slots_[i];
    if (!c) {
      open.reset();  // a gap: the segment around it is incomplete
      continue;
    }
    const chunk_header& h = c->header();
    if (h.segment_start()) {
      if (open) {
        open->end = h.seq;
        out.push_back(*open);
      }
      open = segment_view{h.segment,        h.seq,
                          h.seq + 1,        h.duration,
                          h.source_time,    h.discontinuity,
                          h.discontinuity_start(), c->size()};
    } else if (open && h.segment == open->number) {
      open->end = h.seq + 1;
      open->duration += h.duration;
      open->bytes += c->size();
    } else {
      open.reset();  // a chunk that does not continue the open segment: the segment is broken
    }
  }
  return out;
}

std::vector<chunk_ptr> chunk_log::segment_chunks(segment_seq number) const {
  for (const segment_view& s : complete_segments()) {
    if (s.number != number) continue;
    std::vector<chunk_ptr> out;
    for (chunk_seq q = s.first; q < s.end; ++q) out.push_back(find(q));
    return out;
  }
  return {};
}

chunk_log::listener_id chunk_log::subscribe(listener fn) {
  const listener_id id = next_listener_++;
  listeners_.emplace_back(id, std::move(fn));
  return id;
}

void chunk_log::unsubscribe(listener_id id) {
  for (auto& l : listeners_) {
    if (l.first == id) l.second = nullptr;
  }
}

}  // namespace meshcast::chunk
