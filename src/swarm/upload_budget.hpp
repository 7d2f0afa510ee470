// What this node uploads: the token bucket that caps chunk payload bytes to upload_kbps, and the
// per-neighbour FIFO of chunk requests waiting to be served. The node (node_schedule.cpp) spends
// the budget in this order: the first-ranked answer if it is due within the urgent threshold,
// first push copies of fresh chunks (newest first), other answers (among the FIFO heads the
// largest serve key: newest chunk first, node_impl.hpp), extra push copies. Plain value types; no
// thread affinity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/strong.hpp"
#include "core/time.hpp"
#include "swarm/compact.hpp"

namespace meshcast::swarm {

using core::chunk_seq;

/// Token bucket over chunk payload bytes. Tokens accrue at kbps × 125 bytes/s up to `burst`
/// bytes. A send of n bytes is allowed when the bucket holds min(n, burst) tokens, so a chunk
/// larger than the burst still goes out from a full bucket; the bucket may then go negative by
/// at most n - burst. Over any interval T the bytes sent stay ≤ max(burst, largest send) +
/// rate × T: "never exceeded, with a burst of about one chunk". kbps 0 = unlimited.
class upload_budget {
 public:
  upload_budget(std::uint32_t kbps, std::size_t burst_bytes, core::time_point now);

  [[nodiscard]] bool unlimited() const { return bytes_per_s_ == 0; }
  [[nodiscard]] double bytes_per_s() const { return bytes_per_s_; }
  /// Raises the burst (the node keeps it at about its largest chunk). Never lowers it.
  void raise_burst(std::size_t burst_bytes);

  [[nodiscard]] bool can_send(std::size_t bytes, core::time_point now) const;
  void spend(std::size_t bytes, core::time_point now);
  /// Gives back tokens for a send that was charged but never happened.
  void refund(std::size_t bytes, core::time_point now);
  /// When can_send(bytes) becomes true (now or later). Unlimited: always now.
  [[nodiscard]] core::time_point ready_at(std::size_t bytes, core::time_point now) const;
  [[nodiscard]] double tokens(core::time_point now) const;

 private:
  [[nodiscard]] double need(std::size_t bytes) const;
  void refill(core::time_point now);

  double bytes_per_s_;
  double burst_;
  double tokens_;
  core::time_point updated_;
};

/// The chunk requests one neighbour has made of us, FIFO. Bounded: past `limit` waiting
/// requests, a new one is refused as busy (and the caller counts a strike against flooding).
class serve_queue {
 public:
  explicit serve_queue(std::size_t limit = 32) : limit_(limit) {}

  enum class admit_result { queued, busy, duplicate };
  admit_result admit(chunk_seq seq, core::time_point now);
  /// Withdraws a waiting request; false if it was not waiting.
  bool cancel(chunk_seq seq);

  struct entry {
    chunk_seq seq;
    core::time_point received;
  };
  [[nodiscard]] const compact_devector<entry>& entries() const { return items_; }
  [[nodiscard]] const entry* front() const { return items_.empty() ? nullptr : &items_.front(); }
  void pop_front() { items_.pop_front(); }
  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] bool empty() const { return items_.empty(); }

 private:
  std::size_t limit_;
  compact_devector<entry> items_;  // empty: no allocation (one queue per neighbour)
};

}  // namespace meshcast::swarm
