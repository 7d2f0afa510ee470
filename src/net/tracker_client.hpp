// tracker_client: the Asio driver of proto::tracker::client. It announces this node to a tracker
// over HTTP (net/http_client.hpp) at the interval the tracker asks, backs off on failure, hands
// every answer and error to callbacks, and on stop() sends a leave, waiting at most
// leave_timeout. One coroutine and one steady timer set to the core's next deadline.
// Event-loop thread only: every member function and both callbacks run on the io_context's
// thread. The io_context must outlive the client; destroying the client sends no leave.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "core/time.hpp"
#include "proto/tracker/client.hpp"

namespace meshcast::net {

struct tracker_client_settings {
  std::string url;    ///< tracker base URL, "http://127.0.0.1:8080" (the /api/v1/... is added)
  std::string token;  ///< sent as "Authorization: Bearer TOKEN" when set (origins and edges)
  std::chrono::milliseconds request_timeout{5'000};  ///< one announce, connect to answer
  std::chrono::milliseconds leave_timeout{1'000};    ///< the leave sent by stop()
  proto::tracker::client_settings client;  ///< the node to announce, interval clamps, backoff
  /// The node's time (a lab's dilated clock stretches the announce intervals into wall time).
  core::dilated_clock clock;
};

class tracker_client {
 public:
  /// Called for every successful announce, with the interval, key and ranked candidates.
  using response_handler = std::function<void(const proto::tracker::announce_response&)>;
  /// Called for every failed announce; the client retries by itself after the backoff.
  /// error.code is a proto::tracker::client_errc.
  using error_handler = std::function<void(const core::error&)>;

  tracker_client(boost::asio::io_context& ioc, tracker_client_settings settings,
                 response_handler on_response, error_handler on_error);
  ~tracker_client();
  tracker_client(const tracker_client&) = delete;
  tracker_client& operator=(const tracker_client&) = delete;

  /// Checks the URL and starts announcing (the first announce goes at once). Fails with the
  /// reason ("tracker: only http:// URLs are supported, got 'https://...'"). Call once.
  core::result<void> start();
  /// Stops announcing, aborts an announce in flight and sends a leave; `on_stopped` runs once
  /// the tracker answered it or leave_timeout passed (at once if the node never announced).
  /// Neither callback runs after stop(). Idempotent (a second on_stopped is dropped).
  void stop(std::function<void()> on_stopped = {});

  /// What the next announce reports.
  void set_stats(proto::tracker::node_stats stats);
  void set_upload_kbps(std::uint32_t kbps);
  void set_stream_kbps(std::uint32_t kbps);
  /// Announce as soon as min_interval allows (e.g. the node lost neighbours).
  void announce_soon();

  /// The last successful answer, if any.
  [[nodiscard]] const std::optional<proto::tracker::announce_response>& last_response() const;
  [[nodiscard]] bool running() const;

  struct state;  // shared with the announce coroutine, which may outlive the client object

 private:
  std::shared_ptr<state> state_;
};

}  // namespace meshcast::net
