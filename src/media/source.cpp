#include "media/source.hpp"

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "media/demux_source.hpp"
#include "media/test_source.hpp"

namespace meshcast::media {

void source::start(source_callbacks callbacks) {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this, cb = std::move(callbacks)](std::stop_token stop) {
    auto r = run(cb, stop);
    if (!stop.stop_requested() && cb.on_end) cb.on_end(std::move(r));
  });
}

void source::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

bool source::sleep_until(const std::stop_token& stop,
                         std::chrono::steady_clock::time_point deadline) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_until(lock, stop, deadline, [] { return false; });
  return !stop.stop_requested();
}

core::result<std::unique_ptr<source>> make_source(std::string_view spec, double pace) {
  auto bad = [&](const std::string& why) {
    return core::make_error(source_error::bad_spec,
                            "source spec \"" + std::string(spec) + "\": " + why);
  };
  if (spec == "test" || spec.starts_with("test:")) {
    auto s = parse_test_spec(spec);
    if (!s) return s.error();
    s->pace = pace;
    return std::unique_ptr<source>(std::make_unique<test_source>(*s));
  }
  if (spec.starts_with("file:")) {
    demux_settings d;
    std::string_view path = spec.substr(5);
    if (path.ends_with(":loop")) {
      d.loop = true;
      path.remove_suffix(5);
    }
    if (path.empty()) return bad("expected file:PATH[:loop]");
    d.url = std::string(path);
    d.kind = demux_settings::input::file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(d.url, ec)) return bad("no such file: " + d.url);
    d.pace = pace;
    return std::unique_ptr<source>(std::make_unique<demux_source>(std::move(d)));
  }
  if (spec.starts_with("tcp://") || spec.starts_with("http://") || spec.starts_with("https://")) {
    const auto host = spec.substr(spec.find("://") + 3);
    if (host.empty() || host.front() == '/' || host.front() == ':')
      return bad("expected a host after ://");
    if (spec.starts_with("tcp://") && host.find(':') == std::string_view::npos) {
      return bad("expected tcp://HOST:PORT");
    }
    demux_settings d;
    d.url = std::string(spec);
    d.kind = demux_settings::input::network;
    return std::unique_ptr<source>(std::make_unique<demux_source>(std::move(d)));
  }
  return bad("expected test[:WxH@FPS[:KBPS]], file:PATH[:loop], tcp://HOST:PORT or http://...");
}

}  // namespace meshcast::media
