// node::impl — the state behind swarm::node and the helpers its parts share. Internal: only
// node*.cpp include it (the parts: node.cpp public API, membership and periodic work;
// node_messages.cpp what neighbours send and what we announce; node_schedule.cpp what we pull
// and what we upload). Same thread rules as node.
#pragma once

#include <algorithm>
#include <boost/container/devector.hpp>
#include <random>

#include "swarm/compact.hpp"
#include "swarm/neighbours.hpp"
#include "swarm/node.hpp"
#include "swarm/picker.hpp"
#include "swarm/protection.hpp"
#include "swarm/push_policy.hpp"
#include "swarm/rate_meter.hpp"
#include "swarm/request_queue.hpp"
#include "swarm/seq_set.hpp"
#include "swarm/upload_budget.hpp"

namespace meshcast::swarm {

namespace detail {

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
/// What a neighbour holds (and what we sent it) is tracked over the picker's range, 25.6 s at 100
/// ms chunks, more than any playout delay: two sets per neighbour, inline, 32 bytes of bits each
/// (a 4096-bit set on the heap had been most of a simulated node's memory).
using neighbour_seq_set = basic_seq_set<k_max_pick_range>;
/// Share of upload_kbps the chunk payloads may use. The rest carries the framing, the control
/// messages (a have per chunk per neighbour, requests, bitmaps) and the transport's headers: a
/// link asked for 100 % of its rate in payload alone only queues, and its queue delays the haves
/// and requests behind it too. At 100 % a 3× origin in front of 200 peers (default.toml)
/// delivered continuity 0.22; at 95 %, 0.83 (90 %: 0.80).
constexpr double k_payload_share = 0.95;
inline std::uint32_t payload_kbps(std::uint32_t upload_kbps) {
  if (upload_kbps == 0) return 0;  // unlimited
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(upload_kbps * k_payload_share));
}
/// Addresses a node keeps to dial (the tracker's answers and pex, best first). 64 is more than
/// twice max_neighbours: a full table of 24 needs few, and a node that runs dry asks the tracker
/// (an address is 32 bytes; at 256 the lists were a fifth of a simulated node's memory).
constexpr std::size_t k_max_candidates = 64;
/// A starving node's asks for fresh candidates back off up to this gap (node::impl::housekeeping).
constexpr micros k_max_candidates_ask_gap{30'000'000};
/// Pushes waiting for one neighbour beyond this are dropped oldest first (it had a have).
constexpr std::size_t k_max_pending_pushes = 8;
/// The longest a push sent at push_max_age takes to arrive (serialisation and latency).
constexpr micros k_push_transit = 200ms;
/// How long after we got a chunk a neighbour is checked for having got it elsewhere.
constexpr micros k_behind_lag = 200ms;

inline source_class class_of(ps::node_role r) {
  switch (r) {
    case ps::node_role::origin:
      return source_class::origin;
    case ps::node_role::edge:
      return source_class::edge;
    case ps::node_role::peer:
      break;
  }
  return source_class::peer;
}

struct pending_push {
  chunk_seq seq;
  bool first = false;  // our first copy of this chunk: it keeps the epidemic going
};

/// What a neighbour's hello said that the node uses afterwards (the strings and the key are the
/// session's business: checked before the node sees the connection).
struct neighbour_hello {
  explicit neighbour_hello(const ps::hello& h)
      : id(h.id), role(h.role), listen_port(h.listen_port), upload_kbps(h.upload_kbps) {}
  ps::node_id id;
  ps::node_role role;
  std::uint16_t listen_port;
  std::uint32_t upload_kbps;
};

struct neighbour_state {
  neighbour_state(neighbour_id n, const ps::hello& h, std::string address, bool in, time_point now,
                  std::size_t serve_limit, const flood_settings& fs)
      : id(n),
        hello(h),
        host(std::move(address)),
        inbound(in),
        since(now),
        serving(serve_limit),
        guard(fs, now) {}

