#include "net/swarm_transport.hpp"

#include "net/endpoint.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <map>
#include <queue>
#include <random>

namespace meshcast::net {

namespace asio = boost::asio;
namespace ps = proto::swarm;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Timer grain of a shaped (lab) transport: hundreds of nodes in one process arm thousands of
/// timers; rounded to whole milliseconds they fire together, and the loop wakes (and reprograms
/// its timerfd, a costly syscall in a VM) at most a thousand times a second instead of once per
/// timer. A millisecond is small next to the delays the lab models. Real nodes use exact timers.
constexpr core::micros k_shaped_timer_grain{1'000};

}  // namespace

/// A shaped connection's extra state (settings.shaper): what was written, in the uplink or
/// waiting for its delivery time. Its writer is no coroutine and has no timer of its own: the
/// transport's link timer (state::link_pass) hands it the next message when its write has left
/// the uplink, and writes what is due to the socket, for every connection of the node at once.
struct shaped_connection {
  explicit shaped_connection(asio::io_context& io) : pace_in(io) {}

  struct pending {
    ps::transmit t;
    std::optional<core::time_point> deliver;  // unset: still in the uplink
  };
  std::deque<pending> queue;   // written, in order, until it is written to the socket
  std::size_t in_uplink = 0;   // writes of `queue` not yet released by the shaper
  asio::steady_timer pace_in;  // the reader waits for the downlink
  bool pumping = false;        // pump_shaped is on the stack for this connection
  bool writer_done = false;    // session closed and its last transmit queued
  bool draining = false;       // session closed: write out `queue`, then close the socket
  bool on_wire = false;        // an async_write of due bytes is in flight
  // The gather write of everything due, kept between writes (no allocation per write).
  std::vector<ps::transmit> due;
  std::vector<asio::const_buffer> bufs;
};

struct connection : std::enable_shared_from_this<connection> {
  connection(asio::io_context& io, tcp::socket s, swarm::neighbour_id n, bool in,
             const ps::hello& local, const ps::session_settings& settings, core::time_point now)
      : id(n),
        socket(std::move(s)),
        sess(local, settings, now),
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
  bool idle = false;     // the writer sleeps on `wake` (it asks the node for nothing until woken): in state::idle
  bool gone = false;     // socket closed: every loop of this connection ends
  bool aborted = false;  // swarm_transport::abort(): nothing more is written
  std::unique_ptr<shaped_connection> shaped;  // settings.shaper only
  std::optional<ps::hello> remote_hello;
  std::string remote;
  std::string remote_host;  // numeric, for peer exchange
  asio::steady_timer wake;   // the writer sleeps on it; cancel() wakes it
  asio::steady_timer timer;  // the session's next deadline
  std::optional<core::time_point> timer_due;  // what `timer` is set to
};

struct swarm_transport::state : std::enable_shared_from_this<swarm_transport::state> {
  state(asio::io_context& i, swarm::node& n, ps::hello l, swarm_transport_settings s)
      : io(i), node(n), local(std::move(l)), settings(std::move(s)), acceptor(i), node_timer(i), link_timer(i) {}

  asio::io_context& io;
  swarm::node& node;
  ps::hello local;
  swarm_transport_settings settings;
  tcp::acceptor acceptor;
  asio::steady_timer node_timer;
  std::optional<core::time_point> node_due;  // what node_timer is set to, if node_armed
  bool node_armed = false;
  // settings.shaper: one timer for the whole node's links — the next write to leave the uplink
  // or the next delivery to a socket, whichever comes first (link_pass).
  asio::steady_timer link_timer;
  std::optional<core::time_point> link_due;  // what link_timer is set to, if link_armed
  bool link_armed = false;
  bool in_link_pass = false;
  bool link_pass_again = false;
  struct delivery {
    core::time_point at;
    std::shared_ptr<connection> c;  // not its id: a map look-up per delivery was a cache miss
    bool operator>(const delivery& o) const { return at > o.at; }
  };
  // Writes released by the shaper, by delivery time (earliest on top); a connection's own are in
  // order (link_shaper keeps each path's deliveries monotonic). A closed connection's stay until
  // due (flush_wire ignores them).
  std::priority_queue<delivery, std::vector<delivery>, std::greater<>> deliveries;
  std::vector<std::shared_ptr<connection>> released;  // link_pass: writers whose write left
  std::vector<std::shared_ptr<connection>> offered;   // offer_idle_writers: shaped writers to pump
  std::map<swarm::neighbour_id, std::shared_ptr<connection>> conns;
  swarm::neighbour_id next_id = 1;
  swarm_transport_stats stats;
  bool stopped = false;
  bool aborted = false;
  bool is_origin = false;
  bool in_node_pass = false;
  bool node_pass_again = false;
  bool offer_posted = false;  // offer_idle_writers is queued on the loop
  // Connections whose writer is idle, by neighbour id (the order the node is offered them in).
  std::vector<connection*> idle;
  // Origin clock estimate: the sample from the lowest-RTT recent neighbour (the origin itself
  // when connected to it).
  core::micros offset{0};
  core::micros offset_rtt{core::micros::max()};
  core::time_point offset_at{};
  bool offset_from_origin = false;
  std::function<std::optional<ps::close_reason>(const ps::hello&)> hello_filter;
  std::function<void(swarm::neighbour_id, const ps::hello&)> neighbour_observer;

