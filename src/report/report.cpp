#include "report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

namespace meshcast::report {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using scenario::node_kind;

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

/// Rounds for JSON so reports are readable and diffs stay small (3 significant decimals).
double r3(double v) { return std::round(v * 1000) / 1000; }
double r1(double v) { return std::round(v * 10) / 10; }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

/// Figures the summary, report.json and the plots share.
struct overall {
  std::size_t viewers = 0;  ///< peers that joined
  double continuity_mean = 1, continuity_p5 = 1, continuity_min = 1;
  double startup_p50 = 0, startup_p95 = 0;
  double offload = 0, origin_x = 0, origin_wire_x = 0, edge_x = 0, overhead = 0, duplicates = 0;
  double arrival_lag_spread = 0;
  delay_bound bound;
};

overall compute(const scenario::scenario& s, const scenario::plan& p, const run_result& r) {
  overall o;
  std::vector<double> cont, p50s;
  for (const node_result& n : r.nodes) {
    if (p.nodes[n.index].kind != node_kind::peer || n.join_us < 0) continue;
    ++o.viewers;
    if (n.due > 0) cont.push_back(n.continuity);
    if (n.delay_p50_ms) p50s.push_back(*n.delay_p50_ms);
  }
  if (!cont.empty()) {
    double sum = 0;
    for (double c : cont) sum += c;
    o.continuity_mean = sum / static_cast<double>(cont.size());
    o.continuity_p5 = percentile(cont, 0.05);
    o.continuity_min = *std::min_element(cont.begin(), cont.end());
  }
  o.startup_p50 = percentile(r.startup_ms, 0.5);
  o.startup_p95 = percentile(r.startup_ms, 0.95);
  o.arrival_lag_spread = percentile(p50s, 0.99) - percentile(p50s, 0.01);
  o.offload = ratio(static_cast<double>(r.viewer_payload_from_peers), static_cast<double>(r.viewer_payload_down));
  const double seconds = static_cast<double>(r.duration_us) / 1e6;
  const double stream_bytes = p.stream_bps / 8.0 * seconds;
  o.origin_x = ratio(static_cast<double>(r.origin_payload_up), stream_bytes);
  o.origin_wire_x = ratio(static_cast<double>(r.origin_wire_up), stream_bytes);
  o.edge_x = ratio(static_cast<double>(r.edge_payload_up), stream_bytes);
  o.overhead = ratio(static_cast<double>(r.wire_up - std::min(r.wire_up, r.payload_up)), static_cast<double>(r.wire_up));
  o.duplicates = ratio(static_cast<double>(r.duplicate_bytes),
                       static_cast<double>(r.viewer_payload_down + r.duplicate_bytes));
  o.bound = compute_bound(s, p, o.viewers);
  return o;
}

core::result<void> write_file(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return core::make_error(report_errc::io, "cannot write " + path.string());
  f << text;
  f.close();
  if (!f) return core::make_error(report_errc::io, "cannot write " + path.string());
  return {};
}

/// Which plots have data (gnuplot refuses to plot a file with no valid point).
struct plot_data {
  bool delay = false;       ///< any arrival at a viewer
  bool continuity = false;  ///< any viewer with chunks due
  bool classes = false;     ///< any node that joined
  bool points = false;      ///< any sampled arrival record
  bool events = false;
};

/// One script for all plots, kept in the report directory so a user can restyle and re-run it
/// (cd DIR && gnuplot plots.gp). Returns the script and the names of the plots it draws.
std::pair<std::string, std::string> gnuplot_script(const plot_data& d) {
  std::string g = R"(# Plots of a meshcast lab/sim report. Re-run with: cd DIR && gnuplot plots.gp
set datafile separator ','
set terminal pngcairo size 1000,600 font 'sans,10'
set grid
set key top left
)";
  std::string drawn;
  if (d.delay) {
    drawn += " delay_cdf.png";
    g += R"(
set output 'delay_cdf.png'
set title 'Delay from source to arrival, all viewers (CDF)'
set xlabel 'delay (ms)'
set ylabel 'share of chunk arrivals'
set yrange [0:1]
plot 'delay_cdf.csv' using 1:2 skip 1 with lines lw 2 title 'delay CDF'
set autoscale y
)";
  }
  if (d.continuity) {
    drawn += " continuity.png";
    g += R"(
set output 'continuity.png'
set title 'Continuity per viewer (sorted)'
set xlabel 'viewers, worst first'
set ylabel 'continuity (%)'
set yrange [*:100.5]
plot 'continuity_sorted.csv' using 1:2 skip 1 with linespoints pt 7 ps 0.5 title 'on-time share of due chunks'
set autoscale y
)";
  }
  if (d.classes) {
    drawn += " upload_share.png";
    g += R"(
set output 'upload_share.png'
set title 'Upload by node class'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xlabel 'class'
set ylabel 'share of all chunk bytes uploaded (%)'
set y2label 'mean upload used (x stream rate)'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
plot 'groups.csv' using 3:xtic(1) skip 1 title 'share of upload (%)' axes x1y1, \
     '' using 4 skip 1 title 'upload used per node (x stream)' axes x1y2
unset y2tics
unset y2label
set ytics mirror
set style data lines
set autoscale y
)";
  }
  drawn += " timeline.png";
  g += R"(
