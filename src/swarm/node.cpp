#include "swarm/node.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <cstdio>
#include <cstdlib>

#include "swarm/neighbours.hpp"
#include "swarm/picker.hpp"
#include "swarm/protection.hpp"
#include "swarm/push_policy.hpp"
#include "swarm/rate_meter.hpp"
#include "swarm/request_queue.hpp"
#include "swarm/seq_set.hpp"
#include "swarm/upload_budget.hpp"

namespace meshcast::swarm {

namespace {

using namespace std::chrono_literals;
using core::chunk_seq;
using core::micros;
using core::time_point;

/// Dialling, dial timeouts and ban expiry are checked this often.
constexpr micros k_housekeeping_interval = 1s;
/// The picker looks at no more than this many sequence numbers (25 s at 100 ms chunks; the
/// playout deadline makes only the newest ~20 matter).
constexpr std::int64_t k_max_pick_range = 256;
/// A have may name a chunk up to this many chunks past the newest one whose source time has
/// come (clock skew, rounding); further is implausible and ignored.
constexpr std::int64_t k_ahead_slack_chunks = 64;
/// A request for a chunk this many chunks (at least) outside what we hold is "far outside".
constexpr std::int64_t k_min_window_span = 64;
constexpr micros k_default_chunk_duration = 100ms;
constexpr micros k_default_rtt = 100ms;
constexpr std::size_t k_initial_burst_bytes = 16 * 1024;
/// Pushes waiting for one neighbour beyond this are dropped oldest first (a have goes instead).
constexpr std::size_t k_max_pending_pushes = 8;
/// How long after we got a chunk a neighbour is checked for having got it elsewhere.
constexpr micros k_behind_lag = 200ms;

source_class class_of(ps::node_role r) {
  switch (r) {
    case ps::node_role::origin: return source_class::origin;
    case ps::node_role::edge: return source_class::edge;
    case ps::node_role::peer: break;
  }
  return source_class::peer;
}

struct pending_push {
  chunk_seq seq;
  time_point queued;
  bool first = false;  // our first copy of this chunk: it keeps the epidemic going
};

struct neighbour_state {
  neighbour_state(neighbour_id n, const ps::hello& h, std::string address, bool in, time_point now,
                  std::size_t serve_limit, const flood_settings& fs)
      : id(n), hello(h), host(std::move(address)), inbound(in), since(now), serving(serve_limit),
        guard(fs, now) {}

