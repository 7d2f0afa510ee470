// plan: a scenario expanded into concrete nodes and timed events, deterministically from its
// seed (docs/scenario.md "How the plan is drawn"). Each purpose draws from its own generator
// (the region matrix, the origin, each group's uploads, downloads and delays, each event's
// joiners and leavers), so adding an event or changing one distribution leaves the other draws
// as they were. Linear in the number of nodes: a million peers plan in well under a second.
#include <algorithm>
#include <cmath>

#include "scenario/detail.hpp"
#include "scenario/scenario.hpp"

namespace meshcast::scenario {

namespace {

using detail::number_text;

// Generator purposes: (what << 32) | which group or event.
enum class purpose : std::uint64_t {
  regions = 1,
  origin = 2,
  upload = 3,
  download = 4,
  delay = 5,
  leavers = 6,
};
// Joiners of event e draw as "group" k_event_source + e, apart from the groups' own draws.
constexpr std::uint64_t k_event_source = 0x10000;

std::mt19937_64 stream_for(const scenario& s, purpose p, std::uint64_t which = 0) {
  return detail::stream(s.seed, (static_cast<std::uint64_t>(p) << 32) | which);
}

core::micros seconds(double s) { return core::micros{std::llround(s * 1e6)}; }
core::micros delay_ms(double ms) {
  return core::micros{std::llround(std::clamp(ms, 0.0, limits::max_delay_ms) * 1e3)};
}

core::error plan_error(scenario_errc code, const std::string& msg) {
  return core::make_error(code, "plan: " + msg);
}

double until_of(const scenario& s, const event& e) {
  return e.until_s > 0 ? std::min(e.until_s, s.duration_s) : s.duration_s;
}

/// Departures (and arrivals) of a churn event: one every 1/rate s after `at`, up to `until`.
std::uint64_t churn_steps(const scenario& s, const event& e) {
  const double span = until_of(s, e) - e.at_s;
  return span > 0 ? static_cast<std::uint64_t>(std::floor(span * e.rate + 1e-9)) : 0;
}

core::micros churn_time(const event& e, std::uint64_t k) {
  return seconds(e.at_s + static_cast<double>(k) / e.rate);
}

std::string default_label(const scenario& s, const event& e) {
  const std::string over = e.over_s > 0 ? " over " + number_text(e.over_s) + " s" : "";
  switch (e.k) {
    case event::kind::join:
      return "+" + std::to_string(e.count) + " " + e.group + over;
    case event::kind::leave:
      return (e.fraction > 0 ? number_text(e.fraction * 100) + "% of " + e.group
                             : std::to_string(e.count) + " " + e.group) +
             " leave" + over;
    case event::kind::churn:
      return "churn: " + number_text(e.rate) + " " + e.group + "/s until " + number_text(until_of(s, e)) +
             " s";
    case event::kind::kill:
      return e.target + " killed";
    case event::kind::tracker_stop:
      return "tracker stopped";
    case event::kind::tracker_start:
      return "tracker restarted";
  }
  return "event";
}

class planner {
 public:
  explicit planner(const scenario& s) : s_(s) {}

  core::result<plan> run() {
    for (const node_group& g : s_.groups) {
      if (g.kind == node_kind::edge) {
        return plan_error(scenario_errc::unsupported,
                          "group '" + g.name + "': edges are not supported by the lab and simulator yet");
      }
    }
    if (s_.groups.size() > limits::max_groups) {
      return plan_error(scenario_errc::invalid,
                        "more than " + std::to_string(limits::max_groups) + " groups");
    }
    p_.stream_bps = s_.stream_bps();
    p_.loss = s_.links.loss;
    p_.duration = seconds(s_.duration_s);
    p_.group_names.push_back("origin");
    for (const node_group& g : s_.groups) p_.group_names.push_back(g.name);
    for (std::size_t i = 0; i < s_.events.size(); ++i) {
      if (s_.events[i].at_s <= s_.duration_s) active_.push_back(i);
    }
    if (auto r = regions(); !r) return r.error();
    if (auto r = nodes(); !r) return r.error();
    if (auto r = kills(); !r) return r.error();
    if (auto r = departures(); !r) return r.error();
    markers();
    return std::move(p_);
  }

 private:
  std::uint16_t region_index(const std::string& name) {
    const auto it = std::find(p_.region_names.begin(), p_.region_names.end(), name);
    if (it != p_.region_names.end()) return static_cast<std::uint16_t>(it - p_.region_names.begin());
    p_.region_names.push_back(name);
    return static_cast<std::uint16_t>(p_.region_names.size() - 1);
  }

