// The engine's nodes: joining and leaving, the tracker, the origin's chunks, timers (engine.hpp).
#include <algorithm>
#include <cmath>

#include "sim/engine.hpp"
#include "core/splitmix.hpp"
#include "sim/node_config.hpp"

namespace meshcast::sim::detail {

namespace {

namespace pt = proto::tracker;

/// First byte of the marker signature the simulated origin "signs" with; the nodes' verifier
/// accepts only chunks that carry it (as swarm/testing/sim_harness.hpp does).
constexpr std::uint8_t k_signature_mark = 0x5a;

/// The real tracker client's schedule (proto/tracker/client.hpp): after the n-th failure in a
/// row, backoff_initial × 2^(n-1), at most backoff_max, less up to backoff_jitter of it.
constexpr std::int64_t k_backoff_initial_us = 1'000'000;
constexpr std::int64_t k_backoff_max_us = 30'000'000;
constexpr double k_backoff_jitter = 0.2;
/// The origin refreshes its entry every second (app/origin.cpp's swarm tick).
constexpr std::int64_t k_origin_announce_us = 1'000'000;
/// Arrival records a node may hold: the engine drains them after every input.
constexpr std::size_t k_arrival_records = 64;

using core::splitmix64;
double unit(std::uint64_t x) { return core::unit_interval(splitmix64(x)); }

tracker::service_settings tracker_settings(const scenario::scenario& s, const scenario::plan& p) {
  tracker::service_settings t;
  t.registry.interval = core::micros{static_cast<std::int64_t>(std::max(1.0, s.tracker_interval_s) * 1e6)};
  t.registry.max_nodes_per_stream = p.nodes.size() + 1;
  t.per_address_rate = 0;  // every simulated node has its own address and announces politely
  t.policy.seed = s.seed;
  t.policy.default_stream_kbps = s.source.bitrate_kbps;
  return t;
}

bool verify_marker(const chunk::chunk& c) { return c.signature() && (*c.signature())[0] == k_signature_mark; }

}  // namespace

engine::engine(const scenario::scenario& s, const scenario::plan& p, report::collector& c,
               const sim_settings& settings)
    : s_(s),
      p_(p),
      c_(c),
      settings_(settings),
      start_(c.settings().start),
      now_tp_(start_),
      tracker_(tracker_settings(s, p)),
      stream_("live/sim"),
      public_key_(64, '0') {
  end_us_ = p.duration.count() > 0 ? p.duration.count() : static_cast<std::int64_t>(s.duration_s * 1e6);
  cut_ = scenario::cut_of(s.source);
  socket_buffer_ = static_cast<std::uint32_t>(std::max<std::size_t>(1, settings.socket_buffer_bytes));
  rng_state_ = splitmix64(s.seed ^ 0x6c6f7373ULL);  // "loss"
  nodes_.resize(p.nodes.size());
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    nodes_[i].up = fair_link(p.nodes[i].upload_bps / 8, settings.sharing);
    nodes_[i].down = fair_link(p.nodes[i].download_bps / 8, settings.sharing);
  }
}

core::result<void> engine::check() const {
  const auto fail = [](std::string m) { return core::make_error(1, "sim: " + std::move(m)); };
  if (p_.nodes.empty() || p_.nodes[0].kind != scenario::node_kind::origin) {
    return fail("the plan's node 0 must be the origin");
  }
  for (std::size_t i = 1; i < p_.nodes.size(); ++i) {
    if (p_.nodes[i].kind != scenario::node_kind::peer) {
      return fail("node " + std::to_string(i) + ": only one origin and peers are supported (no edges yet)");
    }
  }
  if (p_.nodes.size() >= (1U << 24) - 1) {
    return fail(std::to_string(p_.nodes.size()) + " nodes: at most 16777214 are supported");
  }
  if (s_.source.chunk_ms == 0 || s_.source.bitrate_kbps == 0) return fail("source: chunk_ms and bitrate must be > 0");
  const std::string& m = s_.swarm.mode;
  if (m != "push-pull" && m != "push" && m != "pull") {
    return fail("swarm mode '" + m + "': expected push-pull, push or pull");
  }
  return core::ok();
}

swarm::node_settings engine::settings_for(std::uint32_t i) const {
  swarm::node_settings ns = node_settings_for(s_, p_.nodes[i]);
  ns.id = id_of(i);
  ns.stream = stream_;
  ns.listen_port = k_swarm_port;
  ns.max_arrival_records = k_arrival_records;
  return ns;
}

std::int64_t engine::one_way_us(std::uint32_t a, std::uint32_t b) const {
  return std::max<std::int64_t>(0, p_.one_way(a, b).count());
}

