#include "app/tracker_cmd.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "media/live_stream.hpp"
#include "net/endpoint.hpp"
#include "net/http_server.hpp"
#include "net/tracker_routes.hpp"
#include "tracker/service.hpp"

namespace meshcast::app {

int run_tracker(const tracker_settings& s) {
  auto ep = net::parse_endpoint(s.http);
  if (!ep) {
    spdlog::error("--http: {}", ep.error().message);
    return 1;
  }
  boost::asio::io_context io{1};
  media::stream_registry no_streams(media::stream_settings{});  // the tracker serves no media
  net::http_settings hs;
  hs.endpoint = *ep;
  net::http_server http(io, no_streams, hs);
  tracker::service_settings ts;
  ts.token = s.token;
  ts.registry.interval = std::chrono::seconds{s.interval_seconds};
  tracker::service service(ts);
  net::add_tracker_routes(http, service);
  if (auto r = http.start(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  spdlog::info("meshcast tracker on http://{}:{}/api/v1/  (announce, leave, swarm)", net::url_host(http.local_endpoint()),
               http.local_endpoint().port());
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    http.stop();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace meshcast::app
