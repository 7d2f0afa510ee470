#include "net/rtmp_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <random>
#include <set>
#include <variant>

#include "core/time.hpp"
#include "net/endpoint.hpp"
#include "net/metrics.hpp"

namespace meshcast::net {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace rtmp = proto::rtmp;

namespace {

constexpr auto k_use = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t k_read_buffer_bytes = 64 * 1024;
constexpr std::size_t k_max_stream_name = 64;

/// Stream names become URL path segments and file-like names downstream: keep them plain.
bool valid_stream_name(const std::string& name) {
  if (name.empty() || name.size() > k_max_stream_name || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

media::flv_metadata to_flv_metadata(const rtmp::amf0::value& v) {
  const auto present = [&v](std::string_view key) {
    const auto* p = v.find(key);
    return p != nullptr && p->kind != rtmp::amf0::type::null &&
           p->kind != rtmp::amf0::type::undefined;
  };
  media::flv_metadata m;
  m.has_video = present("videocodecid");
  m.has_audio = present("audiocodecid");
  const auto dim = [&v](std::string_view key) {
    const double d = v.get_number(key).value_or(0);
    return d > 0 && d < 65536 ? static_cast<int>(d) : 0;
  };
  m.width = dim("width");
  m.height = dim("height");
  double fps = v.get_number("framerate").value_or(v.get_number("videoframerate").value_or(0));
  m.frame_rate = fps > 0 && fps < 1000 ? fps : 0;
  return m;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class rtmp_connection;

struct rtmp_server::state {
  state(asio::io_context& io_, media::stream_registry& streams_, key_checker check_,
        rtmp_server_settings settings_)
      : io(io_),
        streams(streams_),
        check(std::move(check_)),
        settings(settings_),
        acceptor(io_),
        seed(std::random_device{}()) {}

  asio::io_context& io;
  media::stream_registry& streams;
  key_checker check;
  rtmp_server_settings settings;
  tcp::acceptor acceptor;
  rtmp_server_stats stats;
  std::map<std::uint64_t, std::shared_ptr<rtmp_connection>> connections;
  std::set<std::string, std::less<>> claimed;  // accepted publishes, whether or not begun yet
  std::uint64_t next_id = 0;
  std::uint64_t seed;
  bool stopped = false;
};

/// One TCP connection: a reader coroutine (read, feed, write) and a watchdog coroutine (the
/// session's deadline). finish() is the single exit: it ends the publication and closes.
class rtmp_connection : public std::enable_shared_from_this<rtmp_connection> {
 public:
  rtmp_connection(std::shared_ptr<rtmp_server::state> st, tcp::socket socket, std::uint64_t id,
                  std::string peer)
      : st_(std::move(st)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        session_(make_session_settings(*st_, id), clock_.now()),
        id_(id),
        peer_(std::move(peer)) {}

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    std::vector<std::uint8_t> buf(k_read_buffer_bytes);
    while (!finished_) {
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buf), k_use);
      if (finished_) break;
      if (ec) {
        const bool eof = ec == asio::error::eof || ec == asio::error::connection_reset;
        if (session_.state() == rtmp::session_state::handshake_c0c1 && eof && n == 0) {
          spdlog::debug("{}closed before the handshake", tag());
        } else if (!eof) {
          spdlog::info("{}read failed: {}", tag(), ec.message());
        }
        finish(eof ? "client closed the connection" : ec.message());
        break;
      }
      st_->stats.bytes_in += n;
      session_.on_bytes({buf.data(), n}, clock_.now());
      co_await pump();
    }
  }

  asio::awaitable<void> watchdog() {
    auto self = shared_from_this();
    while (!finished_) {
      const auto deadline = session_.next_deadline();
      if (!deadline) break;
      timer_.expires_at(std::chrono::time_point_cast<asio::system_timer::duration>(*deadline));
      co_await timer_.async_wait(k_use);
      if (finished_) break;
      // The idle deadline moves with every read; this only closes when it really passed.
      session_.on_timeout(clock_.now());
      if (session_.is_closed()) {
        ++st_->stats.timeouts;
        spdlog::warn("{}closing: {}", tag(), session_.error());
        finish(session_.error());
      }
    }
  }

  /// Ends the connection: the publication (if any) ends, the socket closes. Idempotent.
  void finish(const std::string& reason) {
    if (finished_) return;
    finished_ = true;
    end_publication(reason);
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    st_->connections.erase(id_);
    if (st_->stats.connections_active > 0) --st_->stats.connections_active;
  }

  void stop(const std::string& reason) {
    session_.close(reason);
    finish(reason);
  }

 private:
  static rtmp::session_settings make_session_settings(const rtmp_server::state& st,
                                                      std::uint64_t id) {
    rtmp::session_settings s = st.settings.session;
    s.random_seed = st.seed ^ (id * 0x9e3779b97f4a7c15ULL);
    return s;
  }

  std::string tag() const { return "rtmp[" + std::to_string(id_) + "] " + peer_ + ": "; }

  // Writes what the session transmits and handles its events until both are drained, in the
  // order the session contract asks (transmit, events, then transmit again).
  asio::awaitable<void> pump() {
    while (!finished_) {
      core::bytes out;
      while (auto b = session_.poll_transmit()) core::append(out, *b);
      if (!out.empty()) {
        auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), k_use);
        (void)n;
        if (finished_) co_return;
        if (ec) {
          spdlog::info("{}write failed: {}", tag(), ec.message());
          finish(ec.message());
          co_return;
        }
        continue;
      }
      auto e = session_.poll_event();
      if (!e) co_return;
      std::visit([this](auto& ev) { on_event(ev); }, *e);
    }
  }

