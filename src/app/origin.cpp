#include "app/origin.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <memory>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "app/swarm_member.hpp"
#include "chunk/signer.hpp"
#include "media/live_stream.hpp"
#include "media/source.hpp"
#include "net/endpoint.hpp"
#include "net/http_server.hpp"
#include "net/metrics.hpp"
#include "net/rtmp_server.hpp"
#include "net/tracker_routes.hpp"
#include "tracker/service.hpp"

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

/// The source peer of one stream's source rendition: a swarm member on the rendition's own chunk
/// log, fed every chunk the packager stores, and announced to the embedded tracker.
class source_peer {
 public:
  source_peer(asio::io_context& io, swarm_member_settings settings, media::rendition& r,
              const chunk::ed25519_public_key& key)
      : rendition_(r), member_(io, std::move(settings), r.log(), nullptr) {
    member_.set_public_key(key);
    listener_ = r.log().subscribe([this](const chunk::chunk_ptr& c) {
      member_.node().on_local_chunk(c, core::system_clock{}.now());
      member_.transport().poke();
    });
  }
  ~source_peer() {
    rendition_.log().unsubscribe(listener_);
    member_.stop();
  }
  source_peer(const source_peer&) = delete;
  source_peer& operator=(const source_peer&) = delete;

  swarm_member& member() { return member_; }
  const swarm_member& member() const { return member_; }
  [[nodiscard]] const media::rendition& rendition() const { return rendition_; }

 private:
  media::rendition& rendition_;
  swarm_member member_;
  chunk::chunk_log::listener_id listener_ = 0;
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

  auto swarm_ep = net::parse_endpoint(s.swarm);
  if (!swarm_ep) {
    spdlog::error("--swarm: {}", swarm_ep.error().message);
    return 1;
  }

  // Every chunk is signed before it is stored: viewers verify before they store, forward or play.
  auto signer = s.signing_key.empty() ? core::result<chunk::signer>(chunk::signer::generate())
                                      : chunk::signer::load_or_create(s.signing_key);
  if (!signer) {
    spdlog::error("--signing-key: {}", signer.error().message);
    return 1;
  }
  const std::string public_key_hex = chunk::to_hex(signer->public_key());

  asio::io_context io{1};
  media::stream_settings stream_defaults;
  stream_defaults.window = std::chrono::seconds{s.window_seconds};
  stream_defaults.packaging.chunk_duration = std::chrono::milliseconds{s.chunk_ms};
  stream_defaults.finish = [&signer](const media::live_stream& st, const media::rendition& r, chunk::chunk_ptr c) {
    return signer->sign(st.name(), r.info().name, c);
  };
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

  // The embedded tracker, at the same paths as `meshcast tracker`.
  tracker::service_settings tracker_settings;
  tracker_settings.token = s.tracker_token;
  tracker::service tracker_service(tracker_settings);
  net::add_tracker_routes(http, tracker_service);

  // One source peer per stream, created once the stream has its source rendition (pulled sources
  // at once, RTMP streams on their first publish) and announced to the embedded tracker.
  std::map<std::string, std::unique_ptr<source_peer>> source_peers;
  const std::string public_host =
      !s.public_host.empty() ? s.public_host
                             : (swarm_ep->address().is_unspecified() ? "127.0.0.1" : swarm_ep->address().to_string());
  asio::steady_timer swarm_timer(io);
  std::function<void()> swarm_tick = [&] {
    const auto now = core::system_clock{}.now();
    for (media::live_stream* st : streams.all()) {
      media::rendition* r = st->find_rendition("source");
      if (!r) continue;
      auto& sp = source_peers[st->name()];
      if (!sp) {
        swarm_member_settings ms;
        ms.role = proto::swarm::node_role::origin;
        ms.stream = st->name();
        ms.listen = source_peers.size() == 1 ? *swarm_ep : asio::ip::tcp::endpoint(swarm_ep->address(), 0);
        ms.upload_kbps = s.swarm_upload_kbps;
        ms.max_neighbours = static_cast<std::size_t>(s.max_neighbours);
        ms.min_neighbours = 0;
        if (source_peers.size() == 1) ms.record_path = s.record;
        sp = std::make_unique<source_peer>(io, ms, *r, signer->public_key());
        if (auto started = sp->member().start(); !started) {
          spdlog::error("{}: {}", st->name(), started.error().message);
          sp.reset();
          source_peers.erase(st->name());
          continue;
        }
        tracker_service.set_public_key(st->name(), public_key_hex);
        spdlog::info("swarm: source peer of {} on port {} (public key {})", st->name(),
                     sp->member().swarm_endpoint().port(), public_key_hex);
      }
      proto::tracker::announce_request a;
      a.id = sp->member().id();
      a.stream = st->name();
      a.role = proto::swarm::node_role::origin;
      a.host = public_host;
      a.port = sp->member().swarm_endpoint().port();
      a.upload_kbps = s.swarm_upload_kbps;
      a.stream_kbps = static_cast<std::uint32_t>(r->rate().bits_per_second() / 1000.0);
      a.public_key = public_key_hex;
      if (auto res = tracker_service.announce(a, tracker::request_context{}, now); !res) {
        spdlog::warn("embedded tracker refused the source peer of {}: {}", st->name(), res.error().message);
      }
    }
    swarm_timer.expires_after(std::chrono::seconds{1});
    swarm_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) swarm_tick();
    });
  };

  http.add_route(boost::beast::http::verb::get, "/api/v1/stats",
                 [&](net::http_exchange& ex) -> asio::awaitable<net::http_reply> {
                   nlohmann::json j;
                   j["role"] = "origin";
                   j["public_key"] = public_key_hex;
                   j["swarm"] = nlohmann::json::array();
                   for (const auto& [name, sp] : source_peers) {
                     auto m = sp->member().stats_json();
                     m["stream_bitrate_bps"] = sp->rendition().rate().bits_per_second();
                     j["swarm"].push_back(std::move(m));
                   }
                   co_return net::http_reply{net::make_response(ex.request, boost::beast::http::status::ok,
                                                                j.dump(2), "application/json", "no-cache")};
                 },
                 "stats");
  http.add_metrics([&source_peers](std::string& out) {
    for (const auto& [_, sp] : source_peers) sp->member().write_metrics(out);
  });
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
  swarm_tick();

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
  spdlog::info("swarm: peers join with  meshcast peer --tracker {} --stream live/NAME", base);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    for (auto& r : runners) r->stop();
    swarm_timer.cancel();
    for (auto& [_, sp] : source_peers) sp->member().stop();
    rtmp.stop();
    http.stop();
    io.stop();
  });
  io.run();
  for (auto& r : runners) r->stop();
  source_peers.clear();
  spdlog::info("meshcast origin stopped");
  return 0;
}

}  // namespace meshcast::app
