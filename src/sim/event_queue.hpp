// event_queue: the simulator's agenda — small POD events (a kind and two indices, 24 bytes) in
// 4-ary min-heaps ordered by (time, insertion order), so events at the same µs run in the order
// they were scheduled and a run is a pure function of its inputs. Four children per node: half
// the depth of a binary heap and the children in two cache lines (a million events queued at
// 10^5 peers made sifting the engine's biggest cost). No callbacks: the engine dispatches on
// the kind. Two kinds of entry:
//   push()       — a one-off event; one that became moot (a closed connection) stays queued
//                  and is recognised by a generation number in `b` when it comes up;
//   push_owned() — the one pending event of an owner (a node's timer, its uplink's or its
//                  downlink's next completion): queuing another replaces it in place and
//                  cancel_owned() removes it, so re-arming leaves nothing stale behind (each
//                  re-armed timer used to leave one: half the queue at 10^5 peers).
// Both draw their insertion order from one counter, so replacing an event in place gives the
// same order of events as queuing a new one and skipping the old one. Plain value type;
// single-threaded (the simulator's).
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
  std::int64_t t = 0;       ///< µs since the run's start
  std::uint64_t key = 0;    ///< insertion order × 256 + kind: orders like the insertion order
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  [[nodiscard]] event_kind kind() const { return static_cast<event_kind>(key & 0xffU); }
  [[nodiscard]] std::uint64_t order() const { return key >> 8; }
};
static_assert(sizeof(event) == 24);

class event_queue {
 public:
  static constexpr std::uint32_t k_no_owner = 0xffffffffU;

  void push(std::int64_t t, event_kind k, std::uint32_t a, std::uint32_t b = 0) {
    heap_.push_back(make(t, k, a, b));
    sift_up(heap_, heap_.size() - 1, nullptr);
    note_peak();
  }
  /// Queues `owner`'s one pending event (owners are small dense numbers), replacing the one it
  /// had: that one will not come up.
  void push_owned(std::uint32_t owner, std::int64_t t, event_kind k, std::uint32_t a, std::uint32_t b = 0) {
    if (owner >= pos_.size()) pos_.resize(std::max<std::size_t>(owner + 1, pos_.size() * 3 / 2), k_no_owner);
    const event e = make(t, k, a, b);
    std::uint32_t i = pos_[owner];
    if (i == k_no_owner) {
      i = static_cast<std::uint32_t>(owned_.size());
      owned_.push_back(e);
      owners_.push_back(owner);
      pos_[owner] = i;
      sift_up(owned_, i, &owners_);
      note_peak();
      return;
    }
    // The new key is later in insertion order; the time may go either way.
    const bool earlier = e.t < owned_[i].t;
    owned_[i] = e;
    if (earlier) {
      sift_up(owned_, i, &owners_);
    } else {
      sift_down(owned_, i, &owners_);
    }
  }
  /// Drops `owner`'s pending event, if it has one.
  void cancel_owned(std::uint32_t owner) {
    if (owner >= pos_.size() || pos_[owner] == k_no_owner) return;
    remove_owned(pos_[owner]);
  }
  [[nodiscard]] bool has_owned(std::uint32_t owner) const {
    return owner < pos_.size() && pos_[owner] != k_no_owner;
  }

  [[nodiscard]] bool empty() const { return heap_.empty() && owned_.empty(); }
  [[nodiscard]] std::size_t size() const { return heap_.size() + owned_.size(); }
  [[nodiscard]] std::size_t peak() const { return peak_; }
  [[nodiscard]] const event& top() const { return owned_first() ? owned_.front() : heap_.front(); }
  event pop() {
    if (owned_first()) {
      const event top = owned_.front();
      remove_owned(0);
      return top;
    }
    const event top = heap_.front();
    const event last = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) {
      heap_[0] = last;
      sift_down(heap_, 0, nullptr);
    }
    return top;
  }

 private:
  static constexpr std::size_t k_arity = 4;
  static bool before(const event& x, const event& y) { return x.t != y.t ? x.t < y.t : x.key < y.key; }

  event make(std::int64_t t, event_kind k, std::uint32_t a, std::uint32_t b) {
    return {t, (next_order_++ << 8) | static_cast<std::uint64_t>(k), a, b};
  }
  void note_peak() { peak_ = std::max(peak_, size()); }
  [[nodiscard]] bool owned_first() const {
    return !owned_.empty() && (heap_.empty() || before(owned_.front(), heap_.front()));
  }
  void remove_owned(std::uint32_t i) {
    pos_[owners_[i]] = k_no_owner;
    const std::size_t last = owned_.size() - 1;
    if (i != last) {
      const bool earlier = before(owned_[last], owned_[i]);
      owned_[i] = owned_[last];
      owners_[i] = owners_[last];
      pos_[owners_[i]] = i;
      owned_.pop_back();
      owners_.pop_back();
      if (earlier) {
        sift_up(owned_, i, &owners_);
      } else {
        sift_down(owned_, i, &owners_);
      }
      return;
    }
    owned_.pop_back();
    owners_.pop_back();
  }

  /// Moves element i of heap `h` up to its place; `owners` (for the owned heap) moves along
  /// and pos_ follows.
  void sift_up(std::vector<event>& h, std::size_t i, std::vector<std::uint32_t>* owners) {
    const event e = h[i];
    const std::uint32_t o = owners ? (*owners)[i] : 0;
    while (i > 0) {
      const std::size_t parent = (i - 1) / k_arity;
      if (!before(e, h[parent])) break;
      place(h, i, h[parent], owners, owners ? (*owners)[parent] : 0);
      i = parent;
    }
    place(h, i, e, owners, o);
  }
  void sift_down(std::vector<event>& h, std::size_t i, std::vector<std::uint32_t>* owners) {
    const event e = h[i];
    const std::uint32_t o = owners ? (*owners)[i] : 0;
    const std::size_t n = h.size();
    for (;;) {
      const std::size_t first = i * k_arity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = std::min(first + k_arity, n);
      for (std::size_t c = first + 1; c < end; ++c) {
        if (before(h[c], h[best])) best = c;
      }
      if (!before(h[best], e)) break;
      place(h, i, h[best], owners, owners ? (*owners)[best] : 0);
      i = best;
    }
    place(h, i, e, owners, o);
  }
  void place(std::vector<event>& h, std::size_t i, const event& e, std::vector<std::uint32_t>* owners,
             std::uint32_t o) {
    h[i] = e;
    if (owners) {
      (*owners)[i] = o;
      pos_[o] = static_cast<std::uint32_t>(i);
    }
  }

  std::vector<event> heap_;
  std::vector<event> owned_;             // the owned events' heap
  std::vector<std::uint32_t> owners_;    // owners_[i] owns owned_[i]
  std::vector<std::uint32_t> pos_;       // owner → index in owned_, or k_no_owner
  std::uint64_t next_order_ = 0;
  std::size_t peak_ = 0;
};

}  // namespace meshcast::sim
