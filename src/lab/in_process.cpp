#include "lab/in_process.hpp"
#include "core/splitmix.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chunk/signer.hpp"
#include "lab/in_process_memo.hpp"
#include "media/live_stream.hpp"
#include "media/source.hpp"
#include "media/test_source.hpp"
#include "net/http_server.hpp"
#include "net/link_shaper.hpp"
#include "net/swarm_transport.hpp"
#include "net/tracker_client.hpp"
#include "net/tracker_routes.hpp"
#include "report/histogram.hpp"
#include "sim/node_config.hpp"
#include "tracker/service.hpp"

namespace meshcast::lab {
namespace {

namespace asio = boost::asio;
namespace ps = proto::swarm;
namespace pt = proto::tracker;
using tcp = asio::ip::tcp;
using scenario::node_kind;

const std::string k_stream = "live/lab";
const std::string k_rendition = "source";
constexpr core::micros k_sample_interval{100'000};
/// A peer's announce stats (upload in use, open slots, starving) are refreshed this often.
constexpr core::micros k_stats_interval{1'000'000};
constexpr core::micros k_progress_interval{10'000'000};
/// Chunks each peer keeps (what it can serve to pulls); the simulator keeps the same 10 s.
constexpr core::micros k_peer_window{10'000'000};
constexpr std::size_t k_arrival_records = 4096;  // drained every 100 ms: ~1 chunk waits there
/// The origin starts this long before the plan's t = 0, so the stream is live when the first
/// peers join (its encoder needs ~1 s to start; a real origin is on air before its audience),
/// as in the netns mode.
constexpr core::micros k_origin_lead{2'000'000};

double thread_cpu_s(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

using sim::kbps_of;
using core::splitmix64;

struct node_id_hash {
  std::size_t operator()(const ps::node_id& id) const {
    std::uint64_t h = 0;
    std::memcpy(&h, id.data(), sizeof h);
    return static_cast<std::size_t>(h);
  }
};

/// Raises RLIMIT_NOFILE: every connection costs two descriptors here. The hard limit too (to
/// twice `wanted`) when it is short and the process may (root: up to fs.nr_open); else the soft
/// limit to the hard one.
std::size_t raise_fd_limit(std::size_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2 * wanted) {
    const rlimit more{2 * wanted, 2 * wanted};  // headroom: dials refused when full, tracker requests
    if (setrlimit(RLIMIT_NOFILE, &more) == 0) getrlimit(RLIMIT_NOFILE, &rl);  // refused: keep the old
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted) {
    spdlog::warn("lab: {} file descriptors allowed, about {} wanted: some connections may fail", rl.rlim_cur, wanted);
  }
  return rl.rlim_cur == RLIM_INFINITY ? wanted : static_cast<std::size_t>(rl.rlim_cur);
}

/// Feeds the origin's stream from a pulled source (test encoder or file). The source posts onto
/// the loop from its own thread; `alive_` keeps posted work from touching a stopped runner.
class lab_source {
 public:
  lab_source(asio::io_context& io, media::live_stream& stream, const core::dilated_clock& clock)
      : io_(io), stream_(stream), clock_(clock) {}
  ~lab_source() { stop(); }
  lab_source(const lab_source&) = delete;
  lab_source& operator=(const lab_source&) = delete;

  void start(std::unique_ptr<media::source> src) {
    source_ = std::move(src);
    alive_ = std::make_shared<bool>(true);
    std::weak_ptr<bool> alive = alive_;
    media::source_callbacks cb;
    cb.on_config = [this, alive](media::media_config config) {
      asio::post(io_, [this, alive, config = std::move(config)] {
        if (alive.lock()) on_config(config);
      });
    };
    cb.on_frame = [this, alive](media::frame f) {
      const core::time_point now = clock_.now();
      asio::post(io_, [this, alive, now, f = std::move(f)] {
        if (alive.lock()) on_frame(f, now);
      });
    };
    cb.on_end = [this, alive](core::result<void> r) {
      asio::post(io_, [this, alive, r = std::move(r)] {
        if (!alive.lock()) return;
        if (publishing_) stream_.end_publish();
        publishing_ = false;
        if (r) {
          spdlog::info("lab: source ended");
        } else {
          spdlog::error("lab: source failed: {}", r.error().message);
        }
      });
    };
    spdlog::info("lab: source {} into the stream {}", source_->describe(), stream_.name());
    source_->start(std::move(cb));
  }

  void stop() {
    alive_.reset();
    if (source_) source_->stop();
    if (publishing_) stream_.end_publish();
    publishing_ = false;
  }

 private:
  void on_config(const media::media_config& config) {
    auto r = stream_.begin_publish(config, source_->describe());
    publishing_ = r.has_value();
    if (!r) spdlog::error("lab: {}", r.error().message);
  }
  void on_frame(const media::frame& f, core::time_point now) {
    if (!publishing_) return;
    if (auto r = stream_.push(f, now); !r && ++frame_errors_ == 1) {
      spdlog::warn("lab: frame refused: {}", r.error().message);
    }
  }

  asio::io_context& io_;
  media::live_stream& stream_;
  const core::dilated_clock& clock_;  // the nodes' time: frames are stamped with it
  std::unique_ptr<media::source> source_;
  std::shared_ptr<bool> alive_;
  bool publishing_ = false;
  std::uint64_t frame_errors_ = 0;
};

/// One node of the run.
struct lab_node {
  enum class state : std::uint8_t { pending, live, gone };
  ps::node_id id{};
  state st = state::pending;
  std::unique_ptr<chunk::chunk_log> own_log;  // a peer's swarm store
  chunk::chunk_log* log = nullptr;            // own_log, or the origin rendition's log
  std::unique_ptr<swarm::node> node;
  std::unique_ptr<net::swarm_transport> transport;
  std::unique_ptr<net::tracker_client> tracker;
  std::unordered_map<swarm::neighbour_id, std::uint32_t> from;  // neighbour id → plan index
  bool join_point_reported = false;
  std::uint64_t dup_bytes = 0, wire_out = 0, payload_out = 0;  // reported to the collector so far
  core::time_point next_stats;  // when its announce stats are refreshed next
};

/// Something the plan says happens at `at`.
struct action {
  enum class kind : std::uint8_t { join, leave, kill, event };
  core::time_point at;
  kind k = kind::join;
  std::uint32_t index = 0;  // node, or planned event
};

/// The collector, shared by every loop of the run: rare calls (a join, a leave, a planned event,
/// a chunk produced) take the lock directly; a loop's 100 ms sampling pass buffers its nodes'
/// observations (the bulk: every arrival) and hands them over in one locked batch.
class shared_feed {
 public:
  struct item {
    enum class kind : std::uint8_t { join_point, arrival, duplicate, sent };
    kind k = kind::arrival;
    bool pushed = false;
    std::uint32_t node = 0, from = report::k_no_node;
    std::uint64_t seq = 0;  // join_point, arrival
    core::time_point t1{}, t2{};  // arrival: source, arrival; sent: when
    std::uint64_t a = 0, b = 0;   // duplicate: bytes; sent: wire, payload
  };

  explicit shared_feed(report::collector& c) : c_(c) {}

  void produced(std::uint64_t seq, core::time_point source_time, bool keyframe, std::size_t bytes) {
    const std::lock_guard lock(m_);
    sizes_[seq] = static_cast<std::uint32_t>(bytes);
    c_.on_produced(seq, source_time, keyframe, bytes);
  }
  void join(std::uint32_t node, core::time_point t) {
    const std::lock_guard lock(m_);
    c_.on_join(node, t);
  }
  void left(std::uint32_t node, core::time_point t) {
    const std::lock_guard lock(m_);
    c_.on_left(node, t);
  }
  void event(core::time_point t, std::string label) {
    const std::lock_guard lock(m_);
    c_.on_event(t, std::move(label));
  }
  /// Feeds a loop's buffered observations, in order, and empties `batch`.
  void flush(std::vector<item>& batch) {
    if (batch.empty()) return;
    const std::lock_guard lock(m_);
    for (const item& it : batch) {
      switch (it.k) {
        case item::kind::join_point:
          c_.on_join_point(it.node, it.seq);
          break;
        case item::kind::arrival: {
          const auto size = sizes_.find(it.seq);
          c_.on_arrival(it.node, it.seq, it.t1, it.t2, it.from, size == sizes_.end() ? 0 : size->second, it.pushed);
          break;
        }
        case item::kind::duplicate:
          c_.on_duplicate(it.node, it.a);
          break;
        case item::kind::sent:
          c_.on_sent(it.node, it.t1, it.a, it.b);
          break;
      }
    }
    batch.clear();
  }
  /// After every loop has stopped.
  report::run_result finish(core::time_point end) { return c_.finish(end); }

 private:
  std::mutex m_;
  report::collector& c_;
  std::unordered_map<std::uint64_t, std::uint32_t> sizes_;  // chunk payload bytes by seq
};

/// One event loop of the run (one thread) and everything on it: its nodes' transports, shapers,
/// timers and tracker clients; loop 0 also has the origin, its source and the tracker. Nodes on
/// different loops meet only through the kernel's loopback TCP. Each loop has its own signature
/// memo (a chunk is checked in full once per loop, not once per process: no lock on the hot
/// path), its own schedule (the joins, leaves and kills of its nodes; loop 0: the origin and the
/// planned events) and its own sampler.
struct loop_shard {
  loop_shard(std::uint32_t i, const chunk::ed25519_public_key& key)
      : index(i), memo(key, k_stream, k_rendition), action_timer(io), sample_timer(io), end_timer(io) {}

  std::uint32_t index;
  asio::io_context io{1};  // first: destroyed after the timers below (and the runner's nodes)
  verify_memo memo;
  std::vector<std::uint32_t> nodes;  // plan indices this loop runs
  std::vector<action> actions;
  std::size_t next_action = 0;
  asio::steady_timer action_timer, sample_timer, end_timer;
  std::chrono::steady_clock::time_point next_sample;
  core::time_point next_progress{};
  double progress_cpu = 0;
  report::histogram lateness;  // how late the 100 ms sampler fired, ms: the loop's own lag
  report::histogram lateness_window;  // the same since the last progress line (the log's)
  std::vector<std::shared_ptr<net::link_shaper>> shapers;
  std::vector<shared_feed::item> batch;
  std::atomic<std::size_t> connections{0};  // swarm sessions at the last sampling pass
  double cpu_s = 0, wall_s = 0;             // the loop thread's CPU and run time
};

class runner {
 public:
  runner(const scenario::scenario& s, const scenario::plan& p, report::collector& c, std::size_t threads,
         double dilation)
      : s_(s),
        p_(p),
        feed_(c),
        start_(c.settings().start),
        clock_(start_, dilation),
        t0_(start_ + k_origin_lead),
        end_(t0_ + p.duration),
        signer_(chunk::signer::generate()),
        shards_(make_shards(threads, p.nodes.size(), signer_.public_key())),
        io_(shards_[0]->io),
        streams_(stream_settings()),
        tracker_(tracker_settings()),
        tracker_streams_(media::stream_settings{}),
        announce_timer_(io_) {
    nodes_.resize(p_.nodes.size());
    std::mt19937_64 rng(splitmix64(s_.seed ^ 0x6c6162ULL));  // "lab"
    for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
      for (auto& b : nodes_[i].id) b = static_cast<std::uint8_t>(rng());
      ids_[nodes_[i].id] = i;
    }
    shaped_ = p_.loss > 0 || std::any_of(p_.region_matrix.begin(), p_.region_matrix.end(),
                                         [](core::micros d) { return d.count() > 0; });
    for (const auto& n : p_.nodes) {
      shaped_ = shaped_ || n.upload_bps > 0 || n.download_bps > 0 || n.access_delay.count() > 0;
    }
  }

  core::result<report::run_result> run(in_process_figures* figures) {
    if (auto v = validate(); !v) return v.error();
    // A connection is two descriptors here, one per end, and each node has at most
    // max_neighbours of them (plus its listener and a few dials and tracker requests).
    fd_limit_ = raise_fd_limit(p_.nodes.size() * (s_.swarm.max_neighbours + 2) + 256);
    if (auto t = start_tracker(); !t) return t.error();
    schedule();

    const double proc0 = thread_cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    const auto wall0 = std::chrono::steady_clock::now();
    // Loop 0 runs on this thread, the others on threads of their own; all are armed before any
    // runs. Each loop stops itself at the end (or every loop is stopped on a setup failure).
    for (auto& sh : shards_) {
      sh->next_sample = std::chrono::steady_clock::now();
      arm_sampler(*sh);
      arm_actions(*sh);
      sh->end_timer.expires_after(clock_.to_wall(std::max(end_ - clock_.now(), core::micros{0})));
      sh->end_timer.async_wait([this, &shard = *sh](boost::system::error_code ec) {
        if (!ec) finish_loop(shard);
      });
    }
    std::vector<std::thread> threads;
    for (std::size_t k = 1; k < shards_.size(); ++k) threads.emplace_back([this, k] { run_loop(*shards_[k]); });
    run_loop(*shards_[0]);
    for (auto& t : threads) t.join();
    if (!setup_error_ && finished_) {
      for (const auto& sh : shards_) {
        for (const auto& shaper : sh->shapers) retransmissions_ += shaper->stats().losses;
      }
      result_ = feed_.finish(run_clock(end_));
    }

    if (figures) {
      figures->wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
      figures->process_cpu_s = thread_cpu_s(CLOCK_PROCESS_CPUTIME_ID) - proc0;
      figures->loops.clear();
      figures->loop_cpu_s = 0;
      for (const auto& sh : shards_) {
        loop_figures l;
        l.nodes = sh->nodes.size();
        l.cpu_s = sh->cpu_s;
        l.wall_s = sh->wall_s;
        l.late_p50_ms = sh->lateness.quantile(0.5);
        l.late_p99_ms = sh->lateness.quantile(0.99);
        l.late_max_ms = sh->lateness.max();
        figures->loops.push_back(l);
        figures->loop_cpu_s += l.cpu_s;
        figures->ed25519_checks += sh->memo.stats().ed25519_checks;
        figures->memo_hits += sh->memo.stats().memo_hits;
      }
      const auto worst = std::max_element(figures->loops.begin(), figures->loops.end(),
                                          [](const loop_figures& a, const loop_figures& b) {
                                            return a.late_p99_ms < b.late_p99_ms;
                                          });
      figures->late_p50_ms = worst->late_p50_ms;
      figures->late_p99_ms = worst->late_p99_ms;
      figures->late_max_ms = worst->late_max_ms;
      figures->peak_connections = peak_connections_;
      figures->retransmissions = retransmissions_;
      figures->fd_limit = fd_limit_;
      figures->stream_kbps = stream_kbps_;
      figures->dilation = clock_.factor();
    }
    if (setup_error_) return *setup_error_;
    if (!result_) return core::make_error(lab_errc::node_failed, "lab: the run ended before its end time");
    return std::move(*result_);
  }

 private:
  // --- setup ---------------------------------------------------------------------------------

  static std::vector<std::unique_ptr<loop_shard>> make_shards(std::size_t threads, std::size_t nodes,
                                                              const chunk::ed25519_public_key& key) {
    // No more loops than peers (plus loop 0): an idle loop would only cost a thread.
    const std::size_t n = std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(nodes, 2) - 1);
    std::vector<std::unique_ptr<loop_shard>> out;
    for (std::size_t k = 0; k < n; ++k) out.push_back(std::make_unique<loop_shard>(static_cast<std::uint32_t>(k), key));
    return out;
  }

