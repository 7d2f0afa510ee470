#include "net/ts_output.hpp"

#include "net/endpoint.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <set>

namespace meshcast::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// One reader of a chunk log: the ts_viewer policy, a wake-up timer and the log subscription.
struct reader {
  reader(asio::io_context& io, chunk::chunk_log& l, const media::ts_viewer_settings& s)
      : log(l), viewer(s), wake(io) {
    viewer.start(log);
    listener = log.subscribe([this](const chunk::chunk_ptr& c) {
      viewer.on_chunk(c);
      wake.cancel();
    });
  }
  ~reader() { log.unsubscribe(listener); }
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;

  /// Writes chunks to `out` as they come until the viewer policy, an error or `stop` ends it.
  template <class Stream>
  asio::awaitable<std::string> run(Stream& out, const bool& stop, ts_output_counters& counters) {
    while (!stop) {
      if (viewer.should_disconnect()) co_return std::string(viewer.reason_text());
      if (chunk::chunk_ptr c = viewer.next_to_send()) {
        auto [ec, n] = co_await asio::async_write(out, asio::buffer(c->payload().data(), c->size()), use_tuple);
        if (ec) co_return "write failed: " + ec.message();
        viewer.on_sent(c);
        counters.bytes += n;
        continue;
      }
      wake.expires_at(asio::steady_timer::time_point::max());
      co_await wake.async_wait(use_tuple);
    }
    co_return "stopped";
  }

  chunk::chunk_log& log;
  media::ts_viewer viewer;
  asio::steady_timer wake;
  chunk::chunk_log::listener_id listener = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct stdout_ts_output::state {
  state(asio::io_context& i, chunk::chunk_log& l, media::ts_viewer_settings s) : io(i), log(l), settings(s) {}
  asio::io_context& io;
  chunk::chunk_log& log;
  media::ts_viewer_settings settings;
  bool stop = false;
  bool finished = false;
  ts_output_counters counters;
  reader* active = nullptr;
};

namespace {

/// Blocking writes for a regular file, which epoll cannot watch: a file write does not stall.
struct file_writer {
  int fd;
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          std::size_t total = 0;
          boost::system::error_code ec;
          for (auto it = asio::buffer_sequence_begin(bufs); it != asio::buffer_sequence_end(bufs); ++it) {
            const auto* p = static_cast<const char*>(it->data());
            std::size_t left = it->size();
            while (left > 0) {
              const ssize_t n = ::write(fd, p, left);
              if (n < 0) {
                if (errno == EINTR) continue;
                ec.assign(errno, boost::system::system_category());
                break;
              }
              p += n;
              left -= static_cast<std::size_t>(n);
              total += static_cast<std::size_t>(n);
            }
            if (ec) break;
          }
          auto ex = asio::get_associated_executor(handler);
          asio::post(ex, [h = std::move(handler), ec, total]() mutable { h(ec, total); });
        },
        token, b);
  }
  using executor_type = asio::any_io_executor;
};

asio::awaitable<void> stdout_loop(std::shared_ptr<stdout_ts_output::state> st) {
  reader r(st->io, st->log, st->settings);
  st->active = &r;
  ++st->counters.readers_total;
  ++st->counters.readers;
  struct stat sb {};
  std::string why;
  const int fd = ::dup(STDOUT_FILENO);
  if (fd >= 0 && ::fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
    file_writer w{fd};
    why = co_await r.run(w, st->stop, st->counters);
    ::close(fd);
  } else if (fd >= 0) {
    asio::posix::stream_descriptor out(st->io, fd);
    why = co_await r.run(out, st->stop, st->counters);
  } else {
    why = "cannot use standard output";
  }
  st->counters.drop_forwards += r.viewer.stats().drop_forwards;
  --st->counters.readers;
  st->active = nullptr;
  st->finished = true;
  if (!st->stop) spdlog::info("stdout output ended: {}", why);
}

}  // namespace

stdout_ts_output::stdout_ts_output(asio::io_context& io, chunk::chunk_log& log, media::ts_viewer_settings settings)
    : state_(std::make_shared<state>(io, log, settings)) {}
stdout_ts_output::~stdout_ts_output() { stop(); }

void stdout_ts_output::start() {
  ::signal(SIGPIPE, SIG_IGN);  // a player that quits must not kill the node
  asio::co_spawn(state_->io, stdout_loop(state_), asio::detached);
}

void stdout_ts_output::stop() {
  state_->stop = true;
  if (state_->active) state_->active->wake.cancel();
}

bool stdout_ts_output::finished() const { return state_->finished; }
ts_output_counters stdout_ts_output::counters() const { return state_->counters; }

// ---------------------------------------------------------------------------------------------

struct tcp_ts_output::state {
  state(asio::io_context& i, chunk::chunk_log& l, tcp::endpoint ep, media::ts_viewer_settings s)
      : io(i), log(l), listen(ep), settings(s), acceptor(i) {}
  asio::io_context& io;
  chunk::chunk_log& log;
  tcp::endpoint listen;
  media::ts_viewer_settings settings;
  tcp::acceptor acceptor;
  bool stop = false;
  ts_output_counters counters;
  std::set<tcp::socket*> sockets;
  std::set<reader*> readers;
};

namespace {

asio::awaitable<void> tcp_client(std::shared_ptr<tcp_ts_output::state> st, tcp::socket s) {
  boost::system::error_code ec;
  const auto peer = s.remote_endpoint(ec);
  reader r(st->io, st->log, st->settings);
  st->sockets.insert(&s);
  st->readers.insert(&r);
  ++st->counters.readers_total;
  ++st->counters.readers;
  const std::string why = co_await r.run(s, st->stop, st->counters);
  st->counters.drop_forwards += r.viewer.stats().drop_forwards;
  --st->counters.readers;
  st->sockets.erase(&s);
  st->readers.erase(&r);
  spdlog::info("tcp output: reader {}:{} left: {}", peer.address().to_string(), peer.port(), why);
  s.close(ec);
}

asio::awaitable<void> tcp_accept(std::shared_ptr<tcp_ts_output::state> st) {
  while (!st->stop) {
    auto [ec, s] = co_await st->acceptor.async_accept(use_tuple);
    if (ec) {
      if (st->stop || ec == asio::error::operation_aborted) break;
      continue;
    }
    asio::co_spawn(st->io, tcp_client(st, std::move(s)), asio::detached);
  }
}

}  // namespace

tcp_ts_output::tcp_ts_output(asio::io_context& io, chunk::chunk_log& log, tcp::endpoint listen,
                             media::ts_viewer_settings settings)
    : state_(std::make_shared<state>(io, log, listen, settings)) {}
tcp_ts_output::~tcp_ts_output() { stop(); }

core::result<void> tcp_ts_output::start() {
  auto& st = *state_;
  if (auto r = listen_on(st.acceptor, st.listen, "tcp output"); !r) return r;
  asio::co_spawn(st.io, tcp_accept(state_), asio::detached);
  return core::ok();
}

void tcp_ts_output::stop() {
  auto& st = *state_;
  if (st.stop) return;
  st.stop = true;
  boost::system::error_code ec;
  st.acceptor.close(ec);
  for (auto* s : st.sockets) s->close(ec);
  for (auto* r : st.readers) r->wake.cancel();
}

tcp::endpoint tcp_ts_output::local_endpoint() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

ts_output_counters tcp_ts_output::counters() const { return state_->counters; }

}  // namespace meshcast::net
