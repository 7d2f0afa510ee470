#include "net/http_routes.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "media/hls_playlist.hpp"
#include "net/chunks_body.hpp"
#include "net/metrics.hpp"

namespace meshcast::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view k_playlist_type = "application/vnd.apple.mpegurl";
constexpr std::string_view k_ts_type = "video/mp2t";
// A segment never changes once complete and leaves the window after ~30 s, so caches may keep
// it; five minutes (not a day) limits the damage if a restarted origin reuses numbers.
constexpr std::string_view k_segment_cache = "public, max-age=300";
// A client that sends more than this on a continuous TS connection is not a player.
constexpr std::size_t k_max_ts_client_bytes = 64 * 1024;

struct ts_session;

}  // namespace

struct live_routes::state {
  state(media::stream_registry& r, const http_settings& s) : registry(r), settings(s) {}

  media::stream_registry& registry;
  http_settings settings;
  std::map<std::string, ts_output_stats, std::less<>> ts;  // by stream name, never erased
  std::set<ts_session*> sessions;
  bool stopped = false;
};

namespace {

using state_ptr = std::shared_ptr<live_routes::state>;

/// One continuous TS viewer: the ts_viewer policy plus the socket side. Lives in the frame of
/// serve_ts; the chunk-log listener and live_routes::stop() reach it by pointer while attached.
struct ts_session {
  ts_session(const asio::any_io_executor& ex, const media::ts_viewer_settings& settings,
             beast::tcp_stream& s, ts_output_stats& c)
      : viewer(settings), wake(ex), stream(s), counters(c) {}

  void attach(media::live_stream& live_stream, chunk::chunk_log& chunk_log) {
    live = &live_stream;
    log = &chunk_log;
    viewer.start(chunk_log);
    listener = chunk_log.subscribe([this](const chunk::chunk_ptr& c) { on_chunk(c); });
    live->viewer_joined();
    ++counters.viewers;
    ++counters.viewers_total;
    attached = true;
    note_queue();
  }

  void detach() {
    if (!attached) return;
    attached = false;
    log->unsubscribe(listener);
    live->viewer_left();
    --counters.viewers;
  }

  void on_chunk(const chunk::chunk_ptr& c) {
    const std::uint64_t drops = viewer.stats().drop_forwards;
    viewer.on_chunk(c);
    counters.drop_forwards += viewer.stats().drop_forwards - drops;
    note_queue();
    if (viewer.should_disconnect() && !closed) {
      ++counters.slow_disconnects;
      close(std::string(viewer.reason_text()));
    }
    wake.cancel();
  }

  // Ends both loops of serve_ts: the pending write or wait completes with operation_aborted.
  void close(std::string why) {
    if (closed) return;
    closed = true;
    reason = std::move(why);
    beast::error_code ignored;
    stream.socket().cancel(ignored);
    wake.cancel();
  }

  void note_queue() {
    counters.peak_queued_bytes = std::max(counters.peak_queued_bytes, viewer.queued_bytes());
  }