  void on_event(const rtmp::connect_event& e) {
    spdlog::debug("{}connect app={} tcUrl={} flashVer={}", tag(), e.app, e.tc_url, e.flash_ver);
  }

  void on_event(const rtmp::publish_event& e) {
    const auto refuse = [&](const char* code, const std::string& why) {
      ++st_->stats.publishes_rejected;
      spdlog::warn("{}publish refused: {}", tag(), why);
      session_.reject_publish(code, why);
    };
    if (e.app != "live") {
      refuse("NetStream.Publish.BadName",
             "unknown application '" + e.app + "': publish to rtmp://HOST/live/NAME?key=SECRET");
      return;
    }
    if (!valid_stream_name(e.stream_name)) {
      refuse("NetStream.Publish.BadName",
             "invalid stream name '" + e.stream_name +
                 "': use 1-64 of A-Z a-z 0-9 . _ - (rtmp://HOST/live/NAME?key=SECRET)");
      return;
    }
    const std::string name = "live/" + e.stream_name;
    if (!st_->check) {
      refuse("NetStream.Publish.Denied", "publishing is disabled: no stream keys are configured");
      return;
    }
    if (auto r = st_->check(name, e.key); !r) {
      refuse("NetStream.Publish.Denied", name + ": " + r.error().message);
      return;
    }
    const media::live_stream* existing = st_->streams.find(name);
    if (st_->claimed.count(name) > 0 ||
        (existing != nullptr && existing->state() == media::publisher_state::live)) {
      refuse("NetStream.Publish.BadName", name + " is already being published");
      return;
    }
    session_.accept_publish();
    st_->claimed.insert(name);
    stream_name_ = name;
    ingest_.emplace(st_->settings.ingest);
    ++st_->stats.publishes_accepted;
    spdlog::info("{}publishing {}", tag(), name);
  }

  void on_event(const rtmp::metadata_event& e) {
    if (!ingest_) return;
    ingest_->on_metadata(to_flv_metadata(e.metadata));
    drain_ingest();
  }

  void on_event(rtmp::media_event& e) {
    if (!ingest_ || e.kind == rtmp::media_kind::data) return;
    const auto r = e.kind == rtmp::media_kind::video ? ingest_->on_video(e.timestamp, e.payload)
                                                     : ingest_->on_audio(e.timestamp, e.payload);
    if (!r) {
      ++st_->stats.media_errors;
      if (r.error().code == static_cast<int>(media::flv_errc::unsupported_codec)) {
        close_for_fault(r.error().message);
        return;
      }
      // One broken tag is skipped; say so once per connection, then only at debug level.
      if (media_warnings_++ == 0) {
        spdlog::warn("{}skipping a malformed tag: {}", tag(), r.error().message);
      } else {
        spdlog::debug("{}skipping a malformed tag: {}", tag(), r.error().message);
      }
    }
    drain_ingest();
  }

