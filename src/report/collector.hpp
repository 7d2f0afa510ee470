// collector: what a lab or simulator run observed, reduced to the figures of the report. The
// runner feeds it events as they happen (chunks produced, chunks arriving at nodes, bytes sent,
// nodes leaving, scenario events); finish() computes continuity, delay percentiles, startup,
// lag spread, offload, egress, overhead, duplicates, the per-second timeline and the recovery
// after each event. Aggregates are exact at any N; per-chunk records and per-node entries are
// kept for a deterministic sample of at most `sample_nodes` viewers (all of them at lab sizes),
// so 10^6 simulated peers cost a few hundred bytes each here.
// Node indices are the plan's (scenario::plan::nodes). Times are the run's clock (virtual in the
// simulator, the origin's wall clock in the lab). Single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.hpp"
#include "report/histogram.hpp"
#include "scenario/scenario.hpp"

namespace meshcast::report {

inline constexpr std::uint32_t k_no_node = 0xffffffffU;

struct collector_settings {
  core::time_point start;          ///< t = 0 of the run (the plan's join times count from here)
  core::micros chunk_duration{100'000};
  core::micros playout_delay{1'500'000};
  std::size_t sample_nodes = 2000;  ///< viewers whose per-chunk records and entries are kept
  std::uint64_t seed = 1;
};

/// One chunk arriving at a node (first copy only; duplicates go to on_duplicate).
struct arrival_record {
  std::uint32_t node = 0;
  std::uint32_t from = k_no_node;  ///< sending node, k_no_node if unknown
  std::uint64_t seq = 0;
  std::int64_t source_us = 0;   ///< source time, µs from the run's start
  std::int64_t arrival_us = 0;  ///< µs from the run's start
  bool pushed = false;
};

struct node_result {
  std::uint32_t index = 0;
  bool sampled = false;  ///< per-node delay percentiles and records kept
  std::size_t due = 0, on_time = 0, late = 0, missing = 0;
  double continuity = 1;
  std::optional<double> startup_ms;  ///< join → first chunk played (a keyframe chunk at its deadline)
  std::optional<double> delay_p50_ms, delay_p95_ms, delay_p99_ms;  ///< sampled nodes only
  std::uint64_t payload_up = 0, wire_up = 0;
  std::uint64_t payload_down = 0;             ///< first copies
  std::uint64_t payload_down_from_servers = 0;  ///< from the origin or an edge
  std::uint64_t duplicate_bytes = 0;
  std::int64_t join_us = 0;
  std::optional<std::int64_t> leave_us;
};

/// One second of the run (by chunk deadline for continuity; by send time for egress).
struct second_sample {
  std::int64_t t_s = 0;
  std::size_t due = 0, on_time = 0;
  double continuity = 1;
  std::optional<double> delay_p50_ms, delay_p95_ms;  ///< arrivals in this second
  double origin_egress_x = 0;  ///< origin payload sent this second / stream rate
  std::size_t viewers = 0;     ///< peers alive (joined, not left)
};

struct event_recovery {
  std::int64_t at_us = 0;
  std::string label;
  /// Seconds from the event until the per-second continuity of the remaining viewers is back at
  /// ≥ 99 % (and the dip, if any, is over) for 3 consecutive seconds; 0 = never dipped below;
  /// nullopt = not recovered by the end.
  std::optional<double> recovery_s;
  double min_continuity = 1;  ///< lowest per-second continuity within 30 s after the event
  /// Mean per-second continuity over the 10 s before the event; nullopt when nothing was due then.
  std::optional<double> before;
  /// As recovery_s, to the swarm's own level instead of 99 %: back at ≥ min(before - 1 point,
  /// 99 %) for 3 consecutive seconds. A swarm that ran at 93 % before an event cannot get "back"
  /// to 99 %, yet how long it took to be itself again is what a departure costs the rest.
  std::optional<double> recovery_to_before_s;
};

struct run_result {
  std::vector<node_result> nodes;  ///< every node of the plan, by index
  std::vector<arrival_record> arrivals;  ///< sampled viewers only, in arrival order
  std::vector<second_sample> timeline;
  std::vector<event_recovery> events;
  histogram delay;    ///< every first arrival at every viewer
  std::vector<double> startup_ms;  ///< every viewer that started
  std::size_t chunks_produced = 0;
  std::int64_t duration_us = 0;
  // Totals over the run.
  std::uint64_t viewer_payload_down = 0, viewer_payload_from_peers = 0;
  std::uint64_t origin_payload_up = 0, origin_wire_up = 0, edge_payload_up = 0;
  std::uint64_t wire_up = 0, payload_up = 0, duplicate_bytes = 0;
};

class collector {
 public:
  collector(collector_settings s, const scenario::plan& plan);