  media::ts_viewer viewer;
  asio::steady_timer wake;  // waits "forever"; cancelled when a chunk comes or on close
  beast::tcp_stream& stream;
  ts_output_stats& counters;
  media::live_stream* live = nullptr;
  chunk::chunk_log* log = nullptr;
  chunk::chunk_log::listener_id listener = 0;
  bool attached = false;
  bool closed = false;
  std::string reason = "client went away";
};

struct session_guard {
  state_ptr st;
  ts_session* session;
  ~session_guard() {
    if (st->sessions.erase(session) > 0) session->detach();
  }
};

// Sleeps one poll interval; false when the server stopped meanwhile.
asio::awaitable<bool> pause(const state_ptr& st) {
  asio::steady_timer t(co_await asio::this_coro::executor, st->settings.poll_interval);
  co_await t.async_wait(use_tuple);
  co_return !st->stopped;
}

http_reply not_found(const http_exchange& ex, std::string why) {
  return text_reply(ex.request, http::status::not_found, std::move(why));
}

http_reply stopping(const http_exchange& ex) {
  return text_reply(ex.request, http::status::service_unavailable, "server stopping");
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty() || s.size() > 19) return std::nullopt;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

/// NAME/RENDITION for a request that may wait for it. Sets `missing` to the 404 reason when the
/// stream or the rendition does not exist; returns null with `missing` empty while the stream has
/// no rendition at all (its first publisher is about to start: worth waiting for).
const media::rendition* find_rendition(const live_routes::state& st, const std::string& name,
                                       const std::string& rendition, std::string& missing) {
  const media::live_stream* s = st.registry.find(name);
  if (!s) {
    missing = "unknown stream " + name;
    return nullptr;
  }
  const media::rendition* r = s->find_rendition(rendition);
  if (!r && !s->renditions().empty()) missing = "unknown rendition " + name + "/" + rendition;
  return r;
}

// ---------------------------------------------------------------------------------------------
// HLS

asio::awaitable<http_reply> serve_master(state_ptr st, http_exchange& ex, std::string name) {
  ex.route_class = "master";
  const auto deadline = std::chrono::steady_clock::now() + st->settings.playlist_wait;
  for (;;) {
    const media::live_stream* s = st->registry.find(name);
    if (!s) co_return not_found(ex, "unknown stream " + name);
    if (auto text = media::master_playlist(*s)) {
      co_return http::message_generator(
          make_response(ex.request, http::status::ok, std::move(*text), k_playlist_type));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return not_found(ex, "no rendition yet in " + name);
    }
    if (!co_await pause(st)) co_return stopping(ex);
  }
}

asio::awaitable<http_reply> serve_media_playlist(state_ptr st, http_exchange& ex, std::string name,
                                                 std::string rendition) {
  ex.route_class = "playlist";
  const auto deadline = std::chrono::steady_clock::now() + st->settings.playlist_wait;
  for (;;) {
    std::string missing;
    const media::rendition* r = find_rendition(*st, name, rendition, missing);
    if (!missing.empty()) co_return not_found(ex, std::move(missing));
    if (r) {
      if (auto text = media::media_playlist(r->log(), rendition, st->settings.playlist_segments)) {
        co_return http::message_generator(
            make_response(ex.request, http::status::ok, std::move(*text), k_playlist_type));
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return not_found(ex, "no segment yet in " + name + "/" + rendition);
    }
    if (!co_await pause(st)) co_return stopping(ex);
  }
}

asio::awaitable<http_reply> serve_segment(state_ptr st, http_exchange& ex, std::string name,
                                          std::string rendition, std::string_view number) {
  ex.route_class = "segment";
  const media::live_stream* s = st->registry.find(name);
  if (!s) co_return not_found(ex, "unknown stream " + name);
  const media::rendition* r = s->find_rendition(rendition);
  if (!r) co_return not_found(ex, "unknown rendition " + name + "/" + rendition);
  const auto n = parse_number(number);
  if (!n) co_return not_found(ex, "bad segment number '" + std::string(number) + "'");
  std::vector<chunk::chunk_ptr> chunks = r->log().segment_chunks(core::segment_seq{*n});
  if (chunks.empty()) {
    co_return not_found(
        ex, "segment " + std::to_string(*n) + " of " + name + "/" + rendition + " is not held");
  }
  http::response<chunks_body> res{http::status::ok, ex.request.version()};
  set_common_headers(res, ex.request, k_ts_type, k_segment_cache);
  res.body() = std::move(chunks);
  res.prepare_payload();
  co_return http::message_generator(std::move(res));
}

// ---------------------------------------------------------------------------------------------
// Continuous TS

asio::awaitable<void> ts_write_loop(const state_ptr& st, ts_session& s) {
  while (!s.closed && !st->stopped) {
    if (chunk::chunk_ptr c = s.viewer.next_to_send()) {
      // Written straight from the shared chunk; `c` keeps it alive until the write completes.
      s.stream.expires_after(st->settings.write_timeout);
      const auto [ec, n] = co_await asio::async_write(
          s.stream, asio::buffer(c->payload().data(), c->size()), use_tuple);
      if (ec) {
        s.close(ec == beast::error::timeout ? "write timed out" : "write failed: " + ec.message());
        break;
      }
      s.viewer.on_sent(c);
      s.counters.bytes_sent += n;
      continue;
    }
    s.wake.expires_at(asio::steady_timer::time_point::max());
    co_await s.wake.async_wait(use_tuple);
  }
  s.close(s.reason);
}

// Notices the client closing (or sending junk) while the writer has nothing to write: without
// this a viewer that left during a publisher pause would hold its slot until the next chunk.
asio::awaitable<void> ts_watch_close(ts_session& s) {
  std::array<char, 512> sink{};
  std::size_t received = 0;
  tcp::socket& socket = s.stream.socket();
  while (!s.closed) {
    const auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
    if (ec || s.closed) break;
    beast::error_code rec;
    socket.non_blocking(true, rec);
    const std::size_t n = socket.read_some(asio::buffer(sink), rec);
    if (rec == asio::error::would_block) continue;
    if (rec) break;  // end of stream or reset
    received += n;
    if (received > k_max_ts_client_bytes) {
      s.close("client sent too much");
      break;
    }
  }
  s.close(s.reason);
}

asio::awaitable<http_reply> serve_ts(state_ptr st, http_exchange& ex, std::string name,
                                     std::string rendition) {
  ex.route_class = "ts";
  // The stream must have a segment start before we commit to a 200.
  const auto deadline = std::chrono::steady_clock::now() + st->settings.ts_start_wait;
  for (;;) {
    std::string missing;
    const media::rendition* r = find_rendition(*st, name, rendition, missing);
    if (!missing.empty()) co_return not_found(ex, std::move(missing));
    if (r && r->log().live_edge()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return not_found(ex, "no segment yet in " + name + "/" + rendition);
    }
    if (!co_await pause(st)) co_return stopping(ex);
  }

  // Body delimited by the connection closing: no Content-Length, no chunked encoding, which
  // every player (ffplay, mpv, VLC, ffmpeg) reads.
  http::response<http::empty_body> res{http::status::ok, ex.request.version()};
  set_common_headers(res, ex.request, k_ts_type, "no-cache, no-store");
  res.keep_alive(false);
  http::response_serializer<http::empty_body> sr{res};
  ex.stream.expires_after(st->settings.write_timeout);
  if (const auto [ec, n] = co_await http::async_write_header(ex.stream, sr, use_tuple); ec) {
    co_return std::nullopt;
  }
  media::live_stream* live = st->registry.find(name);
  media::rendition* r = live ? live->find_rendition(rendition) : nullptr;
  if (st->stopped || !r) co_return std::nullopt;
  if (st->settings.ts_send_buffer_bytes > 0) {
    beast::error_code ignored;
    ex.stream.socket().set_option(
        asio::socket_base::send_buffer_size(st->settings.ts_send_buffer_bytes), ignored);
  }

  beast::error_code ep_ec;
  const tcp::endpoint peer = ex.stream.socket().remote_endpoint(ep_ec);
  ts_session session{co_await asio::this_coro::executor, st->settings.ts_viewer, ex.stream,
                     st->ts[name]};
  st->sessions.insert(&session);
  const session_guard guard{st, &session};
  session.attach(*live, r->log());
  spdlog::info("http: continuous TS viewer {}:{} joined {}/{}", peer.address().to_string(),
               peer.port(), name, rendition);

  co_await (ts_write_loop(st, session) || ts_watch_close(session));

  spdlog::info("http: continuous TS viewer {}:{} left {}/{}: {} ({} bytes, {} drop-forwards)",
               peer.address().to_string(), peer.port(), name, rendition, session.reason,
               session.viewer.stats().bytes_sent, session.viewer.stats().drop_forwards);
  co_return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// /live/... dispatch, API, metrics

asio::awaitable<http_reply> serve_live(state_ptr st, http_exchange& ex) {
  // ex.rest is the path after "/live/": NAME.m3u8 | NAME.ts | NAME/R.m3u8 | NAME/R.ts |
  // NAME/R/SEQ.ts
  std::vector<std::string_view> parts;
  for (std::string_view rest = ex.rest;;) {
    const auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  const auto stem = [](std::string_view file, std::string_view ext) -> std::string_view {
    return file.size() > ext.size() && file.ends_with(ext)
               ? file.substr(0, file.size() - ext.size())
               : std::string_view{};
  };
  ex.route_class = "live_other";
  for (const auto p : parts) {
    if (p.empty()) co_return not_found(ex, "no such path " + std::string(ex.path));
  }
  const std::string_view last = parts.back();
  if (parts.size() == 1) {
    if (const auto n = stem(last, ".m3u8"); !n.empty()) {
      co_return co_await serve_master(st, ex, "live/" + std::string(n));
    }
    if (const auto n = stem(last, ".ts"); !n.empty()) {
      co_return co_await serve_ts(st, ex, "live/" + std::string(n), "source");
    }
  } else if (parts.size() == 2) {
    const std::string name = "live/" + std::string(parts[0]);
    if (const auto r = stem(last, ".m3u8"); !r.empty()) {
      co_return co_await serve_media_playlist(st, ex, name, std::string(r));
    }
    if (const auto r = stem(last, ".ts"); !r.empty()) {
      co_return co_await serve_ts(st, ex, name, std::string(r));
    }
  } else if (parts.size() == 3) {
    if (const auto n = stem(last, ".ts"); !n.empty()) {
      co_return co_await serve_segment(st, ex, "live/" + std::string(parts[0]),
                                       std::string(parts[1]), n);
    }
  }
  co_return not_found(ex, "no such path " + std::string(ex.path));
}

nlohmann::json rendition_json(const media::rendition& r) {
  const media::rendition_info& info = r.info();
  const chunk::chunk_log& log = r.log();
  const auto edge = log.live_edge();
  return {
      {"name", info.name},
      {"codecs", info.codecs},
      {"width", info.width},
      {"height", info.height},
      {"frame_rate", info.frame_rate},
      {"has_video", info.has_video},
      {"has_audio", info.has_audio},
      {"bitrate_bps", r.rate().bits_per_second()},
      {"chunks", log.size()},
      {"bytes", log.bytes()},
      {"first_seq", log.empty() ? nlohmann::json() : nlohmann::json(log.first_seq().value())},
      {"last_seq", log.empty() ? nlohmann::json() : nlohmann::json(log.last_seq().value())},
      {"live_edge", edge ? nlohmann::json(edge->value()) : nlohmann::json()},
      {"complete_segments", log.complete_segments().size()},
  };
}

asio::awaitable<http_reply> serve_streams(state_ptr st, http_exchange& ex) {
  nlohmann::json streams = nlohmann::json::array();
  for (const media::live_stream* s : st->registry.all()) {
    nlohmann::json renditions = nlohmann::json::array();
    for (const auto& r : s->renditions()) renditions.push_back(rendition_json(*r));
    const auto ts = st->ts.find(s->name());
    streams.push_back({
        {"name", s->name()},
        {"publisher",
         {{"state", s->state() == media::publisher_state::live ? "live" : "idle"},
          {"description", s->publisher()}}},
        {"publish_sessions", s->publish_sessions()},
        {"viewers", s->viewers()},
        {"ts_viewers", ts == st->ts.end() ? 0 : ts->second.viewers},
        {"renditions", std::move(renditions)},
    });
  }
  const nlohmann::json body{{"streams", std::move(streams)}};
  // Names come from publishers: never let a byte that is not UTF-8 throw.
  co_return http::message_generator(
      make_response(ex.request, http::status::ok,
                    body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                    "application/json"));
}

void write_metrics(const live_routes::state& st, std::string& out) {
  prometheus_writer w{out};
  const auto streams = st.registry.all();
  w.family("meshcast_stream_publisher_live", "gauge", "1 while the stream has a live publisher.");
  for (const auto* s : streams) {
    w.sample("meshcast_stream_publisher_live", {{"stream", s->name()}},
             std::uint64_t{s->state() == media::publisher_state::live});
  }
  w.family("meshcast_stream_publish_sessions_total", "counter", "Publishing sessions started.");
  for (const auto* s : streams) {
    w.sample("meshcast_stream_publish_sessions_total", {{"stream", s->name()}},
             s->publish_sessions());
  }
  w.family("meshcast_stream_viewers", "gauge", "Viewers of the stream, all outputs.");
  for (const auto* s : streams) {
    w.sample("meshcast_stream_viewers", {{"stream", s->name()}},
             static_cast<std::int64_t>(s->viewers()));
  }

  struct family {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t (*value)(const ts_output_stats&);
  };
  static constexpr family ts_families[] = {
      {"meshcast_ts_viewers", "gauge", "Continuous TS viewers connected.",
       [](const ts_output_stats& t) { return static_cast<std::uint64_t>(t.viewers); }},
      {"meshcast_ts_viewers_total", "counter", "Continuous TS viewers that joined.",
       [](const ts_output_stats& t) { return t.viewers_total; }},
      {"meshcast_ts_sent_bytes_total", "counter", "Continuous TS bytes written to viewers.",
       [](const ts_output_stats& t) { return t.bytes_sent; }},
      {"meshcast_ts_drop_forwards_total", "counter",
       "Times a slow continuous TS viewer was moved forward to a newer segment start.",
       [](const ts_output_stats& t) { return t.drop_forwards; }},
      {"meshcast_ts_slow_disconnects_total", "counter",
       "Continuous TS viewers disconnected for being too slow.",
       [](const ts_output_stats& t) { return t.slow_disconnects; }},
      {"meshcast_ts_peak_queued_bytes", "gauge",
       "Largest queue of chunks any continuous TS viewer of the stream had.",
       [](const ts_output_stats& t) { return static_cast<std::uint64_t>(t.peak_queued_bytes); }},
  };
  for (const family& f : ts_families) {
    w.family(f.name, f.type, f.help);
    for (const auto& [name, t] : st.ts) w.sample(f.name, {{"stream", name}}, f.value(t));
  }

  const auto per_rendition = [&](const char* name, const char* type, const char* help, auto value) {
    w.family(name, type, help);
    for (const auto* s : streams) {
      for (const auto& r : s->renditions()) {
        w.sample(name, {{"stream", s->name()}, {"rendition", r->info().name}}, value(*r));
      }
    }
  };
  per_rendition("meshcast_rendition_chunks", "gauge", "Chunks held in the chunk log.",
                [](const media::rendition& r) { return std::uint64_t{r.log().size()}; });
  per_rendition("meshcast_rendition_bytes", "gauge", "Payload bytes held in the chunk log.",
                [](const media::rendition& r) { return std::uint64_t{r.log().bytes()}; });
  per_rendition("meshcast_rendition_bitrate_bps", "gauge", "Measured rate of the rendition.",
                [](const media::rendition& r) { return r.rate().bits_per_second(); });
}

}  // namespace

live_routes::live_routes(media::stream_registry& streams, const http_settings& settings)
    : state_(std::make_shared<state>(streams, settings)) {}

live_routes::~live_routes() { stop(); }

void live_routes::install(http_server& server) {
  server.add_route(
      http::verb::get, "/live/", [st = state_](http_exchange& ex) { return serve_live(st, ex); },
      "live_other");
  server.add_route(
      http::verb::get, "/api/v1/streams",
      [st = state_](http_exchange& ex) { return serve_streams(st, ex); }, "api");
  server.add_metrics([st = state_](std::string& out) { write_metrics(*st, out); });
}

void live_routes::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  for (ts_session* s : state_->sessions) {
    s->detach();
    s->close("server stopping");
  }
  state_->sessions.clear();
}

ts_output_stats live_routes::ts_stats(std::string_view stream) const {
  const auto it = state_->ts.find(stream);
  return it == state_->ts.end() ? ts_output_stats{} : it->second;
}

}  // namespace meshcast::net