  core::result<void> regions() {
    p_.region_names.push_back("");
    region_index(s_.origin.region);
    for (const node_group& g : s_.groups) region_index(g.region);
    for (const region_delay& d : s_.links.region_delays) {
      region_index(d.a);
      region_index(d.b);
      if (p_.region_names.size() > limits::max_regions) break;
    }
    if (p_.region_names.size() > limits::max_regions) {
      return plan_error(scenario_errc::invalid,
                        "more than " + std::to_string(limits::max_regions) + " regions");
    }
    const std::size_t n = p_.region_names.size();
    p_.region_matrix.assign(n * n, core::micros{0});
    std::mt19937_64 rng = stream_for(s_, purpose::regions);
    for (const region_delay& d : s_.links.region_delays) {
      const std::size_t a = region_index(d.a), b = region_index(d.b);
      if (a == b) continue;
      const core::micros v = delay_ms(d.delay_ms.sample(rng));
      p_.region_matrix[a * n + b] = v;
      p_.region_matrix[b * n + a] = v;
    }
    return core::ok();
  }

  /// Appends `n` nodes of group `g` (0-based in s_.groups) drawing capacities as `source`;
  /// node k joins at join_time(k).
  template <class JoinTime>
  void add_nodes(std::size_t g, std::size_t n, std::uint64_t source, JoinTime join_time) {
    const node_group& group = s_.groups[g];
    std::mt19937_64 up_rng = stream_for(s_, purpose::upload, source);
    std::mt19937_64 down_rng = stream_for(s_, purpose::download, source);
    std::mt19937_64 delay_rng = stream_for(s_, purpose::delay, source);
    const std::vector<double> up = group.upload.assign(n, up_rng);
    const std::vector<double> down = group.download.assign(n, down_rng);
    const std::vector<double> delay = group.delay_ms.value_or(s_.links.node_delay_ms).assign(n, delay_rng);
    const std::uint16_t region = region_index(group.region);
    for (std::size_t k = 0; k < n; ++k) {
      planned_node node;
      node.kind = node_kind::peer;
      node.group = static_cast<std::uint16_t>(g + 1);
      node.region = region;
      node.upload_bps = std::min(up[k], limits::max_capacity) * p_.stream_bps;
      node.download_bps = std::min(down[k], limits::max_capacity) * p_.stream_bps;
      node.access_delay = delay_ms(delay[k]);
      node.join_at = join_time(k);
      p_.nodes.push_back(node);
    }
  }

  std::size_t group_of(const std::string& name) const {
    for (std::size_t g = 0; g < s_.groups.size(); ++g) {
      if (s_.groups[g].name == name) return g;
    }
    return s_.groups.size();
  }

  core::result<void> nodes() {
    std::uint64_t total = 0;
    for (const node_group& g : s_.groups) total += g.count;
    for (std::size_t e : active_) {
      const event& ev = s_.events[e];
      if (ev.k != event::kind::join && ev.k != event::kind::churn && ev.k != event::kind::leave) continue;
      if (group_of(ev.group) == s_.groups.size()) {
        return plan_error(scenario_errc::invalid,
                          "event #" + std::to_string(e + 1) + ": no group named '" + ev.group + "'");
      }
      if (ev.k == event::kind::join) total += ev.count;
      if (ev.k == event::kind::churn) total += churn_steps(s_, ev);
      if (total > limits::max_nodes) break;
    }
    if (total > limits::max_nodes) {
      return plan_error(scenario_errc::invalid, "more than " + std::to_string(limits::max_nodes) +
                                                    " nodes would join (groups, joins and churn)");
    }
    p_.nodes.reserve(total + 1);

    planned_node origin;
    origin.kind = node_kind::origin;
    origin.region = region_index(s_.origin.region);
    origin.upload_bps = s_.origin.upload * p_.stream_bps;
    std::mt19937_64 origin_rng = stream_for(s_, purpose::origin);
    origin.access_delay = delay_ms(s_.origin.delay_ms.sample(origin_rng));
    p_.nodes.push_back(origin);

    for (std::size_t g = 0; g < s_.groups.size(); ++g) {
      const node_group& group = s_.groups[g];
      const double n = static_cast<double>(group.count);
      add_nodes(g, group.count, g, [&](std::size_t k) {
        return seconds(group.join_at_s + group.join_over_s * static_cast<double>(k) / n);
      });
    }
    const std::size_t first_joiner = p_.nodes.size();
    for (std::size_t e : active_) {
      const event& ev = s_.events[e];
      if (ev.k == event::kind::join) {
        const double n = static_cast<double>(ev.count);
        add_nodes(group_of(ev.group), ev.count, k_event_source + e,
                  [&](std::size_t k) { return seconds(ev.at_s + ev.over_s * static_cast<double>(k) / n); });
      } else if (ev.k == event::kind::churn) {
        add_nodes(group_of(ev.group), churn_steps(s_, ev), k_event_source + e,
                  [&](std::size_t k) { return churn_time(ev, k + 1); });
      }
    }
    std::stable_sort(p_.nodes.begin() + static_cast<std::ptrdiff_t>(first_joiner), p_.nodes.end(),
                     [](const planned_node& a, const planned_node& b) { return a.join_at < b.join_at; });

    std::vector<std::uint32_t> next_ordinal(p_.group_names.size(), 0);
    members_.assign(p_.group_names.size(), {});
    for (std::size_t g = 1; g <= s_.groups.size(); ++g) members_[g].reserve(s_.groups[g - 1].count);
    for (std::size_t i = 0; i < p_.nodes.size(); ++i) {
      planned_node& n = p_.nodes[i];
      n.index = static_cast<std::uint32_t>(i);
      if (n.kind == node_kind::origin) continue;
      n.ordinal = next_ordinal[n.group]++;
      members_[n.group].push_back(n.index);
    }
    return core::ok();
  }