  std::shared_ptr<connection> add(tcp::socket s, bool inbound) {
    auto c = std::make_shared<connection>(io, std::move(s), next_id++, inbound, local, settings.session, now());
    c->sess.set_origin_offset(is_origin ? core::micros{0} : offset);
    conns[c->id] = c;
    auto self = shared_from_this();
    if (settings.shaper) {
      c->shaped = std::make_unique<shaped_connection>(io);
      settings.shaper->open_path(c->id);
    } else {
      asio::co_spawn(io, write_loop(self, c), asio::detached);
    }
    asio::co_spawn(io, read_loop(self, c), asio::detached);
    asio::co_spawn(io, timer_loop(self, c), asio::detached);
    if (c->shaped) pump_shaped(c);  // our hello
    return c;
  }

  [[nodiscard]] core::time_point now() const { return settings.clock.now(); }

  /// Sets a steady timer to fire at a deadline of the node's clock (or never). A shaped
  /// transport's expiries are rounded up to its grain on the steady clock, so that many timers
  /// share them; a real node's are exact.
  void arm(asio::steady_timer& t, std::optional<core::time_point> deadline) const {
    if (!deadline) {
      t.expires_at(asio::steady_timer::time_point::max());
      return;
    }
    const auto delta = std::max(settings.clock.to_wall(*deadline - now()), core::micros{0});
    const core::micros g = grain();
    if (g.count() <= 0) {
      t.expires_after(delta);
      return;
    }
    const auto since = std::chrono::ceil<core::micros>((std::chrono::steady_clock::now() + delta).time_since_epoch());
    t.expires_at(asio::steady_timer::time_point{(since + g - core::micros{1}) / g * g});
  }

  /// The timer grain: a shaped transport's millisecond of the nodes' time (so a dilated lab
  /// batches as much of the swarm's work per wake-up as a real-time one), none otherwise.
  [[nodiscard]] core::micros grain() const {
    return settings.shaper ? settings.clock.to_wall(k_shaped_timer_grain) : core::micros{0};
  }

  /// The writer of `c` goes to sleep (true) or wakes (false).
  void set_idle(connection& c, bool v) {
    if (c.idle == v) return;
    c.idle = v;
    const auto by_id = [](const connection* a, swarm::neighbour_id b) { return a->id < b; };
    const auto at = std::lower_bound(idle.begin(), idle.end(), c.id, by_id);
    if (v) {
      idle.insert(at, &c);
    } else if (at != idle.end() && *at == &c) {
      idle.erase(at);
    }
  }

  /// Offers the node every idle connection (its writer asleep): a writer is woken only when the
  /// node has a message for it, not once per input and connection. Busy writers ask the node
  /// themselves once their write is done. Runs once per turn of the loop however many inputs
  /// the node had in it (schedule_offer): with hundreds of nodes on a loop, asking every idle
  /// connection after every input was a tenth of the loop.
  void offer_idle_writers() {
    const auto t = now();
    bool woke = false;
    for (connection* c : idle) {
      if (!c->up || c->closed) continue;
      if (auto msg = node.next_message_for(c->id, t)) {
        c->sess.send(*msg);
        if (c->shaped) {
          offered.push_back(c->shared_from_this());
        } else {
          c->wake.cancel();
        }
        c->idle = false;  // busy from now: it asks the node itself once this is written
        woke = true;
      }
    }
    if (woke) std::erase_if(idle, [](const connection* c) { return !c->idle; });
    // Shaped writers are pumped here, not woken: pumping may put them back in `idle`.
    for (std::size_t k = 0; k < offered.size(); ++k) pump_shaped(offered[k]);
    offered.clear();
  }

