#include "app/origin.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <memory>
#include <openssl/crypto.h>

#include "media/live_stream.hpp"
#include "media/source.hpp"
#include "net/endpoint.hpp"
#include "net/http_server.hpp"
#include "net/metrics.hpp"
#include "net/rtmp_server.hpp"

namespace meshcast::app {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Keeps one pulled source publishing into its stream: creates it, forwards its callbacks onto
/// the event loop, and recreates it a few seconds after it ends or fails (a file without :loop
/// ends for good). Lives on the event loop thread; the source's own thread only posts.
class source_runner {
 public:
  source_runner(asio::io_context& io, media::live_stream& stream, std::string spec)
      : io_(io), stream_(stream), spec_(std::move(spec)), retry_(io) {}

  ~source_runner() { stop(); }

  /// Creates and starts the source; a malformed spec fails here, before anything runs.
  core::result<void> start() {
    auto made = media::make_source(spec_);
    if (!made) return made.error().with_context("source " + spec_);
    source_ = std::move(*made);
    ++generation_;
    const std::uint64_t gen = generation_;
    media::source_callbacks cb;
    cb.on_config = [this, gen](media::media_config config) {
      asio::post(io_, [this, gen, config = std::move(config)] { on_config(gen, config); });
    };
    cb.on_frame = [this, gen](media::frame f) {
      const core::time_point now = core::system_clock{}.now();
      asio::post(io_, [this, gen, now, f = std::move(f)] { on_frame(gen, f, now); });
    };
    cb.on_end = [this, gen](core::result<void> r) {
      asio::post(io_, [this, gen, r = std::move(r)] { on_end(gen, r); });
    };
    source_->start(std::move(cb));
    spdlog::info("source {}: started {} for {}", id(), source_->describe(), stream_.name());
    return core::ok();
  }

  void stop() {
    stopped_ = true;
    retry_.cancel();
    if (source_) source_->stop();
    if (publishing_) stream_.end_publish();
    publishing_ = false;
  }

  [[nodiscard]] std::uint64_t restarts() const { return generation_ > 0 ? generation_ - 1 : 0; }
  [[nodiscard]] bool publishing() const { return publishing_; }
  [[nodiscard]] const media::live_stream& stream() const { return stream_; }

 private:
  [[nodiscard]] std::string id() const { return stream_.name(); }

  void on_config(std::uint64_t gen, const media::media_config& config) {
    if (gen != generation_ || stopped_) return;
    if (publishing_) stream_.end_publish();
    auto r = stream_.begin_publish(config, source_->describe());
    publishing_ = r.has_value();
    if (!r) spdlog::error("source {}: {}", id(), r.error().message);
  }

  void on_frame(std::uint64_t gen, const media::frame& f, core::time_point now) {
    if (gen != generation_ || stopped_ || !publishing_) return;
    if (auto r = stream_.push(f, now); !r) {
      ++frame_errors_;
      // One line per burst is enough: a broken input would otherwise log every frame.
      if (frame_errors_ == 1 || frame_errors_ % 1000 == 0) {
        spdlog::warn("source {}: frame refused ({} so far): {}", id(), frame_errors_, r.error().message);
      }
    }
  }

  void on_end(std::uint64_t gen, const core::result<void>& r) {
    if (gen != generation_ || stopped_) return;
    if (publishing_) stream_.end_publish();
    publishing_ = false;
    if (r) {
      spdlog::info("source {}: input ended", id());
      return;
    }
    spdlog::warn("source {}: {}; retrying in {} s", id(), r.error().message, k_retry.count());
    retry_.expires_after(k_retry);
    retry_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped_) return;
      if (source_) source_->stop();
      if (auto again = start(); !again) spdlog::error("{}", again.error().message);
    });
  }

  static constexpr std::chrono::seconds k_retry{3};

  asio::io_context& io_;
  media::live_stream& stream_;
  std::string spec_;
  asio::steady_timer retry_;
  std::unique_ptr<media::source> source_;
  std::uint64_t generation_ = 0;
  std::uint64_t frame_errors_ = 0;
  bool publishing_ = false;
  bool stopped_ = false;
};

