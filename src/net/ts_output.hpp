// Continuous MPEG-TS outputs of a node other than HTTP: standard output (`--output -`, for
// `meshcast peer ... | ffplay -`) and a raw TCP server (`--tcp-output`, for players such as
// GStreamer's tcpclientsrc). Each reader starts at the live edge of a chunk log and follows it
// under the same slow-reader policy as HTTP viewers (media::ts_viewer): dropped forward to the
// next segment start, or disconnected, with bounded memory. Runs on the node's io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "chunk/chunk_log.hpp"
#include "core/result.hpp"
#include "media/ts_viewer.hpp"

namespace meshcast::net {

struct ts_output_counters {
  std::uint64_t readers_total = 0;
  std::int64_t readers = 0;
  std::uint64_t bytes = 0;
  std::uint64_t drop_forwards = 0;
};

/// Writes the log's continuous TS to standard output until stop() or until stdout closes (the
/// player quit). Works for pipes, terminals and regular files.
class stdout_ts_output {
 public:
  stdout_ts_output(boost::asio::io_context& io, chunk::chunk_log& log, media::ts_viewer_settings settings = {});
  ~stdout_ts_output();
  void start();
  void stop();
  /// True once stdout closed (e.g. the player exited).
  [[nodiscard]] bool finished() const;
  [[nodiscard]] ts_output_counters counters() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

/// Serves the log's continuous TS raw (no HTTP) to every client that connects.
class tcp_ts_output {
 public:
  tcp_ts_output(boost::asio::io_context& io, chunk::chunk_log& log, boost::asio::ip::tcp::endpoint listen,
                media::ts_viewer_settings settings = {});
  ~tcp_ts_output();
  /// "tcp output: cannot listen on 127.0.0.1:9000: Address already in use"
  core::result<void> start();
  void stop();
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;
  [[nodiscard]] ts_output_counters counters() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace meshcast::net