  core::result<std::uint32_t> resolve(const std::string& target) const {
    if (target == "origin") return 0U;
    const std::size_t dash = target.rfind('-');
    const std::size_t g = dash == std::string::npos ? s_.groups.size() : group_of(target.substr(0, dash));
    std::uint64_t ordinal = 0;
    bool digits = dash != std::string::npos && dash + 1 < target.size();
    for (std::size_t i = dash + 1; digits && i < target.size(); ++i) {
      digits = target[i] >= '0' && target[i] <= '9' && ordinal < (1ULL << 40);
      ordinal = ordinal * 10 + static_cast<std::uint64_t>(target[i] - '0');
    }
    if (g == s_.groups.size() || !digits) {
      return plan_error(scenario_errc::invalid, "kill target '" + target + "': expected 'origin' or GROUP-N");
    }
    if (ordinal >= members_[g + 1].size()) {
      return plan_error(scenario_errc::invalid,
                        "kill target '" + target + "' does not exist (group '" + s_.groups[g].name +
                            "' has " + std::to_string(members_[g + 1].size()) + " nodes, from 0)");
    }
    return members_[g + 1][ordinal];
  }

  // Kills first: they name their node, so churn and leave events must not take it away first.
  core::result<void> kills() {
    for (std::size_t e : active_) {
      const event& ev = s_.events[e];
      if (ev.k != event::kind::kill) continue;
      auto target = resolve(ev.target);
      if (!target) return target.error();
      planned_node& n = p_.nodes[*target];
      const core::micros at = seconds(ev.at_s);
      if (n.join_at > at) {
        return plan_error(scenario_errc::invalid,
                          "kill target '" + ev.target + "' joins at " +
                              number_text(static_cast<double>(n.join_at.count()) / 1e6) +
                              " s, after the kill at " + number_text(ev.at_s) + " s");
      }
      if (n.leave_at) return plan_error(scenario_errc::invalid, "'" + ev.target + "' is killed twice");
      n.leave_at = at;
      n.killed = true;
    }
    return core::ok();
  }

  // Leave and churn events in time order (file order at equal times); each takes nodes that are
  // not leaving already.
  core::result<void> departures() {
    std::vector<std::size_t> order;
    for (std::size_t e : active_) {
      if (s_.events[e].k == event::kind::leave || s_.events[e].k == event::kind::churn) order.push_back(e);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return s_.events[a].at_s < s_.events[b].at_s; });
    for (std::size_t e : order) {
      const event& ev = s_.events[e];
      std::mt19937_64 rng = stream_for(s_, purpose::leavers, e);
      const std::vector<std::uint32_t>& members = members_[group_of(ev.group) + 1];
      if (ev.k == event::kind::leave) {
        leave(ev, members, rng);
      } else {
        churn(ev, members, rng);
      }
    }
    return core::ok();
  }

  void leave(const event& ev, const std::vector<std::uint32_t>& members, std::mt19937_64& rng) {
    const core::micros at = seconds(ev.at_s);
    std::vector<std::uint32_t> live;
    for (std::uint32_t i : members) {
      if (p_.nodes[i].join_at <= at && !p_.nodes[i].leave_at) live.push_back(i);
    }
    const std::size_t n =
        ev.fraction > 0
            ? static_cast<std::size_t>(std::llround(ev.fraction * static_cast<double>(live.size())))
            : std::min(ev.count, live.size());
    // Partial Fisher–Yates: the first n of `live` become a uniform random choice, in random order.
    for (std::size_t k = 0; k < n; ++k) {
      std::swap(live[k], live[k + detail::below(rng, live.size() - k)]);
      p_.nodes[live[k]].leave_at =
          seconds(ev.at_s + ev.over_s * static_cast<double>(k) / static_cast<double>(n));
    }
  }