// --- joining and leaving ---------------------------------------------------------------------

void engine::on_join(std::uint32_t i) {
  sim_node& n = nodes_[i];
  if (n.st != sim_node::state::pending) return;
  n.st = sim_node::state::alive;
  n.log = std::make_unique<chunk::chunk_log>(core::micros{std::int64_t{settings_.log_window_s} * 1'000'000});
  n.node = std::make_unique<swarm::node>(settings_for(i), *n.log, verify_marker);
  c_.on_join(i, now_tp_);
  ++stats_.node_inputs;
  n.node->on_timeout(now_tp_);
  settle(i);
  on_announce(i);
}

void engine::on_leave(std::uint32_t i) {
  if (!alive(i)) return;
  sim_node& n = nodes_[i];
  // A graceful leaver says goodbye to the tracker; a killed node just vanishes (its entry
  // expires). Either way its connections close and the other ends notice one delay later.
  if (!p_.nodes[i].killed && tracker_up_) {
    tracker::request_context ctx;
    ctx.remote_address = host_of(i);
    (void)tracker_.leave(pt::encode(pt::leave_request{id_of(i), stream_}), ctx, now_tp_);
  }
  n.st = sim_node::state::gone;
  const std::vector<std::uint32_t> flows = n.conns;
  for (const std::uint32_t f : flows) close_conn(f / 2, static_cast<int>(f % 2));
  c_.on_left(i, now_tp_);
  tally(i);
  n.node.reset();
  n.log.reset();
  n.conns = {};
  n.up = fair_link{};
  n.down = fair_link{};
  for (const owned o : {owned::timer, owned::uplink, owned::downlink}) queue_.cancel_owned(owner_of(i, o));
}

void engine::tally(std::uint32_t i) {
  const swarm::node_stats& a = nodes_[i].node->stats();
  swarm::node_stats& t = stats_.swarm;
  for (auto f : {&swarm::node_stats::chunks_pushed_in, &swarm::node_stats::chunks_pulled_in,
                 &swarm::node_stats::chunks_local, &swarm::node_stats::duplicate_chunks,
                 &swarm::node_stats::duplicate_pushes, &swarm::node_stats::duplicate_bytes,
                 &swarm::node_stats::stale_chunks, &swarm::node_stats::requests_sent,
                 &swarm::node_stats::requests_timed_out, &swarm::node_stats::cancels_sent,
                 &swarm::node_stats::rejects_received, &swarm::node_stats::chunks_skipped_late,
                 &swarm::node_stats::chunks_pushed_out, &swarm::node_stats::requests_served,
                 &swarm::node_stats::requests_rejected, &swarm::node_stats::pushes_dropped,
                 &swarm::node_stats::bad_signatures, &swarm::node_stats::floods, &swarm::node_stats::bans,
                 &swarm::node_stats::refused_banned, &swarm::node_stats::refused_full,
                 &swarm::node_stats::refused_duplicate, &swarm::node_stats::replaced, &swarm::node_stats::dials,
                 &swarm::node_stats::haves_ignored, &swarm::node_stats::arrivals_dropped}) {
    t.*f += a.*f;
  }
  for (auto f : {&swarm::node_stats::bytes_down, &swarm::node_stats::bytes_up}) {
    (t.*f).origin += (a.*f).origin;
    (t.*f).edge += (a.*f).edge;
    (t.*f).peer += (a.*f).peer;
  }
}

// --- the tracker -----------------------------------------------------------------------------

pt::announce_request engine::announce_for(std::uint32_t i) const {
  const scenario::planned_node& pn = p_.nodes[i];
  pt::announce_request a;
  a.id = id_of(i);
  a.stream = stream_;
  a.role = pn.kind == scenario::node_kind::origin ? ps::node_role::origin : ps::node_role::peer;
  a.host = host_of(i);
  a.port = k_swarm_port;
  a.upload_kbps = kbps_of(pn.upload_bps);
  if (pn.region < p_.region_names.size()) a.region = p_.region_names[pn.region];
  if (a.role == ps::node_role::origin) {
    a.stream_kbps = s_.source.bitrate_kbps;
    a.public_key = public_key_;
  } else if (nodes_[i].node) {
    a.stats = announce_stats(*nodes_[i].node, now_tp_);
  }
  return a;
}

std::int64_t engine::backoff_us(std::uint32_t i, std::uint32_t failures) const {
  const std::uint32_t doublings = std::min<std::uint32_t>(failures - 1, 16);
  const std::int64_t d = std::min(k_backoff_max_us, k_backoff_initial_us << doublings);
  const double u = unit(s_.seed ^ (std::uint64_t{i} << 20) ^ failures);
  return static_cast<std::int64_t>(static_cast<double>(d) * (1.0 - k_backoff_jitter * u));
}