  /// The loop node i runs on: the origin on loop 0, peers round-robin over all loops.
  [[nodiscard]] loop_shard& shard_of(std::uint32_t i) const {
    return *shards_[i == 0 ? 0 : (i - 1) % shards_.size()];
  }

  void run_loop(loop_shard& sh) {
    const double cpu0 = thread_cpu_s(CLOCK_THREAD_CPUTIME_ID);
    const auto wall0 = std::chrono::steady_clock::now();
    sh.progress_cpu = cpu0;
    sh.io.run();
    sh.cpu_s = thread_cpu_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    sh.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  }

  core::result<void> validate() const {
    const auto fail = [](std::string m) { return core::make_error(lab_errc::unsupported, "lab: " + std::move(m)); };
    if (p_.nodes.empty() || p_.nodes[0].kind != node_kind::origin) return fail("the plan has no origin at index 0");
    for (std::size_t i = 1; i < p_.nodes.size(); ++i) {
      if (p_.nodes[i].kind != node_kind::peer) return fail("only one origin and peers are supported (no edges yet)");
    }
    const std::string& m = s_.swarm.mode;
    if (m != "push-pull" && m != "push" && m != "pull") {
      return fail("swarm mode '" + m + "': expected push-pull, push or pull");
    }
    if (s_.source.kind != "test" && s_.source.kind != "file") {
      return fail("source kind '" + s_.source.kind + "': expected test or file");
    }
    return core::ok();
  }