  void churn(const event& ev, const std::vector<std::uint32_t>& members, std::mt19937_64& rng) {
    std::vector<std::uint32_t> waiting;  // not leaving yet, by join time
    for (std::uint32_t i : members) {
      if (!p_.nodes[i].leave_at) waiting.push_back(i);
    }
    std::stable_sort(waiting.begin(), waiting.end(), [&](std::uint32_t a, std::uint32_t b) {
      return p_.nodes[a].join_at < p_.nodes[b].join_at;
    });
    std::vector<std::uint32_t> pool;  // joined before the current step
    std::size_t next = 0;
    const std::uint64_t steps = churn_steps(s_, ev);
    for (std::uint64_t k = 1; k <= steps; ++k) {
      const core::micros t = churn_time(ev, k);
      // Strictly before t: this step's newcomer (joining at t) is not the one who leaves.
      while (next < waiting.size() && p_.nodes[waiting[next]].join_at < t) pool.push_back(waiting[next++]);
      if (pool.empty()) continue;  // nobody to leave yet: the population grows by one
      const std::size_t j = detail::below(rng, pool.size());
      p_.nodes[pool[j]].leave_at = t;
      pool[j] = pool.back();
      pool.pop_back();
    }
  }

  // One planned event per scenario event: tracker events act, the others mark the timeline (the
  // nodes carry their effect).
  void markers() {
    for (std::size_t e : active_) {
      const event& ev = s_.events[e];
      planned_event pe;
      pe.k = ev.k == event::kind::tracker_stop    ? planned_event::kind::tracker_stop
             : ev.k == event::kind::tracker_start ? planned_event::kind::tracker_start
                                                  : planned_event::kind::marker;
      pe.at = seconds(ev.at_s);
      pe.label = ev.label.empty() ? default_label(s_, ev) : ev.label;
      p_.events.push_back(std::move(pe));
    }
    std::stable_sort(p_.events.begin(), p_.events.end(),
                     [](const planned_event& a, const planned_event& b) { return a.at < b.at; });
  }

  const scenario& s_;
  plan p_;
  std::vector<std::size_t> active_;                  // events at or before the end, in file order
  std::vector<std::vector<std::uint32_t>> members_;  // node indices per plan group, index order
};

}  // namespace

core::result<plan> make_plan(const scenario& s) { return planner(s).run(); }

std::string plan::name_of(std::uint32_t i) const {
  if (i >= nodes.size()) return "node-" + std::to_string(i);
  const planned_node& n = nodes[i];
  if (n.kind == node_kind::origin) return "origin";
  const std::string& g = n.group < group_names.size() ? group_names[n.group] : "group";
  return g + "-" + std::to_string(n.ordinal);
}

core::micros plan::one_way(std::uint32_t a, std::uint32_t b) const {
  const planned_node& x = nodes[a];
  const planned_node& y = nodes[b];
  const std::size_t r = region_names.size();
  const core::micros between =
      x.region < r && y.region < r ? region_matrix[std::size_t{x.region} * r + y.region] : core::micros{0};
  return x.access_delay + y.access_delay + between;
}

double plan::mean_peer_upload_bps() const {
  double sum = 0;
  std::size_t n = 0;
  for (const planned_node& node : nodes) {
    if (node.kind != node_kind::peer || node.upload_bps <= 0) continue;
    sum += node.upload_bps;
    ++n;
  }
  return n > 0 ? sum / static_cast<double>(n) : 0;
}

std::size_t plan::peer_count() const {
  return static_cast<std::size_t>(std::count_if(
      nodes.begin(), nodes.end(), [](const planned_node& n) { return n.kind == node_kind::peer; }));
}

chunk_cut cut_of(const source_spec& s) {
  chunk_cut c;
  c.fps = std::max<std::uint32_t>(s.fps, 1);
  const std::uint64_t fps = c.fps;
  c.frames_per_gop = static_cast<std::uint32_t>(std::max<std::uint64_t>(1, (std::uint64_t{s.gop_ms} * fps + 500) / 1000));
  c.frames_per_chunk = static_cast<std::uint32_t>(std::clamp<std::uint64_t>((std::uint64_t{s.chunk_ms} * fps + 999) / 1000, 1, c.frames_per_gop));
  return c;
}

std::int64_t chunk_cut::start_us(std::uint64_t seq) const {
  const std::uint64_t frame = seq / chunks_per_gop() * frames_per_gop + seq % chunks_per_gop() * frames_per_chunk;
  return static_cast<std::int64_t>(frame * 1'000'000 / fps);
}

std::int64_t chunk_cut::duration_us(std::uint64_t seq) const { return start_us(seq + 1) - start_us(seq); }

double chunk_cut::mean_chunk_us() const {
  return static_cast<double>(frames_per_gop) * 1e6 / fps / chunks_per_gop();
}

}  // namespace meshcast::scenario
