#include "report/collector.hpp"
#include "core/splitmix.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace meshcast::report {
namespace {

constexpr std::uint64_t k_none = ~std::uint64_t{0};

void set_bit(std::vector<std::uint64_t>& bits, std::size_t i) {
  if (bits.size() <= i / 64) bits.resize(i / 64 + 1, 0);
  bits[i / 64] |= std::uint64_t{1} << (i % 64);
}
bool get_bit(const std::vector<std::uint64_t>& bits, std::size_t i) {
  return i / 64 < bits.size() && ((bits[i / 64] >> (i % 64)) & 1U) != 0;
}


std::size_t second_of(std::int64_t us) { return us <= 0 ? 0 : static_cast<std::size_t>(us / 1'000'000); }

template <class V>
void grow(V& v, std::size_t i) {
  if (v.size() <= i) v.resize(i + 1);
}

}  // namespace

collector::collector(collector_settings s, const scenario::plan& plan) : s_(s), plan_(plan) {
  nodes_.resize(plan_.nodes.size());
  std::size_t viewers = 0;
  for (const auto& n : plan_.nodes) viewers += n.kind == scenario::node_kind::peer ? 1 : 0;
  const bool all = viewers <= s_.sample_nodes;
  // Keep each viewer with probability sample_nodes / viewers, decided by a hash of (seed, index):
  // the same viewers are sampled in every run of the same plan, whatever order events come in.
  const double keep = all ? 1.0 : static_cast<double>(s_.sample_nodes) / static_cast<double>(viewers);
  for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
    if (!is_viewer(i)) continue;
    const double u = core::unit_interval(core::splitmix64(s_.seed * 0x100000001b3ULL + i));
    if (all || u < keep) {
      nodes_[i].sample = static_cast<std::int32_t>(sampled_.size());
      sampled_.emplace_back();
    }
  }
}

bool collector::is_viewer(std::uint32_t node) const {
  return node < plan_.nodes.size() && plan_.nodes[node].kind == scenario::node_kind::peer;
}

bool collector::sampled(std::uint32_t node) const { return node < nodes_.size() && nodes_[node].sample >= 0; }

void collector::on_produced(std::uint64_t seq, core::time_point source_time, bool keyframe, std::size_t) {
  if (produced_.empty()) base_seq_ = seq;
  if (seq < base_seq_) return;
  const std::size_t i = seq - base_seq_;
  grow(produced_, i);
  produced_[i] = {rel(source_time), keyframe, true};
}

void collector::on_join(std::uint32_t node, core::time_point t) {
  if (node >= nodes_.size()) return;
  nodes_[node].join_us = rel(t);
}

void collector::on_join_point(std::uint32_t node, std::uint64_t seq) {
  if (node >= nodes_.size()) return;
  if (nodes_[node].join_seq == k_none) nodes_[node].join_seq = seq;
}

void collector::on_arrival(std::uint32_t node, std::uint64_t seq, core::time_point source_time,
                           core::time_point arrival, std::uint32_t from, std::size_t bytes, bool pushed) {
  if (node >= nodes_.size() || produced_.empty() || seq < base_seq_) return;
  node_state& n = nodes_[node];
  const std::int64_t src = rel(source_time);
  const std::int64_t arr = rel(arrival);
  const std::size_t i = seq - base_seq_;
  n.payload_down += bytes;
  const bool from_server = from < plan_.nodes.size() && plan_.nodes[from].kind != scenario::node_kind::peer;
  if (from_server) n.down_from_servers += bytes;
  if (src + s_.playout_delay.count() >= arr) {
    set_bit(n.on_time, i);
  } else {
    set_bit(n.late, i);
  }
  if (!is_viewer(node)) return;
  const double ms = static_cast<double>(arr - src) / 1000.0;
  delay_.add(ms);
  const std::size_t sec = second_of(arr);
  grow(delay_by_second_, sec);
  delay_by_second_[sec].add(ms);
  if (n.sample >= 0) {
    sampled_[static_cast<std::size_t>(n.sample)].add(ms);
    records_.push_back({node, from, seq, src, arr, pushed});
  }
}

void collector::on_duplicate(std::uint32_t node, std::size_t bytes) {
  if (node < nodes_.size()) nodes_[node].duplicate_bytes += bytes;
}