  void on_event(const rtmp::unpublish_event& e) {
    end_publication("client sent " + e.reason);
  }

  void on_event(const rtmp::closed_event& e) {
    switch (e.kind) {
      case rtmp::close_kind::protocol_error:
        ++st_->stats.protocol_errors;
        spdlog::warn("{}closing: {}", tag(), e.reason);
        break;
      case rtmp::close_kind::timeout:
        ++st_->stats.timeouts;
        spdlog::warn("{}closing: {}", tag(), e.reason);
        break;
      case rtmp::close_kind::refused_play:
        spdlog::info("{}closing: {}", tag(), e.reason);
        break;
      case rtmp::close_kind::rejected:
      case rtmp::close_kind::local:
        break;
    }
    // Transmit is drained before events, so the client already has our last words.
    finish(e.reason);
  }

  void close_for_fault(const std::string& reason) {
    ++st_->stats.protocol_errors;
    spdlog::warn("{}closing: {}", tag(), reason);
    session_.close(reason);
    finish(reason);
  }

  void drain_ingest() {
    while (ingest_ && !finished_) {
      auto e = ingest_->poll();
      if (!e) return;
      if (auto* c = std::get_if<media::flv_config_event>(&*e)) {
        begin(c->config, c->changed);
      } else if (begun_) {
        auto& stream = st_->streams.get_or_create(stream_name_);
        if (auto r = stream.push(std::get<media::frame>(*e), clock_.now()); r) {
          ++st_->stats.frames_in;
        } else {
          spdlog::debug("{}{}: frame not taken: {}", tag(), stream_name_, r.error().message);
        }
      }
    }
  }

  void begin(const media::media_config& config, bool changed) {
    auto& stream = st_->streams.get_or_create(stream_name_);
    if (changed && begun_) {
      spdlog::info("{}{}: codec configuration changed; restarting the packager", tag(), stream_name_);
      stream.end_publish();
      begun_ = false;
    }
    if (auto r = stream.begin_publish(config, "rtmp " + peer_); !r) {
      // Another source (a pulled one) may have taken the name, or the config is unusable.
      ++st_->stats.media_errors;
      close_for_fault("cannot start publishing: " + r.error().message);
      return;
    }
    begun_ = true;
    std::string tracks;
    if (config.video) {
      tracks = "H.264 " + std::to_string(config.video->width) + "x" +
               std::to_string(config.video->height);
    }
    if (config.audio) {
      tracks += (tracks.empty() ? "" : " + ") + std::string("AAC ") +
                std::to_string(config.audio->sample_rate) + " Hz " +
                std::to_string(config.audio->channels) + " ch";
    }
    spdlog::info("{}{} is live: {}", tag(), stream_name_, tracks);
  }

  void end_publication(const std::string& reason) {
    if (stream_name_.empty()) return;
    if (begun_) {
      if (auto* s = st_->streams.find(stream_name_)) s->end_publish();
      begun_ = false;
    }
    spdlog::info("{}{} ended: {}", tag(), stream_name_, reason);
    st_->claimed.erase(stream_name_);
    stream_name_.clear();
    ingest_.reset();
  }

