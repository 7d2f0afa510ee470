// scenario: what `meshcast lab` and `meshcast sim` run — one TOML file, one model, one plan.
// A scenario names the source (test source or file, bitrate, GOP, chunk duration), the nodes
// (origin, edges, groups of peers with upload/download capacity as distributions in multiples of
// the stream rate, region), the links (one-way delay between regions and per node, loss) and the
// events over time (joins, leaves, churn, a node killed, the tracker stopped). make_plan() turns
// it into concrete nodes with concrete numbers, deterministically from the seed: the lab and the
// simulator run the same plan, so the same file means the same audience in both.
// Format and shipped examples: docs/scenario.md, scenarios/*.toml. Plain value types.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"

namespace meshcast::scenario {

enum class scenario_errc { syntax = 1, missing, invalid, unsupported, io };

/// A random quantity. Text forms (the TOML value may also be a plain number = constant):
///   "1.5"                      constant
///   "10..50"                   uniform on [10, 50]
///   "normal(30,5)"             normal, clamped at 0
///   "40%:0.5, 40%:1.5, 20%:4"  choice: weights in % (must sum to 100) and values
struct distribution {
  enum class kind : std::uint8_t { constant, uniform, normal, choice };
  kind k = kind::constant;
  double a = 0;  ///< constant value, uniform low, normal mean
  double b = 0;  ///< uniform high, normal standard deviation
  std::vector<std::pair<double, double>> choices;  ///< (weight in [0,1], value)

  static distribution constant(double v) { return {kind::constant, v, 0, {}}; }
  static core::result<distribution> parse(std::string_view text);
  [[nodiscard]] double mean() const;
  [[nodiscard]] double sample(std::mt19937_64& rng) const;
  /// `n` values for n nodes: a choice is split exactly (largest remainder) and shuffled, so 20
  /// peers of "40%:0.5,40%:1.5,20%:4" are exactly 8/8/4; other kinds are sampled.
  [[nodiscard]] std::vector<double> assign(std::size_t n, std::mt19937_64& rng) const;
  /// Canonical text form (parse(text()) gives the same distribution).
  [[nodiscard]] std::string text() const;
};

enum class node_kind : std::uint8_t { origin, edge, peer };

struct source_spec {
  std::string kind = "test";  ///< "test" (built-in test source) | "file"
  std::string path;           ///< file sources
  std::uint32_t bitrate_kbps = 1000;
  std::uint32_t gop_ms = 2000;
  std::uint32_t chunk_ms = 100;
  std::uint32_t width = 640, height = 360, fps = 25;
};

/// How the packager cuts this source into chunks (src/media/packager.cpp): whole frames, each chunk
/// the fewest frames that cover `chunk_ms`, and a GOP's last chunk shorter when its frames run
/// out. At 25 fps a 100 ms chunk is three frames, 120 ms, and a 2 s GOP is 16 such chunks and one
/// of 80 ms: 117.6 ms a chunk on average. The simulator produces exactly these chunks, and the
/// delay bound uses their mean, so that the lab (a real encoder and packager) and the simulator
/// run the same stream.
struct chunk_cut {
  std::uint32_t fps = 25;
  std::uint32_t frames_per_chunk = 3;
  std::uint32_t frames_per_gop = 50;
  [[nodiscard]] std::uint32_t chunks_per_gop() const { return (frames_per_gop + frames_per_chunk - 1) / frames_per_chunk; }
  /// Media time of chunk `seq`'s first frame, from the stream's start.
  [[nodiscard]] std::int64_t start_us(std::uint64_t seq) const;
  [[nodiscard]] std::int64_t duration_us(std::uint64_t seq) const;
  [[nodiscard]] bool segment_start(std::uint64_t seq) const { return seq % chunks_per_gop() == 0; }
  [[nodiscard]] std::uint64_t segment_of(std::uint64_t seq) const { return seq / chunks_per_gop(); }
  [[nodiscard]] double mean_chunk_us() const;
};
[[nodiscard]] chunk_cut cut_of(const source_spec& s);

struct origin_spec {
  double upload = 0;  ///< multiple of the stream rate; 0 = unlimited
  std::string region;
  std::size_t max_neighbours = 32;
  distribution delay_ms = distribution::constant(0);  ///< its access delay (one way)
};

/// A group of nodes of the same kind and capacities (a "class": the upload-share plot groups by it).
struct node_group {
  std::string name = "peers";
  node_kind kind = node_kind::peer;
  std::size_t count = 0;  ///< joined at `join_at_s` (all at once unless `join_over_s`)
  distribution upload = distribution::constant(1.5);  ///< multiple of the stream rate
  distribution download = distribution::constant(0);  ///< multiple of the stream rate; 0 = unlimited
  std::string region;
  std::optional<distribution> delay_ms;  ///< access delay; unset = links.node_delay_ms
  double join_at_s = 0;
  double join_over_s = 0;  ///< joins spread evenly over this many seconds
};

struct region_delay {
  std::string a, b;  ///< symmetric
  distribution delay_ms;
};

struct link_spec {
  distribution node_delay_ms = distribution::constant(0);  ///< per-node access delay, one way
  std::vector<region_delay> region_delays;                   ///< between regions, one way; same region: 0
  double loss = 0;  ///< packet loss probability on every link (0..0.5)
};

/// Something that happens at `at_s` seconds after the start.
struct event {
  enum class kind : std::uint8_t {
    join,           ///< `count` new nodes of `group` over `over_s` (a flash crowd: big count, short over)
    leave,          ///< `fraction` (or `count`) of the group's live nodes leave over `over_s`, gracefully
    churn,          ///< from at_s to until_s, `rate` of the group's nodes per second leave and as many join
    kill,           ///< `target` ("origin", or a node name like "peers-12") dies without a goodbye
    tracker_stop,   ///< the tracker stops answering
    tracker_start,  ///< ...and comes back
  };
  kind k = kind::join;
  double at_s = 0;
  std::string group = "peers";
  std::size_t count = 0;
  double fraction = 0;
  double over_s = 0;
  double rate = 0;
  double until_s = 0;
  std::string target;
  std::string label;  ///< shown on the timeline plot; default made from the kind
};

/// Swarm knobs a scenario may set (the rest are node_settings defaults).
struct swarm_spec {
  std::uint32_t playout_delay_ms = 1500;
  std::size_t min_neighbours = 8;
  std::size_t max_neighbours = 24;
  /// "push-pull" (meshcast), "push" (epidemic push only, GRAPES-like), "pull" (pull only,
  /// Pixtream-like): for comparing scheduling designs in the simulator.
  std::string mode = "push-pull";
};

struct scenario {
  std::string name = "unnamed";
  std::string description;
  double duration_s = 60;
  std::uint64_t seed = 1;
  source_spec source;
  origin_spec origin;
  std::vector<node_group> groups;  ///< peers (and later edges), in file order
  link_spec links;
  swarm_spec swarm;
  std::vector<event> events;
  double tracker_interval_s = 5;  ///< announce interval

