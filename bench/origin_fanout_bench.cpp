// origin_fanout_bench: a whole-system benchmark of the origin's continuous-TS fan-out.
//
// Runs the origin's RTMP and HTTP servers in this process on one event-loop thread (as
// `meshcast origin` does), has the stock `ffmpeg` publish a 2.5 Mbit/s H.264+AAC clip over RTMP
// on loopback, and connects N continuous-TS viewers (/live/bench.ts) from a second thread. Prints:
//  - delay from an RTMP message arriving to the viewer having received the chunk it completed
//    (chunk insert -> last byte of that chunk read by the viewer), p50/p90/p99, and from the
//    chunk's first message (its source timestamp, which adds the chunk's own duration);
//  - the event-loop thread's CPU (user+system, CLOCK_THREAD_CPUTIME_ID) with no viewer (the
//    anchor: ingest and packaging) and with N viewers, and the CPU per viewer derived from both.
// Usage: origin_fanout_bench [--viewers 200] [--seconds 15] [--kbps 2500] [--chunk-ms 100]
// Loopback only; every phase is bounded in time; stops only the ffmpeg it started.
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "media/live_stream.hpp"
#include "net/http_server.hpp"
#include "net/rtmp_server.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace meshcast;
using namespace std::chrono_literals;

extern char** environ;

