// playout: releases a node's chunks to its local outputs in sequence order at their playout
// deadline (source time + playout delay, on the origin's clock), so every node with the same
// delay shows the same frame at the same moment whichever path its chunks took. It also measures
// what a viewer experiences: continuity (on time / late / missed), delay from source time to
// arrival, startup, and playout lag. Sans-IO: arrivals and `now` in, released chunks out through
// a sink; the caller re-arms a timer at next_deadline(). Single-threaded.
//
// Rules: the first chunk released is a segment start (a player needs PAT/PMT and a keyframe),
// the newest one known when playout begins (the live edge). A chunk still missing when a later
// chunk is due is skipped (missed) — never waited for forever. A chunk arriving after its slot
// passed is late and not released.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "chunk/chunk.hpp"
#include "core/time.hpp"

namespace meshcast::chunk {

struct playout_settings {
  core::micros delay{1'500'000};
  std::size_t delay_samples = 4096;  ///< recent delay samples kept for percentiles
};

struct playout_stats {
  std::uint64_t on_time = 0;   ///< released at their deadline
  std::uint64_t late = 0;      ///< arrived after their slot passed
  std::uint64_t missed = 0;    ///< never arrived before a later chunk was due
  std::uint64_t released = 0;
  std::optional<core::micros> startup;        ///< join -> first segment-start chunk held
  std::optional<core::micros> first_release;  ///< join -> first chunk released
  std::optional<std::uint64_t> first_seq;    ///< the first chunk released (a segment start)
  core::micros last_lag{0};  ///< origin clock at release - source time of the released chunk
  /// Share of chunks on time among those due since playout began, 1.0 when none was due.
  [[nodiscard]] double continuity() const {
    const auto due = on_time + missed + late;
    return due == 0 ? 1.0 : static_cast<double>(on_time) / static_cast<double>(due);
  }
};

class playout {
 public:
  using sink = std::function<void(const chunk_ptr&)>;

  /// `joined` is when the node joined (startup is measured from it).
  playout(playout_settings settings, sink out, core::time_point joined);

  /// A verified chunk arrived. `origin_now` = local now + offset to the origin's clock.
  void on_chunk(const chunk_ptr& c, core::time_point origin_now);
  /// Releases what is due at `origin_now`.
  void on_timeout(core::time_point origin_now);
  /// The next origin-clock time at which something becomes due, if any.
  [[nodiscard]] std::optional<core::time_point> next_deadline() const;

  [[nodiscard]] const playout_stats& stats() const { return stats_; }
  /// Delay percentile (0..100) from source time to arrival over recent chunks, in microseconds.
  [[nodiscard]] std::optional<core::micros> delay_percentile(double p) const;
  [[nodiscard]] const playout_settings& settings() const { return settings_; }

 private:
  [[nodiscard]] core::time_point deadline(const chunk_ptr& c) const {
    return c->header().source_time + settings_.delay;
  }

  playout_settings settings_;
  sink out_;
  core::time_point joined_;
  std::map<std::uint64_t, chunk_ptr> pending_;  // by seq, not yet released
  std::optional<std::uint64_t> next_;           // next seq to release
  std::uint64_t start_ = 0;                     // first seq released
  std::deque<std::int64_t> delays_us_;
  playout_stats stats_;
};

}  // namespace meshcast::chunk
