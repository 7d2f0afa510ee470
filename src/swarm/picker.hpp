// chunk_picker: decides which missing chunks to request from which neighbour, as a pure function
// of one snapshot (our wants, each neighbour's holdings and free request slots, deadlines, now).
// No I/O, no state between rounds: the node builds a pick_problem each round and sends what comes
// out. Rules (docs/swarm.md, "Pull"):
//   - a chunk past its playout deadline is skipped, never requested;
//   - urgent (deadline - now < urgent_threshold, or deadline unknown while joining): deadline
//     first, from any holder, the origin included (the source fills what the peers cannot);
//   - otherwise rarest first (fewest holders among our neighbours), ties to the earlier deadline,
//     only once the chunk is older than pull_grace and, while a push may still come, was first
//     announced to us local_grace ago (until then epidemic push is expected to bring it, and
//     pulling would race the push into a duplicate), and never from the origin (unless
//     origin_like_a_peer: pull-only swarms);
//   - a holder with a free slot is chosen by class (peer, then edge, then origin), then the
//     shortest expected wait: its response time × (our requests outstanding there + 1) — this
//     spreads the load: choosing by free slots would send everything to whoever delivered
//     most and saturate the few nodes near the source; each pick takes one of its slots.
// Plain value types; no thread affinity.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/strong.hpp"
#include "core/time.hpp"

namespace meshcast::swarm {

using core::chunk_seq;
using neighbour_id = std::uint64_t;

/// Who a neighbour is, as far as picking goes: peers first, the origin last.
enum class source_class : std::uint8_t { peer = 0, edge = 1, origin = 2 };

struct picker_settings {
  /// Deadline - now below this makes a chunk urgent. The node sets it to 3 chunk durations + RTT:
  /// time for one request, one retry elsewhere and the transfer.
  core::micros urgent_threshold{400'000};
  /// A chunk whose source age is below this is left to push unless urgent.
  core::micros pull_grace{400'000};
  /// Deadline = source time + playout_delay; used to derive a chunk's age from its deadline.
  core::micros playout_delay{1'500'000};
  /// A chunk first announced to us less than this ago is left to push unless urgent: a
  /// neighbour that just got it pushes to some of its neighbours within about one hop time...
  core::micros local_grace{100'000};
  /// ...but only while a push can still come: past this source age nobody pushes it any more
  /// (push_max_age, plus the time a push sent just before takes to arrive).
  core::micros push_horizon{500'000};
  /// Pull from the origin like from any other holder (last by class) instead of only when the
  /// chunk is urgent. Off in meshcast, where the origin pushes each chunk into the swarm and
  /// serves what the peers cannot; on for pull-only swarms (Pixtream-like), where the source is
  /// a peer that answers requests and nothing enters the swarm otherwise.
  bool origin_like_a_peer = false;
};

struct pick_neighbour {
  neighbour_id id = 0;
  source_class cls = source_class::peer;
  std::size_t free_slots = 0;      ///< requests it may still be sent (its queue bound - outstanding)
  std::size_t outstanding = 0;     ///< our requests already waiting there
  core::micros response{100'000};  ///< how long its answers take (measured; RTT + transfer until then)
  /// has[i] != 0: it holds chunk i of the problem (shorter = the rest unknown/no). Bytes, not
  /// vector<bool>: the node fills it without a branch per chunk (node_schedule.cpp).
  std::vector<std::uint8_t> has;
};

struct pick_problem {
  chunk_seq first;
  /// When not empty, index i stands for seqs[i] (ascending) instead of first + i: the node passes
  /// only the chunks it wants, a few of the tens in its window, and every per-index vector
  /// (neighbours' `has` too) shrinks with them.
  std::vector<chunk_seq> seqs;
  std::vector<bool> wanted;  ///< wanted[i]: we lack first + i and have no live request for it
  std::vector<std::optional<core::time_point>> deadline;  ///< per i; nullopt = unknown (joining)
  std::vector<std::optional<core::time_point>> heard;     ///< per i: first announced to us (optional)
  core::time_point now;
  std::vector<pick_neighbour> neighbours;
};

struct pick {
  neighbour_id neighbour = 0;
  chunk_seq seq;
  bool urgent = false;
  friend bool operator==(const pick&, const pick&) = default;
};

struct pick_result {
  std::vector<pick> picks;  ///< in request order (most wanted first)
  /// The earliest later time at which a chunk left out now becomes eligible on its own (its pull
  /// grace ends or it turns urgent); nullopt when waiting cannot change anything.
  std::optional<core::time_point> recheck_at;
};

class chunk_picker {
 public:
  explicit chunk_picker(picker_settings s = {}) : settings_(s) {}
  [[nodiscard]] pick_result pick(const pick_problem& p) const;
  /// From when a chunk with this deadline, first announced to us at `heard`, may be pulled from
  /// a peer: the end of its grace, or when it turns urgent if that is sooner.
  [[nodiscard]] core::time_point eligible_at(core::time_point deadline,
                                             std::optional<core::time_point> heard) const;
  [[nodiscard]] const picker_settings& settings() const { return settings_; }
  void set_urgent_threshold(core::micros t) { settings_.urgent_threshold = t; }

 private:
  picker_settings settings_;
};

}  // namespace meshcast::swarm