set output 'timeline.png'
set terminal pngcairo size 1000,900 font 'sans,10'
unset title
set multiplot layout 3,1 title 'Timeline'
set xlabel 'time (s)'
set key top right
)";
  if (d.events) g += "load 'events.gp'\n";
  if (d.delay) {
    g += R"(set ylabel 'delay (ms)'
plot 'timeline.csv' using 1:6 skip 1 with lines lw 2 title 'p50', '' using 1:7 skip 1 with lines lw 2 title 'p95'
)";
  }
  g += R"(set ylabel 'continuity (%)'
plot 'timeline.csv' using 1:($5*100) skip 1 with lines lw 2 title 'continuity of due chunks'
set ylabel 'x stream rate'
plot 'timeline.csv' using 1:8 skip 1 with lines lw 2 title 'origin egress', \
     '' using 1:($2/10) skip 1 with lines dt 2 title 'viewers / 10'
unset multiplot
set terminal pngcairo size 1000,600 font 'sans,10'
)";
  if (d.points) {
    drawn += " delay_per_chunk.png";
    g += R"(
set output 'delay_per_chunk.png'
set title 'Delay of each chunk at each sampled viewer'
set xlabel 'source time (s)'
set ylabel 'delay (ms)'
set key top right
plot 'delay_points.csv' using 1:2 skip 1 with dots lc rgb '#3060c0' title 'arrival', \
     'delay_by_chunk.csv' using 1:3 skip 1 with lines lw 2 lc rgb '#d04020' title 'p95 per chunk', \
     '' using 1:2 skip 1 with lines lw 2 lc rgb '#20a040' title 'median per chunk'
)";
  }
  return {g, drawn};
}

}  // namespace

