#include "app/cli.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>

extern "C" {
#include <libavutil/log.h>
}

#include "app/origin.hpp"
#include "app/peer.hpp"
#include "app/lab_cmd.hpp"
#include "app/tracker_cmd.hpp"
#include <spdlog/sinks/stdout_color_sinks.h>

namespace meshcast::app {
namespace {

/// Accepts "ADDR:PORT" with a numeric port (ADDR may be an IPv4 or a bracketed IPv6 address).
std::string check_endpoint(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    return "expected ADDR:PORT, got '" + s + "'";
  }
  for (std::size_t i = colon + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return "port must be a number in '" + s + "'";
  }
  if (std::stoul(s.substr(colon + 1, 6)) > 65535) return "port out of range in '" + s + "'";
  return {};
}

void add_origin(CLI::App& app, origin_settings& s, std::vector<std::string>& keys,
                std::vector<std::string>& specs, std::vector<std::string>& names) {
  auto* o = app.add_subcommand("origin", "Ingest live streams (RTMP, test source, files, TCP/HTTP) and serve them");
  o->configurable();
  o->add_option("--rtmp", s.rtmp, "RTMP ingest listen address ADDR:PORT")
      ->capture_default_str()->check(check_endpoint);
  o->add_option("--http", s.http, "HTTP listen address ADDR:PORT (HLS, continuous TS, API, metrics)")
      ->capture_default_str()->check(check_endpoint);
  o->add_option("--key", keys,
                "NAME=SECRET: stream live/NAME may be published over RTMP with ?key=SECRET "
                "(repeatable; without any --key, RTMP publishing is refused)");
  o->add_option("--source", specs,
                "A stream the origin pulls itself (repeatable, paired with --name in order): "
                "test[:WxH@FPS:KBPS] | file:PATH[:loop] | tcp://HOST:PORT | http://URL");
  o->add_option("--name", names, "Stream name for the --source at the same position (served as live/NAME)");
  o->add_option("--window", s.window_seconds, "Seconds of each stream kept in memory (chunk log)")
      ->capture_default_str()->check(CLI::Range(2, 3600));
  o->add_option("--chunk-ms", s.chunk_ms,
                "Chunk duration in ms (down to one frame with a small value): trades P2P delay "
                "against per-chunk overhead")
      ->capture_default_str()->check(CLI::Range(1, 10000));
  o->add_option("--playlist-segments", s.playlist_segments, "Segments listed in a live HLS playlist")
      ->capture_default_str()->check(CLI::Range(2, 100));
  o->add_option("--swarm", s.swarm, "Swarm listen address of the source peer ADDR:PORT (first stream; "
                "further streams take any free port, announced through the tracker)")
      ->capture_default_str()->check(check_endpoint);
  o->add_option("--public-host", s.public_host, "Address peers dial the source peer at (default: the "
                "--swarm address, or 127.0.0.1 when it is 0.0.0.0)");
  o->add_option("--signing-key", s.signing_key, "PEM file of the Ed25519 chunk-signing key, created if "
                "missing (default: a fresh key each start)");
  o->add_option("--tracker-token", s.tracker_token, "Token origins and edges must present to the embedded tracker");
  o->add_option("--swarm-upload-kbps", s.swarm_upload_kbps, "Upload budget of each source peer (0: unlimited)")
      ->capture_default_str();
  o->add_option("--max-neighbours", s.max_neighbours, "Peers the source peer serves directly")
      ->capture_default_str()->check(CLI::Range(1, 10000));
  o->add_option("--record", s.record, "FILE: write the first stream's swarm record for `meshcast lab` "
                "(chunks produced, bytes sent; docs/lab.md)");
}

void add_peer(CLI::App& app, peer_settings& s) {
  auto* p = app.add_subcommand("peer", "Join a stream's swarm and serve it to local players");
  p->configurable();
  p->add_option("--tracker", s.tracker, "Tracker URL, e.g. http://ORIGIN:8080 (the origin embeds one)");
  p->add_option("--join", s.join, "Bootstrap from any swarm node HOST:PORT instead of a tracker")
      ->check(check_endpoint);
  p->add_option("--stream", s.stream, "Stream to join: live/NAME")->required();
  p->add_option("--rendition", s.rendition, "Rendition to join")->capture_default_str();
  p->add_option("--swarm", s.swarm, "Swarm listen address ADDR:PORT (port 0: any free port)")
      ->capture_default_str()->check(check_endpoint);
  p->add_option("--http", s.http, "Local HTTP outputs ADDR:PORT (HLS, /live/NAME.ts, /api/v1/stats, /metrics)")
      ->capture_default_str()->check(check_endpoint);
  p->add_option("--upload-kbps", s.upload_kbps, "Upload budget for chunk data in kbit/s (0: unlimited)")
      ->capture_default_str();
  p->add_option("--playout-delay", s.playout_delay_ms,
                "Release chunks to local outputs at source time + this many ms (peers with the same "
                "delay play in step)")
      ->capture_default_str()->check(CLI::Range(0, 60000));
  p->add_option("--output", s.output, "'-' writes the stream to standard output (meshcast peer ... | ffplay -)");
  p->add_option("--tcp-output", s.tcp_output, "ADDR:PORT: serve the raw TS to every client that connects")
      ->check(check_endpoint);
  p->add_option("--public-key", s.public_key, "The origin's chunk-signing public key (hex or base64); "
                "learnt from the tracker when not given");
  p->add_option("--region", s.region, "Region reported to the tracker (neighbours are chosen near)");
  p->add_option("--min-neighbours", s.min_neighbours, "Dial candidates while below this")
      ->capture_default_str()->check(CLI::Range(1, 64));
  p->add_option("--max-neighbours", s.max_neighbours, "Refuse newcomers above this")
      ->capture_default_str()->check(CLI::Range(1, 256));
  p->add_option("--window", s.window_seconds, "Seconds of the stream kept in memory")
      ->capture_default_str()->check(CLI::Range(2, 3600));
  p->add_option("--record", s.record, "FILE: write this node's swarm record for `meshcast lab` "
                "(join, chunk arrivals, duplicates, bytes sent; docs/lab.md)");
}

void add_tracker(CLI::App& app, tracker_settings& s) {
  auto* t = app.add_subcommand("tracker", "Run a standalone tracker (the API an origin embeds)");
  t->configurable();
  t->add_option("--http", s.http, "HTTP listen address ADDR:PORT")->capture_default_str()->check(check_endpoint);
  t->add_option("--token", s.token, "Token origins and edges must present (Authorization: Bearer)");
  t->add_option("--interval", s.interval_seconds, "Announce interval asked of nodes, seconds")
      ->capture_default_str()->check(CLI::Range(1, 600));
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"meshcast: one live broadcaster, a very large audience, low delay, little server bandwidth"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "meshcast 0.1.0");
  app.set_config("--config", "", "TOML config file; keys are the long flag names, under a [origin] table");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  origin_settings origin;
  std::vector<std::string> keys, specs, names;
  add_origin(app, origin, keys, specs, names);
  peer_settings peer;
  add_peer(app, peer);
  tracker_settings tracker;
  add_tracker(app, tracker);
  experiment_settings lab, sim;
  add_experiment_commands(app, lab, sim);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // Logs go to stderr: standard output may carry the stream itself (meshcast peer --output -).
  spdlog::set_default_logger(spdlog::stderr_color_mt("meshcast"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  // libav* prints its own lines (x264's banner, demuxer chatter) to stderr: only errors, unless
  // we are debugging.
  av_log_set_level(log_level == "trace" ? AV_LOG_VERBOSE : log_level == "debug" ? AV_LOG_INFO : AV_LOG_ERROR);

  if (app.got_subcommand("origin")) {
    for (const auto& k : keys) {
      const auto eq = k.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == k.size()) {
        spdlog::error("--key expects NAME=SECRET, got '{}'", k);
        return 2;
      }
      origin.keys[k.substr(0, eq)] = k.substr(eq + 1);
    }
    if (names.size() > specs.size()) {
      spdlog::error("--name given {} times but --source only {} times", names.size(), specs.size());
      return 2;
    }
    for (std::size_t i = 0; i < specs.size(); ++i) {
      std::string name = i < names.size() ? names[i] : (i == 0 ? "demo" : "stream" + std::to_string(i + 1));
      if (name.rfind("live/", 0) == 0) name = name.substr(5);
      origin.sources.push_back({specs[i], name});
    }
    return run_origin(origin);
  }
  if (app.got_subcommand("tracker")) return run_tracker(tracker);
  if (app.got_subcommand("sim")) return run_sim(sim);
  if (app.got_subcommand("lab")) {
    std::error_code ec;
    lab.self_binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) lab.self_binary = argv[0];
    return run_lab(lab);
  }
  if (app.got_subcommand("peer")) {
    if (peer.tracker.empty() == peer.join.empty()) {
      spdlog::error("meshcast peer needs exactly one of --tracker URL or --join HOST:PORT");
      return 2;
    }
    if (peer.stream.rfind("live/", 0) != 0) peer.stream = "live/" + peer.stream;
    return run_peer(peer);
  }
  return 2;
}

}  // namespace meshcast::app
