#include "net/swarm_transport.hpp"

#include "net/endpoint.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <random>

namespace meshcast::net {

namespace asio = boost::asio;
namespace ps = proto::swarm;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

core::time_point now() { return core::system_clock{}.now(); }

/// Sets a steady timer to fire at a wall-clock deadline (or never).
void arm(asio::steady_timer& t, std::optional<core::time_point> deadline) {
  if (!deadline) {
    t.expires_at(asio::steady_timer::time_point::max());
    return;
  }
  const auto delta = *deadline - now();
  t.expires_after(std::max(delta, core::micros{0}));
}

}  // namespace

struct connection {
  connection(asio::io_context& io, tcp::socket s, swarm::neighbour_id n, bool in,
             const ps::hello& local, const ps::session_settings& settings)
      : id(n),
        socket(std::move(s)),
        sess(local, settings, now()),
        inbound(in),
        wake(io),
        timer(io) {
    boost::system::error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    remote = ec ? "?" : endpoint_text(ep);
    if (!ec) remote_host = ep.address().to_string();
    socket.set_option(tcp::no_delay(true), ec);
    wake.expires_at(asio::steady_timer::time_point::max());
  }

  swarm::neighbour_id id;
  tcp::socket socket;
  ps::session sess;
  bool inbound;
  bool up = false;       // the node knows this neighbour
  bool closed = false;   // session closed: flush what is queued, then close the socket
  bool writing = false;
  std::optional<ps::hello> remote_hello;
  std::string remote;
  std::string remote_host;  // numeric, for peer exchange
  asio::steady_timer wake;   // the writer sleeps on it; cancel() wakes it
  asio::steady_timer timer;  // the session's next deadline
};

struct swarm_transport::state : std::enable_shared_from_this<swarm_transport::state> {
  state(asio::io_context& i, swarm::node& n, ps::hello l, swarm_transport_settings s)
      : io(i), node(n), local(std::move(l)), settings(std::move(s)), acceptor(i), node_timer(i) {}

  asio::io_context& io;
  swarm::node& node;
  ps::hello local;
  swarm_transport_settings settings;
  tcp::acceptor acceptor;
  asio::steady_timer node_timer;
  std::map<swarm::neighbour_id, std::shared_ptr<connection>> conns;
  swarm::neighbour_id next_id = 1;
  swarm_transport_stats stats;
  bool stopped = false;
  bool is_origin = false;
  bool in_node_pass = false;
  bool node_pass_again = false;
  // Origin clock estimate: the sample from the lowest-RTT recent neighbour (the origin itself
  // when connected to it).
  core::micros offset{0};
  core::micros offset_rtt{core::micros::max()};
  core::time_point offset_at{};
  bool offset_from_origin = false;
  std::function<std::optional<ps::close_reason>(const ps::hello&)> hello_filter;

  std::shared_ptr<connection> add(tcp::socket s, bool inbound) {
    auto c = std::make_shared<connection>(io, std::move(s), next_id++, inbound, local, settings.session);
    c->sess.set_origin_offset(is_origin ? core::micros{0} : offset);
    conns[c->id] = c;
    auto self = shared_from_this();
    asio::co_spawn(io, read_loop(self, c), asio::detached);
    asio::co_spawn(io, write_loop(self, c), asio::detached);
    asio::co_spawn(io, timer_loop(self, c), asio::detached);
    return c;
  }

  void wake_all() {
    for (auto& [_, c] : conns) c->wake.cancel();
  }

  /// Drains one session's events into the node, then lets the node act.
  void process(const std::shared_ptr<connection>& c) {
    while (auto ev = c->sess.poll_event()) {
      if (auto* e = std::get_if<ps::established_event>(&*ev)) {
        c->remote_hello = e->remote;
        std::optional<ps::close_reason> refuse;
        if (hello_filter) refuse = hello_filter(e->remote);
        if (!refuse) refuse = node.on_neighbour_up(c->id, e->remote, c->inbound, now(), c->remote_host);
        if (refuse) {
          c->sess.close(*refuse, ps::to_string(*refuse));
        } else {
          c->up = true;
        }
      } else if (auto* r = std::get_if<ps::received_event>(&*ev)) {
        if (c->up) node.on_message(c->id, r->msg, now());
      } else if (auto* t = std::get_if<ps::rtt_event>(&*ev)) {
        if (c->up) node.on_rtt(c->id, t->rtt, now());
        note_offset(*c, *t);
      } else if (auto* cl = std::get_if<ps::closed_event>(&*ev)) {
        if (cl->reason == ps::close_reason::malformed || cl->reason == ps::close_reason::bad_version) {
          ++stats.closed_malformed;
        }
        spdlog::log(cl->reason == ps::close_reason::normal || cl->reason == ps::close_reason::shutdown ||
                            cl->reason == ps::close_reason::replaced
                        ? spdlog::level::debug
                        : spdlog::level::info,
                    "swarm[{}] {}: closed by {}: {} {}", c->id, c->remote, cl->by_remote ? "remote" : "us",
                    ps::to_string(cl->reason), cl->text);
        c->closed = true;
        if (c->up) {
          c->up = false;
          node.on_neighbour_down(c->id, now());
        }
      }
    }
    c->wake.cancel();
    c->timer.cancel();
    node_pass();
  }

