#include "app/peer.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <memory>

#include "app/swarm_member.hpp"
#include "media/live_stream.hpp"
#include "net/endpoint.hpp"
#include "net/http_server.hpp"
#include "net/tracker_client.hpp"
#include "net/ts_output.hpp"
#include "sim/node_config.hpp"

namespace meshcast::app {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ps = proto::swarm;
namespace pt = proto::tracker;

std::vector<ps::peer_address> addresses(const pt::announce_response& r) {
  std::vector<ps::peer_address> out;
  out.reserve(r.candidates.size());
  for (const auto& c : r.candidates) out.push_back(c.address);
  return out;
}

/// The playout figures a peer reports to the tracker (for the dashboard); the numbers the tracker
/// ranks candidates by come from the node (sim::announce_stats).
pt::node_stats playout_stats(const nlohmann::json& s) {
  pt::node_stats out;
  if (s.contains("playout")) {
    const auto& p = s["playout"];
    out["continuity"] = p.value("continuity", 1.0);
    if (p.contains("arrival_delay_ms")) out["delay_p95_ms"] = p["arrival_delay_ms"].value("p95", 0.0);
  }
  return out;
}

}  // namespace

int run_peer(const peer_settings& s) {
  auto swarm_ep = net::parse_endpoint(s.swarm);
  auto http_ep = net::parse_endpoint(s.http);
  if (!swarm_ep || !http_ep) {
    spdlog::error("{}", (!swarm_ep ? swarm_ep.error() : http_ep.error()).message);
    return 1;
  }

  asio::io_context io{1};

  // What local players read: chunks released by the playout, served like the origin serves.
  media::stream_settings out_settings;
  out_settings.window = std::chrono::seconds{s.window_seconds};
  media::stream_registry outputs(out_settings);
  media::live_stream& out_stream = outputs.get_or_create(s.stream);
  media::rendition& out_rendition = out_stream.source();

  // The swarm store: every verified chunk, as soon as it arrives (what neighbours are served).
  chunk::chunk_log swarm_log(std::chrono::seconds{s.window_seconds});

  swarm_member_settings ms;
  ms.role = ps::node_role::peer;
  ms.stream = s.stream;
  ms.rendition = s.rendition;
  ms.listen = *swarm_ep;
  ms.upload_kbps = s.upload_kbps;
  ms.min_neighbours = static_cast<std::size_t>(s.min_neighbours);
  ms.max_neighbours = static_cast<std::size_t>(s.max_neighbours);
  ms.playout_delay = std::chrono::milliseconds{s.playout_delay_ms};
  ms.region = s.region;
  ms.record_path = s.record;
  swarm_member member(io, ms, swarm_log, [&out_rendition](const chunk::chunk_ptr& c) { out_rendition.add(c); });

  if (!s.public_key.empty()) {
    auto key = chunk::parse_public_key(s.public_key);
    if (!key) {
      spdlog::error("--public-key: {}", key.error().message);
      return 2;
    }
    member.set_public_key(*key);
  }

  net::http_settings hs;
  hs.endpoint = *http_ep;
  net::http_server http(io, outputs, hs);
  http.add_route(http::verb::get, "/api/v1/stats", [&](net::http_exchange& ex) -> asio::awaitable<net::http_reply> {
    co_return net::http_reply{net::make_response(ex.request, http::status::ok, member.stats_json().dump(2),
                                                 "application/json", "no-cache")};
  }, "stats");
  http.add_metrics([&](std::string& out) { member.write_metrics(out); });

  if (auto r = member.start(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  if (auto r = http.start(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }

  std::unique_ptr<net::stdout_ts_output> to_stdout;
  if (s.output == "-") {
    to_stdout = std::make_unique<net::stdout_ts_output>(io, out_rendition.log());
    to_stdout->start();
  } else if (!s.output.empty()) {
    spdlog::error("--output supports only '-' (standard output)");
    return 2;
  }
  std::unique_ptr<net::tcp_ts_output> to_tcp;
  if (!s.tcp_output.empty()) {
    auto ep = net::parse_endpoint(s.tcp_output);
    if (!ep) {
      spdlog::error("--tcp-output: {}", ep.error().message);
      return 2;
    }
    to_tcp = std::make_unique<net::tcp_ts_output>(io, out_rendition.log(), *ep);
    if (auto r = to_tcp->start(); !r) {
      spdlog::error("{}", r.error().message);
      return 1;
    }
  }

  std::unique_ptr<net::tracker_client> tracker;
  asio::steady_timer stats_timer(io);
  if (!s.tracker.empty()) {
    net::tracker_client_settings ts;
    ts.url = s.tracker;
    pt::announce_request& a = ts.client.node;
    a.id = member.id();
    a.stream = s.stream;
    a.rendition = s.rendition;
    a.role = ps::node_role::peer;
    a.port = member.swarm_endpoint().port();
    if (!swarm_ep->address().is_unspecified()) a.host = swarm_ep->address().to_string();
    a.upload_kbps = s.upload_kbps;
    a.region = s.region;
    ts.client.seed = std::random_device{}();
    tracker = std::make_unique<net::tracker_client>(
        io, ts,
        [&](const pt::announce_response& r) {
          if (!r.public_key.empty()) {
            if (auto key = chunk::parse_public_key(r.public_key); key && !member.has_public_key()) {
              member.set_public_key(*key);
              spdlog::info("peer: origin public key {}", r.public_key);
            }
          }
          if (!member.has_public_key()) {
            spdlog::warn("peer: the tracker knows no public key for {} yet; waiting", s.stream);
            return;
          }
          member.add_candidates(addresses(r));
        },
        [&](const core::error& e) { spdlog::warn("peer: {}", e.message); });
    if (auto r = tracker->start(); !r) {
      spdlog::error("{}", r.error().message);
      return 2;
    }
  } else {
    auto ep = net::parse_endpoint(s.join);
    member.dial(*ep);
  }

  // Every second: refresh what the next announce reports, and announce now when the node,
  // starving, wants fresh candidates. Every fifth: the playout figures and a status line.
  std::uint64_t ticks = 0;
  pt::node_stats playout_figures;
  std::function<void()> tick = [&] {
    stats_timer.expires_after(std::chrono::seconds{1});
    stats_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      const bool status = ++ticks % 5 == 0;
      nlohmann::json j;
      if (status) {
        j = member.stats_json();
        playout_figures = playout_stats(j);
      }
      if (tracker) {
        pt::node_stats st = playout_figures;
        for (auto& [k, v] : sim::announce_stats(member.node(), core::system_clock{}.now())) st[k] = v;
        tracker->set_stats(std::move(st));
        if (member.node().take_candidates_wanted()) tracker->announce_soon();
      }
      if (!status) {
        tick();
        return;
      }
      if (j.contains("playout")) {
        spdlog::debug("peer: continuity {:.4f}, neighbours {}", j["playout"].value("continuity", 1.0),
                      j["neighbours"].size());
      }
      if (to_stdout && to_stdout->finished()) {
        spdlog::info("peer: standard output closed; leaving");
        raise(SIGTERM);
      }
      tick();
    });
  };
  tick();

  const std::string base = "http://" + net::url_host(http.local_endpoint()) + ":" +
                           std::to_string(http.local_endpoint().port());
  spdlog::info("meshcast peer {} joining {} (swarm port {})", member.id_hex(), s.stream,
               member.swarm_endpoint().port());
  spdlog::info("watch: ffplay {}/{}.ts   |   HLS {}/{}.m3u8   |   stats {}/api/v1/stats", base, s.stream, base,
               s.stream, base);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: leaving", sig);
    stats_timer.cancel();
    if (to_stdout) to_stdout->stop();
    if (to_tcp) to_tcp->stop();
    member.stop();
    http.stop();
    if (tracker) {
      tracker->stop([&io] { io.stop(); });
    } else {
      io.stop();
    }
  });
  io.run();
  spdlog::info("meshcast peer stopped");
  return 0;
}

}  // namespace meshcast::app
