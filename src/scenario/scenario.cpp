// scenario: the TOML file → scenario model, checked key by key (types, ranges, unknown keys
// refused). The file is hostile input: nothing here throws past parse(); toml++'s exceptions
// are caught at the call. Format: docs/scenario.md.
#include "scenario/scenario.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <limits>

#include "scenario/detail.hpp"

namespace meshcast::scenario {

namespace {

using detail::check_max;
using detail::number_text;

// A file larger than this is not a scenario.
constexpr std::size_t k_max_file_bytes = 4 * 1024 * 1024;

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

/// The first error found in one file; every later check is skipped once it is set.
class file_context {
 public:
  explicit file_context(std::string_view name) : name_(name) {}

  void fail(std::string_view where, std::string_view key, const std::string& msg,
            scenario_errc code = scenario_errc::invalid) {
    if (err_) return;
    std::string m = name_ + ": ";
    if (!where.empty()) m += std::string(where) + ": ";
    if (!key.empty()) m += std::string(key) + ": ";
    err_ = core::make_error(code, m + msg);
  }
  [[nodiscard]] bool failed() const { return err_.has_value(); }
  [[nodiscard]] const core::error& error() const { return *err_; }

 private:
  std::string name_;
  std::optional<core::error> err_;
};

/// Reads one TOML table: each getter names the key as known, checks type and range, and leaves
/// the output untouched when the key is absent (the model's default stands). finish() refuses
/// every key no getter asked for.
class table_reader {
 public:
  table_reader(file_context& f, const toml::table& t, std::string where)
      : f_(f), t_(t), where_(std::move(where)) {}

  void fail(std::string_view key, const std::string& msg, scenario_errc code = scenario_errc::invalid) {
    f_.fail(where_, key, msg, code);
  }
  [[nodiscard]] bool has(std::string_view key) const { return t_.contains(key); }
  void require(std::string_view key) {
    if (!has(key)) fail(key, "required", scenario_errc::missing);
  }

  const toml::node* get(std::string_view key) {
    known_.push_back(key);
    return t_.get(key);
  }

  /// A number (integer or float) in [lo, hi]; (lo, hi] when `lo_open`.
  void real(std::string_view key, double& out, double lo, double hi, bool lo_open = false) {
    const toml::node* n = get(key);
    if (n == nullptr) return;
    double v = 0;
    if (const auto* i = n->as_integer()) {
      v = static_cast<double>(i->get());
    } else if (const auto* d = n->as_floating_point()) {
      v = d->get();
    } else {
      fail(key, std::string("expected a number, got ") + type_name(*n));
      return;
    }
    if (!std::isfinite(v) || (lo_open ? v <= lo : v < lo) || v > hi) {
      fail(key, "must be " + std::string(lo_open ? "> " : ">= ") + number_text(lo) +
                    " and <= " + number_text(hi) + ", got " + number_text(v));
      return;
    }
    out = v;
  }

  template <class T>
  void integer(std::string_view key, T& out, std::int64_t lo, std::int64_t hi) {
    const toml::node* n = get(key);
    if (n == nullptr) return;
    const auto* i = n->as_integer();
    if (i == nullptr) {
      fail(key, std::string("expected an integer, got ") + type_name(*n));
      return;
    }
    const std::int64_t v = i->get();
    if (v < lo || v > hi) {
      fail(key,
           "must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + std::to_string(v));
      return;
    }
    out = static_cast<T>(v);
  }

  void string(std::string_view key, std::string& out) {
    const toml::node* n = get(key);
    if (n == nullptr) return;
    const auto* s = n->as_string();
    if (s == nullptr) {
      fail(key, std::string("expected a string, got ") + type_name(*n));
      return;
    }
    out = s->get();
  }

  void one_of(std::string_view key, std::string& out, std::initializer_list<std::string_view> allowed) {
    std::string v = out;
    string(key, v);
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(key, "expected one of " + list + ", got '" + v + "'");
      return;
    }
    out = v;
  }