/// Compares secrets in constant time so a key cannot be guessed byte by byte from timing.
bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

int run_origin(const origin_settings& s) {
  auto http_ep = net::parse_endpoint(s.http);
  auto rtmp_ep = net::parse_endpoint(s.rtmp);
  if (!http_ep || !rtmp_ep) {
    spdlog::error("{}", (!http_ep ? http_ep.error() : rtmp_ep.error()).message);
    return 1;
  }

  asio::io_context io{1};
  media::stream_settings stream_defaults;
  stream_defaults.window = std::chrono::seconds{s.window_seconds};
  stream_defaults.packaging.chunk_duration = std::chrono::milliseconds{s.chunk_ms};
  media::stream_registry streams(stream_defaults);

  net::http_settings http_settings;
  http_settings.endpoint = *http_ep;
  http_settings.playlist_segments = static_cast<std::size_t>(s.playlist_segments);
  net::http_server http(io, streams, http_settings);

  const auto keys = s.keys;
  net::rtmp_server_settings rtmp_settings;
  rtmp_settings.endpoint = *rtmp_ep;
  net::rtmp_server rtmp(
      io, streams,
      [keys](const std::string& stream, const std::string& key) -> core::result<void> {
        if (keys.empty()) {
          return core::error{1, "RTMP publishing is disabled: no --key configured"};
        }
        const std::string name = stream.rfind("live/", 0) == 0 ? stream.substr(5) : stream;
        const auto it = keys.find(name);
        if (it == keys.end()) return core::error{2, "no stream key is configured for " + stream};
        if (key.empty()) return core::error{3, "missing stream key for " + stream};
        if (!same_secret(key, it->second)) return core::error{4, "wrong stream key for " + stream};
        return core::ok();
      },
      rtmp_settings);

  std::vector<std::unique_ptr<source_runner>> runners;
  for (const auto& src : s.sources) {
    auto& stream = streams.get_or_create("live/" + src.name);
    runners.push_back(std::make_unique<source_runner>(io, stream, src.spec));
  }

  http.add_metrics([&rtmp](std::string& out) { rtmp.write_metrics(out); });
  http.add_metrics([&runners](std::string& out) {
    net::prometheus_writer w(out);
    w.family("meshcast_source_restarts_total", "counter", "Times a pulled source was recreated");
    for (const auto& r : runners) w.sample("meshcast_source_restarts_total", {{"stream", r->stream().name()}}, r->restarts());
    w.family("meshcast_source_publishing", "gauge", "1 while a pulled source feeds its stream");
    for (const auto& r : runners) w.sample("meshcast_source_publishing", {{"stream", r->stream().name()}}, std::int64_t{r->publishing() ? 1 : 0});
  });

  if (auto r = http.start(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  if (auto r = rtmp.start(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  for (auto& r : runners) {
    if (auto started = r->start(); !started) {
      spdlog::error("{}", started.error().message);
      return 1;
    }
  }

  const std::string base = "http://" + net::url_host(http.local_endpoint()) + ":" +
                           std::to_string(http.local_endpoint().port());
  spdlog::info("meshcast origin: HTTP on {}, RTMP on {}:{}", base, net::url_host(rtmp.local_endpoint()),
               rtmp.local_endpoint().port());
  for (const auto& src : s.sources) {
    spdlog::info("watch live/{}:  ffplay {}/live/{}.ts   |   HLS {}/live/{}.m3u8", src.name, base,
                 src.name, base, src.name);
  }
  for (const auto& [name, _] : s.keys) {
    spdlog::info("publish live/{}: rtmp://{}:{}/live/{}?key=<secret>", name,
                 net::url_host(rtmp.local_endpoint()), rtmp.local_endpoint().port(), name);
  }
  spdlog::info("streams: {}/api/v1/streams   metrics: {}/metrics", base, base);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    for (auto& r : runners) r->stop();
    rtmp.stop();
    http.stop();
    io.stop();
  });
  io.run();
  for (auto& r : runners) r->stop();
  spdlog::info("meshcast origin stopped");
  return 0;
}

}  // namespace meshcast::app
