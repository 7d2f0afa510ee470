// live_routes: the built-in routes of http_server, reading the stream registry —
//   GET /live/NAME.m3u8               master playlist
//   GET /live/NAME/RENDITION.m3u8     live media playlist (waits briefly for a first segment)
//   GET /live/NAME/RENDITION/SEQ.ts   one HLS segment (gather write of its chunks)
//   GET /live/NAME.ts, /live/NAME/RENDITION.ts   continuous MPEG-TS from the live edge
//   GET /api/v1/streams               JSON description of every stream
// and their /metrics families. Event-loop thread only; created and owned by http_server.
#pragma once

#include <memory>
#include <string_view>

#include "net/http_server.hpp"

namespace meshcast::net {

class live_routes {
 public:
  live_routes(media::stream_registry& streams, const http_settings& settings);
  ~live_routes();
  live_routes(const live_routes&) = delete;
  live_routes& operator=(const live_routes&) = delete;

  /// Registers the routes and the metrics hook on `server`.
  void install(http_server& server);
  /// Ends every continuous TS session now: unsubscribes it from its chunk log, counts the viewer
  /// out and cancels its socket, so nothing refers to the registry afterwards.
  void stop();

  [[nodiscard]] ts_output_stats ts_stats(std::string_view stream) const;

  struct state;  // shared with the handler coroutines

 private:
  std::shared_ptr<state> state_;
};

}  // namespace meshcast::net