  neighbour_id id;
  neighbour_hello hello;
  std::string host;
  bool inbound;
  bool closing = false;  // disconnect ordered; ignored until it is down
  time_point since;
  optional_micros rtt;
  neighbour_seq_set has;       // what it holds, from its bitmap, haves and chunks exchanged
  neighbour_seq_set sent;      // chunks we sent it (so it has them because of us)
  outstanding_requests asked;  // our requests at it
  bucket_rate_meter down;      // chunk payload bytes from it (decides how much we ask of it)
  bucket_rate_meter up;        // ...to it (only shown)
  std::uint64_t useful_recent = 0;  // chunk bytes both ways since the last replacement round
  std::uint64_t bytes_down = 0;
  std::uint64_t bytes_up = 0;
  // Moving average (0..1): it had not got our chunks of ~200 ms before from anyone but us, i.e.
  // it sits downstream of us; push targets are weighted by its square.
  double behind = 0.5;
  optional_micros response;  // moving average: our request to its answer (or failure)
  small_map<chunk_seq, time_point> asked_at;
  time_point busy_until;
  serve_queue serving;  // its requests at us
  flood_guard guard;
  // devectors, not std::deques: a deque allocates 576 bytes even while empty, six of them per
  // neighbour were most of a simulated node's memory; a devector allocates only when used.
  compact_devector<ps::message> control;
  compact_devector<pending_push> pushes;
  std::optional<ps::chunk_data> ready;  // budget already charged; goes out next
};

/// nb.has.contains(seq), without reading the bitmap (a cache miss) for a chunk past the newest
/// it ever had: often the case for the chunks a node wants or announces.
inline bool holds(const neighbour_state& nb, chunk_seq seq) {
  const std::optional<chunk_seq> newest = nb.has.newest();
  return newest && seq <= *newest && nb.has.contains(seq);
}

struct timing_ref {
  chunk_seq seq;
  time_point source_time;
  micros duration;
};

}  // namespace detail

using namespace detail;