  /// Lets the node dial, drop and write; re-arms its timer.
  void node_pass() {
    if (in_node_pass) {
      node_pass_again = true;
      return;
    }
    in_node_pass = true;
    do {
      node_pass_again = false;
      while (auto d = node.poll_disconnect()) {
        auto it = conns.find(d->neighbour);
        if (it == conns.end()) continue;
        auto c = it->second;
        if (!c->closed) c->sess.close(d->reason, d->text);
        process(c);
      }
      while (auto a = node.poll_dial()) {
        if (stopped) break;
        boost::system::error_code ec;
        const auto addr = asio::ip::make_address(a->host, ec);
        if (ec || a->port == 0) continue;
        asio::co_spawn(io, dial_one(shared_from_this(), tcp::endpoint(addr, a->port), *a), asio::detached);
      }
    } while (node_pass_again);
    in_node_pass = false;
    wake_all();
    arm(node_timer, node.next_deadline());
  }

  void note_offset(const connection& c, const ps::rtt_event& t) {
    if (is_origin) return;
    const bool from_origin = c.remote_hello && c.remote_hello->role == ps::node_role::origin;
    const auto t_now = now();
    const bool stale = t_now - offset_at > core::micros{10'000'000};
    const bool better = from_origin ? (!offset_from_origin || t.rtt <= offset_rtt || stale)
                                    : (!offset_from_origin && (t.rtt <= offset_rtt || stale));
    if (!better) return;
    offset = t.origin_clock_at_receipt - t_now;
    offset_rtt = t.rtt;
    offset_at = t_now;
    offset_from_origin = from_origin;
    for (auto& [_, other] : conns) other->sess.set_origin_offset(offset);
    node.set_origin_offset(offset);
  }

  void close_socket(const std::shared_ptr<connection>& c) {
    boost::system::error_code ec;
    c->socket.shutdown(tcp::socket::shutdown_both, ec);
    c->socket.close(ec);
    c->wake.cancel();
    c->timer.cancel();
    if (conns.erase(c->id) > 0) {
      stats.bytes_in += c->sess.stats().bytes_in;
      stats.bytes_out += c->sess.stats().bytes_out;
      stats.payload_in += c->sess.stats().payload_in;
      stats.payload_out += c->sess.stats().payload_out;
    }
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<state> st, std::shared_ptr<connection> c) {
    std::array<std::uint8_t, 64 * 1024> buf{};
    while (!c->closed) {
      auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(buf), use_tuple);
      if (ec) {
        if (!c->closed) {
          c->sess.close(ps::close_reason::normal, ec == asio::error::eof ? "connection closed" : ec.message());
          st->process(c);
        }
        break;
      }
      c->sess.on_bytes({buf.data(), n}, now());
      st->process(c);
    }
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<state> st, std::shared_ptr<connection> c) {
    for (;;) {
      while (auto t = c->sess.poll_transmit()) {
        std::array<asio::const_buffer, 2> bufs{asio::buffer(t->head),
                                               t->payload ? asio::buffer(*t->payload) : asio::const_buffer{}};
        auto [ec, n] = co_await asio::async_write(c->socket, bufs, use_tuple);
        if (ec) {
          if (!c->closed) {
            c->sess.close(ps::close_reason::normal, "write failed: " + ec.message());
            st->process(c);
          }
          st->close_socket(c);
          co_return;
        }
      }
      if (c->closed) {
        st->close_socket(c);
        co_return;
      }
      if (c->up) {
        if (auto msg = st->node.next_message_for(c->id, now())) {
          c->sess.send(*msg);
          continue;
        }
      }
      c->wake.expires_at(asio::steady_timer::time_point::max());
      co_await c->wake.async_wait(use_tuple);
    }
  }

  static asio::awaitable<void> timer_loop(std::shared_ptr<state> st, std::shared_ptr<connection> c) {
    while (!c->closed) {
      arm(c->timer, c->sess.next_deadline());
      auto [ec] = co_await c->timer.async_wait(use_tuple);
      if (c->closed) break;
      if (!ec) {
        c->sess.on_timeout(now());
        st->process(c);
      }
    }
  }

  static asio::awaitable<void> node_timer_loop(std::shared_ptr<state> st) {
    while (!st->stopped) {
      auto [ec] = co_await st->node_timer.async_wait(use_tuple);
      if (st->stopped) break;
      if (!ec) {
        st->node.on_timeout(now());
        st->node_pass();
      }
    }
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    while (!st->stopped) {
      auto [ec, s] = co_await st->acceptor.async_accept(use_tuple);
      if (ec) {
        if (st->stopped || ec == asio::error::operation_aborted) break;
        continue;
      }
      if (st->conns.size() >= st->settings.max_connections) {
        boost::system::error_code ignored;
        s.close(ignored);
        continue;
      }
      ++st->stats.accepted;
      auto c = st->add(std::move(s), true);
      st->process(c);
    }
  }

  static asio::awaitable<void> dial_one(std::shared_ptr<state> st, tcp::endpoint ep,
                                       std::optional<ps::peer_address> ordered = std::nullopt) {
    if (st->conns.size() >= st->settings.max_connections) {
      if (ordered) st->node.on_dial_failed(*ordered, now());
      co_return;
    }
    tcp::socket s(st->io);
    asio::steady_timer t(st->io);
    t.expires_after(st->settings.connect_timeout);
    auto r = co_await (s.async_connect(ep, use_tuple) || t.async_wait(use_tuple));
    const bool connected = r.index() == 0 && !std::get<0>(std::get<0>(r));
    if (!connected || st->stopped) {
      ++st->stats.dial_failures;
      spdlog::debug("swarm: dial {} failed", endpoint_text(ep));
      if (ordered && !st->stopped) {
        st->node.on_dial_failed(*ordered, now());
        st->node_pass();
      }
      co_return;
    }
    ++st->stats.dialled;
    auto c = st->add(std::move(s), false);
    st->process(c);
  }
};

