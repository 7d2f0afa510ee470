// Per-neighbour request queue (our pulls from one neighbour), libtorrent deadline-mode style: the
// number of outstanding requests is bounded by the neighbour's measured delivery rate times a
// target queue time, with a floor so a new or slow neighbour still gets asked, and a cap below
// the serving side's busy limit. Each request carries its own timeout; a timed-out request is
// cancelled and the chunk re-requested elsewhere. Plain value types; no thread affinity.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/strong.hpp"
#include "core/time.hpp"
#include "swarm/compact.hpp"

namespace meshcast::swarm {

using core::chunk_seq;

struct request_queue_settings {
  core::micros target_queue_time{1'000'000};  ///< outstanding ≈ rate × this
  std::size_t floor = 2;                      ///< always allowed, even with no measurement
  std::size_t cap = 16;                       ///< never more (serving side rejects busy at 32)
  core::micros min_timeout{400'000};
  core::micros max_timeout{3'000'000};
};

/// Outstanding requests allowed to one neighbour: rate (bytes/s) × target queue time / chunk
/// size, clamped to [floor, cap]. `chunk_bytes` 0 means unknown: the floor applies.
std::size_t request_limit(double bytes_per_s, std::size_t chunk_bytes, const request_queue_settings& s);

/// How long to wait for a chunk requested now behind `queued_ahead` others: twice the expected
/// time (RTT + the queue ahead and this chunk at the measured rate; 150 ms per chunk while the
/// rate is unknown), clamped to [min_timeout, max_timeout].
core::micros request_timeout(core::micros rtt, std::size_t queued_ahead, std::size_t chunk_bytes,
                             double bytes_per_s, const request_queue_settings& s);

/// The requests we have outstanding at one neighbour: seq → when it times out. A few (≤ the
/// request cap) per neighbour, looked at after every input: a vector sorted by seq (nothing
/// allocated while empty) and the earliest timeout kept, so "nothing expired" costs one compare.
class outstanding_requests {
 public:
  /// Returns false when `seq` was outstanding already: its timeout is replaced.
  bool add(chunk_seq seq, core::time_point timeout_at);
  /// Erases `seq` and returns when it would have timed out (nullopt: it was not outstanding).
  std::optional<core::time_point> take(chunk_seq seq);
  [[nodiscard]] bool contains(chunk_seq seq) const;
  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] bool empty() const { return items_.empty(); }

  /// Removes and returns the requests whose timeout is at or before `now`, lowest seq first.
  std::vector<chunk_seq> expire(core::time_point now);
  /// Whether expire(now) would return something.
  [[nodiscard]] bool any_expired(core::time_point now) const { return !items_.empty() && earliest_ <= now; }
  [[nodiscard]] std::optional<core::time_point> next_timeout() const {
    if (items_.empty()) return std::nullopt;
    return earliest_;
  }
  [[nodiscard]] std::vector<chunk_seq> seqs() const;

 private:
  struct item {
    chunk_seq seq;
    core::time_point at;
  };
  void recompute_earliest();

  compact_vector<item> items_;  // sorted by seq
  core::time_point earliest_;  // min of items_[].at while not empty
};

}  // namespace meshcast::swarm
