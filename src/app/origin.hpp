// `meshcast origin`: ingests live streams (RTMP publishers, the built-in test source, pulled
// file/TCP/HTTP sources), packages them into chunks kept in each stream's chunk log, and serves
// HLS, continuous MPEG-TS, /api/v1/streams and /metrics over HTTP. Runs one event loop on the
// calling thread until SIGINT/SIGTERM; pulled sources run on their own threads and post to it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/time.hpp"

namespace meshcast::app {

struct pulled_source {
  std::string spec;  ///< test[:WxH@FPS:KBPS] | file:PATH[:loop] | tcp://HOST:PORT | http://...
  std::string name;  ///< stream name without the "live/" prefix
};

struct origin_settings {
  std::string rtmp = "0.0.0.0:1935";
  std::string http = "0.0.0.0:8080";
  std::map<std::string, std::string> keys;  ///< stream name (without "live/") -> secret
  std::vector<pulled_source> sources;
  int window_seconds = 30;
  int chunk_ms = 100;
  int playlist_segments = 6;
  std::string swarm = "0.0.0.0:7070";  ///< the first stream's source peer; later streams: any port
  std::string public_host;             ///< address peers dial the source peer at; default: --swarm's, or 127.0.0.1
  std::string signing_key;             ///< PEM file of the chunk-signing key; created if missing
  std::string tracker_token;           ///< required from origins/edges announcing to the embedded tracker
  std::uint32_t swarm_upload_kbps = 0; ///< upload budget of each source peer; 0 = unlimited
  int max_neighbours = 64;             ///< peers the source peer of each stream serves directly
  std::string record;                  ///< lab record of the first stream's source peer (lab/sansio/record.hpp)
};

/// Runs the origin until a stop signal; returns the process exit code. Fails fast (exit code 1,
/// clear message) when a port cannot be bound or a source spec is malformed.
int run_origin(const origin_settings& settings);

}  // namespace meshcast::app
