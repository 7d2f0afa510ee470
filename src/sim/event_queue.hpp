// event_queue: the simulator's agenda — small POD events (a kind and two indices, 32 bytes) in a
// 4-ary min-heap ordered by (time, insertion order), so events at the same µs run in the order
// they were scheduled and a run is a pure function of its inputs. Four children per node: half
// the depth of a binary heap and the children in two cache lines (a million events queued at
// 10^5 peers made sifting the engine's biggest cost). No callbacks: the engine
// dispatches on the kind. Events that became moot (a re-armed timer, a closed connection) stay
// queued and are recognised by a generation number in `b` when they come up.
// Plain value type; single-threaded (the simulator's).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace meshcast::sim {

enum class event_kind : std::uint8_t {
  join,        ///< a = node
  leave,       ///< a = node
  produce,     ///< a = chunk sequence number
  announce,    ///< a = node
  timer,       ///< a = node, b = its timer generation
  uplink,      ///< a = node, b = its uplink's generation: the next serialisation completes
  downlink,    ///< a = node, b = its downlink's generation
  arrive,      ///< a = flow (connection slot × 2 + direction), b = connection generation
  dial,        ///< a = dialling node, b = dialled node: the TCP handshake is done (or refused)
  notice,      ///< a = connection slot × 2 + end, b = generation: that end sees the close
  plan_event,  ///< a = index into plan::events
  progress,    ///< every simulated second
};

struct event {
  std::int64_t t = 0;        ///< µs since the run's start
  std::uint64_t order = 0;   ///< insertion order
  event_kind kind = event_kind::join;
  std::uint32_t a = 0;
  std::uint32_t b = 0;
};

class event_queue {
 public:
  void push(std::int64_t t, event_kind k, std::uint32_t a, std::uint32_t b = 0) {
    heap_.push_back({t, next_order_++, k, a, b});
    sift_up(heap_.size() - 1);
    peak_ = std::max(peak_, heap_.size());
  }
  [[nodiscard]] bool empty() const { return heap_.empty(); }
  [[nodiscard]] std::size_t size() const { return heap_.size(); }
  [[nodiscard]] std::size_t peak() const { return peak_; }
  [[nodiscard]] const event& top() const { return heap_.front(); }
  event pop() {
    const event top = heap_.front();
    const event last = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(last);
    return top;
  }

 private:
  static constexpr std::size_t k_arity = 4;
  static bool before(const event& x, const event& y) { return x.t != y.t ? x.t < y.t : x.order < y.order; }

  void sift_up(std::size_t i) {
    const event e = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / k_arity;
      if (!before(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  /// Puts `e` into the hole at the root and sifts it down.
  void sift_down(const event& e) {
    const std::size_t n = heap_.size();
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = i * k_arity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = std::min(first + k_arity, n);
      for (std::size_t c = first + 1; c < end; ++c) {
        if (before(heap_[c], heap_[best])) best = c;
      }
      if (!before(heap_[best], e)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = e;
  }

  std::vector<event> heap_;
  std::uint64_t next_order_ = 0;
  std::size_t peak_ = 0;
};

}  // namespace meshcast::sim
