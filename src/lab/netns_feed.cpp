#include "lab/netns_feed.hpp"

#include <algorithm>
#include <unordered_map>

namespace meshcast::lab {
namespace {

using kind = record_event::kind;

/// One collector call waiting for its turn: a record event of a node, or something the lab knows.
struct item {
  enum class what : std::uint8_t { event, join, left, marker };
  std::int64_t key = 0;  // wall clock µs it happened at
  std::uint32_t node = 0;
  what w = what::event;
  const record_event* e = nullptr;
  std::size_t marker = 0;  // index into plan.events
};

}  // namespace

feed_counts feed_collector(report::collector& c, const scenario::plan& p, const std::vector<node_outcome>& nodes,
                           std::int64_t t0_us, std::int64_t end_us, std::int64_t shift_us) {
  feed_counts counts;
  const auto at = [shift_us](std::int64_t us) { return core::from_us(us + shift_us); };

  std::unordered_map<std::string, std::uint32_t> by_id;
  for (std::uint32_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].record) by_id.emplace(nodes[i].record->node_id, i);
  }

  // Chunks produced first, by sequence number: the collector numbers chunks from the first one.
  std::vector<const record_event*> produced;
  for (const auto& n : nodes) {
    if (!n.record) continue;
    for (const auto& e : n.record->events) {
      if (e.k == kind::produced) produced.push_back(&e);
    }
  }
  std::stable_sort(produced.begin(), produced.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
  for (const auto* e : produced) c.on_produced(e->seq, at(e->source_us), e->keyframe, e->bytes);
  counts.produced = produced.size();

  std::vector<item> items;
  for (std::uint32_t i = 0; i < nodes.size() && i < p.nodes.size(); ++i) {
    const node_outcome& n = nodes[i];
    bool joined = false, left = false;
    std::int64_t last = n.started_us.value_or(t0_us);
    if (n.record) {
      ++counts.records;
      for (const auto& e : n.record->events) {
        switch (e.k) {
          case kind::produced:
            continue;
          case kind::join:
            if (joined) continue;
            joined = true;
            last = e.t_us;
            items.push_back({e.t_us, i, item::what::join, &e, 0});
            continue;
          case kind::left:
            if (left || e.t_us >= end_us) continue;
            left = true;
            last = e.t_us;
            items.push_back({e.t_us, i, item::what::left, &e, 0});
            continue;
          case kind::join_point:
            // No time of its own: it comes right after what preceded it in the file.
            items.push_back({last, i, item::what::event, &e, 0});
            continue;
          case kind::arrival:
          case kind::duplicate:
          case kind::sent:
            last = e.t_us;
            items.push_back({e.t_us, i, item::what::event, &e, 0});
            continue;
        }
      }
    }
    if (!joined && n.started_us) items.push_back({*n.started_us, i, item::what::join, nullptr, 0});
    if (!left && n.stopped_us && *n.stopped_us < end_us)
      items.push_back({*n.stopped_us, i, item::what::left, nullptr, 0});
  }
  for (std::size_t k = 0; k < p.events.size(); ++k) {
    items.push_back({t0_us + p.events[k].at.count(), 0, item::what::marker, nullptr, k});
  }
  std::stable_sort(items.begin(), items.end(), [](const item& a, const item& b) { return a.key < b.key; });

  for (const item& it : items) {
    switch (it.w) {
      case item::what::join:
        c.on_join(it.node, at(it.key));
        continue;
      case item::what::left:
        c.on_left(it.node, at(it.key));
        continue;
      case item::what::marker:
        c.on_event(at(it.key), p.events[it.marker].label);
        continue;
      case item::what::event:
        break;
    }
    const record_event& e = *it.e;
    switch (e.k) {
      case kind::join_point:
        c.on_join_point(it.node, e.seq);
        break;
      case kind::arrival: {
        std::uint32_t from = report::k_no_node;
        if (const auto f = by_id.find(e.from); f != by_id.end()) {
          from = f->second;
        } else {
          ++counts.unknown_senders;
        }
        c.on_arrival(it.node, e.seq, at(e.source_us), at(e.t_us), from, e.bytes, e.pushed);
        ++counts.arrivals;
        break;
      }
      case kind::duplicate:
        c.on_duplicate(it.node, e.bytes);
        break;
      case kind::sent:
        c.on_sent(it.node, at(e.t_us), e.bytes, e.payload);
        break;
      case kind::produced:
      case kind::join:
      case kind::left:
        break;
    }
  }
  return counts;
}

}  // namespace meshcast::lab