  /// Wakes the writer of `c` (bytes of the session's own to send, or the session closed).
  void kick(connection& c) {
    if (!c.shaped) {
      c.wake.cancel();
      return;
    }
    if (c.gone || c.shaped->in_uplink > 0) return;  // link_pass pumps it when its write has left
    set_idle(c, false);
    pump_shaped(c.shared_from_this());
  }

  /// Queues after_inputs() once (whatever number of inputs come before it runs).
  void schedule_offer() {
    if (offer_posted) return;
    offer_posted = true;
    asio::post(io, [self = shared_from_this()] {
      self->offer_posted = false;
      if (!self->aborted) self->after_inputs();
    });
  }

  /// Drains one session's events into the node, then lets the node act.
  void process(const std::shared_ptr<connection>& c) {
    while (auto ev = c->sess.poll_event()) {
      if (auto* e = std::get_if<ps::established_event>(&*ev)) {
        c->remote_hello = e->remote;
        if (c->shaped && settings.link_delay) settings.shaper->set_delay(c->id, settings.link_delay(e->remote));
        std::optional<ps::close_reason> refuse;
        if (hello_filter) refuse = hello_filter(e->remote);
        if (!refuse) refuse = node.on_neighbour_up(c->id, e->remote, c->inbound, now(), c->remote_host);
        if (refuse) {
          c->sess.close(*refuse, ps::to_string(*refuse));
        } else {
          c->up = true;
          if (neighbour_observer) neighbour_observer(c->id, e->remote);
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
    // Wake the writer only for bytes of the session's own (pong, close); the node's messages
    // are offered by node_pass. Re-arm the session's timer only when its deadline came earlier
    // (a later one lets the timer fire early once, harmlessly).
    if (c->closed || c->sess.queued_bytes() > 0) kick(*c);
    const auto due = c->sess.next_deadline();
    if (c->closed || (due && (!c->timer_due || *due < *c->timer_due))) c->timer.cancel();
    node_pass();
  }

  /// Lets the node dial and drop; queues after_inputs (its writes and its timer).
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
    schedule_offer();
  }

  /// Once per turn of the loop after the node had input: offer it the idle writers and re-arm
  /// its timer.
  void after_inputs() {
    offer_idle_writers();
    const auto next = node.next_deadline();
    if (node_armed && next == node_due) return;  // spare the timer loop a wake-up per input
    node_due = next;
    node_armed = true;
    arm(node_timer, next);
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
    c->gone = true;
    set_idle(*c, false);
    c->socket.shutdown(tcp::socket::shutdown_both, ec);
    c->socket.close(ec);
    c->wake.cancel();
    c->timer.cancel();
    if (c->shaped) {
      settings.shaper->close_path(c->id);
      c->shaped->queue.clear();  // (an async_write in flight keeps `due`)
      c->shaped->in_uplink = 0;
      c->shaped->pace_in.cancel();
    }
    if (conns.erase(c->id) > 0) {
      stats.bytes_in += c->sess.stats().bytes_in;
      stats.bytes_out += c->sess.stats().bytes_out;
      stats.payload_in += c->sess.stats().payload_in;
      stats.payload_out += c->sess.stats().payload_out;
    }
  }

  /// Reads with a buffer that starts at 4 KiB and doubles (up to 64 KiB, or a shaped downlink's
  /// read size) each time a read fills it: most connections carry only control messages of
  /// tens of bytes, and thousands of connection ends with a 64 KiB buffer each were most of the
  /// lab's memory at 1000 peers. A short read tells Asio the socket is drained (no second recv).
  static asio::awaitable<void> read_loop(std::shared_ptr<state> st, std::shared_ptr<connection> c) {
    constexpr std::size_t k_max_read = 64 * 1024;
    const std::size_t max_read = c->shaped ? std::min(k_max_read, st->settings.shaper->read_size()) : k_max_read;
    std::vector<std::uint8_t> buf(std::min<std::size_t>(4 * 1024, max_read));
    while (!c->closed) {
      auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(buf), use_tuple);
      if (ec) {
        if (!c->closed) {
          c->sess.close(ps::close_reason::normal, ec == asio::error::eof ? "connection closed" : ec.message());
          st->process(c);
        }
        break;
      }
      if (c->shaped) {
        // The download link: these bytes arrive when the bucket lets them through; meanwhile
        // nothing more is read, so TCP flow control slows the sender.
        const auto at = st->settings.shaper->receive(st->now(), n);
        if (at > st->now()) {
          st->arm(c->shaped->pace_in, at);
          co_await c->shaped->pace_in.async_wait(use_tuple);
          if (c->closed || c->gone) break;
        }
      }
      c->sess.on_bytes({buf.data(), n}, st->now());
      st->process(c);
      if (n == buf.size() && buf.size() < max_read) buf.resize(std::min(2 * buf.size(), max_read));
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
        if (auto msg = st->node.next_message_for(c->id, st->now())) {
          c->sess.send(*msg);
          continue;
        }
      }
      c->wake.expires_at(asio::steady_timer::time_point::max());
      st->set_idle(*c, true);
      co_await c->wake.async_wait(use_tuple);
      st->set_idle(*c, false);
    }
  }

