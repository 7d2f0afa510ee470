// chunk_log: per rendition, the ring of the last N seconds of chunks — the one store every output
// (HLS, continuous TS, swarm uplinks, stats) reads from. Chunks may arrive out of order and with
// gaps (a peer pulls missing chunks later), so the log is indexed by sequence number.
// Single-threaded: owned by one event loop; listeners are called synchronously on insert.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "chunk/chunk.hpp"

namespace meshcast::chunk {

enum class insert_result { inserted, duplicate, too_old };

/// A complete HLS segment as read from the log: chunks [first, end) with no gap, all present.
struct segment_view {
  segment_seq number;
  chunk_seq first;
  chunk_seq end;                 ///< one past the last chunk of the segment
  core::micros duration{0};      ///< sum of chunk durations
  core::time_point source_time;  ///< source time of the first chunk (EXT-X-PROGRAM-DATE-TIME)
  std::uint32_t discontinuity = 0;
  bool discontinuity_start = false;
  std::size_t bytes = 0;
};

class chunk_log {
 public:
  using listener = std::function<void(const chunk_ptr&)>;
  using listener_id = std::uint64_t;

  /// Keeps chunks whose source time is within `window` of the newest chunk, and never more than
  /// `max_chunks` (a hard memory bound should timestamps misbehave).
  explicit chunk_log(core::micros window, std::size_t max_chunks = 1u << 16);

  /// Inserts a chunk. Older than the oldest kept sequence number → too_old; already held → duplicate.
  /// A sequence number far beyond the newest (more than max_chunks) resets the log.
  insert_result insert(chunk_ptr c);

  [[nodiscard]] chunk_ptr find(chunk_seq seq) const;
  /// find() without copying the pointer (no reference count touched: a simulator's 10^5 logs
  /// share each chunk, and the swarm node asks "held?" for every chunk in its pick range).
  /// Borrowed: valid until the log next changes. Nullptr when not held.
  [[nodiscard]] const chunk* peek(chunk_seq seq) const {
    if (slots_.empty() || seq < base_ || seq > last_seq()) return nullptr;
    return slots_[static_cast<std::size_t>(seq - base_)].get();
  }
  [[nodiscard]] bool contains(chunk_seq seq) const { return peek(seq) != nullptr; }
  [[nodiscard]] bool empty() const { return count_ == 0; }
  [[nodiscard]] std::size_t size() const { return count_; }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  /// Lowest and highest sequence numbers held (meaningful only when !empty()).
  [[nodiscard]] chunk_seq first_seq() const { return base_; }
  [[nodiscard]] chunk_seq last_seq() const { return base_ + (slots_.size() - 1); }

  /// The live edge: the newest segment-start chunk held, where a late joiner begins.
  [[nodiscard]] std::optional<chunk_seq> live_edge() const;
  /// The first segment-start chunk with sequence number > `after`, if held.
  [[nodiscard]] std::optional<chunk_seq> next_segment_start(chunk_seq after) const;

  /// Complete segments, oldest first: a segment is complete when all its chunks are held and the
  /// next segment's start chunk is held too.
  [[nodiscard]] std::vector<segment_view> complete_segments() const;
  /// Chunks of one complete segment by number, or empty if it is not complete in the log.
  [[nodiscard]] std::vector<chunk_ptr> segment_chunks(segment_seq number) const;

  listener_id subscribe(listener fn);
  void unsubscribe(listener_id id);

 private:
  void trim();

  core::micros window_;
  std::size_t max_chunks_;
  chunk_seq base_{0};
  std::deque<chunk_ptr> slots_;  // slots_[i] holds seq base_ + i, or null for a gap
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  std::vector<std::pair<listener_id, listener>> listeners_;
  listener_id next_listener_ = 1;
};

}  // namespace meshcast::chunk