  std::shared_ptr<rtmp_server::state> st_;
  tcp::socket socket_;
  asio::system_timer timer_;
  core::system_clock clock_;
  rtmp::session session_;
  std::uint64_t id_;
  std::string peer_;
  std::optional<media::flv_ingest> ingest_;
  std::string stream_name_;  // "live/NAME" while a publish is accepted
  bool begun_ = false;       // begin_publish succeeded for stream_name_
  bool finished_ = false;
  std::uint64_t media_warnings_ = 0;
};

// ---------------------------------------------------------------------------------------------

namespace {

asio::awaitable<void> accept_loop(std::shared_ptr<rtmp_server::state> st) {
  asio::steady_timer backoff(st->io);
  while (!st->stopped) {
    auto [ec, socket] = co_await st->acceptor.async_accept(k_use);
    if (st->stopped) break;
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      // Out of file descriptors and the like: wait a little instead of spinning.
      spdlog::warn("rtmp: accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(k_use);
      continue;
    }
    boost::system::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    const std::string peer_text = peer_ec ? std::string("?") : endpoint_text(peer);
    if (st->connections.size() >= st->settings.max_connections) {
      ++st->stats.connections_refused;
      spdlog::warn("rtmp: refusing {}: {} connections already open", peer_text,
                   st->connections.size());
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    socket.set_option(tcp::no_delay(true), peer_ec);
    const std::uint64_t id = ++st->next_id;
    ++st->stats.connections_accepted;
    ++st->stats.connections_active;
    auto conn = std::make_shared<rtmp_connection>(st, std::move(socket), id, peer_text);
    st->connections.emplace(id, conn);
    spdlog::debug("rtmp[{}] {}: connected", id, peer_text);
    asio::co_spawn(st->io, conn->run(), asio::detached);
    asio::co_spawn(st->io, conn->watchdog(), asio::detached);
  }
}

}  // namespace

rtmp_server::rtmp_server(asio::io_context& io, media::stream_registry& streams, key_checker check,
                         rtmp_server_settings settings)
    : state_(std::make_shared<state>(io, streams, std::move(check), std::move(settings))) {}

rtmp_server::~rtmp_server() { stop(); }

core::result<void> rtmp_server::start() {
  auto& st = *state_;
  const auto& ep = st.settings.endpoint;
  if (auto r = listen_on(st.acceptor, ep, "rtmp"); !r) return r;
  st.stopped = false;
  spdlog::info("rtmp: listening on {}", endpoint_text(local_endpoint()));
  asio::co_spawn(st.io, accept_loop(state_), asio::detached);
  return core::ok();
}

void rtmp_server::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  auto conns = state_->connections;  // finish() erases from the map
  for (auto& [id, c] : conns) c->stop("server stopping");
}

tcp::endpoint rtmp_server::local_endpoint() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

rtmp_server_stats rtmp_server::stats() const { return state_->stats; }

void rtmp_server::write_metrics(std::string& out) const {
  const auto& s = state_->stats;
  prometheus_writer w(out);
  w.family("meshcast_rtmp_connections_total", "counter", "RTMP connections accepted");
  w.sample("meshcast_rtmp_connections_total", {}, s.connections_accepted);
  w.family("meshcast_rtmp_connections_refused_total", "counter",
           "RTMP connections closed at once because max_connections were open");
  w.sample("meshcast_rtmp_connections_refused_total", {}, s.connections_refused);
  w.family("meshcast_rtmp_connections", "gauge", "RTMP connections open");
  w.sample("meshcast_rtmp_connections", {}, s.connections_active);
  w.family("meshcast_rtmp_publishes_total", "counter", "RTMP publish requests by outcome");
  w.sample("meshcast_rtmp_publishes_total", {{"result", "accepted"}}, s.publishes_accepted);
  w.sample("meshcast_rtmp_publishes_total", {{"result", "rejected"}}, s.publishes_rejected);
  w.family("meshcast_rtmp_protocol_errors_total", "counter",
           "RTMP connections closed for malformed input or exceeded limits");
  w.sample("meshcast_rtmp_protocol_errors_total", {}, s.protocol_errors);
  w.family("meshcast_rtmp_timeouts_total", "counter", "RTMP connections closed by a timeout");
  w.sample("meshcast_rtmp_timeouts_total", {}, s.timeouts);
  w.family("meshcast_rtmp_media_errors_total", "counter",
           "FLV tags skipped as malformed or refused (unsupported codec)");
  w.sample("meshcast_rtmp_media_errors_total", {}, s.media_errors);
  w.family("meshcast_rtmp_received_bytes_total", "counter", "Bytes received from RTMP clients");
  w.sample("meshcast_rtmp_received_bytes_total", {}, s.bytes_in);
  w.family("meshcast_rtmp_frames_total", "counter", "Frames pushed into streams from RTMP");
  w.sample("meshcast_rtmp_frames_total", {}, s.frames_in);
}

}  // namespace meshcast::net