  /// The writer of a shaped connection (an unshaped one has write_loop): hands the session's
  /// transmits, then the node's messages, to the uplink one at a time, and goes idle when there
  /// are none. The uplink: a write leaves when the shaper has served it and reaches the other end
  /// one delay later (flush_wire writes it then). Until it has left, this connection's "socket
  /// buffer" is full and the node is asked for nothing more; link_pass pumps it again then.
  void pump_shaped(const std::shared_ptr<connection>& c) {
    shaped_connection& sh = *c->shaped;
    if (sh.pumping || sh.writer_done) return;
    sh.pumping = true;
    while (!c->gone && sh.in_uplink == 0) {
      if (auto t = c->sess.poll_transmit()) {
        const std::size_t size = t->size();
        const bool chunk_data = t->payload != nullptr;
        sh.queue.push_back({std::move(*t), std::nullopt});
        ++sh.in_uplink;
        settings.shaper->send(c->id, now(), size, chunk_data);
        link_pass();  // an unlimited uplink releases it at once
        continue;
      }
      if (c->closed) {
        sh.writer_done = true;
        sh.draining = true;  // flush_wire closes the socket after the delayed bytes
        flush_wire(c);
        break;
      }
      if (c->up) {
        if (auto msg = node.next_message_for(c->id, now())) {
          c->sess.send(*msg);
          continue;
        }
      }
      set_idle(*c, true);
      break;
    }
    sh.pumping = false;
  }

  /// Writes everything of `c` that is due (one gather write: one syscall for a burst), unless a
  /// write is in flight (its completion calls this again). Closes the socket once the session
  /// is closed and everything queued is written.
  void flush_wire(const std::shared_ptr<connection>& c) {
    shaped_connection& sh = *c->shaped;
    if (c->gone || sh.on_wire) return;
    const auto t = now();
    while (!sh.queue.empty() && sh.queue.front().deliver && *sh.queue.front().deliver <= t) {
      sh.due.push_back(std::move(sh.queue.front().t));
      sh.queue.pop_front();
    }
    if (sh.due.empty()) {
      if (sh.draining && sh.queue.empty()) close_socket(c);
      return;
    }
    sh.bufs.clear();
    for (const auto& d : sh.due) {
      sh.bufs.push_back(asio::buffer(d.head));
      if (d.payload) sh.bufs.push_back(asio::buffer(*d.payload));
    }
    sh.on_wire = true;
    asio::async_write(c->socket, sh.bufs, [self = shared_from_this(), c](boost::system::error_code ec, std::size_t) {
      self->wire_done(c, ec);
    });
  }

  void wire_done(const std::shared_ptr<connection>& c, boost::system::error_code ec) {
    shaped_connection& sh = *c->shaped;
    sh.on_wire = false;
    sh.due.clear();  // the payloads' last holders may let go now
    if (c->gone) return;
    if (ec) {
      if (!c->closed) {
        c->sess.close(ps::close_reason::normal, "write failed: " + ec.message());
        process(c);
      }
      close_socket(c);
      return;
    }
    flush_wire(c);
  }