namespace {

struct options {
  int viewers = 200;
  int seconds = 15;
  int kbps = 2500;
  int chunk_ms = 100;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--viewers") o.viewers = v;
    else if (k == "--seconds") o.seconds = v;
    else if (k == "--kbps") o.kbps = v;
    else if (k == "--chunk-ms") o.chunk_ms = v;
    else std::fprintf(stderr, "unknown option %s\n", k.c_str());
  }
  o.viewers = std::clamp(o.viewers, 1, 2000);
  o.seconds = std::clamp(o.seconds, 3, 120);
  return o;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int run_and_wait(const std::vector<std::string>& args) {
  const pid_t pid = spawn(args);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double thread_cpu_seconds(clockid_t cid) {
  timespec ts{};
  clock_gettime(cid, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  return v[i];
}

/// What the bench knows of each chunk: when it entered the log, and its bytes (to find where a
/// viewer's stream starts and where each chunk ends in it).
struct chunk_record {
  chunk::chunk_ptr chunk;
  std::int64_t inserted_us = 0;
};

class chunk_table {
 public:
  void add(const chunk::chunk_ptr& c) {
    std::lock_guard lock(mu_);
    records_[c->seq().value()] = {c, core::steady_us()};
  }
  /// The segment-start chunk whose payload begins with `prefix`, if any.
  std::optional<std::uint64_t> find_start(core::byte_view prefix) {
    std::lock_guard lock(mu_);
    for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
      const auto& c = it->second.chunk;
      if (!c->header().segment_start()) continue;
      const auto n = std::min(prefix.size(), c->size());
      if (n > 0 && std::memcmp(prefix.data(), c->payload().data(), n) == 0) return it->first;
    }
    return std::nullopt;
  }
  std::optional<chunk_record> get(std::uint64_t seq) {
    std::lock_guard lock(mu_);
    const auto it = records_.find(seq);
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::uint64_t, chunk_record> records_;
};

struct delay_samples {
  std::mutex mu;
  std::vector<double> from_last_message_ms;
  std::vector<double> from_source_time_ms;
  std::atomic<bool> recording{false};
};

/// One continuous-TS viewer: GET /live/bench.ts, then walk the chunk table along the bytes.
asio::awaitable<void> viewer(tcp::endpoint ep, chunk_table& table, delay_samples& samples,
                             std::atomic<int>& connected, std::atomic<std::uint64_t>& bytes_total) {
  tcp::socket s(co_await asio::this_coro::executor);
  auto [ec] = co_await s.async_connect(ep, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  const std::string req = "GET /live/bench.ts HTTP/1.1\r\nHost: bench\r\n\r\n";
  std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(req), asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  ++connected;
  std::vector<std::uint8_t> buf(1 << 16);
  std::string header;
  core::bytes prefix;
  std::optional<std::uint64_t> seq;
  std::size_t offset = 0;  // bytes of chunk `seq` already received
  for (;;) {
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (rec) break;
    const std::int64_t now = core::steady_us();
    bytes_total += n;
    core::byte_view data(buf.data(), n);
    if (header.find("\r\n\r\n") == std::string::npos) {
      header.append(reinterpret_cast<const char*>(data.data()), data.size());
      const auto end = header.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      data = data.subspan(data.size() - (header.size() - end - 4));
    }
    if (!seq) {
      core::append(prefix, data);
      if (prefix.size() < 188 * 4) continue;
      seq = table.find_start(prefix);
      if (!seq) break;  // cannot follow this viewer's stream
      data = prefix;
    }
    while (!data.empty()) {
      auto rec_chunk = table.get(*seq);
      if (!rec_chunk) co_return;
      const std::size_t take = std::min(data.size(), rec_chunk->chunk->size() - offset);
      offset += take;
      data = data.subspan(take);
      if (offset == rec_chunk->chunk->size()) {
        if (samples.recording) {
          std::lock_guard lock(samples.mu);
          samples.from_last_message_ms.push_back(static_cast<double>(now - rec_chunk->inserted_us) / 1000.0);
          const auto src = core::to_us(rec_chunk->chunk->header().source_time);
          const auto wall_now = core::to_us(core::system_clock{}.now());
          samples.from_source_time_ms.push_back(static_cast<double>(wall_now - src) / 1000.0);
        }
        ++*seq;
        offset = 0;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const auto dir = std::filesystem::temp_directory_path() / ("meshcast-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string clip = (dir / "clip.mp4").string();
  const std::string kbps = std::to_string(opt.kbps - 128) + "k";
  std::printf("origin_fanout_bench: %d viewers, %d s per phase, %d kbit/s, chunk %d ms\n", opt.viewers,
              opt.seconds, opt.kbps, opt.chunk_ms);
  if (run_and_wait({"ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10", "-c:v", "libx264",
                    "-preset", "veryfast", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-b:v", kbps,
                    "-maxrate", kbps, "-bufsize", kbps, "-x264-params", "nal-hrd=cbr", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "128k", clip}) != 0) {
    std::fprintf(stderr, "cannot make the test clip with ffmpeg\n");
    return 1;
  }

  asio::io_context io{1};
  media::stream_settings ss;
  ss.packaging.chunk_duration = std::chrono::milliseconds{opt.chunk_ms};
  media::stream_registry streams(ss);
  net::http_settings hs;
  hs.endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  net::http_server http(io, streams, hs);
  net::rtmp_server_settings rs;
  rs.endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  net::rtmp_server rtmp(io, streams, [](const std::string&, const std::string& key) -> core::result<void> {
    if (key == "k") return core::ok();
    return core::error{1, "bad key"};
  }, rs);
  if (!http.start() || !rtmp.start()) {
    std::fprintf(stderr, "cannot listen on loopback\n");
    return 1;
  }
  std::thread loop([&] { io.run(); });
  clockid_t loop_clock{};
  pthread_getcpuclockid(loop.native_handle(), &loop_clock);

  const std::string url = "rtmp://127.0.0.1:" + std::to_string(rtmp.local_endpoint().port()) + "/live/bench?key=k";
  const pid_t publisher = spawn({"ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c",
                                 "copy", "-t", std::to_string(opt.seconds * 3 + 30), "-f", "flv", url});
  chunk_table table;
  // Wait (bounded) for the stream and subscribe the table before any viewer exists, so the
  // table hears of every chunk before a viewer can receive it.
  bool subscribed = false;
  for (int i = 0; i < 150 && !subscribed; ++i) {
    std::this_thread::sleep_for(100ms);
    std::promise<bool> p;
    asio::post(io, [&] {
      auto* s = streams.find("live/bench");
      if (s && s->state() == media::publisher_state::live && !s->renditions().empty() &&
          s->renditions().front()->log().live_edge()) {
        s->renditions().front()->log().subscribe([&table](const chunk::chunk_ptr& c) { table.add(c); });
        p.set_value(true);
      } else {
        p.set_value(false);
      }
    });
    subscribed = p.get_future().get();
  }
  int rc = 0;
  if (!subscribed) {
    std::fprintf(stderr, "the publisher did not go live within 15 s\n");
    rc = 1;
  } else {
    std::this_thread::sleep_for(2500ms);  // a full segment in the table
    // Phase A: the anchor, no viewer.
    double c0 = thread_cpu_seconds(loop_clock);
    auto t0 = core::steady_us();
    std::this_thread::sleep_for(std::chrono::seconds(opt.seconds));
    const double anchor = (thread_cpu_seconds(loop_clock) - c0) / (static_cast<double>(core::steady_us() - t0) / 1e6);

    // Phase B: N viewers.
    asio::io_context clients{1};
    delay_samples samples;
    std::atomic<int> connected{0};
    std::atomic<std::uint64_t> bytes_total{0};
    for (int i = 0; i < opt.viewers; ++i) {
      asio::co_spawn(clients, viewer(http.local_endpoint(), table, samples, connected, bytes_total), asio::detached);
    }
    std::thread client_thread([&] { clients.run(); });
    for (int i = 0; i < 100 && connected < opt.viewers; ++i) std::this_thread::sleep_for(50ms);
    std::this_thread::sleep_for(3s);  // every viewer past its first (live-edge) burst
    samples.recording = true;
    const std::uint64_t b0 = bytes_total;
    c0 = thread_cpu_seconds(loop_clock);
    t0 = core::steady_us();
    std::this_thread::sleep_for(std::chrono::seconds(opt.seconds));
    const double secs = static_cast<double>(core::steady_us() - t0) / 1e6;
    const double loaded = (thread_cpu_seconds(loop_clock) - c0) / secs;
    samples.recording = false;
    const double delivered_mbps = static_cast<double>(bytes_total - b0) * 8 / secs / 1e6;
    clients.stop();
    client_thread.join();

    const auto stats = http.ts_stats("live/bench");
    std::lock_guard lock(samples.mu);
    const double per_viewer = (loaded - anchor) / opt.viewers;
    std::printf("viewers connected            %d of %d\n", connected.load(), opt.viewers);
    std::printf("delivered                    %.1f Mbit/s (%.2f Mbit/s per viewer)\n", delivered_mbps,
                delivered_mbps / opt.viewers);
    std::printf("drop-forwards, slow closes   %llu, %llu\n", static_cast<unsigned long long>(stats.drop_forwards),
                static_cast<unsigned long long>(stats.slow_disconnects));
    std::printf("delay RTMP msg -> viewer     p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  (%zu chunk deliveries)\n",
                percentile(samples.from_last_message_ms, 50), percentile(samples.from_last_message_ms, 90),
                percentile(samples.from_last_message_ms, 99), samples.from_last_message_ms.size());
    std::printf("delay first msg -> viewer    p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  (includes the chunk's duration)\n",
                percentile(samples.from_source_time_ms, 50), percentile(samples.from_source_time_ms, 90),
                percentile(samples.from_source_time_ms, 99));
    std::printf("event loop CPU, no viewer    %.2f %% of a core (anchor: RTMP ingest + packaging)\n", anchor * 100);
    std::printf("event loop CPU, %d viewers  %.2f %% of a core\n", opt.viewers, loaded * 100);
    std::printf("CPU per viewer               %.4f %% of a core = %.1f us per viewer-second = %.2fx the anchor\n",
                per_viewer * 100, per_viewer * 1e6, anchor > 0 ? per_viewer / anchor : 0.0);
  }
  if (publisher > 0) {
    kill(publisher, SIGTERM);
    waitpid(publisher, nullptr, 0);
  }
  asio::post(io, [&] {
    rtmp.stop();
    http.stop();
  });
  std::this_thread::sleep_for(200ms);
  io.stop();
  loop.join();
  std::filesystem::remove_all(dir);
  return rc;
}
