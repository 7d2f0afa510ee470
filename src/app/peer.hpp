// `meshcast peer`: joins one stream's swarm (through a tracker, or by dialling any known node with
// --join), verifies and exchanges chunks with its neighbours, and serves the reconstructed stream
// locally exactly like the origin's HTTP outputs (HLS, continuous TS), plus standard output and a
// raw TCP output, released at source time + playout delay. Runs one event loop until a signal.
#pragma once

#include <cstdint>
#include <string>

namespace meshcast::app {

struct peer_settings {
  std::string tracker;  ///< http://HOST:PORT of a tracker (or an origin with its embedded one)
  std::string join;     ///< HOST:PORT of any swarm node, instead of a tracker
  std::string stream;   ///< live/NAME
  std::string rendition = "source";
  std::string swarm = "0.0.0.0:0";
  std::string http = "127.0.0.1:8081";
  std::string output;      ///< "-" = standard output
  std::string tcp_output;  ///< ADDR:PORT for raw TS readers
  std::string public_key;  ///< the origin's key (hex/base64); learnt from the tracker otherwise
  std::string region;
  std::uint32_t upload_kbps = 0;
  int playout_delay_ms = 1500;
  int min_neighbours = 8;
  int max_neighbours = 24;
  int window_seconds = 30;
  std::string record;  ///< lab record file (lab/sansio/record.hpp); empty = none
};

int run_peer(const peer_settings& settings);

}  // namespace meshcast::app