  /// The node's links, at the link timer or after a write entered the uplink: hands each write
  /// the shaper released its delivery time, writes what is due to the sockets, pumps the writers
  /// whose write has left, and re-arms the timer. Re-entered (from a pump), it runs again.
  void link_pass() {
    if (in_link_pass) {
      link_pass_again = true;
      return;
    }
    in_link_pass = true;
    link_shaper& sh = *settings.shaper;
    do {
      link_pass_again = false;
      const auto t = now();
      while (auto w = sh.poll_sent(t)) {
        const auto it = conns.find(w->path);
        if (it == conns.end() || !it->second->shaped) continue;
        shaped_connection& sc = *it->second->shaped;
        for (auto& p : sc.queue) {
          if (!p.deliver) {
            p.deliver = w->delivered;
            break;
          }
        }
        deliveries.push({w->delivered, it->second});
        if (sc.in_uplink > 0 && --sc.in_uplink == 0) released.push_back(it->second);
      }
      while (!deliveries.empty() && deliveries.top().at <= t) {
        const std::shared_ptr<connection> c = deliveries.top().c;
        deliveries.pop();
        flush_wire(c);
      }
      for (std::size_t k = 0; k < released.size(); ++k) pump_shaped(released[k]);
      released.clear();
    } while (link_pass_again);
    in_link_pass = false;
    arm_link_timer();
  }

  /// Sets the link timer to the shaper's next release or the next delivery, whichever is first.
  /// A timer already set earlier is left alone (it fires early once, harmlessly): each cancel
  /// of a pending wait costs the loop a completion.
  void arm_link_timer() {
    auto next = settings.shaper->next_deadline();
    if (!deliveries.empty() && (!next || deliveries.top().at < *next)) next = deliveries.top().at;
    if (link_armed && link_due && (!next || *link_due <= *next)) return;
    link_due = next;
    link_armed = next.has_value();
    if (next) arm(link_timer, next);
  }

  static asio::awaitable<void> link_loop(std::shared_ptr<state> st) {
    while (!st->aborted) {
      auto [ec] = co_await st->link_timer.async_wait(use_tuple);
      if (st->aborted) break;
      if (!ec) {
        st->link_armed = false;
        st->link_timer.expires_at(asio::steady_timer::time_point::max());
        st->link_pass();
      }  // cancelled: re-armed by arm_link_timer elsewhere; wait for the new deadline
    }
  }

  static asio::awaitable<void> timer_loop(std::shared_ptr<state> st, std::shared_ptr<connection> c) {
    while (!c->closed) {
      c->timer_due = c->sess.next_deadline();
      st->arm(c->timer, c->timer_due);
      auto [ec] = co_await c->timer.async_wait(use_tuple);
      if (c->closed) break;
      if (!ec) {
        c->sess.on_timeout(st->now());
        st->process(c);
      }
    }
  }

  static asio::awaitable<void> node_timer_loop(std::shared_ptr<state> st) {
    while (!st->stopped) {
      auto [ec] = co_await st->node_timer.async_wait(use_tuple);
      if (st->stopped) break;
      if (!ec) {
        st->node_armed = false;
        st->node.on_timeout(st->now());
        st->node_pass();
      }
    }
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    while (!st->stopped) {
      auto [ec, s] = co_await st->acceptor.async_accept(use_tuple);
      if (ec) {
        if (st->stopped || ec == asio::error::operation_aborted) break;
        if (ec == asio::error::no_descriptors) {
          // Out of file descriptors: the connection stays in the backlog and accepting again at
          // once would fail again, spinning. Wait for descriptors to be freed.
          if (st->stats.accept_stalls++ == 0) spdlog::warn("swarm: cannot accept: {}", ec.message());
          asio::steady_timer pause(st->io);
          pause.expires_after(std::chrono::milliseconds{100});
          co_await pause.async_wait(use_tuple);
        }
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
      if (ordered) st->node.on_dial_failed(*ordered, st->now());
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
        st->node.on_dial_failed(*ordered, st->now());
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
  if (st.settings.shaper) {
    st.link_timer.expires_at(asio::steady_timer::time_point::max());
    asio::co_spawn(st.io, state::link_loop(state_), asio::detached);
  }
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

void swarm_transport::abort() {
  auto& st = *state_;
  st.stopped = true;
  st.aborted = true;
  boost::system::error_code ec;
  st.acceptor.close(ec);
  st.node_timer.cancel();
  st.link_timer.cancel();
  auto conns = st.conns;
  for (auto& [_, c] : conns) {
    c->aborted = true;
    c->closed = true;
    c->up = false;
    st.close_socket(c);
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

void swarm_transport::set_neighbour_observer(std::function<void(swarm::neighbour_id, const ps::hello&)> f) {
  state_->neighbour_observer = std::move(f);
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