  neighbour_id id;
  ps::hello hello;
  std::string host;
  bool inbound;
  time_point since;
  std::optional<micros> rtt;
  seq_set has;                  // what it holds, from its bitmap, haves and chunks exchanged
  seq_set sent;                 // chunks we sent it (so it has them because of us)
  outstanding_requests asked;   // our requests at it
  rate_meter down, up;          // chunk payload bytes from / to it
  std::uint64_t useful_recent = 0;
  std::uint64_t bytes_down = 0, bytes_up = 0;
  double behind = 0.5;  // moving average: lacked our newest chunk when we got it
  std::optional<micros> response;  // moving average: our request to its answer (or failure)
  std::map<chunk_seq, time_point> asked_at;
  time_point busy_until;
  serve_queue serving;          // its requests at us
  flood_guard guard;
  std::deque<ps::message> control;
  std::deque<pending_push> pushes;
  std::optional<ps::chunk_data> ready;  // budget already charged; goes out next
  bool closing = false;                 // disconnect ordered; ignored until it is down
};

struct timing_ref {
  chunk_seq seq;
  time_point source_time;
  micros duration;
};

}  // namespace

static bool dbg_on(const ps::node_id& id, chunk_seq seq) {
  static const char* n = std::getenv("MC_TRACE_NODE");
  static const char* q = std::getenv("MC_TRACE_SEQ");
  return n && q && id[15] == std::atoi(n) && seq.value() == static_cast<std::uint64_t>(std::atoll(q));
}
#define DBG(seq, ...) do { if (dbg_on(s.id, seq)) { std::fprintf(stderr, "N%d +%lld ", s.id[15], (long long)((now - *source_time_of(seq)).count()/1000)); std::fprintf(stderr, __VA_ARGS__); std::fputc('\n', stderr);} } while (0)

struct node::impl {
  impl(node_settings settings, chunk::chunk_log& l, chunk_verifier v)
      : s(std::move(settings)), log(l), verify(std::move(v)), rng(s.seed),
        picker(picker_settings{micros{400'000}, s.pull_grace, s.playout_delay, s.local_grace}),
        budget(s.upload_kbps, k_initial_burst_bytes, time_point{}),
        rq{s.target_queue_time, s.request_floor, s.request_cap, micros{400'000}, micros{3'000'000}},
        candidates(s.id, 256, s.redial_backoff) {}

  // --- inputs -----------------------------------------------------------------------------

  std::optional<ps::close_reason> neighbour_up(neighbour_id n, const ps::hello& remote, bool inbound,
                                               time_point now, std::string host);
  void message(neighbour_id n, const ps::message& msg, time_point now);
  void neighbour_down(neighbour_id n);
  void local_chunk(const chunk::chunk_ptr& c, time_point now);

  void on_have(neighbour_state& nb, chunk_seq seq, time_point now);
  void on_bitmap(neighbour_state& nb, const ps::bitmap& b, time_point now);
  void on_request(neighbour_state& nb, const ps::request& r, time_point now);
  void on_cancel(neighbour_state& nb, const ps::cancel& c, time_point now);
  void on_chunk(neighbour_state& nb, const ps::chunk_data& d, time_point now);
  void on_reject(neighbour_state& nb, const ps::reject& r, time_point now);

  // --- work ---------------------------------------------------------------------------------

  void step(time_point now);
  void stored(const chunk::chunk_ptr& c, neighbour_state* from, bool pushed, time_point now);
  void punish(neighbour_state& nb, ps::close_reason reason, std::string text, time_point now);
  void drop(neighbour_state& nb, ps::close_reason reason, std::string text, time_point now);
  void release(neighbour_state& nb, time_point now);
  void expire_requests(time_point now);
  void pick(time_point now);
  void schedule_sends(time_point now);
  void maybe_dial(time_point now);
  void housekeeping(time_point now);
  void replace_worst(time_point now);
  void send_pex(time_point now);
  [[nodiscard]] std::vector<ps::peer_address> pex_entries(neighbour_id except) const;

  // --- helpers ------------------------------------------------------------------------------

  neighbour_state* find(neighbour_id n) {
    const auto it = nbs.find(n);
    return it == nbs.end() ? nullptr : &it->second;
  }
  [[nodiscard]] std::size_t live_count() const {
    return static_cast<std::size_t>(
        std::count_if(nbs.begin(), nbs.end(), [](const auto& kv) { return !kv.second.closing; }));
  }
  [[nodiscard]] micros chunk_duration() const { return ref ? ref->duration : k_default_chunk_duration; }
  [[nodiscard]] std::optional<time_point> source_time_of(chunk_seq seq) const {
    if (const chunk::chunk_ptr c = log.find(seq)) return c->header().source_time;
    if (!ref) return std::nullopt;
    return ref->source_time + (seq - ref->seq) * ref->duration;
  }
  /// Playout deadline in our clock.
  [[nodiscard]] std::optional<time_point> deadline_of(chunk_seq seq) const {
    const auto src = source_time_of(seq);
    if (!src) return std::nullopt;
    return *src + s.playout_delay - origin_offset;
  }
  /// Whether an advertised seq could exist by now (its source time has come, give or take).
  [[nodiscard]] bool plausible(chunk_seq seq, time_point now) const {
    if (!ref) return true;
    const std::int64_t elapsed = ((now + origin_offset) - ref->source_time) / ref->duration;
    return seq - ref->seq <= std::max<std::int64_t>(0, elapsed) + k_ahead_slack_chunks;
  }
  /// Whether a requested seq lies far outside what we hold.
  [[nodiscard]] bool far_outside(chunk_seq seq) const {
    if (log.empty()) return false;
    const std::int64_t span =
        std::max<std::int64_t>(k_min_window_span, log.last_seq() - log.first_seq() + 1);
    return seq - log.first_seq() < -span || seq - log.last_seq() > span;
  }
  [[nodiscard]] micros mean_rtt() const {
    micros sum{0};
    std::int64_t n = 0;
    for (const auto& [id, nb] : nbs) {
      if (nb.rtt && !nb.closing) {
        sum += *nb.rtt;
        ++n;
      }
    }
    return n == 0 ? k_default_rtt : sum / n;
  }
  /// Young enough to be worth a push: its source age is within push_max_age.
  [[nodiscard]] bool fresh(chunk_seq seq, time_point now) const {
    const auto src = source_time_of(seq);
    return src && (now + origin_offset) - *src <= s.push_max_age;
  }
  /// How long until an answer with deadline `dl` would go out: the answers with an earlier
  /// deadline go first, at our budget's rate, halved while pushes wait (they take every other
  /// turn).
  [[nodiscard]] micros serve_wait(time_point dl, time_point now) const {
    if (budget.unlimited()) return micros{0};
    double bytes = 0;
    bool pushes_waiting = false;
    for (const auto& [id, nb] : nbs) {
      if (nb.closing) continue;
      if (nb.ready) bytes += static_cast<double>(nb.ready->chunk->size());
      pushes_waiting = pushes_waiting || !nb.pushes.empty();
      for (const serve_queue::entry& e : nb.serving.entries()) {
        const auto edl = deadline_of(e.seq);
        if (edl && *edl <= dl) bytes += static_cast<double>(chunk_bytes);
      }
    }
    bytes -= std::max(0.0, budget.tokens(now));
    if (bytes <= 0) return micros{0};
    const double rate = budget.bytes_per_s() / (pushes_waiting ? 2 : 1);
    return micros{static_cast<std::int64_t>(bytes * 1e6 / rate)};
  }
  /// The first copy of `seq` to `from` was dropped: make another pending push of it the first.
  void promote_first(neighbour_id from, chunk_seq seq) {
    for (auto& [id, nb] : nbs) {
      if (id == from || nb.closing) continue;
      for (pending_push& p : nb.pushes) {
        if (p.seq == seq) {
          p.first = true;
          return;
        }
      }
    }
  }
  /// Time to receive one chunk at `rate` bytes/s (150 ms while unmeasured).
  [[nodiscard]] micros transfer_time(double rate) const {
    if (rate <= 0 || chunk_bytes == 0) return micros{150'000};
    return micros{static_cast<std::int64_t>(static_cast<double>(chunk_bytes) * 1e6 / rate)};
  }
  /// A request to `nb` ended after `took` (answered, rejected busy, or timed out).
  static void note_response(neighbour_state& nb, chunk_seq seq, time_point now) {
    const auto it = nb.asked_at.find(seq);
    if (it == nb.asked_at.end()) return;
    const micros took = now - it->second;
    nb.asked_at.erase(it);
    nb.response = nb.response ? (*nb.response * 3 + took) / 4 : took;
  }
  void note_known(chunk_seq seq) {
    if (!newest_known || seq > *newest_known) newest_known = seq;
  }
  void queue_reject(neighbour_state& nb, chunk_seq seq, ps::reject_reason why) {
    nb.control.push_back(ps::reject{seq, why});
    ++stats.requests_rejected;
  }

  node_settings s;
  chunk::chunk_log& log;
  chunk_verifier verify;
  std::mt19937_64 rng;
  chunk_picker picker;
  upload_budget budget;
  request_queue_settings rq;
  flood_settings flood;
  candidate_list candidates;
  ban_list bans;
  node_stats stats;
  rate_meter total_down, total_up;

  std::map<neighbour_id, neighbour_state> nbs;
  std::map<ps::node_id, neighbour_id> by_node;    // live neighbours by node id
  std::map<chunk_seq, neighbour_id> in_flight;    // our live request for each seq, and where
  std::map<chunk_seq, std::vector<neighbour_id>> failed_from;  // timed out / rejected there
  std::map<chunk_seq, time_point> heard_at;       // when a neighbour first said it holds it
  std::map<ps::node_id, time_point> dialing;      // dials handed out, not yet up or failed

  std::optional<chunk_seq> join;
  std::optional<chunk_seq> newest_known;  // newest advertised (plausibly) or held
  std::optional<chunk_seq> newest_held;
  std::optional<timing_ref> ref;          // the newest chunk held: estimates unseen source times
  std::optional<chunk_seq> late_mark;     // below this, late chunks have been counted
  micros origin_offset{0};
  std::size_t chunk_bytes = 0;            // moving average of chunk payload sizes
  std::map<chunk_seq, time_point> held_at;  // DEBUG

  std::deque<ps::peer_address> dial_out;
  std::deque<disconnect_order> disconnects;
  std::deque<chunk_arrival> arrivals;

  bool started = false;
  time_point last_now;
  time_point next_housekeeping, next_replace, next_pex;
  std::optional<time_point> recheck_at;     // the picker's
  std::optional<time_point> send_ready_at;  // the budget's, when sends wait for tokens
  bool last_was_push = false;
};

// --- membership ------------------------------------------------------------------------------

std::optional<ps::close_reason> node::impl::neighbour_up(neighbour_id n, const ps::hello& remote,
                                                         bool inbound, time_point now, std::string host) {
  const auto existing = by_node.find(remote.id);
  bool new_wins = false;
  if (existing != by_node.end()) {
    // Both ends keep the connection dialled by the lower node id; the same direction twice is
    // a redial, and the old connection is the one more likely dead.
    const neighbour_state& old = nbs.at(existing->second);
    const ps::node_id& dialer_new = inbound ? remote.id : s.id;
    const ps::node_id& dialer_old = old.inbound ? remote.id : s.id;
    new_wins = dialer_new == dialer_old || dialer_new < dialer_old;
  }
  const admission a = admit({remote.id == s.id, bans.banned(remote.id, now), existing != by_node.end(),
                             new_wins, live_count() - (new_wins ? 1 : 0), s.max_neighbours});
  switch (a) {
    case admission::accept: break;
    case admission::self:
      ++stats.refused_duplicate;
      return ps::close_reason::duplicate;
    case admission::banned:
      ++stats.refused_banned;
      return ps::close_reason::banned;
    case admission::duplicate:
      ++stats.refused_duplicate;
      return ps::close_reason::duplicate;
    case admission::full:
      ++stats.refused_full;
      return ps::close_reason::normal;
  }
  if (existing != by_node.end()) drop(nbs.at(existing->second), ps::close_reason::duplicate, "replaced by a newer connection", now);
  dialing.erase(remote.id);

  auto [it, inserted] = nbs.try_emplace(n, n, remote, std::move(host), inbound, now, s.serve_queue_limit, flood);
  if (!inserted) return ps::close_reason::duplicate;  // the driver reused an id: a local bug
  by_node[remote.id] = n;
  neighbour_state& nb = it->second;

  // Our window first, so it can pull at once; then whom we know, so it can grow its set.
  ps::bitmap bm;
  if (!log.empty()) {
    const std::int64_t count = log.last_seq() - log.first_seq() + 1;
    const auto bits = static_cast<std::size_t>(std::min<std::int64_t>(count, ps::k_max_bitmap_bits));
    bm.base = log.last_seq() + 1 - bits;
    bm.bits.resize(bits);
    for (std::size_t i = 0; i < bits; ++i) bm.bits[i] = log.find(bm.base + i) != nullptr;
  } else {
    bm.base = newest_held.value_or(chunk_seq{0});
  }
  nb.control.push_back(std::move(bm));
  if (auto peers = pex_entries(n); !peers.empty()) nb.control.push_back(ps::pex{std::move(peers)});
  return std::nullopt;
}

void node::impl::neighbour_down(neighbour_id n) {
  neighbour_state* nb = find(n);
  if (!nb) return;
  release(*nb, last_now);
  if (const auto it = by_node.find(nb->hello.id); it != by_node.end() && it->second == n) by_node.erase(it);
  nbs.erase(n);
}

void node::impl::release(neighbour_state& nb, time_point now) {
  for (chunk_seq seq : nb.asked.seqs()) {
    if (const auto it = in_flight.find(seq); it != in_flight.end() && it->second == nb.id) in_flight.erase(it);
  }
  nb.asked = outstanding_requests{};
  nb.asked_at.clear();
  if (nb.ready) {
    budget.refund(nb.ready->chunk->size(), now);
    nb.ready.reset();
  }
  nb.pushes.clear();
  nb.serving = serve_queue{s.serve_queue_limit};
  nb.control.clear();
}

void node::impl::drop(neighbour_state& nb, ps::close_reason reason, std::string text, time_point now) {
  if (nb.closing) return;
  release(nb, now);
  nb.closing = true;
  if (const auto it = by_node.find(nb.hello.id); it != by_node.end() && it->second == nb.id) by_node.erase(it);
  disconnects.push_back({nb.id, reason, std::move(text)});
}

void node::impl::punish(neighbour_state& nb, ps::close_reason reason, std::string text, time_point now) {
  bans.ban(nb.hello.id, now + s.ban_duration);
  ++stats.bans;
  candidates.remove(nb.hello.id);
  drop(nb, reason, std::move(text), now);
}

// --- messages --------------------------------------------------------------------------------

void node::impl::message(neighbour_id n, const ps::message& msg, time_point now) {
  neighbour_state* nb = find(n);
  if (!nb || nb->closing) return;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, ps::have>) {
          on_have(*nb, m.seq, now);
        } else if constexpr (std::is_same_v<T, ps::bitmap>) {
          on_bitmap(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::request>) {
          on_request(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::cancel>) {
          on_cancel(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::chunk_data>) {
          on_chunk(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::reject>) {
          on_reject(*nb, m, now);
        } else if constexpr (std::is_same_v<T, ps::pex>) {
          const std::size_t n_entries = std::min(m.peers.size(), ps::k_max_pex_entries);
          candidates.add_pex(std::span(m.peers.data(), n_entries));
        }
        // hello, ping, pong and close are the session's business.
      },
      msg);
}

void node::impl::on_have(neighbour_state& nb, chunk_seq seq, time_point now) {
  if (!plausible(seq, now)) {
    ++stats.haves_ignored;
    return;
  }
  nb.has.insert(seq);
  note_known(seq);
  if (!log.find(seq)) heard_at.try_emplace(seq, now);
  if (ref) DBG(seq, "have from nb %llu", (unsigned long long)nb.id);
  // It has it: a push to it is moot, and so is its request.
  std::erase_if(nb.pushes, [&](const pending_push& p) { return p.seq == seq; });
  nb.serving.cancel(seq);
}

void node::impl::on_bitmap(neighbour_state& nb, const ps::bitmap& b, time_point now) {
  const std::size_t n = std::min(b.bits.size(), ps::k_max_bitmap_bits);
  for (std::size_t i = 0; i < n; ++i) {
    if (!b.bits[i]) continue;
    const chunk_seq seq = b.base + i;
    if (!plausible(seq, now)) {
      ++stats.haves_ignored;
      break;  // the rest are further still
    }
    nb.has.insert(seq);
    note_known(seq);
    if (!log.find(seq)) heard_at.try_emplace(seq, now);
  }
}

void node::impl::on_request(neighbour_state& nb, const ps::request& r, time_point now) {
  nb.guard.on_requested(r.seqs.size(), now);
  std::size_t strikes = 0;
  for (const chunk_seq seq : r.seqs) {
    if (far_outside(seq)) {
      ++strikes;
      queue_reject(nb, seq, ps::reject_reason::not_held);
      continue;
    }
    const chunk::chunk_ptr c = log.find(seq);
    if (!c) {
      queue_reject(nb, seq, ps::reject_reason::not_held);
    } else if (*deadline_of(seq) <= now) {
      queue_reject(nb, seq, ps::reject_reason::too_late);
    } else if (now + serve_wait(*deadline_of(seq), now) + nb.rtt.value_or(k_default_rtt) / 2 > *deadline_of(seq)) {
      // Our upload is committed past its deadline: say so now, so it asks elsewhere in time.
      queue_reject(nb, seq, ps::reject_reason::busy);
    } else if (nb.serving.admit(seq, now) == serve_queue::admit_result::busy) {
      ++strikes;  // it ignores our queue limit
      queue_reject(nb, seq, ps::reject_reason::busy);
    }
  }
  nb.guard.strike(strikes, now);
  if (nb.guard.flooding(now)) {
    ++stats.floods;
    punish(nb, ps::close_reason::flood, "request flood: " + std::to_string(nb.guard.strikes(now)) + " strikes", now);
  }
}

void node::impl::on_cancel(neighbour_state& nb, const ps::cancel& c, time_point now) {
  for (const chunk_seq seq : c.seqs) {
    nb.serving.cancel(seq);
    if (nb.ready && !nb.ready->pushed && nb.ready->chunk->seq() == seq) {
      budget.refund(nb.ready->chunk->size(), now);
      nb.ready.reset();
    }
  }
}

void node::impl::on_reject(neighbour_state& nb, const ps::reject& r, time_point now) {
  ++stats.rejects_received;
  if (std::getenv("MC_DEBUG")) std::fprintf(stderr, "REJ node %02x seq %llu reason %d from_role %d asked %d\n", s.id[15], (unsigned long long)r.seq.value(), (int)r.reason, (int)nb.hello.role, (int)nb.asked.contains(r.seq));
  if (!nb.asked.erase(r.seq)) return;
  if (r.reason == ps::reject_reason::busy) note_response(nb, r.seq, now);
  nb.asked_at.erase(r.seq);
  if (const auto it = in_flight.find(r.seq); it != in_flight.end() && it->second == nb.id) in_flight.erase(it);
  switch (r.reason) {
    case ps::reject_reason::not_held:
      nb.has.erase(r.seq);
      failed_from[r.seq].push_back(nb.id);
      break;
    case ps::reject_reason::busy:
      nb.busy_until = now + s.busy_backoff;
      break;
    case ps::reject_reason::too_late:
      failed_from[r.seq].push_back(nb.id);
      break;
  }
}

void node::impl::on_chunk(neighbour_state& nb, const ps::chunk_data& d, time_point now) {
  if (!d.chunk) return;
  const chunk::chunk_ptr& c = d.chunk;
  const chunk_seq seq = c->seq();
  const std::size_t size = c->size();
  nb.down.add(size, now);
  nb.bytes_down += size;
  total_down.add(size, now);
  stats.bytes_down.add(nb.hello.role, size);
  nb.has.insert(seq);
  if (ref) DBG(seq, "chunk from nb %llu pushed %d", (unsigned long long)nb.id, d.pushed);
  if (nb.asked.erase(seq)) note_response(nb, seq, now);
  if (const auto it = in_flight.find(seq); it != in_flight.end() && it->second == nb.id) in_flight.erase(it);

  if (log.find(seq)) {
    if (std::getenv("MC_DEBUG")) std::fprintf(stderr, "DUP node %02x seq %llu pushed %d age %lld from_role %d held_for %lld\n", s.id[15], (unsigned long long)seq.value(), d.pushed, (long long)((now - c->header().source_time).count()/1000), (int)nb.hello.role, (long long)((now - held_at[seq]).count()/1000));
    ++stats.duplicate_chunks;
    stats.duplicate_bytes += size;
    return;
  }
  if (!log.empty() && seq < log.first_seq()) {
    ++stats.stale_chunks;
    return;
  }
  // Verify before storing, forwarding or playing: a forged chunk goes at most one hop.
  if (!verify(*c)) {
    ++stats.bad_signatures;
    punish(nb, ps::close_reason::bad_signature, "chunk " + std::to_string(seq.value()) + " signature fails", now);
    return;
  }
  if (log.insert(c) != chunk::insert_result::inserted) {
    ++stats.stale_chunks;
    return;
  }
  stored(c, &nb, d.pushed, now);
}

// --- storing and announcing ------------------------------------------------------------------

void node::impl::stored(const chunk::chunk_ptr& c, neighbour_state* from, bool pushed, time_point now) {
  const chunk_seq seq = c->seq();
  const std::size_t size = c->size();
  const bool newest = !newest_held || seq > *newest_held;
  held_at[seq] = now;
  if (newest) {
    newest_held = seq;
    const micros d = c->header().duration > micros{0} ? c->header().duration : k_default_chunk_duration;
    ref = timing_ref{seq, c->header().source_time, d};
  }
  note_known(seq);
  chunk_bytes = chunk_bytes == 0 ? size : (chunk_bytes * 7 + size) / 8;
  budget.raise_burst(size);
  if (!join) join = seq;

  if (from) {
    from->useful_recent += size;
    (pushed ? stats.chunks_pushed_in : stats.chunks_pulled_in) += 1;
    if (arrivals.size() >= s.max_arrival_records) {
      arrivals.pop_front();
      ++stats.arrivals_dropped;
    }
    arrivals.push_back({seq, c->header().source_time, now, from->id, from->hello.role, pushed});
  }

  // Withdraw a request for it elsewhere: it arrived by push or from someone else.
  if (const auto it = in_flight.find(seq); it != in_flight.end()) {
    if (neighbour_state* other = find(it->second); other && other != from) {
      other->asked.erase(seq);
      other->asked_at.erase(seq);
      other->control.push_back(ps::cancel{{seq}});
      ++stats.cancels_sent;
    }
    in_flight.erase(it);
  }
  failed_from.erase(seq);
  heard_at.erase(seq);

  // Push the newest to a few that lack it, downstream ones first; tell everyone else that may
  // lack it, pending push targets included (a push may wait for budget, and meanwhile the
  // target must not push the chunk back to us).
  std::vector<neighbour_id> targets;
  if (newest) {
    // Downstream or not, judged on the chunk we got about k_behind_lag ago: a neighbour that got
    // it from someone else meanwhile is as close to the source as we are.
    const std::int64_t k = std::max<std::int64_t>(1, k_behind_lag / chunk_duration());
    const chunk_seq probe = seq - static_cast<std::uint64_t>(std::min<std::int64_t>(k, static_cast<std::int64_t>(seq.value())));
    if (probe < seq && log.find(probe)) {
      for (auto& [id, nb] : nbs) {
        const bool elsewhere = nb.has.contains(probe) && !nb.sent.contains(probe);
        nb.behind = 0.9 * nb.behind + (elsewhere ? 0.0 : 0.1);
      }
    }
  }
  std::size_t holders = 0, lacking = 0;
  for (auto& [id, nb] : nbs) {
    if (nb.closing || nb.hello.role == ps::node_role::origin) continue;
    (nb.has.contains(seq) ? holders : lacking) += 1;
  }
  static const double k_wave = std::getenv("MC_WAVE") ? std::atof(std::getenv("MC_WAVE")) : 1.0;
  const bool wave_passed = static_cast<double>(holders) > k_wave * static_cast<double>(holders + lacking);
  if (newest && s.push_fanout > 0 && fresh(seq, now) && !wave_passed) {
    std::vector<push_candidate> cands;
    for (auto& [id, nb] : nbs) {
      if (nb.closing) continue;
      cands.push_back({id, nb.has.contains(seq), nb.hello.role == ps::node_role::origin,
                       nb.pushes.size() + nb.serving.size() + (nb.ready ? 1 : 0), nb.hello.upload_kbps,
                       nb.behind});
    }
    targets = choose_push_targets(cands, s.push_fanout, rng);
    if (dbg_on(s.id, seq)) {
      for (const auto& pc : cands) std::fprintf(stderr, "  cand nb %llu has %d origin %d queued %zu behind %.2f\n", (unsigned long long)pc.id, pc.has_it, pc.is_origin, pc.queued, pc.behind);
      for (auto t : targets) std::fprintf(stderr, "  target %llu\n", (unsigned long long)t);
    }
  }
  for (auto& [id, nb] : nbs) {
    if (nb.closing || nb.has.contains(seq)) continue;
    nb.control.push_back(ps::have{seq});
    if (const auto t = std::find(targets.begin(), targets.end(), id); t != targets.end()) {
      if (nb.pushes.size() >= k_max_pending_pushes) {
        nb.pushes.pop_front();
        ++stats.pushes_dropped;
      }
      nb.pushes.push_back({seq, now, t == targets.begin()});
    }
  }
}

void node::impl::local_chunk(const chunk::chunk_ptr& c, time_point now) {
  if (const chunk::chunk_ptr held = log.find(c->seq())) {
    if (held != c) return;  // the swarm brought it first and it was announced then
  } else if (log.insert(c) != chunk::insert_result::inserted) {
    return;
  }
  ++stats.chunks_local;
  stored(c, nullptr, false, now);
}

// --- the periodic work -----------------------------------------------------------------------

void node::impl::step(time_point now) {
  if (!started) {
    started = true;
    next_housekeeping = now;
    next_replace = now + s.neighbour_replace_interval;
    next_pex = now + s.pex_interval;
  }
  if (now > last_now) last_now = now;
  expire_requests(now);
  if (now >= next_housekeeping) {
    housekeeping(now);
    next_housekeeping = now + k_housekeeping_interval;
  }
  if (now >= next_replace) {
    replace_worst(now);
    next_replace = now + s.neighbour_replace_interval;
  }
  if (now >= next_pex) {
    send_pex(now);
    next_pex = now + s.pex_interval;
  }
  maybe_dial(now);
  pick(now);
  schedule_sends(now);
}

void node::impl::expire_requests(time_point now) {
  for (auto& [id, nb] : nbs) {
    if (nb.closing) continue;
    const std::vector<chunk_seq> expired = nb.asked.expire(now);
    if (expired.empty()) continue;
    for (const chunk_seq seq : expired) {
      if (ref) DBG(seq, "timeout at nb %llu", (unsigned long long)id);
      note_response(nb, seq, now);
      if (const auto it = in_flight.find(seq); it != in_flight.end() && it->second == id) in_flight.erase(it);
      failed_from[seq].push_back(id);
    }
    stats.requests_timed_out += expired.size();
    stats.cancels_sent += expired.size();
    nb.control.push_back(ps::cancel{expired});
  }
}

void node::impl::housekeeping(time_point now) {
  bans.expire(now);
  std::erase_if(dialing, [&](const auto& kv) { return now - kv.second >= s.dial_timeout; });
  if (!log.empty()) {
    const chunk_seq low = log.first_seq();
    while (!failed_from.empty() && failed_from.begin()->first < low) failed_from.erase(failed_from.begin());
    while (!heard_at.empty() && heard_at.begin()->first < low) heard_at.erase(heard_at.begin());
  }
}

void node::impl::maybe_dial(time_point now) {
  if (s.role == ps::node_role::origin) return;
  const auto excluded = [&](const ps::node_id& id) {
    return by_node.count(id) != 0 || dialing.count(id) != 0 || bans.banned(id, now);
  };
  while (live_count() + dialing.size() < s.min_neighbours) {
    const std::optional<ps::peer_address> a = candidates.next(now, excluded);
    if (!a) break;
    dialing[a->id] = now;
    dial_out.push_back(*a);
    ++stats.dials;
  }
}

void node::impl::replace_worst(time_point now) {
  std::vector<member_view> members;
  for (const auto& [id, nb] : nbs) {
    if (!nb.closing) members.push_back({id, nb.hello.role, nb.since, nb.useful_recent});
  }
  const auto excluded = [&](const ps::node_id& id) {
    return by_node.count(id) != 0 || dialing.count(id) != 0 || bans.banned(id, now);
  };
  if (s.role != ps::node_role::origin && live_count() >= s.min_neighbours &&
      candidates.has_next(now, excluded)) {
    if (const auto victim = least_useful_peer(members, now, s.neighbour_replace_interval)) {
      ++stats.replaced;
      drop(nbs.at(*victim), ps::close_reason::replaced, "replaced by a more useful neighbour", now);
      // The dial below fills the place (live_count is now under min).
    }
  }
  for (auto& [id, nb] : nbs) nb.useful_recent = 0;
}

std::vector<ps::peer_address> node::impl::pex_entries(neighbour_id except) const {
  std::vector<ps::peer_address> out;
  for (const auto& [id, nb] : nbs) {
    if (id == except || nb.closing || nb.hello.listen_port == 0 || nb.host.empty()) continue;
    out.push_back({nb.hello.id, nb.host, nb.hello.listen_port});
    if (out.size() >= ps::k_max_pex_entries) break;
  }
  return out;
}

void node::impl::send_pex(time_point) {
  for (auto& [id, nb] : nbs) {
    if (nb.closing) continue;
    if (auto peers = pex_entries(id); !peers.empty()) nb.control.push_back(ps::pex{std::move(peers)});
  }
}

// --- pull --------------------------------------------------------------------------------------

void node::impl::pick(time_point now) {
  recheck_at.reset();
  if (s.role == ps::node_role::origin || nbs.empty() || !newest_known) return;
  chunk_seq low = *newest_known;
  if (join) {
    low = std::max(*join, log.empty() ? *join : log.first_seq());
    // Chunks past their deadline are skipped, never requested; count the ones we never got.
    if (ref) {
      while (true) {
        const auto dl = deadline_of(low);
        if (!dl || *dl > now) break;
        ++low;
      }
    }
    if (!late_mark) late_mark = *join;
    if (low > *late_mark && low - *late_mark <= k_max_pick_range) {
      for (chunk_seq q = *late_mark; q < low; ++q) {
        if (!log.find(q)) ++stats.chunks_skipped_late;
      }
    }
    if (low > *late_mark) late_mark = low;
  } else if (!in_flight.empty()) {
    // Joining: one request at a time for the newest chunk known — the live edge, never the
    // oldest. Whatever arrives first becomes the join point (the log keeps nothing older than
    // its first chunk, so a second request would only fetch what it must refuse).
    return;
  }

  if (*newest_known < low) return;
  if (*newest_known - low + 1 > k_max_pick_range) low = *newest_known + 1 - k_max_pick_range;
  const auto count = static_cast<std::size_t>(*newest_known - low + 1);

  pick_problem p;
  p.first = low;
  p.now = now;
  p.wanted.resize(count);
  p.deadline.resize(count);
  p.heard.resize(count);
  bool any = false;
  for (std::size_t i = 0; i < count; ++i) {
    const chunk_seq seq = low + i;
    p.wanted[i] = !log.find(seq) && in_flight.count(seq) == 0;
    any = any || p.wanted[i];
    p.deadline[i] = deadline_of(seq);
    if (const auto h = heard_at.find(seq); h != heard_at.end()) p.heard[i] = h->second;
  }
  if (!any) return;
  for (const auto& [id, nb] : nbs) {
    if (nb.closing) continue;
    pick_neighbour pn;
    pn.id = id;
    pn.cls = class_of(nb.hello.role);
    pn.rtt = nb.response.value_or(nb.rtt.value_or(k_default_rtt) + transfer_time(0));
    const std::size_t limit = request_limit(nb.down.rate(now), chunk_bytes, rq);
    pn.free_slots = nb.busy_until > now || nb.asked.size() >= limit ? 0 : limit - nb.asked.size();
    pn.outstanding = nb.asked.size();
    pn.has.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      const chunk_seq seq = low + i;
      if (!nb.has.contains(seq)) continue;
      const auto f = failed_from.find(seq);
      pn.has[i] = f == failed_from.end() || std::find(f->second.begin(), f->second.end(), id) == f->second.end();
    }
    p.neighbours.push_back(std::move(pn));
  }

  picker.set_urgent_threshold(3 * chunk_duration() + mean_rtt());
  const pick_result result = picker.pick(p);
  recheck_at = result.recheck_at;

  std::map<neighbour_id, std::vector<chunk_seq>> batches;
  for (const struct pick& pk : result.picks) batches[pk.neighbour].push_back(pk.seq);
  for (auto& [id, seqs] : batches) {
    neighbour_state& nb = nbs.at(id);
    const double rate = nb.down.rate(now);
    const micros rtt = nb.rtt.value_or(k_default_rtt);
    for (const chunk_seq seq : seqs) {
      micros timeout = request_timeout(rtt, nb.asked.size(), chunk_bytes, rate, rq);
      // With a deadline: wait until the last moment a retry elsewhere could still make it (a
      // server that cannot answer in time says busy at once), but at least twice the expected
      // time, so an answer on its way is not asked for twice.
      if (const auto dl = deadline_of(seq)) {
        const micros expected = rtt + transfer_time(rate);
        timeout = std::min(rq.max_timeout, std::max(2 * expected, (*dl - now) - expected));
      }
      nb.asked.add(seq, now + timeout);
      nb.asked_at[seq] = now;
      in_flight[seq] = id;
      if (ref) DBG(seq, "request to nb %llu timeout %lld outstanding %zu rate %.0f", (unsigned long long)id, (long long)timeout.count()/1000, nb.asked.size(), rate);
    }
    stats.requests_sent += seqs.size();
    nb.control.push_back(ps::request{std::move(seqs)});
  }
}

// --- upload --------------------------------------------------------------------------------------

void node::impl::schedule_sends(time_point now) {
  send_ready_at.reset();
  const micros urgent = 3 * chunk_duration() + mean_rtt();
  while (true) {
    // Pull answers: each neighbour's FIFO head; among them the earliest deadline.
    neighbour_state* serve_nb = nullptr;
    time_point serve_dl;
    for (auto& [id, nb] : nbs) {
      if (nb.closing || nb.ready) continue;
      while (const serve_queue::entry* e = nb.serving.front()) {
        if (!log.find(e->seq)) {
          queue_reject(nb, e->seq, ps::reject_reason::not_held);
        } else if (*deadline_of(e->seq) <= now) {
          queue_reject(nb, e->seq, ps::reject_reason::too_late);
        } else if (now - e->received > s.max_serve_wait) {
          queue_reject(nb, e->seq, ps::reject_reason::busy);  // ask elsewhere while there is time
        } else {
          break;
        }
        nb.serving.pop_front();
      }
      const serve_queue::entry* e = nb.serving.front();
      if (!e) continue;
      const time_point dl = *deadline_of(e->seq);
      if (!serve_nb || dl < serve_dl) {
        serve_nb = &nb;
        serve_dl = dl;
      }
    }
    // Pushes: the newest first, a chunk's first copy before its others; stale ones (the target
    // has it, or too old to be worth a push) are dropped.
    neighbour_state* push_nb = nullptr;
    std::size_t push_index = 0;
    const auto better_push = [](const pending_push& x, const pending_push& y) {
      return x.first != y.first ? x.first : x.seq > y.seq;
    };
    for (auto& [id, nb] : nbs) {
      if (nb.closing || nb.ready) continue;
      for (auto it = nb.pushes.begin(); it != nb.pushes.end();) {
        static const bool k_half = std::getenv("MC_HALF") != nullptr;
        const bool stale = !fresh(it->seq, now) ||
                           (k_half && !it->first && (now + origin_offset) - *source_time_of(it->seq) > s.push_max_age / 2);
        if (nb.has.contains(it->seq) || stale) {
          if (it->first) promote_first(nb.id, it->seq);
          ++stats.pushes_dropped;
          it = nb.pushes.erase(it);
        } else {
          ++it;
        }
      }
      for (std::size_t i = 0; i < nb.pushes.size(); ++i) {
        if (!push_nb || better_push(nb.pushes[i], push_nb->pushes[push_index])) {
          push_nb = &nb;
          push_index = i;
        }
      }
    }
    // First copies of fresh chunks come first: each holder forwarding each new chunk at least
    // once is what keeps the epidemic from dying at the few nodes next to the source (at most
    // 1× the stream rate). Then answers someone's playout waits on; then the other pushes and
    // answers take turns, so neither starves the other.
    const bool first_push = push_nb && push_nb->pushes[push_index].first;
    static const int k_order = std::getenv("MC_ORDER") ? std::atoi(std::getenv("MC_ORDER")) : 1;
    const bool serve_urgent = serve_nb && serve_dl - now < urgent;
    const bool serve_first =
        serve_nb && (k_order == 3 ? (serve_urgent || (!first_push && (!push_nb || true)))
                                  : (!first_push && (!push_nb || serve_urgent || last_was_push || k_order == 2)));
    neighbour_state* nb = serve_first ? serve_nb : push_nb;
    if (!nb) return;
    const chunk_seq seq = serve_first ? serve_nb->serving.front()->seq : push_nb->pushes[push_index].seq;
    const chunk::chunk_ptr c = log.find(seq);
    if (!budget.can_send(c->size(), now)) {
      send_ready_at = budget.ready_at(c->size(), now);
      return;
    }
    budget.spend(c->size(), now);
    last_was_push = !serve_first;
    nb->ready = ps::chunk_data{c, !serve_first};
    nb->has.insert(seq);
    nb->sent.insert(seq);
    if (serve_first) {
      serve_nb->serving.pop_front();
    } else {
      push_nb->pushes.erase(push_nb->pushes.begin() + static_cast<std::ptrdiff_t>(push_index));
    }
  }
}

// --- node ----------------------------------------------------------------------------------------

node::node(node_settings settings, chunk::chunk_log& log, chunk_verifier verify)
    : impl_(std::make_unique<impl>(std::move(settings), log, std::move(verify))) {}
node::~node() = default;

ps::hello node::local_hello() const {
  ps::hello h;
  h.stream = impl_->s.stream;
  h.rendition = impl_->s.rendition;
  h.id = impl_->s.id;
  h.role = impl_->s.role;
  h.upload_kbps = impl_->s.upload_kbps;
  h.listen_port = impl_->s.listen_port;
  return h;
}

std::optional<ps::close_reason> node::on_neighbour_up(neighbour_id n, const ps::hello& remote, bool inbound,
                                                      core::time_point now, std::string remote_host) {
  auto r = impl_->neighbour_up(n, remote, inbound, now, std::move(remote_host));
  impl_->step(now);
  return r;
}

void node::on_message(neighbour_id n, const ps::message& msg, core::time_point now) {
  impl_->message(n, msg, now);
  impl_->step(now);
}

void node::on_rtt(neighbour_id n, core::micros rtt, core::time_point now) {
  if (auto* nb = impl_->find(n)) nb->rtt = rtt;
  impl_->step(now);
}

void node::on_neighbour_down(neighbour_id n, core::time_point now) {
  impl_->neighbour_down(n);
  impl_->step(now);
}

void node::on_dial_failed(const ps::peer_address& a, core::time_point now) {
  impl_->dialing.erase(a.id);
  impl_->step(now);
}

void node::on_local_chunk(const chunk::chunk_ptr& c, core::time_point now) {
  if (!c) return;
  impl_->local_chunk(c, now);
  impl_->step(now);
}

void node::on_candidates(const std::vector<ps::peer_address>& candidates, core::time_point now) {
  impl_->candidates.add_ranked(candidates);
  impl_->step(now);
}

void node::set_origin_offset(core::micros offset) { impl_->origin_offset = offset; }

void node::on_timeout(core::time_point now) { impl_->step(now); }

std::optional<ps::message> node::next_message_for(neighbour_id n, core::time_point now) {
  neighbour_state* nb = impl_->find(n);
  if (!nb || nb->closing) return std::nullopt;
  if (!nb->control.empty()) {
    ps::message m = std::move(nb->control.front());
    nb->control.pop_front();
    return m;
  }
  if (!nb->ready) return std::nullopt;
  ps::chunk_data d = std::move(*nb->ready);
  nb->ready.reset();
  const std::size_t size = d.chunk->size();
  nb->up.add(size, now);
  nb->bytes_up += size;
  impl_->total_up.add(size, now);
  impl_->stats.bytes_up.add(nb->hello.role, size);
  (d.pushed ? impl_->stats.chunks_pushed_out : impl_->stats.requests_served) += 1;
  return d;
}

std::optional<ps::peer_address> node::poll_dial() {
  if (impl_->dial_out.empty()) return std::nullopt;
  ps::peer_address a = std::move(impl_->dial_out.front());
  impl_->dial_out.pop_front();
  return a;
}

std::optional<disconnect_order> node::poll_disconnect() {
  if (impl_->disconnects.empty()) return std::nullopt;
  disconnect_order d = std::move(impl_->disconnects.front());
  impl_->disconnects.pop_front();
  return d;
}

std::optional<chunk_arrival> node::poll_arrival() {
  if (impl_->arrivals.empty()) return std::nullopt;
  chunk_arrival a = impl_->arrivals.front();
  impl_->arrivals.pop_front();
  return a;
}

std::optional<core::time_point> node::next_deadline() const {
  const impl& m = *impl_;
  if (!m.started) return std::nullopt;
  std::optional<time_point> t = m.next_housekeeping;
  const auto consider = [&](std::optional<time_point> x) {
    if (x && (!t || *x < *t)) t = x;
  };
  if (m.s.role != ps::node_role::origin) consider(m.next_replace);
  consider(m.next_pex);
  consider(m.recheck_at);
  consider(m.send_ready_at);
  bool sends_waiting = false;
  for (const auto& [id, nb] : m.nbs) {
    if (nb.closing) continue;
    consider(nb.asked.next_timeout());
    if (nb.busy_until > m.last_now) consider(nb.busy_until);
    sends_waiting = sends_waiting || (!nb.ready && (!nb.serving.empty() || !nb.pushes.empty()));
  }
  // A ready chunk was taken since the last input and more waits: schedule when tokens allow.
  if (sends_waiting) consider(m.budget.ready_at(std::max<std::size_t>(m.chunk_bytes, 1), m.last_now));
  return t;
}

const node_settings& node::settings() const { return impl_->s; }
const node_stats& node::stats() const { return impl_->stats; }

std::vector<neighbour_info> node::neighbours() const {
  std::vector<neighbour_info> out;
  for (const auto& [id, nb] : impl_->nbs) {
    if (nb.closing) continue;
    neighbour_info i;
    i.id = id;
    i.node = nb.hello.id;
    i.role = nb.hello.role;
    i.inbound = nb.inbound;
    i.host = nb.host;
    i.listen_port = nb.hello.listen_port;
    i.rtt = nb.rtt;
    i.since = nb.since;
    i.rate_down = nb.down.rate(impl_->last_now);
    i.rate_up = nb.up.rate(impl_->last_now);
    i.bytes_down = nb.bytes_down;
    i.bytes_up = nb.bytes_up;
    i.requests_outstanding = nb.asked.size();
    i.requests_queued = nb.serving.size();
    out.push_back(std::move(i));
  }
  return out;
}

std::size_t node::neighbour_count() const { return impl_->live_count(); }
std::optional<core::chunk_seq> node::join_point() const { return impl_->join; }
double node::rate_down(core::time_point now) const { return impl_->total_down.rate(now); }
double node::rate_up(core::time_point now) const { return impl_->total_up.rate(now); }

}  // namespace meshcast::swarm
