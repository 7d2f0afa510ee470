#include "net/tracker_client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

#include "net/http_client.hpp"

namespace meshcast::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace pt = proto::tracker;

struct tracker_client::state {
  state(asio::io_context& io, tracker_client_settings s, response_handler r, error_handler e)
      : ioc(io),
        timer(io),
        http(io.get_executor()),
        settings(std::move(s)),
        core(settings.client, settings.clock.now()),
        on_response(std::move(r)),
        on_error(std::move(e)) {}

  asio::io_context& ioc;
  asio::steady_timer timer;
  http_client http;
  tracker_client_settings settings;
  http_url url;
  pt::client core;
  response_handler on_response;
  error_handler on_error;
  std::function<void()> on_stopped;
  bool started = false;
  bool stopping = false;
  bool finished = false;
  bool destroyed = false;
};

namespace {

using state_ptr = std::shared_ptr<tracker_client::state>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void finish(tracker_client::state& st) {
  if (st.finished) return;
  st.finished = true;
  if (auto done = std::exchange(st.on_stopped, nullptr)) asio::post(st.ioc, std::move(done));
}

// Hands the core's events to the callbacks. A callback may stop or destroy the client.
void deliver(const state_ptr& st) {
  while (auto e = st->core.poll_event()) {
    if (st->destroyed) return;
    if (auto* ok = std::get_if<pt::announced_event>(&*e)) {
      if (!st->stopping && st->on_response) st->on_response(ok->response);
    } else if (auto* failed = std::get_if<pt::failed_event>(&*e)) {
      spdlog::debug(
          "{} (retry in {} ms)", failed->error.message,
          std::chrono::duration_cast<std::chrono::milliseconds>(failed->retry_at - st->settings.clock.now())
              .count());
      if (!st->stopping && st->on_error) st->on_error(failed->error);
    } else if (std::holds_alternative<pt::left_event>(*e)) {
      finish(*st);
    }
  }
}

asio::awaitable<void> announce_loop(state_ptr st) {
  while (!st->destroyed) {
    core::time_point now = st->settings.clock.now();
    if (auto req = st->core.poll_request(now)) {
      const bool leaving = req->kind == pt::request_kind::leave;
      http_headers headers;
      if (!st->settings.token.empty()) {
        headers.emplace_back("Authorization", "Bearer " + st->settings.token);
      }
      const http_client_limits limits{
          .timeout = leaving ? st->settings.leave_timeout : st->settings.request_timeout,
          .body_limit = pt::k_max_response_bytes};
      auto res = co_await st->http.request(st->url, http::verb::post, std::string(req->target),
                                           std::move(req->body), limits, std::move(headers));
      if (st->destroyed) co_return;
      now = st->settings.clock.now();
      if (res) {
        st->core.on_response(req->id, static_cast<int>(res->status), res->body, now);
      } else {
        st->core.on_failure(req->id, res.error().message, now);
      }
    }
    deliver(st);
    if (st->destroyed) co_return;
    if (st->core.current_state() == pt::client::state::done) {
      finish(*st);
      co_return;
    }
    const auto deadline = st->core.next_deadline();
    if (deadline && *deadline <= now) continue;
    // No deadline cannot happen here (nothing is in flight), but never spin: wait a second.
    const core::micros wait = deadline ? *deadline - now : core::micros{1'000'000};
    st->timer.expires_after(st->settings.clock.to_wall(wait));
    co_await st->timer.async_wait(use_tuple);  // cancelled by stop() and announce_soon()
  }
}

}  // namespace

tracker_client::tracker_client(asio::io_context& ioc, tracker_client_settings settings,
                               response_handler on_response, error_handler on_error)
    : state_(std::make_shared<state>(ioc, std::move(settings), std::move(on_response),
                                     std::move(on_error))) {}

tracker_client::~tracker_client() {
  state_->destroyed = true;
  state_->http.cancel();
  state_->timer.cancel();
}

core::result<void> tracker_client::start() {
  state& st = *state_;
  if (st.started || st.stopping) return core::error{1, "tracker: client already started"};
  auto url = parse_http_url(st.settings.url);
  if (!url) return url.error().with_context("tracker");
  st.url = std::move(*url);
  st.started = true;
  asio::co_spawn(st.ioc, announce_loop(state_), [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);  // a callback threw: let io_context::run() report it
  });
  return core::ok();
}

void tracker_client::stop(std::function<void()> on_stopped) {
  state& st = *state_;
  if (st.stopping) return;
  st.stopping = true;
  st.on_stopped = std::move(on_stopped);
  st.core.leave(st.settings.clock.now());
  if (!st.started) {
    finish(st);
    return;
  }
  st.http.cancel();
  st.timer.cancel();
}

void tracker_client::set_stats(pt::node_stats stats) { state_->core.set_stats(std::move(stats)); }
void tracker_client::set_upload_kbps(std::uint32_t kbps) { state_->core.set_upload_kbps(kbps); }
void tracker_client::set_stream_kbps(std::uint32_t kbps) { state_->core.set_stream_kbps(kbps); }

void tracker_client::announce_soon() {
  state_->core.announce_soon(state_->settings.clock.now());
  state_->timer.cancel();
}

const std::optional<pt::announce_response>& tracker_client::last_response() const {
  return state_->core.last_response();
}

bool tracker_client::running() const { return state_->started && !state_->finished; }

}  // namespace meshcast::net