void engine::on_announce(std::uint32_t i, bool regular) {
  if (!alive(i)) return;
  const bool origin = p_.nodes[i].kind == scenario::node_kind::origin;
  std::int64_t next = 0;
  bool ok = false;
  if (tracker_up_) {
    tracker::request_context ctx;
    ctx.remote_address = host_of(i);
    auto r = tracker_.announce(announce_for(i), ctx, now_tp_);
    if (r) {
      ok = true;
      ++stats_.announces;
      nodes_[i].tracker_failures = 0;
      next = origin ? k_origin_announce_us
                    : std::clamp<std::int64_t>(r->interval.count(), pt::k_min_interval.count(), 600'000'000);
      if (!origin && !r->candidates.empty()) {
        std::vector<ps::peer_address> addresses;
        addresses.reserve(r->candidates.size());
        for (pt::candidate& c : r->candidates) addresses.push_back(std::move(c.address));
        ++stats_.node_inputs;
        nodes_[i].node->on_candidates(addresses, now_tp_);
        settle(i);
      }
    }
  }
  if (!regular) return;
  if (!ok) next = backoff_us(i, ++nodes_[i].tracker_failures);
  queue_.push(now_ + next, event_kind::announce, i);
}

// --- the origin's stream -----------------------------------------------------------------------

void engine::on_produce(std::uint64_t seq) {
  if (!alive(0)) return;
  const std::int64_t duration_us = cut_.duration_us(seq);
  const double exact = static_cast<double>(s_.source.bitrate_kbps) * 1000.0 / 8.0 * static_cast<double>(duration_us) / 1e6;
  const double u = 2.0 * unit(s_.seed * 0x9e3779b97f4a7c15ULL + seq) - 1.0;
  const double bytes = exact * (1.0 + settings_.chunk_size_jitter * u);
  const std::size_t packets = std::max<std::size_t>(1, static_cast<std::size_t>(bytes) / chunk::k_ts_packet_bytes);
  const std::size_t size = packets * chunk::k_ts_packet_bytes;

  // A chunk is whole one chunk duration after its source time (its first frame), as the real
  // packager closes it: the event fires then, the header carries the first frame's time.
  const core::time_point source_time = now_tp_ - core::micros{duration_us};
  chunk::chunk_header h;
  h.seq = core::chunk_seq{seq};
  h.segment = core::segment_seq{cut_.segment_of(seq)};
  h.source_time = source_time;
  h.duration = core::micros{duration_us};
  h.pts_90k = cut_.start_us(seq) * 9 / 100;
  const bool keyframe = cut_.segment_start(seq);
  if (keyframe) h.flags = chunk::flag_segment_start | chunk::flag_keyframe;
  chunk::chunk_signature sig{};
  sig[0] = k_signature_mark;
  const chunk::chunk_ptr c = chunk::make_chunk(h, std::make_shared<const core::bytes>(size, std::uint8_t{0x47}), sig);
  c_.on_produced(seq, source_time, keyframe, size);
  ++stats_.node_inputs;
  nodes_[0].node->on_local_chunk(c, now_tp_);
  settle(0);

  const std::int64_t next = p_.nodes[0].join_at.count() + cut_.start_us(seq + 2);
  if (next <= end_us_) queue_.push(next, event_kind::produce, static_cast<std::uint32_t>(seq + 1));
}

// --- scenario events and timers ----------------------------------------------------------------

void engine::on_plan_event(std::uint32_t k) {
  const scenario::planned_event& e = p_.events[k];
  std::string label = e.label;
  switch (e.k) {
    case scenario::planned_event::kind::tracker_stop:
      tracker_up_ = false;
      if (label.empty()) label = "tracker stopped";
      break;
    case scenario::planned_event::kind::tracker_start:
      tracker_up_ = true;
      if (label.empty()) label = "tracker started";
      break;
    case scenario::planned_event::kind::marker:
      break;
  }
  c_.on_event(now_tp_, std::move(label));
}

void engine::on_timer(std::uint32_t i, std::uint32_t gen) {
  sim_node& n = nodes_[i];
  if (n.st != sim_node::state::alive || n.timer_gen != gen) {
    ++stats_.stale_events;
    return;
  }
  n.timer_at = fair_link::k_never;
  ++stats_.timeouts;
  ++stats_.node_inputs;
  n.node->on_timeout(now_tp_);
  settle(i);
}

}  // namespace meshcast::sim::detail