delay_bound compute_bound(const scenario::scenario& s, const scenario::plan& p, std::size_t viewers) {
  delay_bound b;
  const std::size_t n = std::max<std::size_t>(viewers, 1);
  b.hops = static_cast<std::size_t>(std::ceil(std::log2(static_cast<double>(n)))) + 1;
  const double chunk_bits = p.stream_bps * scenario::cut_of(s.source).mean_chunk_us() / 1e6;
  const double up = p.mean_peer_upload_bps();
  b.chunk_tx_ms = up > 0 ? chunk_bits / up * 1000.0 : 0;
  // Mean one-way delay of a link between two peers: a fixed, deterministic sample of pairs.
  std::vector<std::uint32_t> peers;
  for (const auto& node : p.nodes) {
    if (node.kind == node_kind::peer) peers.push_back(node.index);
  }
  if (peers.size() >= 2) {
    double sum = 0;
    std::size_t k = 0;
    const std::size_t pairs = std::min<std::size_t>(20'000, peers.size() * (peers.size() - 1));
    for (std::size_t i = 0; i < pairs; ++i) {
      const std::size_t a = (i * 7919) % peers.size();
      const std::size_t c = (a + 1 + (i * 104729) % (peers.size() - 1)) % peers.size();
      sum += static_cast<double>(p.one_way(peers[a], peers[c]).count()) / 1000.0;
      ++k;
    }
    b.path_ms = sum / static_cast<double>(k);
  }
  b.bound_ms = static_cast<double>(b.hops) * (b.chunk_tx_ms + b.path_ms);
  return b;
}

core::result<std::string> write_report(const scenario::scenario& s, const scenario::plan& p, const run_result& r,
                                       const std::string& dir_text, const write_options& o) {
  if (dir_text.find('\'') != std::string::npos) {
    return core::make_error(report_errc::io, "report directory may not contain a quote: " + dir_text);
  }
  const fs::path dir(dir_text);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return core::make_error(report_errc::io, "cannot create " + dir_text + ": " + ec.message());

  const overall ov = compute(s, p, r);
  const double p50 = r.delay.quantile(0.50), p95 = r.delay.quantile(0.95), p99 = r.delay.quantile(0.99);
  const double stream_bytes_per_s = p.stream_bps / 8.0;
  const double seconds = static_cast<double>(r.duration_us) / 1e6;

  // --- per group (node class) -------------------------------------------------------------
  struct group_sum {
    std::size_t nodes = 0;
    std::uint64_t up = 0;
    double cont_sum = 0;
    std::size_t cont_n = 0;
    double active_s = 0;
  };
  std::vector<group_sum> groups(p.group_names.size());
  for (const node_result& n : r.nodes) {
    const auto& pn = p.nodes[n.index];
    group_sum& g = groups[pn.group];
    if (n.join_us < 0) continue;
    ++g.nodes;
    g.up += n.payload_up;
    if (n.due > 0 && pn.kind == node_kind::peer) {
      g.cont_sum += n.continuity;
      ++g.cont_n;
    }
    const std::int64_t until = n.leave_us ? *n.leave_us : r.duration_us;
    g.active_s += static_cast<double>(std::max<std::int64_t>(0, until - n.join_us)) / 1e6;
  }
  std::uint64_t total_up = 0;
  for (const auto& g : groups) total_up += g.up;

  // --- report.json ------------------------------------------------------------------------
  json j;
  j["meshcast_report"] = 1;
  j["mode"] = o.mode;
  j["scenario"] = json::parse(scenario::to_json_text(s));
  j["plan"] = {{"nodes", p.nodes.size()},
               {"peers", p.peer_count()},
               {"stream_kbps", p.stream_bps / 1000},
               {"mean_peer_upload_x", r3(ratio(p.mean_peer_upload_bps(), p.stream_bps))}};
  json all;
  all["viewers"] = ov.viewers;
  all["duration_s"] = r3(seconds);
  all["chunks_produced"] = r.chunks_produced;
  all["continuity"] = {{"mean", r3(ov.continuity_mean * 100) / 100},
                       {"p5", r3(ov.continuity_p5 * 100) / 100},
                       {"min", r3(ov.continuity_min * 100) / 100}};
  all["delay_ms"] = {{"p50", r1(p50)},          {"p95", r1(p95)},          {"p99", r1(p99)},
                     {"mean", r1(r.delay.mean())}, {"max", r1(r.delay.max())}, {"samples", r.delay.count()}};
  all["startup_ms"] = {{"p50", r1(ov.startup_p50)}, {"p95", r1(ov.startup_p95)}, {"viewers", r.startup_ms.size()}};
  all["lag_spread_ms"] = {
      {"playout", 0.0},
      {"playout_note", "every viewer plays at source time + playout delay: in step by construction"},
      {"arrival_p50", r1(ov.arrival_lag_spread)}};
  all["offload"] = r3(ov.offload * 1000) / 1000;
  all["origin_egress_x"] = r3(ov.origin_x);
  all["origin_egress_wire_x"] = r3(ov.origin_wire_x);
  all["edge_egress_x"] = r3(ov.edge_x);
  all["overhead"] = r3(ov.overhead * 1000) / 1000;
  all["duplicates"] = r3(ov.duplicates * 1000) / 1000;
  all["bound"] = {{"hops", ov.bound.hops},
                  {"chunk_tx_ms", r1(ov.bound.chunk_tx_ms)},
                  {"path_ms", r1(ov.bound.path_ms)},
                  {"bound_ms", r1(ov.bound.bound_ms)},
                  {"p95_ratio", r3(ratio(p95, ov.bound.bound_ms))}};
  j["overall"] = all;
  json ev = json::array();
  for (const event_recovery& e : r.events) {
    json x = {{"at_s", r3(static_cast<double>(e.at_us) / 1e6)}, {"label", e.label}};
    x["recovery_s"] = e.recovery_s ? json(r1(*e.recovery_s)) : json(nullptr);
    x["min_continuity"] = r3(e.min_continuity * 1000) / 1000;
    x["continuity_before"] = e.before ? json(r3(*e.before * 1000) / 1000) : json(nullptr);
    x["recovery_to_before_s"] = e.recovery_to_before_s ? json(r1(*e.recovery_to_before_s)) : json(nullptr);
    ev.push_back(x);
  }
  j["events"] = ev;
  json gj = json::array();
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const group_sum& g = groups[gi];
    if (g.nodes == 0) continue;
    gj.push_back({{"name", p.group_names[gi]},
                  {"nodes", g.nodes},
                  {"upload_share", r3(ratio(static_cast<double>(g.up), static_cast<double>(total_up)))},
                  {"upload_used_x", r3(ratio(static_cast<double>(g.up) / stream_bytes_per_s, g.active_s))},
                  {"continuity_mean", g.cont_n ? json(r3(g.cont_sum / static_cast<double>(g.cont_n))) : json(nullptr)}});
  }
  j["groups"] = gj;
  json nj = json::array();
  std::size_t entries = 0;
  for (const node_result& n : r.nodes) {
    const auto& pn = p.nodes[n.index];
    if (pn.kind == node_kind::peer && !n.sampled) continue;
    if (entries++ >= o.max_node_entries) break;
    json x = {{"index", n.index},
              {"name", p.name_of(n.index)},
              {"group", p.group_names[pn.group]},
              {"region", p.region_names[pn.region]},
              {"upload_x", r3(ratio(pn.upload_bps, p.stream_bps))},
              {"join_s", n.join_us >= 0 ? json(r3(static_cast<double>(n.join_us) / 1e6)) : json(nullptr)},
              {"leave_s", n.leave_us ? json(r3(static_cast<double>(*n.leave_us) / 1e6)) : json(nullptr)},
              {"continuity", r3(n.continuity * 1000) / 1000},
              {"due", n.due},
              {"on_time", n.on_time},
              {"late", n.late},
              {"missing", n.missing},
              {"startup_ms", n.startup_ms ? json(r1(*n.startup_ms)) : json(nullptr)},
              {"delay_ms",
               n.delay_p50_ms ? json({{"p50", r1(*n.delay_p50_ms)}, {"p95", r1(*n.delay_p95_ms)}, {"p99", r1(*n.delay_p99_ms)}})
                              : json(nullptr)},
              {"payload_up", n.payload_up},
              {"payload_down", n.payload_down},
              {"from_servers", n.payload_down_from_servers},
              {"duplicate_bytes", n.duplicate_bytes}};
    nj.push_back(x);
  }
  j["nodes"] = nj;
  j["nodes_note"] = "the origin and the sampled viewers (all viewers up to the sample size)";
  if (auto w = write_file(dir / "report.json", j.dump(2) + "\n"); !w) return w.error();

  // --- CSVs --------------------------------------------------------------------------------
  {
    std::ostringstream a;
    a << "node,name,seq,source_ms,arrival_ms,delay_ms,from,from_name,pushed\n";
    for (const arrival_record& x : r.arrivals) {
      a << x.node << ',' << p.name_of(x.node) << ',' << x.seq << ',' << fmt("%.3f", static_cast<double>(x.source_us) / 1e3)
        << ',' << fmt("%.3f", static_cast<double>(x.arrival_us) / 1e3) << ','
        << fmt("%.3f", static_cast<double>(x.arrival_us - x.source_us) / 1e3) << ',';
      if (x.from == k_no_node) {
        a << ",,";
      } else {
        a << x.from << ',' << p.name_of(x.from) << ',';
      }
      a << (x.pushed ? 1 : 0) << '\n';
    }
    if (auto w = write_file(dir / "arrivals.csv", a.str()); !w) return w.error();
  }
  {
    std::ostringstream a;
    a << "node,name,group,region,upload_x,join_s,leave_s,due,on_time,late,missing,continuity,startup_ms,"
         "delay_p50_ms,delay_p95_ms,delay_p99_ms,payload_up,wire_up,payload_down,from_servers,duplicate_bytes\n";
    const bool all_nodes = r.nodes.size() <= 20'000;
    for (const node_result& n : r.nodes) {
      const auto& pn = p.nodes[n.index];
      if (!all_nodes && pn.kind == node_kind::peer && !n.sampled) continue;
      a << n.index << ',' << p.name_of(n.index) << ',' << p.group_names[pn.group] << ','
        << p.region_names[pn.region] << ',' << fmt("%.3f", ratio(pn.upload_bps, p.stream_bps)) << ','
        << (n.join_us >= 0 ? fmt("%.3f", static_cast<double>(n.join_us) / 1e6) : "") << ','
        << (n.leave_us ? fmt("%.3f", static_cast<double>(*n.leave_us) / 1e6) : "") << ',' << n.due << ','
        << n.on_time << ',' << n.late << ',' << n.missing << ',' << fmt("%.5f", n.continuity) << ','
        << (n.startup_ms ? fmt("%.1f", *n.startup_ms) : "") << ','
        << (n.delay_p50_ms ? fmt("%.1f", *n.delay_p50_ms) : "") << ','
        << (n.delay_p95_ms ? fmt("%.1f", *n.delay_p95_ms) : "") << ','
        << (n.delay_p99_ms ? fmt("%.1f", *n.delay_p99_ms) : "") << ',' << n.payload_up << ',' << n.wire_up << ','
        << n.payload_down << ',' << n.payload_down_from_servers << ',' << n.duplicate_bytes << '\n';
    }
    if (auto w = write_file(dir / "nodes.csv", a.str()); !w) return w.error();
  }
  {
    std::ostringstream a;
    a << "t_s,viewers,due,on_time,continuity,delay_p50_ms,delay_p95_ms,origin_egress_x\n";
    for (const second_sample& t : r.timeline) {
      a << t.t_s << ',' << t.viewers << ',' << t.due << ',' << t.on_time << ',' << fmt("%.5f", t.continuity) << ','
        << (t.delay_p50_ms ? fmt("%.1f", *t.delay_p50_ms) : "") << ','
        << (t.delay_p95_ms ? fmt("%.1f", *t.delay_p95_ms) : "") << ',' << fmt("%.3f", t.origin_egress_x) << '\n';
    }
    if (auto w = write_file(dir / "timeline.csv", a.str()); !w) return w.error();
  }
  {
    std::ostringstream a;
    a << "at_s,label,recovery_s,min_continuity,continuity_before,recovery_to_before_s\n";
    std::ostringstream gp;
    int k = 1;
    for (const event_recovery& e : r.events) {
      std::string label = e.label;
      std::replace(label.begin(), label.end(), ',', ';');
      std::replace(label.begin(), label.end(), '\'', ' ');
      const double at = static_cast<double>(e.at_us) / 1e6;
      a << fmt("%.3f", at) << ',' << label << ',' << (e.recovery_s ? fmt("%.1f", *e.recovery_s) : "") << ','
        << fmt("%.4f", e.min_continuity) << ',' << (e.before ? fmt("%.4f", *e.before) : "") << ','
        << (e.recovery_to_before_s ? fmt("%.1f", *e.recovery_to_before_s) : "") << '\n';
      gp << "set arrow " << k << " from first " << fmt("%.3f", at) << ", graph 0 to first " << fmt("%.3f", at)
         << ", graph 1 nohead dt 3 lc rgb '#808080'\n";
      gp << "set label " << k << " '" << label << "' at first " << fmt("%.3f", at) << ", graph 0.95 rotate by 90 right font ',8'\n";
      ++k;
    }
    if (auto w = write_file(dir / "events.csv", a.str()); !w) return w.error();
    if (auto w = write_file(dir / "events.gp", gp.str()); !w) return w.error();
  }
  {
    std::ostringstream a;
    a << "delay_ms,share\n";
    for (const auto& [v, q] : r.delay.cdf()) a << fmt("%.2f", v) << ',' << fmt("%.6f", q) << '\n';
    if (auto w = write_file(dir / "delay_cdf.csv", a.str()); !w) return w.error();
  }
  {
    std::vector<double> cont;
    for (const node_result& n : r.nodes) {
      if (p.nodes[n.index].kind == node_kind::peer && n.join_us >= 0 && n.due > 0) cont.push_back(n.continuity);
    }
    std::sort(cont.begin(), cont.end());
    std::ostringstream a;
    a << "rank,continuity_pct\n";
    // At most 5000 points: evenly spaced ranks (the worst are always included).
    const std::size_t step = std::max<std::size_t>(1, cont.size() / 5000);
    for (std::size_t i = 0; i < cont.size(); i += step) a << i + 1 << ',' << fmt("%.3f", cont[i] * 100) << '\n';
    if (auto w = write_file(dir / "continuity_sorted.csv", a.str()); !w) return w.error();
  }
  {
    std::ostringstream a;
    a << "class,nodes,upload_share_pct,upload_used_x\n";
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      const group_sum& g = groups[gi];
      if (g.nodes == 0) continue;
      a << p.group_names[gi] << ',' << g.nodes << ','
        << fmt("%.3f", 100 * ratio(static_cast<double>(g.up), static_cast<double>(total_up))) << ','
        << fmt("%.3f", ratio(static_cast<double>(g.up) / stream_bytes_per_s, g.active_s)) << '\n';
    }
    if (auto w = write_file(dir / "groups.csv", a.str()); !w) return w.error();
  }
  {
    // The classic delay plot: every sampled arrival (at most 200k points, evenly thinned) and the
    // median / p95 per chunk.
    std::ostringstream pts;
    pts << "source_s,delay_ms\n";
    const std::size_t step = std::max<std::size_t>(1, r.arrivals.size() / 200'000);
    std::map<std::uint64_t, std::vector<double>> by_chunk;
    std::map<std::uint64_t, double> source_of;
    for (std::size_t i = 0; i < r.arrivals.size(); ++i) {
      const arrival_record& x = r.arrivals[i];
      const double d = static_cast<double>(x.arrival_us - x.source_us) / 1e3;
      if (i % step == 0) pts << fmt("%.3f", static_cast<double>(x.source_us) / 1e6) << ',' << fmt("%.2f", d) << '\n';
      by_chunk[x.seq].push_back(d);
      source_of[x.seq] = static_cast<double>(x.source_us) / 1e6;
    }
    std::ostringstream per;
    per << "source_s,median_ms,p95_ms,arrivals\n";
    for (auto& [seq, v] : by_chunk) {
      per << fmt("%.3f", source_of[seq]) << ',' << fmt("%.2f", percentile(v, 0.5)) << ','
          << fmt("%.2f", percentile(v, 0.95)) << ',' << v.size() << '\n';
    }
    if (auto w = write_file(dir / "delay_points.csv", pts.str()); !w) return w.error();
    if (auto w = write_file(dir / "delay_by_chunk.csv", per.str()); !w) return w.error();
  }

  // --- summary -----------------------------------------------------------------------------
  std::ostringstream sm;
  sm << "meshcast " << o.mode << ": scenario \"" << s.name << "\", " << ov.viewers << " viewers, "
     << fmt("%.0f", seconds) << " s, " << fmt("%.0f", p.stream_bps / 1000) << " kbit/s, chunk " << s.source.chunk_ms
     << " ms";
  if (const scenario::chunk_cut cut = scenario::cut_of(s.source); std::abs(cut.mean_chunk_us() - s.source.chunk_ms * 1000.0) >= 1000)
    sm << " (whole frames at " << cut.fps << " fps: " << fmt("%.1f", cut.mean_chunk_us() / 1000) << " ms on average)";
  sm << ", playout delay " << s.swarm.playout_delay_ms << " ms\n";
  sm << "continuity     mean " << fmt("%.2f", ov.continuity_mean * 100) << " %, 5th-percentile viewer "
     << fmt("%.2f", ov.continuity_p5 * 100) << " %, worst " << fmt("%.2f", ov.continuity_min * 100)
     << " %   (target: p5 >= 99.5 %)\n";
  sm << "delay          p50 " << fmt("%.0f", p50) << " ms, p95 " << fmt("%.0f", p95) << " ms, p99 " << fmt("%.0f", p99)
     << " ms (source -> arrival)\n";
  sm << "bound          (ceil(log2 " << std::max<std::size_t>(ov.viewers, 1) << ")+1) = " << ov.bound.hops << " hops x ("
     << fmt("%.1f", ov.bound.chunk_tx_ms) << " ms chunk tx + " << fmt("%.1f", ov.bound.path_ms) << " ms path) = "
     << fmt("%.0f", ov.bound.bound_ms) << " ms; p95 = " << fmt("%.2f", ratio(p95, ov.bound.bound_ms))
     << " x bound   (target <= 2)\n";
  sm << "startup        p50 " << fmt("%.0f", ov.startup_p50) << " ms, p95 " << fmt("%.0f", ov.startup_p95) << " ms\n";
  sm << "lag spread     playout 0 ms (fixed playout point); median arrival delay p99-p1 across viewers "
     << fmt("%.0f", ov.arrival_lag_spread) << " ms\n";
  sm << "offload        " << fmt("%.2f", ov.offload * 100) << " % of viewer bytes from peers   (target >= 99 %)\n";
  sm << "origin egress  " << fmt("%.2f", ov.origin_x) << " x stream rate (" << fmt("%.2f", ov.origin_wire_x)
     << " x on the wire)   (target <= 3)\n";
  sm << "overhead       " << fmt("%.2f", ov.overhead * 100) << " % of bytes sent   (target <= 3 %); duplicates "
     << fmt("%.2f", ov.duplicates * 100) << " %\n";
  // "not ... by the end" / "no dip below ..." / "... in N s", for each level a recovery is measured to.
  const auto recovery_text = [](std::optional<double> secs, std::string_view never, std::string_view no_dip,
                                std::string_view in) {
    if (!secs) return std::string(never);
    if (*secs == 0) return std::string(no_dip);
    return std::string(in) + fmt("%.1f", *secs) + " s";
  };
  for (const event_recovery& e : r.events) {
    sm << "event          t=" << fmt("%.1f", static_cast<double>(e.at_us) / 1e6) << " s " << e.label << ": "
       << recovery_text(e.recovery_s, "not recovered by the end", "no dip below 99 %", "recovered in ")
       << " (lowest per-second continuity " << fmt("%.1f", e.min_continuity * 100) << " %)";
    if (e.before && *e.before - 0.01 < 0.99) {  // else the same level as above
      sm << "; back to its level before (" << fmt("%.1f", *e.before * 100) << " %, less 1 point): "
         << recovery_text(e.recovery_to_before_s, "not by the end", "no dip below it", "in ");
    }
    sm << "\n";
  }

  for (const std::string& note : o.notes) sm << note << "\n";

  // --- plots -------------------------------------------------------------------------------
  plot_data pd;
  pd.delay = r.delay.count() > 0;
  pd.classes = std::any_of(groups.begin(), groups.end(), [](const group_sum& g) { return g.nodes > 0; });
  pd.continuity = std::any_of(r.nodes.begin(), r.nodes.end(), [&](const node_result& n) {
    return p.nodes[n.index].kind == node_kind::peer && n.join_us >= 0 && n.due > 0;
  });
  pd.points = !r.arrivals.empty();
  pd.events = !r.events.empty();
  const auto [script, drawn] = gnuplot_script(pd);
  if (auto w = write_file(dir / "plots.gp", script); !w) return w.error();
  if (o.plots) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
      sm << "plots          not drawn: gnuplot is not installed (plots.gp is in the report directory)\n";
    } else {
      const std::string cmd = "cd '" + dir.string() + "' && gnuplot plots.gp 2> gnuplot.log";
      if (std::system(cmd.c_str()) != 0) {
        return core::make_error(report_errc::plot, "gnuplot failed; see " + (dir / "gnuplot.log").string());
      }
      sm << "plots         " << drawn << "\n";
    }
  }
  sm << "report         " << (dir / "report.json").string() << "\n";
  const std::string summary = sm.str();
  if (auto w = write_file(dir / "summary.txt", summary); !w) return w.error();
  return summary;
}

}  // namespace meshcast::report
