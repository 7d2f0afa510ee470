// ts_viewer: the sans-IO policy of one continuous MPEG-TS viewer. It decides which chunks of a
// rendition the viewer gets and when it is hopelessly slow; the driver (net/http_routes) does the
// socket writes. Chunks are queued as shared chunk_ptrs, never copied. No clock: time is the
// source time of the chunks offered. Single-threaded, like the chunk log that feeds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

#include "chunk/chunk_log.hpp"

namespace meshcast::media {

struct ts_viewer_settings {
  /// The viewer is behind when its queue holds more than both of these: max(4 MiB, 4 s of
  /// stream). 4 s is two default GOPs of slack, enough to ride out a TCP stall or a Wi-Fi
  /// hiccup; the 4 MiB floor spares low-rate streams from dropping on short stalls, at a cost:
  /// at 1 Mbit/s it is 32 s of stream, so lower it to keep such viewers closer to live.
  std::size_t soft_limit_bytes = 4u << 20;
  core::micros soft_limit_duration{4'000'000};
  /// A queue above this disconnects at once: the bound on memory per viewer when durations are
  /// missing (0) and the soft limit cannot judge. 64 MiB = 4 s of a 128 Mbit/s stream.
  std::size_t hard_limit_bytes = 64u << 20;
  /// This many drop-forwards within `drop_window` (source time) disconnect: 3 in 30 s means the
  /// viewer falls 12 s behind every 30 s, i.e. its link carries under ~60 % of the stream.
  int max_drops = 3;
  core::micros drop_window{30'000'000};
};

struct ts_viewer_stats {
  std::uint64_t bytes_sent = 0;
  std::uint64_t chunks_sent = 0;
  std::uint64_t drop_forwards = 0;
  std::uint64_t chunks_dropped = 0;  ///< queued or offered chunks discarded by drops and skips
  std::uint64_t bytes_dropped = 0;
  std::uint64_t gaps = 0;  ///< sequence gaps skipped over to the next segment start
  std::size_t peak_queued_bytes = 0;
};

/// States and transitions:
///   waiting_for_segment_start --segment-start chunk--> streaming
///   streaming --gap (a chunk never came) or drop-forward with no usable segment start queued-->
///       waiting_for_segment_start
///   any --max_drops drop-forwards within drop_window, or queue over hard limit--> disconnected
/// Inputs: start(log) once, then on_chunk() for every chunk inserted into that log.
/// Outputs: next_to_send() until null, then on_sent() for each chunk once written; check
/// should_disconnect() after every on_chunk().
class ts_viewer {
 public:
  enum class state { waiting_for_segment_start, streaming, disconnected };
  enum class reason { none, too_slow, queue_over_hard_limit };

  explicit ts_viewer(ts_viewer_settings settings = {});

  /// Starts at the live edge of `log` (its newest segment-start chunk), queuing that chunk and
  /// the ones after it that are held without a gap. With no segment start held, waits for one.
  void start(const chunk::chunk_log& log);

  /// A chunk was inserted into the log. Older or already queued chunks are ignored.
  void on_chunk(const chunk::chunk_ptr& c);

  /// The next chunk to write, removed from the queue; null when none or disconnected.
  [[nodiscard]] chunk::chunk_ptr next_to_send();
  /// `c` (returned by next_to_send) has been written.
  void on_sent(const chunk::chunk_ptr& c);

  [[nodiscard]] state current_state() const { return state_; }
  [[nodiscard]] bool should_disconnect() const { return state_ == state::disconnected; }
  [[nodiscard]] reason disconnect_reason() const { return reason_; }
  [[nodiscard]] std::string_view reason_text() const;

  [[nodiscard]] std::size_t queued_bytes() const { return queued_bytes_; }
  [[nodiscard]] std::size_t queued_chunks() const { return queue_.size(); }
  [[nodiscard]] core::micros queued_duration() const { return queued_duration_; }
  [[nodiscard]] const ts_viewer_stats& stats() const { return stats_; }

 private:
  void enqueue(const chunk::chunk_ptr& c);
  void discard_front();
  void clear_queue();
  void drop_forward(core::time_point now);
  void disconnect(reason why);
  [[nodiscard]] bool behind() const;

  ts_viewer_settings settings_;
  state state_ = state::waiting_for_segment_start;
  reason reason_ = reason::none;
  std::deque<chunk::chunk_ptr> queue_;
  std::size_t queued_bytes_ = 0;
  core::micros queued_duration_{0};
  std::optional<chunk::chunk_seq> next_seq_;  ///< the chunk expected next; none before the first
  std::deque<core::time_point> drop_times_;
  ts_viewer_stats stats_;
};

}  // namespace meshcast::media
