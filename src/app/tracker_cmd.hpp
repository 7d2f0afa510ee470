// `meshcast tracker`: the standalone tracker — the same HTTP + JSON API an origin embeds
// (/api/v1/announce, /leave, /swarm), for deployments where origins, edges and peers share one
// tracker. Runs one event loop on the calling thread until SIGINT/SIGTERM.
#pragma once

#include <string>

namespace meshcast::app {

struct tracker_settings {
  std::string http = "0.0.0.0:8090";
  std::string token;  ///< required from origins and edges when set
  int interval_seconds = 5;
};

int run_tracker(const tracker_settings& settings);

}  // namespace meshcast::app