  /// A distribution: a number (constant) or its text form; every value must be <= `max`.
  void dist(std::string_view key, distribution& out, double max) {
    const toml::node* n = get(key);
    if (n == nullptr) return;
    std::optional<distribution> d;
    if (const auto* i = n->as_integer()) {
      if (i->get() < 0) {
        fail(key, "must be >= 0, got " + std::to_string(i->get()));
        return;
      }
      d = distribution::constant(static_cast<double>(i->get()));
    } else if (const auto* x = n->as_floating_point()) {
      if (!std::isfinite(x->get()) || x->get() < 0) {
        fail(key, "must be >= 0, got " + number_text(x->get()));
        return;
      }
      d = distribution::constant(x->get());
    } else if (const auto* s = n->as_string()) {
      auto r = distribution::parse(s->get());
      if (!r) {
        fail(key, r.error().message);
        return;
      }
      d = std::move(*r);
    } else {
      fail(key, std::string("expected a number or a distribution string, got ") + type_name(*n));
      return;
    }
    if (auto err = check_max(*d, max); !err.empty()) {
      fail(key, err);
      return;
    }
    out = std::move(*d);
  }

  void dist(std::string_view key, std::optional<distribution>& out, double max) {
    if (!has(key)) {
      get(key);
      return;
    }
    distribution d;
    dist(key, d, max);
    out = d;
  }

  const toml::table* table(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return nullptr;
    if (const auto* t = n->as_table()) return t;
    fail(key, std::string("expected a table, got ") + type_name(*n));
    return nullptr;
  }

  /// An array of tables ([[key]]), empty when absent.
  std::vector<const toml::table*> tables(std::string_view key) {
    std::vector<const toml::table*> out;
    const toml::node* n = get(key);
    if (n == nullptr) return out;
    const auto* a = n->as_array();
    if (a == nullptr) {
      fail(key,
           std::string("expected an array of tables ([[") + std::string(key) + "]]), got " + type_name(*n));
      return out;
    }
    for (const toml::node& e : *a) {
      const auto* t = e.as_table();
      if (t == nullptr) {
        fail(key, std::string("expected an array of tables ([[") + std::string(key) +
                      "]]), got an element that is " + type_name(e));
        return {};
      }
      out.push_back(t);
    }
    return out;
  }

  void finish() {
    for (auto&& [k, v] : t_) {
      (void)v;
      if (std::find(known_.begin(), known_.end(), k.str()) != known_.end()) continue;
      std::string list;
      for (std::string_view a : known_) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(k.str(), "unknown key (expected one of: " + list + ")");
      return;
    }
  }