struct node::impl {
  impl(node_settings settings, chunk::chunk_log& l, chunk_verifier v)
      : s(std::move(settings)),
        log(l),
        verify(std::move(v)),
        rng(s.seed),
        picker(picker_settings{micros{400'000}, s.pull_grace, s.playout_delay, s.local_grace,
                               s.push_max_age + k_push_transit, s.pull_origin_like_a_peer}),
        budget(payload_kbps(s.upload_kbps), k_initial_burst_bytes, time_point{}),
        rq{s.target_queue_time, s.request_floor, s.request_cap, micros{400'000}, micros{3'000'000}},
        candidates(s.id, k_max_candidates, s.redial_backoff) {}

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
  void queue_pushes(chunk_seq seq, std::size_t fanout);
  void punish(neighbour_state& nb, ps::close_reason reason, std::string text, time_point now);
  void drop(neighbour_state& nb, ps::close_reason reason, std::string text, time_point now);
  void release(neighbour_state& nb, time_point now);
  void expire_requests(time_point now);
  void skip_late(time_point now);
  void pick(time_point now);
  void schedule_sends(time_point now);
  void maybe_dial(time_point now);
  void housekeeping(time_point now);
  [[nodiscard]] bool starving(time_point now) const {
    if (s.role == ps::node_role::origin) return false;
    return !last_stored || now - *last_stored >= s.starve_after;
  }
  /// Starving and past its first starve_after (a joiner gets that long to be fed): it dials up to
  /// max_neighbours and asks for candidates.
  [[nodiscard]] bool looking_wider(time_point now) const {
    return starving(now) && now - started_at >= s.starve_after;
  }
  void replace_worst(time_point now);
  [[nodiscard]] micros replace_interval(time_point now) const;
  void send_pex(time_point now);
  [[nodiscard]] std::vector<ps::peer_address> pex_entries(neighbour_id except) const;

  // --- helpers ------------------------------------------------------------------------------

  neighbour_state* find(neighbour_id n) {
    // The last id not above n, by a binary search without branches (conditional moves): the
    // driver looks up every connection of a node after most inputs, and a branchy search
    // mispredicts about every other step.
    std::size_t len = nb_ids.size();
    if (len == 0) return nullptr;
    std::size_t lo = 0;
    while (len > 1) {
      const std::size_t half = len / 2;
      lo = nb_ids[lo + half] <= n ? lo + half : lo;
      len -= half;
    }
    return nb_ids[lo] == n ? &nbs.nth(lo)->second : nullptr;
  }
  /// nb_ids follows nbs's keys (after every insert and erase).
  void index_neighbours() {
    nb_ids.clear();
    for (const auto& [id, nb] : nbs) nb_ids.push_back(id);
    if (nb_ids.capacity() > nb_ids.size() + 4) nb_ids.shrink_to_fit();
  }
  /// Neighbours not closing (kept up to date by neighbour_up, drop and neighbour_down).
  [[nodiscard]] std::size_t live_count() const { return live; }
  [[nodiscard]] micros chunk_duration() const { return ref ? ref->duration : k_default_chunk_duration; }
  [[nodiscard]] std::optional<time_point> source_time_of(chunk_seq seq) const {
    if (const chunk::chunk* c = log.peek(seq)) return c->header().source_time;
    if (!ref) return std::nullopt;
    return ref->source_time + (seq - ref->seq) * ref->duration;
  }
  /// Playout deadline in our clock.
  [[nodiscard]] std::optional<time_point> deadline_of(chunk_seq seq) const {
    const auto src = source_time_of(seq);
    if (!src) return std::nullopt;
    return *src + s.playout_delay - origin_offset;
  }
  /// The same for a chunk we hold (no second look-up in the log).
  [[nodiscard]] time_point deadline_of(const chunk::chunk& c) const {
    return c.header().source_time + s.playout_delay - origin_offset;
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
    const std::int64_t span = std::max<std::int64_t>(k_min_window_span, log.last_seq() - log.first_seq() + 1);
    return seq - log.first_seq() < -span || seq - log.last_seq() > span;
  }
  /// The mean RTT of the live neighbours that have one (sums kept by set_rtt, drop and
  /// neighbour_down: exact, integer µs).
  [[nodiscard]] micros mean_rtt() const { return rtt_count == 0 ? k_default_rtt : rtt_sum / rtt_count; }
  void set_rtt(neighbour_state& nb, micros rtt) {
    if (!nb.closing) {
      if (nb.rtt) {
        rtt_sum -= *nb.rtt;
      } else {
        ++rtt_count;
      }
      rtt_sum += rtt;
    }
    nb.rtt = rtt;
  }
  /// `nb` stops counting as live (closing, or gone while live).
  void unlist(const neighbour_state& nb) {
    --live;
    if (nb.rtt) {
      rtt_sum -= *nb.rtt;
      --rtt_count;
    }
  }
  /// Young enough to be worth a push: its source age is within push_max_age.
  [[nodiscard]] bool fresh(chunk_seq seq, time_point now) const {
    const auto src = source_time_of(seq);
    return src && (now + origin_offset) - *src <= s.push_max_age;
  }
  /// The order answers go out in (docs/swarm.md, "Upload"): the largest key first. The newest
  /// chunk first — its copy is the one the requester can still pass on to others, where an answer
  /// about to miss its deadline feeds one playout and can be had from the source — and a
  /// requester that advertises more upload counts as that many chunk durations newer (up to 4),
  /// since it passes more on.
  [[nodiscard]] time_point serve_key(time_point dl, const neighbour_state& requester) const {
    return dl + serve_bonus(requester);
  }
  /// serve_key(dl, requester) - dl: the same for all its requests.
  [[nodiscard]] micros serve_bonus(const neighbour_state& requester) const {
    if (requester.hello.upload_kbps == 0 || chunk_bytes == 0) return micros{0};
    const double d = static_cast<double>(chunk_duration().count());
    const double stream_bytes_per_s = static_cast<double>(chunk_bytes) * 1e6 / d;
    const double upload_x = requester.hello.upload_kbps * 125.0 / stream_bytes_per_s;
    return micros{static_cast<std::int64_t>(std::min(4.0, upload_x) * d)};
  }
  /// How long until an answer with serve key `key` would go out: the answers with a larger key go
  /// first, at our budget's rate, halved while first copies of fresh chunks wait (they go before
  /// answers that are not urgent; at most one per chunk).
  [[nodiscard]] micros serve_wait(time_point key, time_point now) const {
    if (budget.unlimited()) return micros{0};
    double bytes = 0;
    bool pushes_waiting = false;
    for (const auto& [id, nb] : nbs) {
      if (nb.closing) continue;
      if (nb.ready) bytes += static_cast<double>(nb.ready->chunk->size());
      pushes_waiting = pushes_waiting || std::any_of(nb.pushes.begin(), nb.pushes.end(),
                                                     [](const pending_push& p) { return p.first; });
      if (nb.serving.empty()) continue;
      const micros bonus = serve_bonus(nb);
      for (const serve_queue::entry& e : nb.serving.entries()) {
        const auto edl = deadline_of(e.seq);
        if (edl && *edl + bonus >= key) bytes += static_cast<double>(chunk_bytes);
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
  /// A request of ours that would have timed out at `at` is no longer outstanding.
  void request_gone(time_point at) {
    if (at == requests_expire_from) requests_expire_exact = false;
  }
  void find_earliest_timeout();
  void find_busy_next();
  void note_known(chunk_seq seq) {
    if (!newest_known || seq > *newest_known) newest_known = seq;
  }
  /// Queues a message for `nb` (next_message_for hands it out).
  template <class M>
  void queue(neighbour_state& nb, M&& m) {
    nb.control.push_back(std::forward<M>(m));
    output_queued = true;
  }
  void queue_reject(neighbour_state& nb, chunk_seq seq, ps::reject_reason why) {
    queue(nb, ps::reject{seq, why});
    ++stats.requests_rejected;
  }

  node_settings s;
  chunk::chunk_log& log;
  chunk_verifier verify;
  core::splitmix64_engine rng;  // 8 bytes (a std::mt19937_64 is 2.5 KB)
  chunk_picker picker;
  upload_budget budget;
  request_queue_settings rq;
  flood_settings flood;
  candidate_list candidates;
  ban_list bans;
  node_stats stats;
  bucket_rate_meter total_down, total_up;

  // Flat maps: a node has a few dozen neighbours and wanted chunks at most, and every input
  // walks some of these (std::map's node hops were a tenth of the simulator's time).
  small_map<neighbour_id, neighbour_state> nbs;
  // nbs's keys, in the same order: find() searches these few contiguous ids, not the keys spread
  // one per ~700-byte entry (a cache miss per step of the search; find runs for every message in
  // and every output asked for).
  std::vector<neighbour_id> nb_ids;
  small_map<ps::node_id, neighbour_id> by_node;                 // live neighbours by node id
  small_map<chunk_seq, neighbour_id> in_flight;                 // our live request for each seq, and where
  small_map<chunk_seq, std::vector<neighbour_id>> failed_from;  // timed out / rejected there
  small_map<chunk_seq, time_point> heard_at;                    // when a neighbour first said it holds it
  small_map<ps::node_id, time_point> dialing;                   // dials handed out, not yet up or failed
  std::size_t live = 0;  // nbs not closing
  micros rtt_sum{0};     // over live nbs with an rtt
  std::int64_t rtt_count = 0;

  std::optional<chunk_seq> join;
  std::optional<chunk_seq> newest_known;  // newest advertised (plausibly) or held
  std::optional<chunk_seq> newest_held;
  std::optional<timing_ref> ref;       // the newest chunk held: estimates unseen source times
  std::optional<chunk_seq> late_mark;  // below this, late chunks have been counted
  micros origin_offset{0};
  std::size_t chunk_bytes = 0;  // moving average of chunk payload sizes

  boost::container::devector<ps::peer_address> dial_out;
  boost::container::devector<disconnect_order> disconnects;
  boost::container::devector<chunk_arrival> arrivals;

  bool started = false;
  time_point started_at;
  std::optional<time_point> last_stored;   // when the newest chunk was stored (any source)
  time_point next_candidates_ask;          // while starving, ask for candidates again from here
  micros candidates_ask_gap{0};            // the wait after the next ask: doubles while starving
  bool candidates_wanted = false;
  time_point last_now;
  time_point next_housekeeping, next_replace, next_pex;
  bool pick_wanted = true;                  // an input changed what the picker would say
  std::optional<time_point> recheck_at;     // the picker's
  std::optional<time_point> send_ready_at;  // the budget's, when sends wait for tokens
  // False only while no live neighbour has answers or pushes waiting (schedule_sends's last walk
  // found none, and no request or push came since).
  bool sends_queued = false;
  // False only while no live neighbour has a message or chunk waiting to go out (has_output found
  // none, and nothing was queued since): has_output then answers without a walk.
  bool output_queued = false;
  // The earliest timeout among our requests (max: none), so that expire_requests walks the
  // neighbours only once one may have expired and next_deadline never does. Exact after every
  // step; within one, an answer, refusal or dropped neighbour that took out the earliest request
  // leaves it a lower bound (requests_expire_exact false) until the step ends.
  time_point requests_expire_from = time_point::max();
  bool requests_expire_exact = true;
  // The earliest busy_until still ahead of last_now among live neighbours (max: none), for
  // next_deadline. Exact after every step; a busy refusal or a dropped neighbour marks it stale
  // (busy_next_exact false) and the step's end finds it again, as it does once time passes it.
  time_point busy_next = time_point::max();
  bool busy_next_exact = true;
};

}  // namespace meshcast::swarm
