#include "app/cli.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

extern "C" {
#include <libavutil/log.h>
}

#include "app/origin.hpp"

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
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
  return 2;
}

}  // namespace meshcast::app