  media::stream_settings stream_settings() {
    media::stream_settings ss;
    ss.window = std::chrono::seconds{30};
    ss.packaging.chunk_duration = std::chrono::milliseconds{std::max<std::uint32_t>(s_.source.chunk_ms, 1)};
    ss.finish = [this](const media::live_stream& st, const media::rendition& r, chunk::chunk_ptr c) {
      return signer_.sign(st.name(), r.info().name, c);
    };
    return ss;
  }

  tracker::service_settings tracker_settings() const {
    tracker::service_settings t;
    t.registry.interval = core::micros{static_cast<std::int64_t>(std::max(1.0, s_.tracker_interval_s) * 1e6)};
    t.registry.max_nodes_per_stream = p_.nodes.size() + 1;
    t.policy.seed = s_.seed;
    t.policy.default_stream_kbps = s_.source.bitrate_kbps;
    return t;
  }

  core::result<void> start_tracker() {
    net::http_settings hs;
    hs.endpoint = tracker_ep_;
    auto server = std::make_unique<net::http_server>(io_, tracker_streams_, hs);
    net::add_tracker_routes(*server, tracker_, clock_);
    if (auto r = server->start(); !r) return core::make_error(lab_errc::setup, "lab: tracker: " + r.error().message);
    tracker_ep_ = server->local_endpoint();
    // Set once, before the loops run: peers on every loop read it (a restart keeps the port).
    if (tracker_url_.empty()) tracker_url_ = "http://127.0.0.1:" + std::to_string(tracker_ep_.port());
    tracker_servers_.push_back(std::move(server));
    tracker_up_ = true;
    return core::ok();
  }