void collector::on_sent(std::uint32_t node, core::time_point t, std::size_t wire, std::size_t payload) {
  if (node >= nodes_.size()) return;
  nodes_[node].wire_up += wire;
  nodes_[node].payload_up += payload;
  if (plan_.nodes[node].kind == scenario::node_kind::origin) {
    const std::size_t sec = second_of(rel(t));
    grow(origin_payload_by_second_, sec);
    origin_payload_by_second_[sec] += payload;
  }
}

void collector::on_left(std::uint32_t node, core::time_point t) {
  if (node < nodes_.size() && nodes_[node].leave_us < 0) nodes_[node].leave_us = rel(t);
}

void collector::on_event(core::time_point t, std::string label) { events_.emplace_back(rel(t), std::move(label)); }

run_result collector::finish(core::time_point end) {
  run_result r;
  const std::int64_t end_us = rel(end);
  const std::int64_t delay_us = s_.playout_delay.count();
  r.duration_us = end_us;
  r.chunks_produced = static_cast<std::size_t>(std::count_if(produced_.begin(), produced_.end(),
                                                             [](const produced_chunk& c) { return c.known; }));
  const std::size_t seconds = second_of(end_us) + 1;
  std::vector<std::size_t> due_by_second(seconds, 0), on_time_by_second(seconds, 0);
  std::vector<std::int64_t> viewers_delta(seconds + 1, 0);

  r.nodes.reserve(nodes_.size());
  for (std::uint32_t idx = 0; idx < nodes_.size(); ++idx) {
    const node_state& n = nodes_[idx];
    node_result out;
    out.index = idx;
    out.sampled = n.sample >= 0;
    out.payload_up = n.payload_up;
    out.wire_up = n.wire_up;
    out.payload_down = n.payload_down;
    out.payload_down_from_servers = n.down_from_servers;
    out.duplicate_bytes = n.duplicate_bytes;
    out.join_us = n.join_us;
    if (n.leave_us >= 0) out.leave_us = n.leave_us;
    r.wire_up += n.wire_up;
    r.payload_up += n.payload_up;
    r.duplicate_bytes += n.duplicate_bytes;
    const auto kind = plan_.nodes[idx].kind;
    if (kind == scenario::node_kind::origin) {
      r.origin_payload_up += n.payload_up;
      r.origin_wire_up += n.wire_up;
    } else if (kind == scenario::node_kind::edge) {
      r.edge_payload_up += n.payload_up;
    }
    if (kind == scenario::node_kind::peer && n.join_us >= 0) {
      r.viewer_payload_down += n.payload_down;
      r.viewer_payload_from_peers += n.payload_down - n.down_from_servers;
      // Viewers alive per second, for the timeline.
      viewers_delta[std::min(second_of(n.join_us), seconds)] += 1;
      if (n.leave_us >= 0) viewers_delta[std::min(second_of(n.leave_us), seconds)] -= 1;
    }
    // Continuity: chunks from the join point whose deadline passed by the end (and, for a node
    // that left, before it left).
    if (n.join_seq != k_none && n.join_seq >= base_seq_) {
      const std::int64_t horizon = n.leave_us >= 0 ? std::min(end_us, n.leave_us) : end_us;
      bool started = false;
      for (std::size_t i = n.join_seq - base_seq_; i < produced_.size(); ++i) {
        const produced_chunk& c = produced_[i];
        if (!c.known) continue;
        const std::int64_t deadline = c.source_us + delay_us;
        if (deadline > horizon) break;
        ++out.due;
        const bool on_time = get_bit(n.on_time, i);
        if (on_time) {
          ++out.on_time;
        } else if (get_bit(n.late, i)) {
          ++out.late;
        } else {
          ++out.missing;
        }
        if (kind == scenario::node_kind::peer) {
          const std::size_t sec = std::min(second_of(deadline), seconds - 1);
          ++due_by_second[sec];
          if (on_time) ++on_time_by_second[sec];
          if (!started && on_time && c.keyframe && n.join_us >= 0) {
            started = true;
            out.startup_ms = static_cast<double>(std::max<std::int64_t>(0, deadline - n.join_us)) / 1000.0;
          }
        }
      }
      out.continuity = out.due == 0 ? 1.0 : static_cast<double>(out.on_time) / static_cast<double>(out.due);
    } else if (kind == scenario::node_kind::peer && n.join_us >= 0) {
      // A viewer that never stored a chunk played nothing: every chunk produced after it joined
      // whose deadline came while it was there is missing (it must not count as perfect).
      const std::int64_t horizon = n.leave_us >= 0 ? std::min(end_us, n.leave_us) : end_us;
      for (const produced_chunk& c : produced_) {
        if (!c.known || c.source_us < n.join_us) continue;
        const std::int64_t deadline = c.source_us + delay_us;
        if (deadline > horizon) break;
        ++out.due;
        ++out.missing;
        ++due_by_second[std::min(second_of(deadline), seconds - 1)];
      }
      out.continuity = out.due == 0 ? 1.0 : 0.0;
    }
    if (kind == scenario::node_kind::peer && n.join_us >= 0) {
      if (out.startup_ms) r.startup_ms.push_back(*out.startup_ms);
    }
    if (n.sample >= 0) {
      const histogram& h = sampled_[static_cast<std::size_t>(n.sample)];
      if (h.count() > 0) {
        out.delay_p50_ms = h.quantile(0.50);
        out.delay_p95_ms = h.quantile(0.95);
        out.delay_p99_ms = h.quantile(0.99);
      }
    }
    r.nodes.push_back(out);
  }
  r.delay = delay_;
  r.arrivals = std::move(records_);

  // Per-second timeline.
  const double stream_bytes_per_s = plan_.stream_bps / 8.0;
  std::int64_t alive = 0;
  for (std::size_t sec = 0; sec < seconds; ++sec) {
    second_sample t;
    t.t_s = static_cast<std::int64_t>(sec);
    alive += viewers_delta[sec];
    t.viewers = static_cast<std::size_t>(std::max<std::int64_t>(0, alive));
    t.due = due_by_second[sec];
    t.on_time = on_time_by_second[sec];
    t.continuity = t.due == 0 ? 1.0 : static_cast<double>(t.on_time) / static_cast<double>(t.due);
    if (sec < delay_by_second_.size() && delay_by_second_[sec].count() > 0) {
      t.delay_p50_ms = delay_by_second_[sec].quantile(0.50);
      t.delay_p95_ms = delay_by_second_[sec].quantile(0.95);
    }
    if (sec < origin_payload_by_second_.size() && stream_bytes_per_s > 0) {
      t.origin_egress_x = static_cast<double>(origin_payload_by_second_[sec]) / stream_bytes_per_s;
    }
    r.timeline.push_back(t);
  }

  // Recovery after each event: from the event's second, did per-second continuity dip below a
  // level within 30 s, and when was it back at ≥ that level for 3 consecutive seconds? The level
  // is 99 %, and again the swarm's own before the event (its last 10 s, less one point).
  constexpr double k_good = 0.99;
  constexpr std::size_t k_window = 30, k_stable = 3, k_before = 10;
  const auto recovery = [&](std::int64_t at_us, double level) -> std::optional<double> {
    const std::size_t first = second_of(at_us);
    std::optional<std::size_t> dip;
    for (std::size_t sec = first; sec < std::min(seconds, first + k_window); ++sec) {
      if (r.timeline[sec].due > 0 && r.timeline[sec].continuity < level) {
        dip = sec;
        break;
      }
    }
    if (!dip) return 0.0;
    std::size_t run = 0;
    for (std::size_t sec = *dip; sec < seconds; ++sec) {
      run = r.timeline[sec].due > 0 && r.timeline[sec].continuity >= level ? run + 1 : 0;
      if (run == k_stable) {
        const std::int64_t back_us = static_cast<std::int64_t>(sec + 1 - k_stable) * 1'000'000;
        return static_cast<double>(std::max<std::int64_t>(0, back_us - at_us)) / 1e6;
      }
    }
    return std::nullopt;
  };
  for (const auto& [at_us, label] : events_) {
    event_recovery e;
    e.at_us = at_us;
    e.label = label;
    const std::size_t first = second_of(at_us);
    for (std::size_t sec = first; sec < std::min(seconds, first + k_window); ++sec) {
      if (r.timeline[sec].due > 0) e.min_continuity = std::min(e.min_continuity, r.timeline[sec].continuity);
    }
    e.recovery_s = recovery(at_us, k_good);
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t sec = first > k_before ? first - k_before : 0; sec < std::min(first, seconds); ++sec) {
      if (r.timeline[sec].due == 0) continue;
      sum += r.timeline[sec].continuity;
      ++n;
    }
    if (n > 0) {
      e.before = sum / static_cast<double>(n);
      e.recovery_to_before_s = recovery(at_us, std::min(*e.before - 0.01, k_good));
    }
    r.events.push_back(std::move(e));
  }
  return r;
}

}  // namespace meshcast::report
