// run_netns: a scenario's plan as one `meshcast` process per node, each in its own network
// namespace, joined by the lab's user-space wire (lab/sansio/netns_wire.hpp) through one TUN device per
// namespace. The pure parts (names, addresses, command lines, what is refused) are in
// lab/netns_topology.hpp; feeding the collector from the nodes' records in lab/netns_feed.hpp.
// Runs on the calling thread, which must stay the same for the whole run (the nodes die with it:
// PR_SET_PDEATHSIG). Everything it creates — namespaces, TUN devices, processes — is removed when
// it returns, on error, and on SIGINT/SIGTERM (caught for the duration of the run). docs/lab.md.
#include <dirent.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "lab/lab.hpp"
#include "lab/netns_feed.hpp"
#include "lab/netns_topology.hpp"
#include "lab/sansio/netns_wire.hpp"
#include "lab/sansio/record.hpp"

extern char** environ;

namespace meshcast::lab {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view k_netns_dir = "/var/run/netns";
/// The origin starts this long before t = 0, so that the stream is live when the first peers
/// join (a real origin is on air before its audience arrives; its encoder takes ~1 s to start).
constexpr core::micros k_origin_head_start = 2s;
/// A node asked to leave (SIGTERM) gets this long to say goodbye to the tracker, then SIGKILL.
constexpr core::micros k_leave_grace = 5s;
constexpr core::micros k_housekeeping = 100ms;  ///< reap children, check for the end
constexpr core::micros k_progress = 10s;        ///< a progress line

core::error setup_error(std::string what) { return core::make_error(lab_errc::setup, "netns lab: " + std::move(what)); }
std::string errno_text() { return std::strerror(errno); }
std::int64_t wall_us() { return core::to_us(core::system_clock{}.now()); }

std::string joined(const command_line& c) {
  std::string s;
  for (const auto& a : c) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::vector<char*> c_argv(const command_line& c) {
  std::vector<char*> v;
  for (const auto& a : c) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

/// Runs a short command (argv[0] from PATH) to completion; its standard error goes in the error.
core::result<void> run_command(const command_line& argv) {
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return setup_error("pipe: " + errno_text());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  auto args = c_argv(argv);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(err_pipe[1]);
  std::string err;
  if (rc == 0) {
    std::array<char, 4096> buf{};
    for (;;) {
      const auto n = ::read(err_pipe[0], buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (err.size() < 4096) err.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  ::close(err_pipe[0]);
  if (rc != 0) return setup_error("cannot run '" + joined(argv) + "': " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return core::ok();
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  return setup_error("'" + joined(argv) + "' failed: " + (err.empty() ? "exit status " + std::to_string(status) : err));
}

/// Opens a TUN device named tun0 inside namespace `ns` (this thread enters it and comes back).
core::result<int> open_tun_in(const std::string& ns) {
  const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return setup_error("cannot open our own network namespace: " + errno_text());
  const int target = ::open((std::string(k_netns_dir) + "/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    ::close(self);
    return setup_error("cannot open namespace " + ns + ": " + errno_text());
  }
  if (::setns(target, CLONE_NEWNET) != 0) {
    const auto e = errno_text();
    ::close(self);
    ::close(target);
    return setup_error("setns " + ns + ": " + e);
  }
  std::string err;
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    err = "cannot open /dev/net/tun: " + errno_text();
  } else {
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, k_netns_tun.data(), k_netns_tun.size());
    if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
      err = "TUNSETIFF in " + ns + ": " + errno_text();
      ::close(fd);
      fd = -1;
    }
  }
  const bool back = ::setns(self, CLONE_NEWNET) == 0;
  ::close(self);
  ::close(target);
  // Staying in a node's namespace would put every later command and process in it.
  if (!back) {
    if (fd >= 0) ::close(fd);
    return setup_error("cannot return to the lab's own network namespace: " + errno_text());
  }
  if (fd < 0) return setup_error(err);
  return fd;
}

std::vector<std::string> list_namespaces() {
  std::vector<std::string> out;
  DIR* d = ::opendir(std::string(k_netns_dir).c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') out.emplace_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

/// The last line of a node's log, for messages about it.
std::string last_log_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last.substr(0, 300);
}

// SIGINT/SIGTERM while the run lasts: noted, and the loop woken through an eventfd.
volatile std::sig_atomic_t g_signal = 0;
int g_wake_fd = -1;
void on_stop_signal(int sig) {
  g_signal = sig;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(g_wake_fd, &one, sizeof one);
}

struct node_proc {
  pid_t pid = 0;  // 0: not started
  bool running = false;
  bool stop_requested = false;                         // we signalled it (a planned leave, a kill, or the end)
  std::int64_t term_deadline = 0;                      // steady µs: SIGKILL if still alive
  std::optional<std::int64_t> started_us, stopped_us;  // wall clock
};

/// Everything the run created; the destructor removes it all, whatever happened.
class netns_run {
 public:
  explicit netns_run(netns_layout l) : layout(std::move(l)) {}
  netns_run(const netns_run&) = delete;
  netns_run& operator=(const netns_run&) = delete;
  ~netns_run() { cleanup(); }

  void cleanup() {
    for (auto& p : procs) {
      if (p.running) ::kill(p.pid, SIGKILL);
    }
    for (auto& p : procs) {
      if (!p.running) continue;
      while (::waitpid(p.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      p.running = false;
    }
    for (int& fd : tuns) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    for (const auto& ns : namespaces) {
      if (auto r = run_command(namespace_teardown_command(ns)); !r) spdlog::warn("{}", r.error().message);
    }
    namespaces.clear();
    if (signals_installed) {
      ::sigaction(SIGINT, &old_int, nullptr);
      ::sigaction(SIGTERM, &old_term, nullptr);
      signals_installed = false;
      g_wake_fd = -1;
    }
    for (int* fd : {&epoll_fd, &timer_fd, &wake_fd}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  core::result<void> install_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    g_signal = 0;
    g_wake_fd = wake_fd;
    if (::sigaction(SIGINT, &sa, &old_int) != 0 || ::sigaction(SIGTERM, &sa, &old_term) != 0) {
      return setup_error("sigaction: " + errno_text());
    }
    signals_installed = true;
    return core::ok();
  }

  netns_layout layout;
  std::vector<std::string> namespaces;
  std::vector<int> tuns;
  std::vector<node_proc> procs;
  int epoll_fd = -1, timer_fd = -1, wake_fd = -1;
  bool signals_installed = false;
  struct sigaction old_int {};
  struct sigaction old_term {};
};

/// Starts node `i`'s process in its namespace, output to its log. The child enters the namespace
/// itself (setns) and dies with the lab thread (PR_SET_PDEATHSIG).
core::result<pid_t> spawn_node(const command_line& argv, const std::string& ns, const std::string& log) {
  const int ns_fd = ::open((std::string(k_netns_dir) + "/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const auto close_all = [&] {
    for (int fd : {ns_fd, log_fd, null_fd}) {
      if (fd >= 0) ::close(fd);
    }
  };
  if (ns_fd < 0 || log_fd < 0 || null_fd < 0) {
    const auto e = errno_text();
    close_all();
    return setup_error("cannot start " + ns + ": " + e);
  }
  auto args = c_argv(argv);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The child: async-signal-safe calls only, then exec.
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(126);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  const auto e = errno_text();
  close_all();
  if (pid < 0) return setup_error("fork: " + e);
  return pid;
}

core::result<void> preflight(const lab_settings& settings, std::string& binary) {
  if (::geteuid() != 0) {
    return core::make_error(lab_errc::unsupported,
                            "netns lab: needs root (network namespaces, TUN devices); run as root or use the "
                            "in-process lab (without --netns)");
  }
  if (auto r = run_command({"ip", "netns", "list"}); !r) {
    return core::make_error(lab_errc::unsupported, "netns lab: `ip netns` is unavailable: " + r.error().message);
  }
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) {
    return core::make_error(lab_errc::unsupported, "netns lab: /dev/net/tun: " + errno_text());
  }
  binary = settings.meshcast_binary;
  if (binary.empty()) {
    std::error_code ec;
    binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  }
  if (binary.empty() || ::access(binary.c_str(), X_OK) != 0) {
    return setup_error("meshcast binary '" + binary + "' is not executable");
  }
  if (settings.work_dir.empty()) return setup_error("no work directory given");
  std::error_code ec;
  std::filesystem::create_directories(settings.work_dir, ec);
  if (ec) return setup_error("cannot create " + settings.work_dir + ": " + ec.message());
  return core::ok();
}

/// One thing to do at a time of the run (steady µs).
struct action {
  enum class kind : std::uint8_t { start, leave, kill, tracker_stop, tracker_start, end };
  std::int64_t at = 0;
  kind k = kind::start;
  std::uint32_t node = 0;
};

}  // namespace

core::result<report::run_result> run_netns(const scenario::scenario& s, const scenario::plan& p, report::collector& c,
                                           const lab_settings& settings) {
  if (auto r = check_netns_supported(s, p); !r) return r.error();
  std::string binary;
  if (auto r = preflight(settings, binary); !r) return r.error();

  for (const auto& ns :
       stale_namespaces(list_namespaces(), [](int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; })) {
    spdlog::info("netns lab: removing {} left behind by a lab that is gone", ns);
    if (auto r = run_command(namespace_teardown_command(ns)); !r) spdlog::warn("{}", r.error().message);
  }

  const auto n = static_cast<std::uint32_t>(p.nodes.size());
  netns_run run({std::string(k_netns_prefix) + std::to_string(::getpid()), settings.work_dir, binary});
  run.procs.resize(n);
  run.tuns.assign(n, -1);

  // --- topology ------------------------------------------------------------------------------
  const std::int64_t setup_began = core::steady_us();
  for (std::uint32_t i = 0; i < n; ++i) {
    for (const auto& cmd : namespace_setup_commands(run.layout, i)) {
      if (auto r = run_command(cmd); !r) return r.error();
    }
    run.namespaces.push_back(namespace_name(run.layout, i));
    auto fd = open_tun_in(namespace_name(run.layout, i));
    if (!fd) return fd.error();
    run.tuns[i] = *fd;
    for (const auto& cmd : interface_setup_commands(run.layout, i)) {
      if (auto r = run_command(cmd); !r) return r.error();
    }
    std::filesystem::remove(record_path(run.layout, i));
  }
  spdlog::info("netns lab: {} namespaces ({}-n0..{}) ready in {:.1f} s", n, run.layout.prefix, n - 1,
               static_cast<double>(core::steady_us() - setup_began) / 1e6);

  wire_settings ws;
  for (std::uint32_t i = 0; i < n; ++i) {
    ws.addresses.push_back(node_address(i));
    ws.upload_bps.push_back(p.nodes[i].upload_bps);
    ws.download_bps.push_back(p.nodes[i].download_bps);
    for (std::uint32_t j = 0; j < n; ++j) ws.one_way.push_back(i == j ? core::micros{0} : p.one_way(i, j));
  }
  ws.loss = p.loss;
  ws.seed = s.seed;
  ws.tracker_node = 0;
  ws.tracker_port = k_netns_http_port;
  wire w(ws);

  // --- event loop plumbing --------------------------------------------------------------------
  run.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  run.timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  run.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (run.epoll_fd < 0 || run.timer_fd < 0 || run.wake_fd < 0)
    return setup_error("epoll/timerfd/eventfd: " + errno_text());
  constexpr std::uint64_t k_timer_tag = 1ULL << 32, k_wake_tag = 2ULL << 32;
  const auto watch = [&](int fd, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return ::epoll_ctl(run.epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!watch(run.tuns[i], i)) return setup_error("epoll_ctl: " + errno_text());
  }
  if (!watch(run.timer_fd, k_timer_tag) || !watch(run.wake_fd, k_wake_tag))
    return setup_error("epoll_ctl: " + errno_text());
  if (auto r = run.install_signals(); !r) return r.error();

  // --- the schedule ---------------------------------------------------------------------------
  const std::int64_t base_steady = core::steady_us();
  const std::int64_t base_wall = wall_us();
  const std::int64_t t0_steady = base_steady + k_origin_head_start.count();
  const std::int64_t t0_wall = base_wall + k_origin_head_start.count();
  const core::micros playout{static_cast<std::int64_t>(s.swarm.playout_delay_ms) * 1000};
  const std::int64_t end_offset = (p.duration + playout).count();
  std::vector<action> actions;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto& pn = p.nodes[i];
    if (pn.join_at >= p.duration) continue;
    actions.push_back({i == 0 ? base_steady : t0_steady + pn.join_at.count(), action::kind::start, i});
    if (pn.leave_at && *pn.leave_at > pn.join_at && pn.leave_at->count() < end_offset) {
      actions.push_back({t0_steady + pn.leave_at->count(), pn.killed ? action::kind::kill : action::kind::leave, i});
    }
  }
  for (const auto& e : p.events) {
    if (e.k == scenario::planned_event::kind::tracker_stop)
      actions.push_back({t0_steady + e.at.count(), action::kind::tracker_stop, 0});
    if (e.k == scenario::planned_event::kind::tracker_start)
      actions.push_back({t0_steady + e.at.count(), action::kind::tracker_start, 0});
  }
  actions.push_back({t0_steady + end_offset, action::kind::end, 0});
  std::stable_sort(actions.begin(), actions.end(), [](const action& a, const action& b) { return a.at < b.at; });
  spdlog::info("netns lab: running {:.0f} s (+{} ms playout delay); nodes log to {}", s.duration_s,
               s.swarm.playout_delay_ms, settings.work_dir);

  // --- the loop -------------------------------------------------------------------------------
  std::size_t next_action = 0;
  bool stopping = false;  // the end (or a signal) came: everyone is leaving
  std::int64_t stop_deadline = 0;
  std::optional<core::error> failure;
  std::int64_t next_housekeeping = base_steady, next_progress = t0_steady + k_progress.count();
  std::uint64_t tun_write_errors = 0;
  std::int64_t timer_armed_for = 0;
  std::vector<std::uint8_t> buf(65536);

  const auto signal_node = [&](std::uint32_t i, int sig, std::int64_t now) {
    node_proc& np = run.procs[i];
    if (!np.running) return;
    if (!np.stop_requested) {
      np.stop_requested = true;
      np.term_deadline = now + k_leave_grace.count();
      if (!stopping) np.stopped_us = wall_us();
    }
    ::kill(np.pid, sig);
  };
  const auto begin_stop = [&](std::int64_t now) {
    stopping = true;
    stop_deadline = now + k_leave_grace.count();
    for (std::uint32_t i = 0; i < n; ++i) signal_node(i, SIGTERM, now);
  };

  for (;;) {
    std::int64_t now = core::steady_us();
    if (g_signal != 0 && !failure) {
      failure =
          setup_error("interrupted by signal " + std::to_string(g_signal) + "; processes stopped, namespaces removed");
      if (!stopping) begin_stop(now);
    }
    while (!stopping && next_action < actions.size() && actions[next_action].at <= now) {
      const action& a = actions[next_action++];
      switch (a.k) {
        case action::kind::start: {
          auto pid = spawn_node(node_command(s, p, run.layout, a.node), namespace_name(run.layout, a.node),
                                log_path(run.layout, a.node));
          if (!pid) {
            failure = pid.error();
            begin_stop(now);
            break;
          }
          run.procs[a.node].pid = *pid;
          run.procs[a.node].running = true;
          run.procs[a.node].started_us = wall_us();
          break;
        }
        case action::kind::leave:
          signal_node(a.node, SIGTERM, now);
          break;
        case action::kind::kill:
          signal_node(a.node, SIGKILL, now);
          break;
        case action::kind::tracker_stop:
          w.set_tracker_blocked(true);
          spdlog::info("netns lab: tracker stopped");
          break;
        case action::kind::tracker_start:
          w.set_tracker_blocked(false);
          spdlog::info("netns lab: tracker back");
          break;
        case action::kind::end:
          begin_stop(now);
          break;
      }
    }

    while (auto d = w.poll_delivery(now)) {
      if (::write(run.tuns[d->to], d->packet.data(), d->packet.size()) < 0) ++tun_write_errors;
    }

    if (now >= next_housekeeping) {
      next_housekeeping = now + k_housekeeping.count();
      std::size_t alive = 0;
      for (std::uint32_t i = 0; i < n; ++i) {
        node_proc& np = run.procs[i];
        if (!np.running) continue;
        int status = 0;
        const pid_t r = ::waitpid(np.pid, &status, WNOHANG);
        if (r == np.pid) {
          np.running = false;
          if (!np.stop_requested && !failure) {
            const std::string how = WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                                        : "exit code " + std::to_string(WEXITSTATUS(status));
            const std::string msg = p.name_of(i) + " exited unexpectedly (" + how +
                                    "): " + last_log_line(log_path(run.layout, i)) + " [" + log_path(run.layout, i) +
                                    "]";
            if (i == 0 || !settings.keep_going_on_node_failure) {
              failure = core::make_error(lab_errc::node_failed, "netns lab: " + msg);
              if (!stopping) begin_stop(now);
            } else {
              spdlog::warn("netns lab: {}", msg);
              np.stopped_us = wall_us();
            }
          }
          continue;
        }
        ++alive;
        if (np.stop_requested && now >= np.term_deadline) ::kill(np.pid, SIGKILL);
      }
      if (stopping && (alive == 0 || now >= stop_deadline + k_leave_grace.count())) break;
      if (now >= next_progress) {
        next_progress += k_progress.count();
        const auto& st = w.stats();
        spdlog::info("netns lab: t={:.0f} s, {} nodes up; wire: {} packets, {} lost, {} queue drops, {} blocked",
                     static_cast<double>(now - t0_steady) / 1e6, alive, st.packets_in, st.lost, st.queue_drops,
                     st.blocked);
      }
    }

    // Sleep until the next thing to do, or a packet, or a signal.
    std::int64_t next = next_housekeeping;
    if (auto d = w.next_deadline()) next = std::min(next, *d);
    if (!stopping && next_action < actions.size()) next = std::min(next, actions[next_action].at);
    int timeout_ms = 0;
    if (next > core::steady_us()) {
      if (next != timer_armed_for) {  // most wake-ups are packets: the deadline rarely moves
        itimerspec its{};
        its.it_value.tv_sec = next / 1'000'000;
        its.it_value.tv_nsec = (next % 1'000'000) * 1000;
        ::timerfd_settime(run.timer_fd, TFD_TIMER_ABSTIME, &its, nullptr);
        timer_armed_for = next;
      }
      timeout_ms = -1;
    }
    std::array<epoll_event, 64> events{};
    const int ready = ::epoll_wait(run.epoll_fd, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int k = 0; k < ready; ++k) {
      const std::uint64_t tag = events[static_cast<std::size_t>(k)].data.u64;
      if (tag == k_timer_tag || tag == k_wake_tag) {
        std::uint64_t v = 0;
        [[maybe_unused]] const auto r = ::read(tag == k_timer_tag ? run.timer_fd : run.wake_fd, &v, sizeof v);
        continue;
      }
      const auto from = static_cast<std::uint32_t>(tag);
      for (int burst = 0; burst < 64; ++burst) {
        const auto got = ::read(run.tuns[from], buf.data(), buf.size());
        if (got <= 0) break;
        w.on_packet(from, core::bytes(buf.begin(), buf.begin() + got), core::steady_us());
      }
    }
  }
  const std::int64_t end_wall = t0_wall + end_offset;
  const auto& st = w.stats();
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto cpu_s = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  spdlog::info(
      "netns lab: done; wire: {} packets ({:.1f} MB), {} lost, {} queue drops, {} unroutable, {} blocked, "
      "{} TUN write errors; queued {:.1f} ms on average at capped links (at most {:.0f} ms); delivered "
      "late by {:.2f} ms on average, > 1 ms: {:.2f} %, at most {:.1f} ms; the lab's own CPU {:.1f} s",
      st.packets_in, static_cast<double>(st.bytes_in) / 1e6, st.lost, st.queue_drops, st.unroutable, st.blocked,
      tun_write_errors,
      st.queued == 0 ? 0.0 : static_cast<double>(st.queue_wait_total_us) / 1e3 / static_cast<double>(st.queued),
      static_cast<double>(st.queue_wait_max_us) / 1e3,
      st.delivered == 0 ? 0.0 : static_cast<double>(st.late_total_us) / 1e3 / static_cast<double>(st.delivered),
      st.delivered == 0 ? 0.0 : 100.0 * static_cast<double>(st.late_over_1ms) / static_cast<double>(st.delivered),
      static_cast<double>(st.late_max_us) / 1e3, cpu_s(usage.ru_utime) + cpu_s(usage.ru_stime));
  run.cleanup();
  if (failure) return *failure;

  // --- the records ----------------------------------------------------------------------------
  std::vector<node_outcome> outcomes(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    outcomes[i].started_us = run.procs[i].started_us;
    outcomes[i].stopped_us = run.procs[i].stopped_us;
    if (!run.procs[i].started_us) continue;
    auto rec = read_record(record_path(run.layout, i));
    if (!rec) {
      spdlog::warn("netns lab: {}: {} (see {})", p.name_of(i), rec.error().message, log_path(run.layout, i));
      if (i == 0)
        return core::make_error(lab_errc::node_failed, "netns lab: the origin left no record: " + rec.error().message);
      continue;
    }
    outcomes[i].record = std::move(*rec);
  }
  const std::int64_t shift = core::to_us(c.settings().start) - t0_wall;
  const auto counts = feed_collector(c, p, outcomes, t0_wall, end_wall, shift);
  spdlog::info("netns lab: {} records, {} chunks produced, {} arrivals ({} from unknown senders)", counts.records,
               counts.produced, counts.arrivals, counts.unknown_senders);
  return c.finish(core::from_us(end_wall + shift));
}

}  // namespace meshcast::lab