  /// Each node's joins, leaves and kills go to the loop that runs it; planned events (tracker
  /// stop/start) to loop 0, which has the tracker.
  void schedule() {
    const auto at = [this](core::micros d) { return t0_ + d; };
    for (std::uint32_t i = 0; i < p_.nodes.size(); ++i) {
      const auto& n = p_.nodes[i];
      if (at(n.join_at) > end_) continue;
      loop_shard& sh = shard_of(i);
      sh.nodes.push_back(i);
      sh.actions.push_back({i == 0 ? at(n.join_at) - k_origin_lead : at(n.join_at), action::kind::join, i});
      if (n.leave_at && at(*n.leave_at) <= end_) {
        sh.actions.push_back(
            {at(std::max(*n.leave_at, n.join_at)), n.killed ? action::kind::kill : action::kind::leave, i});
      }
    }
    for (std::uint32_t k = 0; k < p_.events.size(); ++k) {
      if (at(p_.events[k].at) <= end_) shards_[0]->actions.push_back({at(p_.events[k].at), action::kind::event, k});
    }
    // Joins before leaves at the same instant, the origin first of all (it registers the stream).
    for (auto& sh : shards_) {
      std::stable_sort(sh->actions.begin(), sh->actions.end(),
                       [](const action& a, const action& b) { return a.at < b.at; });
    }
  }

  // --- nodes ---------------------------------------------------------------------------------

  swarm::node_settings node_settings(std::uint32_t i) const {
    swarm::node_settings ns = sim::node_settings_for(s_, p_.nodes[i]);  // the simulator's nodes exactly
    ns.id = nodes_[i].id;
    ns.stream = k_stream;
    ns.rendition = k_rendition;
    ns.max_arrival_records = k_arrival_records;
    return ns;
  }

