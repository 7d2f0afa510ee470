// fair_link: one node's uplink or downlink, shared by its connections ("flows", ids chosen by the
// caller; each flow is FIFO, so only its head message competes). Two disciplines:
//  - fair (default): processor sharing — each of n backlogged flows gets rate/n, as TCP flows
//    through one bottleneck roughly do. Computed exactly with a virtual clock V (bytes served to
//    every backlogged flow so far) and each head's virtual finish tag (GPS / fair queueing): a
//    head completes when V reaches its tag, so only completions are events, never packets.
//  - fifo: one message at a time at the full rate, control messages first (preempting chunk
//    data), otherwise in the order they were handed over — the lab's link_shaper
//    (net/link_shaper.hpp) and swarm/testing/sim_harness.hpp, for comparing like with like.
// Times are µs of the run's virtual clock. Plain value type; single-threaded (the simulator's).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace meshcast::sim {

enum class link_sharing : std::uint8_t { fair, fifo };

/// A head message's place in line: when it was handed over (a sequence number) and whether it is
/// a control message (fifo serves those first). Fair sharing ignores both.
struct link_ticket {
  std::uint64_t order = 0;
  bool control = false;
};

class fair_link {
 public:
  static constexpr std::int64_t k_never = std::numeric_limits<std::int64_t>::max();

  using ticket = link_ticket;
  struct done {
    std::uint32_t flow = 0;
    double tag = 0;  ///< fair: its head's finish tag; the next head's is tag + its size
  };

  /// `bytes_per_s` 0 = unlimited: the engine bypasses the link (messages leave at once).
  explicit fair_link(double bytes_per_s = 0, link_sharing sharing = link_sharing::fair)
      : rate_(bytes_per_s), sharing_(sharing) {}

  [[nodiscard]] bool unlimited() const { return rate_ <= 0; }
  [[nodiscard]] bool idle() const { return active_.empty(); }
  [[nodiscard]] std::size_t backlogged() const { return active_.size(); }
  [[nodiscard]] double bytes_per_s() const { return rate_; }

  /// Flow `f`, idle until now, has a message of `bytes` at its head.
  void add(std::uint32_t f, std::uint32_t bytes, std::int64_t now, ticket t = {}) {
    advance(now);
    if (active_.empty()) v_ = 0;  // nobody holds a tag: restart the clock (keeps it small)
    active_.push_back({f, sharing_ == link_sharing::fair ? v_ + bytes : static_cast<double>(bytes), t});
  }
  /// Flow `f` left (its connection closed) with messages still queued; no-op if not backlogged.
  void remove(std::uint32_t f, std::int64_t now) {
    advance(now);
    const auto it = std::find_if(active_.begin(), active_.end(), [f](const entry& e) { return e.flow == f; });
    if (it != active_.end()) active_.erase(it);
  }
  /// Moves the flows whose head completes by `now` into `out` (fair: in the order they became
  /// backlogged), removing them from the backlog; the caller resume()s those with more queued.
  void take_done(std::int64_t now, std::vector<done>& out) {
    advance(now);
    if (sharing_ == link_sharing::fifo) {
      // One at a time: a head completes while it is the one being served (or it had just
      // completed when a control message came in at the same µs).
      for (std::size_t i = 0; i < active_.size();) {
        if (active_[i].tag <= k_epsilon_bytes) {
          out.push_back({active_[i].flow, 0});
          active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          ++i;
        }
      }
      while (!active_.empty()) {
        const auto it = serving();
        if (it->tag > k_epsilon_bytes && std::ceil(it->tag * 1e6 / rate_) > 0) break;
        out.push_back({it->flow, 0});
        active_.erase(it);
      }
      return;
    }
    const double n = static_cast<double>(active_.size());
    for (std::size_t i = 0; i < active_.size();) {
      const double left = active_[i].tag - v_;
      if (left <= k_epsilon_bytes || std::ceil(left * n * 1e6 / rate_) <= 0) {
        out.push_back({active_[i].flow, active_[i].tag});
        active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  /// A flow given by take_done() has another message of `bytes` at its head: it stays
  /// backlogged (fair: `bytes` of service after its last). Call before any add() at that time.
  void resume(const done& d, std::uint32_t bytes, ticket t = {}) {
    active_.push_back({d.flow, sharing_ == link_sharing::fair ? d.tag + bytes : static_cast<double>(bytes), t});
  }
  /// When the next head completes (at the current backlog), or k_never.
  [[nodiscard]] std::int64_t next_completion() const {
    if (active_.empty()) return k_never;
    if (sharing_ == link_sharing::fifo) {
      return t_ + static_cast<std::int64_t>(std::ceil(std::max(0.0, serving()->tag) * 1e6 / rate_));
    }
    double min_tag = active_.front().tag;
    for (const entry& e : active_) min_tag = std::min(min_tag, e.tag);
    const double n = static_cast<double>(active_.size());
    const double us = std::ceil(std::max(0.0, min_tag - v_) * n * 1e6 / rate_);
    return t_ + static_cast<std::int64_t>(us);
  }

  // The engine's bookkeeping of the one completion event it keeps queued for this link.
  std::uint32_t gen = 0;
  std::int64_t scheduled_at = k_never;

 private:
  static constexpr double k_epsilon_bytes = 1e-3;
  struct entry {
    std::uint32_t flow;
    double tag;  // fair: virtual finish tag; fifo: bytes left to serve
    ticket t;
  };
  /// fifo: the head being served — control first, then the earliest handed over.
  [[nodiscard]] std::vector<entry>::const_iterator serving() const {
    return std::min_element(active_.begin(), active_.end(), [](const entry& a, const entry& b) {
      return a.t.control != b.t.control ? a.t.control : a.t.order < b.t.order;
    });
  }
  std::vector<entry>::iterator serving() {
    const auto it = static_cast<const fair_link&>(*this).serving();
    return active_.begin() + (it - active_.cbegin());
  }
  void advance(std::int64_t now) {
    if (!active_.empty() && now > t_) {
      if (sharing_ == link_sharing::fifo) {
        // Only the head being served progresses; it cannot finish before now (that would have
        // been an event), so what it cannot take carries no further.
        auto it = serving();
        it->tag = std::max(0.0, it->tag - static_cast<double>(now - t_) * rate_ / 1e6);
      } else {
        v_ += static_cast<double>(now - t_) * rate_ / 1e6 / static_cast<double>(active_.size());
      }
    }
    t_ = now;
  }

  double rate_;
  link_sharing sharing_;
  double v_ = 0;
  std::int64_t t_ = 0;
  std::vector<entry> active_;
};

}  // namespace meshcast::sim
