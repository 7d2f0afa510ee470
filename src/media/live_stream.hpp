// live_stream: one live broadcast (`live/<name>`) and its renditions, each with its chunk log.
// At the origin a publisher (RTMP session, test source, pulled source) feeds frames through
// begin_publish/push/end_publish and the stream's packager; at edges and peers the swarm inserts
// verified chunks into the logs directly. stream_registry owns all streams of a node.
// Single-threaded: everything here runs on the node's event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chunk/chunk_log.hpp"
#include "core/result.hpp"
#include "media/frame.hpp"
#include "media/packager.hpp"

namespace meshcast::media {

struct rendition_info {
  std::string name = "source";
  std::string codecs;            ///< RFC 6381, comma separated: "avc1.64001f,mp4a.40.2"
  int width = 0;
  int height = 0;
  double frame_rate = 0;
  bool has_video = false;
  bool has_audio = false;
};

/// Exponentially smoothed byte rate over chunk arrivals; bits per second.
class rate_meter {
 public:
  void add(std::size_t bytes, core::time_point now);
  [[nodiscard]] double bits_per_second() const { return bps_; }

 private:
  std::optional<core::time_point> window_start_;
  std::size_t window_bytes_ = 0;
  double bps_ = 0;
};

class rendition {
 public:
  rendition(rendition_info info, core::micros window);

  [[nodiscard]] const rendition_info& info() const { return info_; }
  void set_info(rendition_info info) { info_ = std::move(info); }
  [[nodiscard]] chunk::chunk_log& log() { return log_; }
  [[nodiscard]] const chunk::chunk_log& log() const { return log_; }
  [[nodiscard]] const rate_meter& rate() const { return rate_; }

  /// Inserts a chunk into the log and accounts its bytes. Used by packagers and the swarm alike.
  chunk::insert_result add(const chunk::chunk_ptr& c);

 private:
  rendition_info info_;
  chunk::chunk_log log_;
  rate_meter rate_;
};

enum class publisher_state { idle, live };

class live_stream;

/// Turns a freshly packaged chunk into the one that is stored and served — at the origin, the
/// signed chunk (chunk::signer). Empty: chunks are stored as packaged.
using chunk_finisher =
    std::function<chunk::chunk_ptr(const live_stream&, const rendition&, chunk::chunk_ptr)>;

struct stream_settings {
  core::micros window{30'000'000};
  packager_settings packaging;
  chunk_finisher finish;
};

class live_stream {
 public:
  live_stream(std::string name, stream_settings settings);

  [[nodiscard]] const std::string& name() const { return name_; }  ///< "live/<name>"
  [[nodiscard]] publisher_state state() const { return state_; }
  [[nodiscard]] const std::string& publisher() const { return publisher_; }

  [[nodiscard]] const std::vector<std::unique_ptr<rendition>>& renditions() const {
    return renditions_;
  }
  [[nodiscard]] rendition* find_rendition(std::string_view name) const;
  /// The rendition named "source", creating it if needed (edges and peers add chunks to it).
  rendition& source();

  /// Starts a publishing session. Fails with a clear message if another publisher is live or the
  /// config is unusable. `who` describes the publisher for logs and /api/v1/streams.
  core::result<void> begin_publish(const media_config& config, std::string who);
  core::result<void> push(const frame& f, core::time_point now);
  void end_publish();

  /// Viewer accounting, maintained by the outputs (continuous TS sessions, HLS clients).
  void viewer_joined() { ++viewers_; }
  void viewer_left() { --viewers_; }
  [[nodiscard]] int viewers() const { return viewers_; }
  [[nodiscard]] std::uint64_t publish_sessions() const { return publish_sessions_; }

 private:
  std::string name_;
  stream_settings settings_;
  std::vector<std::unique_ptr<rendition>> renditions_;
  std::unique_ptr<packager> packager_;
  publisher_state state_ = publisher_state::idle;
  std::string publisher_;
  int viewers_ = 0;
  std::uint64_t publish_sessions_ = 0;
};

class stream_registry {
 public:
  explicit stream_registry(stream_settings defaults) : defaults_(defaults) {}

  /// `name` is the full path "live/<name>".
  [[nodiscard]] live_stream* find(std::string_view name) const;
  live_stream& get_or_create(const std::string& name);
  [[nodiscard]] std::vector<live_stream*> all() const;

 private:
  stream_settings defaults_;
  std::map<std::string, std::unique_ptr<live_stream>, std::less<>> streams_;
};

}  // namespace meshcast::media