  /// Builds node i's swarm node and transport and starts listening.
  core::result<void> make_node(std::uint32_t i) {
    lab_node& n = nodes_[i];
    const scenario::planned_node& pn = p_.nodes[i];
    const swarm::node_settings ns = node_settings(i);
    loop_shard& sh = shard_of(i);
    n.node = std::make_unique<swarm::node>(ns, *n.log, sh.memo.as_verifier());
    ps::hello hello;
    hello.stream = k_stream;
    hello.rendition = k_rendition;
    hello.id = n.id;
    hello.role = ns.role;
    hello.upload_kbps = ns.upload_kbps;
    hello.origin_key = signer_.public_key();
    net::swarm_transport_settings ts;
    ts.listen = tcp::endpoint(asio::ip::address_v4::loopback(), 0);
    ts.max_connections = std::max<std::size_t>(256, ns.max_neighbours + 16);
    ts.clock = clock_;
    if (shaped_) {
      net::link_shaper_settings ls;
      ls.upload_bps = pn.upload_bps;
      ls.download_bps = pn.download_bps;
      ls.loss = p_.loss;
      ls.seed = splitmix64(s_.seed * 0x9e3779b97f4a7c15ULL + i);
      ts.shaper = std::make_shared<net::link_shaper>(ls);
      ts.link_delay = [this, i](const ps::hello& h) {
        const auto it = ids_.find(h.id);
        return it == ids_.end() ? core::micros{0} : p_.one_way(i, it->second);
      };
      sh.shapers.push_back(ts.shaper);
    }
    n.transport = std::make_unique<net::swarm_transport>(sh.io, *n.node, hello, ts);
    n.transport->set_is_origin(ns.role == ps::node_role::origin);
    n.transport->set_neighbour_observer([this, i](swarm::neighbour_id id, const ps::hello& h) {
      if (const auto it = ids_.find(h.id); it != ids_.end()) nodes_[i].from[id] = it->second;
    });
    if (auto r = n.transport->start(); !r) return r.error().with_context(p_.name_of(i));
    n.st = lab_node::state::live;
    feed_.join(i, run_clock(clock_.now()));
    return core::ok();
  }

  void start_origin() {
    lab_node& n = nodes_[0];
    media::live_stream& stream = streams_.get_or_create(k_stream);
    media::rendition& r = stream.source();  // the packager fills this rendition's log
    n.log = &r.log();
    if (auto made = make_node(0); !made) {
      fail_setup(made.error());
      return;
    }
    n.log->subscribe([this](const chunk::chunk_ptr& c) {
      lab_node& o = nodes_[0];
      if (produced_bytes_ == 0) first_source_ = c->header().source_time;
      produced_bytes_ += c->size();
      last_source_ = c->header().source_time + c->header().duration;
      feed_.produced(c->seq().value(), run_clock(c->header().source_time), c->header().keyframe(), c->size());
      if (o.st != lab_node::state::live) return;
      o.node->on_local_chunk(c, clock_.now());
      o.transport->poke();
    });
    auto src = make_source();
    if (!src) {
      fail_setup(src.error());
      return;
    }
    source_ = std::make_unique<lab_source>(io_, stream, clock_);
    source_->start(std::move(*src));
    announce_origin();
  }

  core::result<std::unique_ptr<media::source>> make_source() const {
    const auto& src = s_.source;
    if (src.kind == "file") {
      auto made = media::make_source("file:" + src.path + ":loop", clock_.factor());
      if (!made) return made.error().with_context("lab: source");
      return std::move(*made);
    }
    media::test_source_settings ts;
    ts.width = static_cast<int>(src.width);
    ts.height = static_cast<int>(src.height);
    ts.fps = static_cast<int>(src.fps);
    ts.kbps = test_video_kbps(src.bitrate_kbps);
    ts.gop_ms = static_cast<int>(src.gop_ms);
    ts.paced = true;
    ts.pace = clock_.factor();
    ts.x264_preset = "ultrafast";  // 6 % of a core at 640x360@25 against veryfast's 11 % (docs/lab.md)
    return std::unique_ptr<media::source>(std::make_unique<media::test_source>(ts));
  }