 private:
  file_context& f_;
  const toml::table& t_;
  std::string where_;
  std::vector<std::string_view> known_;
};

// --- sections ------------------------------------------------------------------------------

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

void read_source(file_context& f, const toml::table& t, source_spec& s) {
  table_reader r(f, t, "[source]");
  r.one_of("kind", s.kind, {"test", "file"});
  r.string("path", s.path);
  r.integer("bitrate", s.bitrate_kbps, limits::min_bitrate_kbps, limits::max_bitrate_kbps);
  r.integer("gop", s.gop_ms, limits::min_chunk_ms, limits::max_gop_ms);
  r.integer("chunk", s.chunk_ms, limits::min_chunk_ms, limits::max_chunk_ms);
  r.integer("width", s.width, 16, 7680);
  r.integer("height", s.height, 16, 4320);
  r.integer("fps", s.fps, 1, 120);
  r.finish();
  if (s.kind == "file" && s.path.empty())
    r.fail("path", "required for a file source", scenario_errc::missing);
  if (s.kind == "test" && !s.path.empty()) r.fail("path", "only a file source has a path");
  if (s.gop_ms < s.chunk_ms) {
    r.fail("gop",
           "must be >= chunk (" + std::to_string(s.chunk_ms) + " ms), got " + std::to_string(s.gop_ms));
  }
}

void read_origin(file_context& f, const toml::table& t, origin_spec& o) {
  table_reader r(f, t, "[origin]");
  r.real("upload", o.upload, 0, limits::max_capacity);
  r.string("region", o.region);
  r.integer("max_neighbours", o.max_neighbours, 1, limits::max_neighbours);
  r.dist("delay", o.delay_ms, limits::max_delay_ms);
  r.finish();
}

void read_group(file_context& f, const toml::table& t, std::size_t number, node_group& g) {
  table_reader r(f, t, "[[peers]] #" + std::to_string(number));
  r.string("name", g.name);
  if (!valid_name(g.name)) r.fail("name", "expected 1-64 of A-Z a-z 0-9 _ - ., got '" + g.name + "'");
  if (g.name == "origin") r.fail("name", "'origin' names the origin");
  std::string kind = "peer";
  r.one_of("kind", kind, {"peer", "edge"});
  g.kind = kind == "edge" ? node_kind::edge : node_kind::peer;
  r.integer("count", g.count, 0, static_cast<std::int64_t>(limits::max_nodes));
  r.dist("upload", g.upload, limits::max_capacity);
  r.dist("download", g.download, limits::max_capacity);
  r.string("region", g.region);
  r.dist("delay", g.delay_ms, limits::max_delay_ms);
  r.real("join_at", g.join_at_s, 0, limits::max_duration_s);
  r.real("join_over", g.join_over_s, 0, limits::max_duration_s);
  r.finish();
}

void read_links(file_context& f, const toml::table& t, link_spec& l) {
  table_reader r(f, t, "[links]");
  r.dist("delay", l.node_delay_ms, limits::max_delay_ms);
  r.real("loss", l.loss, 0, limits::max_loss);
  const auto regions = r.tables("regions");
  r.finish();
  if (regions.size() > limits::max_region_delays) {
    r.fail("regions", "more than " + std::to_string(limits::max_region_delays) + " entries");
    return;
  }
  for (std::size_t i = 0; i < regions.size() && !f.failed(); ++i) {
    table_reader rr(f, *regions[i], "[[links.regions]] #" + std::to_string(i + 1));
    region_delay d;
    rr.require("a");
    rr.require("b");
    rr.require("delay");
    rr.string("a", d.a);
    rr.string("b", d.b);
    rr.dist("delay", d.delay_ms, limits::max_delay_ms);
    rr.finish();
    if (d.a == d.b) rr.fail("b", "a region's delay to itself is always 0 ('" + d.a + "')");
    for (const region_delay& e : l.region_delays) {
      if ((e.a == d.a && e.b == d.b) || (e.a == d.b && e.b == d.a)) {
        rr.fail("", "the pair '" + d.a + "'/'" + d.b + "' is given twice");
      }
    }
    l.region_delays.push_back(std::move(d));
  }
}

void read_swarm(file_context& f, const toml::table& t, swarm_spec& s) {
  table_reader r(f, t, "[swarm]");
  r.integer("playout_delay", s.playout_delay_ms, 100, 120'000);
  r.integer("min_neighbours", s.min_neighbours, 1, limits::max_neighbours);
  r.integer("max_neighbours", s.max_neighbours, 1, limits::max_neighbours);
  r.one_of("mode", s.mode, {"push-pull", "push", "pull"});
  r.finish();
  if (s.min_neighbours > s.max_neighbours) {
    r.fail("min_neighbours", "must be <= max_neighbours (" + std::to_string(s.max_neighbours) + "), got " +
                                 std::to_string(s.min_neighbours));
  }
}

struct kind_rule {
  std::string_view name;
  event::kind k;
  std::initializer_list<std::string_view> keys;  // besides at, kind, label
};
const kind_rule k_event_rules[] = {
    {"join", event::kind::join, {"group", "count", "over"}},
    {"leave", event::kind::leave, {"group", "count", "fraction", "over"}},
    {"churn", event::kind::churn, {"group", "rate", "until"}},
    {"kill", event::kind::kill, {"target"}},
    {"tracker_stop", event::kind::tracker_stop, {}},
    {"tracker_start", event::kind::tracker_start, {}},
};
constexpr std::string_view k_event_keys[] = {"group", "count", "fraction", "over", "rate", "until", "target"};

void read_event(file_context& f, const toml::table& t, std::size_t number, event& e) {
  table_reader r(f, t, "[[events]] #" + std::to_string(number));
  r.require("at");
  r.require("kind");
  r.real("at", e.at_s, 0, limits::max_duration_s);
  std::string kind = "join";
  r.one_of("kind", kind, {"join", "leave", "churn", "kill", "tracker_stop", "tracker_start"});
  const kind_rule* rule = &k_event_rules[0];
  for (const kind_rule& k : k_event_rules) {
    if (k.name == kind) rule = &k;
  }
  e.k = rule->k;
  for (std::string_view key : k_event_keys) {
    if (r.has(key) && std::find(rule->keys.begin(), rule->keys.end(), key) == rule->keys.end()) {
      r.fail(key, "does not apply to a " + kind + " event");
    }
  }
  r.string("group", e.group);
  r.integer("count", e.count, 1, static_cast<std::int64_t>(limits::max_nodes));
  r.real("fraction", e.fraction, 0, 1, true);
  r.real("over", e.over_s, 0, limits::max_duration_s);
  r.real("rate", e.rate, 0, limits::max_churn_rate, true);
  r.real("until", e.until_s, 0, limits::max_duration_s, true);
  r.string("target", e.target);
  r.string("label", e.label);
  r.finish();
  switch (e.k) {
    case event::kind::join:
      r.require("count");
      break;
    case event::kind::leave:
      if (r.has("count") == r.has("fraction")) r.fail("", "a leave event takes either fraction or count");
      break;
    case event::kind::churn:
      r.require("rate");
      if (r.has("until") && e.until_s <= e.at_s) {
        r.fail("until", "must be after at (" + number_text(e.at_s) + " s), got " + number_text(e.until_s));
      }
      break;
    case event::kind::kill:
      r.require("target");
      break;
    case event::kind::tracker_stop:
    case event::kind::tracker_start:
      break;
  }
}

const node_group* find_group(const scenario& s, std::string_view name) {
  for (const node_group& g : s.groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

// Checks across sections (the whole file has been read).
void check_scenario(file_context& f, const scenario& s) {
  if (s.groups.empty()) f.fail("", "", "at least one [[peers]] group is required", scenario_errc::missing);
  for (std::size_t i = 0; i < s.groups.size(); ++i) {
    const std::string where = "[[peers]] #" + std::to_string(i + 1);
    for (std::size_t j = 0; j < i; ++j) {
      if (s.groups[j].name == s.groups[i].name) {
        f.fail(where, "name",
               "'" + s.groups[i].name + "' is already the name of [[peers]] #" + std::to_string(j + 1) +
                   " (give each group its own name)");
      }
    }
    if (s.groups[i].join_at_s > s.duration_s) {
      f.fail(where, "join_at", "is after the end of the run (" + number_text(s.duration_s) + " s)");
    }
  }
  std::vector<std::string_view> regions{"", s.origin.region};
  const auto add_region = [&](std::string_view r) {
    if (std::find(regions.begin(), regions.end(), r) == regions.end()) regions.push_back(r);
  };
  for (const node_group& g : s.groups) add_region(g.region);
  for (const region_delay& d : s.links.region_delays) {
    add_region(d.a);
    add_region(d.b);
  }
  if (regions.size() > limits::max_regions) {
    f.fail("", "", "more than " + std::to_string(limits::max_regions) + " regions");
  }
  std::uint64_t nodes = 0;
  for (const node_group& g : s.groups) nodes += g.count;
  for (std::size_t i = 0; i < s.events.size(); ++i) {
    const event& e = s.events[i];
    const std::string where = "[[events]] #" + std::to_string(i + 1);
    if (e.at_s > s.duration_s) {
      f.fail(where, "at", "is after the end of the run (" + number_text(s.duration_s) + " s)");
    }
    if (e.until_s > s.duration_s) {
      f.fail(where, "until", "is after the end of the run (" + number_text(s.duration_s) + " s)");
    }
    const bool grouped = e.k == event::kind::join || e.k == event::kind::leave || e.k == event::kind::churn;
    if (grouped && find_group(s, e.group) == nullptr) {
      f.fail(where, "group", "no [[peers]] group is named '" + e.group + "'");
    }
    if (e.k == event::kind::join) nodes += e.count;
    if (e.k == event::kind::kill && e.target != "origin") {
      const std::size_t dash = e.target.rfind('-');
      const std::string_view ord =
          dash == std::string::npos ? std::string_view{} : std::string_view(e.target).substr(dash + 1);
      const bool digits =
          !ord.empty() && std::all_of(ord.begin(), ord.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || find_group(s, e.target.substr(0, dash)) == nullptr) {
        f.fail(where, "target",
               "expected 'origin' or GROUP-N naming a [[peers]] group, got '" + e.target + "'");
      }
    }
  }
  if (nodes > limits::max_nodes) {
    f.fail("", "",
           "the groups and join events add up to " + std::to_string(nodes) + " nodes, limit " +
               std::to_string(limits::max_nodes));
  }
}

}  // namespace

core::result<scenario> parse(std::string_view toml_text, std::string_view origin_name) {
  const std::string name(origin_name);
  if (toml_text.size() > k_max_file_bytes) {
    return core::make_error(scenario_errc::invalid,
                            name + ": larger than " + std::to_string(k_max_file_bytes) + " bytes");
  }
  toml::table root;
  try {
    root = toml::parse(toml_text, origin_name);
  } catch (const toml::parse_error& e) {
    return core::make_error(scenario_errc::syntax, name + ":" + std::to_string(e.source().begin.line) + ":" +
                                                       std::to_string(e.source().begin.column) + ": " +
                                                       std::string(e.description()));
  } catch (const std::exception& e) {
    return core::make_error(scenario_errc::syntax, name + ": " + e.what());
  }

  file_context f(origin_name);
  scenario s;
  table_reader top(f, root, "");
  top.string("name", s.name);
  top.string("description", s.description);
  top.real("duration", s.duration_s, 0, limits::max_duration_s, true);
  top.integer("seed", s.seed, 0, std::numeric_limits<std::int64_t>::max());
  top.real("tracker_interval", s.tracker_interval_s, 0, 3600, true);
  if (const toml::table* t = top.table("source")) read_source(f, *t, s.source);
  if (const toml::table* t = top.table("origin")) read_origin(f, *t, s.origin);
  const auto peers = top.tables("peers");
  if (peers.size() > limits::max_groups) {
    top.fail("peers", "more than " + std::to_string(limits::max_groups) + " groups");
  }
  for (std::size_t i = 0; i < peers.size() && !f.failed(); ++i) {
    s.groups.emplace_back();
    read_group(f, *peers[i], i + 1, s.groups.back());
  }
  if (const toml::table* t = top.table("links")) read_links(f, *t, s.links);
  if (const toml::table* t = top.table("swarm")) read_swarm(f, *t, s.swarm);
  const auto events = top.tables("events");
  if (events.size() > limits::max_events) {
    top.fail("events", "more than " + std::to_string(limits::max_events) + " events");
  }
  for (std::size_t i = 0; i < events.size() && !f.failed(); ++i) {
    s.events.emplace_back();
    read_event(f, *events[i], i + 1, s.events.back());
  }
  top.finish();
  if (s.name.empty()) top.fail("name", "must not be empty");
  if (!f.failed()) check_scenario(f, s);
  if (f.failed()) return f.error();
  return s;
}

core::result<scenario> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::make_error(scenario_errc::io, "cannot open scenario file " + path);
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > k_max_file_bytes) {
      return core::make_error(scenario_errc::invalid,
                              path + ": larger than " + std::to_string(k_max_file_bytes) + " bytes");
    }
  }
  if (in.bad()) return core::make_error(scenario_errc::io, "cannot read scenario file " + path);
  return parse(text, path);
}

}  // namespace meshcast::scenario
