// overrides: the command line's common knobs applied to a scenario (`apply`), all or nothing.
// A flag is outside input like the file: every value is checked, nothing throws.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "scenario/detail.hpp"
#include "scenario/scenario.hpp"

namespace meshcast::scenario {

using detail::check_max;
using detail::number_text;

namespace {

core::error flag_error(std::string_view flag, const std::string& msg) {
  return core::make_error(scenario_errc::invalid, std::string(flag) + ": " + msg);
}

core::result<distribution> flag_distribution(std::string_view flag, const std::string& text, double max) {
  auto d = distribution::parse(text);
  if (!d) return d.error().with_context(flag);
  if (auto err = check_max(*d, max); !err.empty()) return flag_error(flag, err);
  return d;
}

core::result<double> flag_number(std::string_view flag, std::string_view text) {
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc{} || r.ptr != text.data() + text.size() || !std::isfinite(v)) {
    return flag_error(
        flag, "expected 'RATE[@FROM[-UNTIL]]' (seconds), got a bad number '" + std::string(text) + "'");
  }
  return v;
}

}  // namespace

core::result<void> apply(scenario& s, const overrides& o) {
  scenario out = s;  // all or nothing
  if (o.duration_s) {
    if (!std::isfinite(*o.duration_s) || *o.duration_s <= 0 || *o.duration_s > limits::max_duration_s) {
      return flag_error("--duration", "must be > 0 and <= " + number_text(limits::max_duration_s) +
                                          " s, got " + number_text(*o.duration_s));
    }
    out.duration_s = *o.duration_s;
  }
  if (o.bitrate_kbps) {
    if (*o.bitrate_kbps < limits::min_bitrate_kbps || *o.bitrate_kbps > limits::max_bitrate_kbps) {
      return flag_error("--bitrate", "must be in " + std::to_string(limits::min_bitrate_kbps) + ".." +
                                         std::to_string(limits::max_bitrate_kbps) + " kbps, got " +
                                         std::to_string(*o.bitrate_kbps));
    }
    out.source.bitrate_kbps = *o.bitrate_kbps;
  }
  if (o.peers) {
    if (*o.peers > limits::max_nodes) {
      return flag_error("--peers",
                        "limit " + std::to_string(limits::max_nodes) + ", got " + std::to_string(*o.peers));
    }
    std::vector<node_group*> peer_groups;
    std::uint64_t total = 0;
    for (node_group& g : out.groups) {
      if (g.kind != node_kind::peer) continue;
      peer_groups.push_back(&g);
      total += g.count;
    }
    if (peer_groups.empty()) return flag_error("--peers", "the scenario has no peer group");
    if (total == 0) {
      peer_groups.front()->count = *o.peers;
    } else {
      // Largest remainder, exact in integers: floor(N·c/C) each, leftovers by largest N·c mod C.
      const std::uint64_t n = *o.peers;
      std::vector<std::pair<std::uint64_t, std::size_t>> rem;
      std::uint64_t given = 0;
      for (std::size_t i = 0; i < peer_groups.size(); ++i) {
        const std::uint64_t c = peer_groups[i]->count;
        peer_groups[i]->count = static_cast<std::size_t>(n * c / total);
        given += n * c / total;
        rem.emplace_back(n * c % total, i);
      }
      std::stable_sort(rem.begin(), rem.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      for (std::size_t r = 0; given < n; ++r, ++given) ++peer_groups[rem[r % rem.size()].second]->count;
    }
  }
  if (o.upload) {
    auto d = flag_distribution("--upload", *o.upload, limits::max_capacity);
    if (!d) return d.error();
    for (node_group& g : out.groups) {
      if (g.kind == node_kind::peer) g.upload = *d;
    }
  }
  if (o.delay) {
    auto d = flag_distribution("--delay", *o.delay, limits::max_delay_ms);
    if (!d) return d.error();
    out.links.node_delay_ms = *d;
    for (node_group& g : out.groups) g.delay_ms.reset();
  }
  if (o.churn) {
    // RATE[@FROM[-UNTIL]]
    const std::string& spec = *o.churn;
    const std::size_t at = spec.find('@');
    auto rate = flag_number("--churn", std::string_view(spec).substr(0, at));
    if (!rate) return rate.error();
    event e;
    e.k = event::kind::churn;
    e.rate = *rate;
    if (at != std::string::npos) {
      const std::string_view range = std::string_view(spec).substr(at + 1);
      const std::size_t dash = range.find('-');
      auto from = flag_number("--churn", range.substr(0, dash));
      if (!from) return from.error();
      e.at_s = *from;
      if (dash != std::string_view::npos) {
        auto until = flag_number("--churn", range.substr(dash + 1));
        if (!until) return until.error();
        e.until_s = *until;
      }
    }
    if (e.rate <= 0 || e.rate > limits::max_churn_rate) {
      return flag_error("--churn", "rate must be > 0 and <= " + number_text(limits::max_churn_rate) +
                                       " nodes/s, got " + number_text(e.rate));
    }
    if (e.at_s < 0 || e.at_s >= out.duration_s ||
        (e.until_s != 0 && (e.until_s <= e.at_s || e.until_s > out.duration_s))) {
      return flag_error("--churn", "expected FROM < UNTIL within the run (0.." + number_text(out.duration_s) +
                                       " s), got '" + spec + "'");
    }
    const auto first = std::find_if(out.groups.begin(), out.groups.end(),
                                    [](const node_group& g) { return g.kind == node_kind::peer; });
    if (first == out.groups.end()) return flag_error("--churn", "the scenario has no peer group");
    e.group = first->name;
    out.events.push_back(std::move(e));
  }
  if (o.seed) out.seed = *o.seed;
  if (o.mode) {
    if (*o.mode != "push-pull" && *o.mode != "push" && *o.mode != "pull") {
      return flag_error("--mode", "expected one of push-pull, push, pull, got '" + *o.mode + "'");
    }
    out.swarm.mode = *o.mode;
  }
  s = std::move(out);
  return core::ok();
}

}  // namespace meshcast::scenario