  /// The origin registers itself with the tracker directly, every second (as an origin does
  /// with its embedded tracker), while the tracker is up.
  void announce_origin() {
    lab_node& o = nodes_[0];
    if (o.st != lab_node::state::live) return;
    if (tracker_up_) {
      pt::announce_request a;
      a.id = o.id;
      a.stream = k_stream;
      a.role = ps::node_role::origin;
      a.host = "127.0.0.1";
      a.port = o.transport->local_endpoint().port();
      a.upload_kbps = kbps_of(p_.nodes[0].upload_bps);
      a.stream_kbps = s_.source.bitrate_kbps;
      a.public_key = chunk::to_hex(signer_.public_key());
      tracker_.set_public_key(k_stream, a.public_key);
      if (auto res = tracker_.announce(a, tracker::request_context{"127.0.0.1", {}}, clock_.now()); !res) {
        spdlog::warn("lab: the tracker refused the origin: {}", res.error().message);
      }
    }
    announce_timer_.expires_after(clock_.to_wall(core::micros{1'000'000}));
    announce_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) announce_origin();
    });
  }

  void join_peer(std::uint32_t i) {
    lab_node& n = nodes_[i];
    n.own_log = std::make_unique<chunk::chunk_log>(k_peer_window);
    n.log = n.own_log.get();
    if (auto made = make_node(i); !made) {
      spdlog::error("lab: {}", made.error().message);
      n.st = lab_node::state::gone;
      return;
    }
    net::tracker_client_settings ts;
    ts.url = tracker_url_;
    ts.clock = clock_;
    pt::announce_request& a = ts.client.node;
    a.id = n.id;
    a.stream = k_stream;
    a.rendition = k_rendition;
    a.role = ps::node_role::peer;
    a.host = "127.0.0.1";
    a.port = n.transport->local_endpoint().port();
    a.upload_kbps = kbps_of(p_.nodes[i].upload_bps);
    const auto region = p_.nodes[i].region;
    if (region < p_.region_names.size()) a.region = p_.region_names[region];
    ts.client.seed = splitmix64(s_.seed * 31 + i);
    n.tracker = std::make_unique<net::tracker_client>(
        shard_of(i).io, ts, [this, i](const pt::announce_response& r) { on_candidates(i, r); },
        [this, i](const core::error& e) { spdlog::debug("lab: {}: tracker: {}", p_.name_of(i), e.message); });
    if (auto r = n.tracker->start(); !r) spdlog::error("lab: {}: {}", p_.name_of(i), r.error().message);
  }

  void on_candidates(std::uint32_t i, const pt::announce_response& r) {
    lab_node& n = nodes_[i];
    if (n.st != lab_node::state::live) return;
    std::vector<ps::peer_address> addresses;
    addresses.reserve(r.candidates.size());
    for (const auto& c : r.candidates) addresses.push_back(c.address);
    n.node->on_candidates(addresses, clock_.now());
    n.transport->poke();
  }

  /// Graceful: a leave to the tracker, close frames to every neighbour.
  void leave(std::uint32_t i) { depart(i, true); }
  /// Killed: sockets closed at once, no goodbye, no tracker leave.
  void kill(std::uint32_t i) { depart(i, false); }

  void depart(std::uint32_t i, bool graceful) {
    lab_node& n = nodes_[i];
    if (n.st != lab_node::state::live) return;
    const auto now = clock_.now();
    loop_shard& sh = shard_of(i);
    sample(sh, i, now);
    feed_.flush(sh.batch);
    if (graceful) {
      if (n.tracker) n.tracker->stop();
      n.transport->stop();
    } else {
      n.tracker.reset();  // destroying a tracker client sends no leave
      n.transport->abort();
    }
    n.st = lab_node::state::gone;
    feed_.left(i, run_clock(now));
    if (i == 0) stop_source();
  }

  void stop_source() {
    if (source_) source_->stop();
    announce_timer_.cancel();
  }

  void on_planned_event(const scenario::planned_event& e) {
    const auto now = clock_.now();
    feed_.event(run_clock(now), e.label);
    if (e.k == scenario::planned_event::kind::tracker_stop && tracker_up_) {
      tracker_servers_.back()->stop();  // kept until the end: its coroutines may still run
      tracker_up_ = false;
      spdlog::info("lab: tracker stopped");
    } else if (e.k == scenario::planned_event::kind::tracker_start && !tracker_up_) {
      if (auto r = start_tracker(); !r) {
        spdlog::error("{}", r.error().message);
      } else {
        spdlog::info("lab: tracker back on port {}", tracker_ep_.port());
      }
    }
  }

  // --- the clock -----------------------------------------------------------------------------

  void arm_actions(loop_shard& sh) {
    if (sh.next_action >= sh.actions.size()) return;
    sh.action_timer.expires_after(clock_.to_wall(std::max(sh.actions[sh.next_action].at - clock_.now(), core::micros{0})));
    sh.action_timer.async_wait([this, &sh](boost::system::error_code ec) {
      if (ec) return;
      while (sh.next_action < sh.actions.size() && sh.actions[sh.next_action].at <= clock_.now()) {
        const action a = sh.actions[sh.next_action++];
        switch (a.k) {
          case action::kind::join:
            if (a.index == 0) {
              start_origin();
            } else {
              join_peer(a.index);
            }
            break;
          case action::kind::leave:
            leave(a.index);
            break;
          case action::kind::kill:
            kill(a.index);
            break;
          case action::kind::event:
            on_planned_event(p_.events[a.index]);
            break;
        }
        if (sh.index == 0 && setup_error_) return;
      }
      arm_actions(sh);
    });
  }

  void arm_sampler(loop_shard& sh) {
    sh.next_sample += clock_.to_wall(k_sample_interval);
    const auto steady = std::chrono::steady_clock::now();
    if (sh.next_sample < steady) sh.next_sample = steady;  // far behind: skip ticks, do not bunch them
    sh.sample_timer.expires_at(sh.next_sample);
    sh.sample_timer.async_wait([this, &sh](boost::system::error_code ec) {
      if (ec) return;
      // In the nodes' time: a dilated run's timers are that much less late to its swarm.
      const double late = clock_.from_wall_ms(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sh.next_sample).count());
      sh.lateness.add(late);
      sh.lateness_window.add(late);
      sample_all(sh);
      arm_sampler(sh);
    });
  }

  void sample_all(loop_shard& sh) {
    const auto now = clock_.now();
    std::size_t connections = 0, live = 0;
    for (const std::uint32_t i : sh.nodes) {
      if (nodes_[i].st != lab_node::state::live) continue;
      connections += sample(sh, i, now);
      ++live;
    }
    feed_.flush(sh.batch);
    sh.connections.store(connections, std::memory_order_relaxed);
    if (sh.index == 0) {  // sessions of the whole run, as the loops last counted them
      std::size_t all = 0;
      for (const auto& other : shards_) all += other->connections.load(std::memory_order_relaxed);
      peak_connections_ = std::max(peak_connections_, all);
    }
    if (now >= sh.next_progress) {
      if (sh.next_progress != core::time_point{}) {
        const double cpu = thread_cpu_s(CLOCK_THREAD_CPUTIME_ID);
        spdlog::info(
            "lab: t = {:.0f} s: loop {}/{}: {} nodes live, {} swarm sessions, loop {:.0f} % busy, timers late p99 "
            "{:.1f} ms ({:.1f} ms in the last {:.0f} s)",
            static_cast<double>((now - t0_).count()) / 1e6, sh.index, shards_.size(), live, connections,
            100 * (cpu - sh.progress_cpu) / (static_cast<double>(clock_.to_wall(k_progress_interval).count()) / 1e6),
            sh.lateness.quantile(0.99), sh.lateness_window.quantile(0.99),
            static_cast<double>(k_progress_interval.count()) / 1e6);
        sh.progress_cpu = cpu;
      }
      sh.lateness_window = report::histogram{};
      sh.next_progress = now + k_progress_interval;
    }
  }

  /// Drains node i's observations into its loop's batch. Arrival records carry their own time,
  /// so draining every 100 ms loses nothing. Returns its open sessions.
  std::size_t sample(loop_shard& sh, std::uint32_t i, core::time_point now) {
    using item = shared_feed::item;
    lab_node& n = nodes_[i];
    if (!n.join_point_reported) {
      if (const auto jp = n.node->join_point()) {
        sh.batch.push_back({.k = item::kind::join_point, .node = i, .seq = jp->value()});
        n.join_point_reported = true;
      }
    }
    while (const auto a = n.node->poll_arrival()) {
      std::uint32_t from = report::k_no_node;
      if (const auto it = n.from.find(a->from); it != n.from.end()) from = it->second;
      sh.batch.push_back({.k = item::kind::arrival,
                          .pushed = a->pushed,
                          .node = i,
                          .from = from,
                          .seq = a->seq.value(),
                          .t1 = run_clock(a->source_time),
                          .t2 = run_clock(a->arrival)});
    }
    // What its announces tell the tracker (load, open slots, starving), refreshed every second,
    // and an announce now when the node, starving, wants fresh candidates.
    if (n.tracker) {
      const bool wanted = n.node->take_candidates_wanted();
      if (wanted || now >= n.next_stats) {
        n.tracker->set_stats(sim::announce_stats(*n.node, now));
        n.next_stats = now + k_stats_interval;
      }
      if (wanted) n.tracker->announce_soon();
    }
    const std::uint64_t dup = n.node->stats().duplicate_bytes;
    if (dup > n.dup_bytes) sh.batch.push_back({.k = item::kind::duplicate, .node = i, .a = dup - n.dup_bytes});
    n.dup_bytes = dup;
    const net::swarm_transport_stats t = n.transport->stats();
    if (t.bytes_out > n.wire_out || t.payload_out > n.payload_out) {
      sh.batch.push_back({.k = item::kind::sent,
                          .node = i,
                          .t1 = run_clock(now),
                          .a = t.bytes_out - n.wire_out,
                          .b = t.payload_out - n.payload_out});
      n.wire_out = t.bytes_out;
      n.payload_out = t.payload_out;
    }
    return t.connections;
  }

  /// At the end time, on each loop: the last observations of its nodes, then the loop stops.
  /// Loop 0 also stops the source and the tracker. The collector is finished once every loop
  /// has stopped (run()).
  void finish_loop(loop_shard& sh) {
    const auto now = clock_.now();
    for (const std::uint32_t i : sh.nodes) {
      if (nodes_[i].st == lab_node::state::live) sample(sh, i, now);
    }
    feed_.flush(sh.batch);
    if (sh.index == 0) {
      if (last_source_ > first_source_) {
        stream_kbps_ = static_cast<double>(produced_bytes_) * 8 /
                       static_cast<double>((last_source_ - first_source_).count()) * 1000;
        const double nominal = s_.source.bitrate_kbps;
        if (std::abs(stream_kbps_ - nominal) > 0.15 * nominal) {
          spdlog::warn(
              "lab: the stream ran at {:.0f} kb/s, the scenario says {:.0f} kb/s: capacities given as multiples "
              "of the stream rate are off by that much",
              stream_kbps_, nominal);
        }
      }
      finished_ = true;
      if (source_) source_->stop();
      announce_timer_.cancel();
      for (auto& s : tracker_servers_) s->stop();
    }
    stop_loop(sh);
  }

  void fail_setup(core::error e) {
    setup_error_ = core::make_error(lab_errc::setup, e.message);
    if (source_) source_->stop();
    announce_timer_.cancel();
    for (auto& s : tracker_servers_) s->stop();
    for (auto& sh : shards_) sh->io.stop();  // thread-safe; each loop's objects stay put until the end
  }

  /// Stops one loop (on its own thread). Nodes are destroyed with the runner, after every loop
  /// stopped, never while their transports' coroutines may still call them.
  static void stop_loop(loop_shard& sh) {
    sh.action_timer.cancel();
    sh.sample_timer.cancel();
    sh.end_timer.cancel();
    sh.io.stop();
  }

  /// The collector's clock: the wall clock less the origin's lead, so the plan's t = 0 (which
  /// the run keeps k_origin_lead after the collector's start) is the collector's start.
  [[nodiscard]] static core::time_point run_clock(core::time_point wall) { return wall - k_origin_lead; }

  const scenario::scenario& s_;
  const scenario::plan& p_;
  shared_feed feed_;
  core::time_point start_;  // the collector's t = 0, wall clock: the origin starts here
  core::dilated_clock clock_;  // the nodes' time: the wall clock, dilated from start_ on
  core::time_point t0_;     // the plan's t = 0, wall clock: start_ + k_origin_lead
  core::time_point end_;    // t0_ + the plan's duration
  chunk::signer signer_;
  // The loops first: destroyed last, after every object that holds timers or sockets on them.
  std::vector<std::unique_ptr<loop_shard>> shards_;
  asio::io_context& io_;  // loop 0: origin, source, tracker
  media::stream_registry streams_;  // the origin's stream
  tracker::service tracker_;
  media::stream_registry tracker_streams_;  // empty: the tracker's server serves no media
  std::vector<std::unique_ptr<net::http_server>> tracker_servers_;  // the last one is current
  tcp::endpoint tracker_ep_{asio::ip::address_v4::loopback(), 0};
  std::string tracker_url_;
  bool tracker_up_ = false;
  std::vector<lab_node> nodes_;
  std::unordered_map<ps::node_id, std::uint32_t, node_id_hash> ids_;  // read-only once built
  bool shaped_ = false;
  // Loop 0 only.
  std::unique_ptr<lab_source> source_;
  std::uint64_t produced_bytes_ = 0;
  core::time_point first_source_{}, last_source_{};
  double stream_kbps_ = 0;
  asio::steady_timer announce_timer_;
  bool finished_ = false;  // loop 0 reached the end time
  std::size_t peak_connections_ = 0;
  std::uint64_t retransmissions_ = 0;
  std::size_t fd_limit_ = 0;
  std::optional<core::error> setup_error_;
  std::optional<report::run_result> result_;
};

}  // namespace