  [[nodiscard]] double stream_bps() const { return source.bitrate_kbps * 1000.0; }
};

/// Parses a scenario file's text; `origin_name` names it in errors ("ci.toml: [[peers]] #2:
/// upload: expected ...").
core::result<scenario> parse(std::string_view toml_text, std::string_view origin_name = "scenario");
core::result<scenario> load(const std::string& path);

/// The command line's common knobs (each unset = keep the file's value).
struct overrides {
  std::optional<std::size_t> peers;  ///< total peer count; spread over the groups by their counts
  std::optional<double> duration_s;
  std::optional<std::uint32_t> bitrate_kbps;
  std::optional<std::string> upload;  ///< distribution text, every peer group
  std::optional<std::string> delay;   ///< distribution text, links.node_delay_ms
  std::optional<std::string> churn;   ///< "RATE[@FROM-UNTIL]": a churn event on the first group
  std::optional<std::uint64_t> seed;
  std::optional<std::string> mode;
};
core::result<void> apply(scenario& s, const overrides& o);

/// The scenario as JSON text (embedded in report.json).
std::string to_json_text(const scenario& s);

// --- the plan: concrete nodes ---------------------------------------------------------------

struct planned_node {
  std::uint32_t index = 0;
  node_kind kind = node_kind::peer;
  std::uint16_t group = 0;   ///< index into plan::group_names (origin: its own name "origin")
  std::uint16_t region = 0;  ///< index into plan::region_names
  std::uint32_t ordinal = 0;  ///< number within its group: name = group_names[group] + "-" + ordinal
  double upload_bps = 0;      ///< bits/s; 0 = unlimited
  double download_bps = 0;    ///< bits/s; 0 = unlimited
  core::micros access_delay{0};  ///< one way
  core::micros join_at{0};       ///< from the start of the run
  std::optional<core::micros> leave_at;
  bool killed = false;  ///< leaves without a goodbye (kill event) rather than gracefully
};

struct planned_event {
  enum class kind : std::uint8_t { marker, tracker_stop, tracker_start };
  kind k = kind::marker;
  core::micros at{0};
  std::string label;  ///< "50% of peers leave over 10 s"
};

struct plan {
  std::vector<planned_node> nodes;  ///< nodes[0] is the origin; then groups' nodes, then joiners by join time
  std::vector<planned_event> events;  ///< sorted by time; joins/leaves/kills appear as markers
  std::vector<std::string> group_names;   ///< [0] = "origin"
  std::vector<std::string> region_names;  ///< [0] = "" (default region)
  /// One-way delay between regions (region_names.size()² entries, row-major), per-pair values
  /// sampled once from the scenario's distributions.
  std::vector<core::micros> region_matrix;
  double loss = 0;
  double stream_bps = 0;
  core::micros duration{0};

  [[nodiscard]] std::string name_of(std::uint32_t i) const;
  /// One-way delay from node a to node b: both access delays plus the region delay.
  [[nodiscard]] core::micros one_way(std::uint32_t a, std::uint32_t b) const;
  /// Mean upload of the peers in bits/s (unlimited ones count as the origin's... as 0: excluded).
  [[nodiscard]] double mean_peer_upload_bps() const;
  [[nodiscard]] std::size_t peer_count() const;  ///< every peer that joins at some point
};

/// Expands a scenario deterministically from its seed. Errors: an unknown group or region in an
/// event, a kill target that does not exist, edges (not supported yet).
core::result<plan> make_plan(const scenario& s);

}  // namespace meshcast::scenario