  /// The origin produced chunk `seq` (source time, keyframe at a segment start).
  void on_produced(std::uint64_t seq, core::time_point source_time, bool keyframe, std::size_t bytes);
  /// Node `node` joined the swarm (may differ from the planned time in the lab by a few ms).
  void on_join(std::uint32_t node, core::time_point t);
  /// The node's first chunk (its join point): continuity counts from here.
  void on_join_point(std::uint32_t node, std::uint64_t seq);
  void on_arrival(std::uint32_t node, std::uint64_t seq, core::time_point source_time, core::time_point arrival,
                  std::uint32_t from, std::size_t bytes, bool pushed);
  void on_duplicate(std::uint32_t node, std::size_t bytes);
  /// Bytes a node put on the wire (frames) of which `payload` were chunk payload.
  void on_sent(std::uint32_t node, core::time_point t, std::size_t wire, std::size_t payload);
  void on_left(std::uint32_t node, core::time_point t);
  void on_event(core::time_point t, std::string label);

  [[nodiscard]] bool sampled(std::uint32_t node) const;
  /// The run's t = 0 etc.: runners read `start` here (the simulator's virtual clock starts at
  /// it; the lab's caller sets it to the wall clock just before the run).
  [[nodiscard]] const collector_settings& settings() const { return s_; }
  /// Computes everything over [start, end]; the collector may not be fed afterwards.
  run_result finish(core::time_point end);

 private:
  /// Per node: a few counters and two bits per chunk of the run (on time, late), indexed by seq.
  struct node_state {
    std::int64_t join_us = -1;  ///< -1 = not joined yet
    std::int64_t leave_us = -1;
    std::uint64_t join_seq = ~std::uint64_t{0};
    std::uint64_t payload_up = 0, wire_up = 0, payload_down = 0, down_from_servers = 0, duplicate_bytes = 0;
    std::vector<std::uint64_t> on_time, late;  // bitsets by seq
    std::int32_t sample = -1;                  // index into sampled_ histograms, -1 = not sampled
  };
  struct produced_chunk {
    std::int64_t source_us = 0;
    bool keyframe = false;
    bool known = false;  ///< false: a gap (the runner never reported this seq)
  };

  [[nodiscard]] std::int64_t rel(core::time_point t) const { return core::to_us(t) - core::to_us(s_.start); }
  [[nodiscard]] bool is_viewer(std::uint32_t node) const;

  collector_settings s_;
  const scenario::plan& plan_;
  std::vector<node_state> nodes_;
  std::vector<histogram> sampled_;                 // per sampled viewer
  std::vector<produced_chunk> produced_;           // by seq - base_seq_
  std::uint64_t base_seq_ = 0;                     // the first produced seq
  std::vector<histogram> delay_by_second_;         // arrivals, by arrival second
  std::vector<std::uint64_t> origin_payload_by_second_;
  std::vector<std::pair<std::int64_t, std::string>> events_;
  std::vector<arrival_record> records_;
  histogram delay_;
};

}  // namespace meshcast::report