core::result<report::run_result> run_in_process(const scenario::scenario& s, const scenario::plan& p,
                                                report::collector& c, const lab_settings& settings,
                                                in_process_figures* figures) {
  // The in-process mode has no per-node processes, binaries or work files: only the loops.
  std::size_t threads = settings.threads;
  if (threads == 0) threads = std::max(1U, std::thread::hardware_concurrency());
  auto r = std::make_unique<runner>(s, p, c, threads, settings.dilation);
  auto result = r->run(figures);
  r.reset();  // nodes, then loops
  if (figures) {
    spdlog::info(
        "lab: {} nodes in one process on {} loops: loop CPU {:.1f} s of {:.1f} s, process CPU {:.1f} s; {} swarm "
        "sessions at peak; {} Ed25519 checks, {} memo hits",
        p.nodes.size(), figures->loops.size(), figures->loop_cpu_s, figures->wall_s, figures->process_cpu_s,
        figures->peak_connections, figures->ed25519_checks, figures->memo_hits);
    for (std::size_t k = 0; k < figures->loops.size(); ++k) {
      const loop_figures& l = figures->loops[k];
      spdlog::info("lab: loop {}: {} nodes, {:.0f} % busy, timers late p50 {:.1f} ms, p99 {:.1f} ms, max {:.0f} ms{}",
                   k, l.nodes, 100 * l.cpu_s / std::max(l.wall_s, 1e-9), l.late_p50_ms, l.late_p99_ms,
                   l.late_max_ms, l.saturated() ? ": SATURATED, the lab limited this run" : "");
    }
  }
  return result;
}