swarm_transport::swarm_transport(asio::io_context& io, swarm::node& node, ps::hello local,
                                 swarm_transport_settings settings)
    : state_(std::make_shared<state>(io, node, std::move(local), std::move(settings))) {
  // Unpredictable ping nonces: a neighbour must not answer pings early to fake a short RTT.
  std::random_device rd;
  state_->settings.session.nonce_seed = (std::uint64_t{rd()} << 32) | rd();
}

swarm_transport::~swarm_transport() { stop(); }

core::result<void> swarm_transport::start() {
  auto& st = *state_;
  if (auto r = listen_on(st.acceptor, st.settings.listen, "swarm"); !r) return r;
  st.local.listen_port = st.acceptor.local_endpoint().port();
  asio::co_spawn(st.io, state::accept_loop(state_), asio::detached);
  asio::co_spawn(st.io, state::node_timer_loop(state_), asio::detached);
  st.node_pass();
  return core::ok();
}

void swarm_transport::stop() {
  auto& st = *state_;
  if (st.stopped) return;
  st.stopped = true;
  boost::system::error_code ec;
  st.acceptor.close(ec);
  st.node_timer.cancel();
  auto conns = st.conns;
  for (auto& [_, c] : conns) {
    if (!c->closed) c->sess.close(ps::close_reason::shutdown, "node shutting down");
    st.process(c);
  }
}

tcp::endpoint swarm_transport::local_endpoint() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

void swarm_transport::poke() { state_->node_pass(); }

void swarm_transport::dial(const tcp::endpoint& ep) {
  asio::co_spawn(state_->io, state::dial_one(state_, ep), asio::detached);
}

core::micros swarm_transport::origin_offset() const {
  return state_->is_origin ? core::micros{0} : state_->offset;
}

void swarm_transport::set_is_origin(bool origin) { state_->is_origin = origin; }

void swarm_transport::set_hello_filter(std::function<std::optional<ps::close_reason>(const ps::hello&)> f) {
  state_->hello_filter = std::move(f);
}

void swarm_transport::set_origin_key(const std::array<std::uint8_t, 32>& key) { state_->local.origin_key = key; }

swarm_transport_stats swarm_transport::stats() const {
  swarm_transport_stats s = state_->stats;
  for (const auto& [_, c] : state_->conns) {
    s.bytes_in += c->sess.stats().bytes_in;
    s.bytes_out += c->sess.stats().bytes_out;
    s.payload_in += c->sess.stats().payload_in;
    s.payload_out += c->sess.stats().payload_out;
  }
  s.connections = state_->conns.size();
  return s;
}

std::vector<swarm_connection_info> swarm_transport::connections() const {
  std::vector<swarm_connection_info> out;
  for (const auto& [_, c] : state_->conns) {
    out.push_back({c->id, c->remote, c->inbound, c->up, c->remote_hello, c->sess.rtt(), c->sess.stats()});
  }
  return out;
}

}  // namespace meshcast::net