std::vector<std::string> loop_summary(const in_process_figures& f) {
  if (f.loops.empty()) return {};
  std::string line = fmt::format("lab loops      {} event loop{} (threads), CPU {:.0f} s of {:.0f} s wall{}:",
                                 f.loops.size(), f.loops.size() == 1 ? "" : "s", f.loop_cpu_s, f.wall_s,
                                 f.dilation != 1 ? fmt::format(" (time dilated {:g}x: timers' lateness in the nodes' time)", f.dilation) : "");
  std::string verdict;
  for (std::size_t k = 0; k < f.loops.size(); ++k) {
    const loop_figures& l = f.loops[k];
    line += fmt::format("{} loop {} {} nodes {:.0f} % busy, timers late p50 {:.1f} / p99 {:.1f} ms", k == 0 ? "" : ";",
                        k, l.nodes, 100 * l.cpu_s / std::max(l.wall_s, 1e-9), l.late_p50_ms, l.late_p99_ms);
    if (l.saturated() && verdict.empty()) {
      const double busy = 100 * l.cpu_s / std::max(l.wall_s, 1e-9);
      verdict = fmt::format(
          "lab saturated  loop {}'s timers were {:.0f} ms late (p99 >= 20 ms): the lab, not the swarm, limited this "
          "run: {}",
          k, l.late_p99_ms,
          busy >= 80 ? "the loop was busy (fewer peers, more --threads on more free cores, or a larger --dilation)"
                     : "the loop waited for a core (other threads or processes on this machine)");
    }
  }
  if (verdict.empty()) verdict = "lab on time    every loop's timers p99 < 20 ms late: the figures are the swarm's";
  return {line, verdict};
}

core::result<report::run_result> run_in_process(const scenario::scenario& s, const scenario::plan& p,
                                                report::collector& c, const lab_settings& settings) {
  in_process_figures figures;
  return run_in_process(s, p, c, settings, &figures);
}

}  // namespace meshcast::lab
