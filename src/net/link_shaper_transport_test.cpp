// The link shaper inside the swarm transport: real sockets on loopback, an origin and a peer
// with shaped links; delays and rates are checked with generous bounds (never to the millisecond).
#include <gtest/gtest.h>

#include <memory>

#include "net/link_shaper.hpp"
#include "net/swarm_transport.hpp"
#include "net/testing/loopback.hpp"

namespace meshcast::net {
namespace {

namespace ps = proto::swarm;
using namespace std::chrono_literals;

core::time_point now() { return core::system_clock{}.now(); }

ps::node_id id_of(char c) {
  ps::node_id id{};
  id[0] = static_cast<std::uint8_t>(c);
  return id;
}

chunk::chunk_ptr chunk_at(std::uint64_t seq, std::size_t bytes, core::time_point source_time) {
  chunk::chunk_header h;
  h.seq = core::chunk_seq{seq};
  h.segment = core::segment_seq{seq / 20};
  h.source_time = source_time;
  h.duration = 100ms;
  if (seq % 20 == 0) h.flags = chunk::flag_segment_start | chunk::flag_keyframe;
  return chunk::make_chunk(h, core::bytes(bytes, 0x47), chunk::chunk_signature{});
}

/// One node on loopback with a shaped link: `one_way` to anyone, `upload_bps` (0 = unlimited).
struct shaped_node {
  shaped_node(boost::asio::io_context& io, char name, ps::node_role role, double upload_bps, core::micros one_way)
      : log(30s) {
    swarm::node_settings ns;
    ns.id = id_of(name);
    ns.role = role;
    ns.stream = "live/t";
    ns.min_neighbours = role == ps::node_role::origin ? 0 : 1;
    node = std::make_unique<swarm::node>(ns, log, [](const chunk::chunk&) { return true; });
    ps::hello hello;
    hello.stream = "live/t";
    hello.rendition = "source";
    hello.id = ns.id;
    hello.role = role;
    swarm_transport_settings ts;
    ts.listen = testing::loopback_any();
    ts.session.keepalive_interval = 300ms;  // RTT samples soon
    link_shaper_settings ls;
    ls.upload_bps = upload_bps;
    shaper = std::make_shared<link_shaper>(ls);
    ts.shaper = shaper;
    ts.link_delay = [one_way](const ps::hello&) { return one_way; };
    transport = std::make_unique<swarm_transport>(io, *node, hello, ts);
    transport->set_is_origin(role == ps::node_role::origin);
    EXPECT_TRUE(transport->start());
  }

  chunk::chunk_log log;
  std::unique_ptr<swarm::node> node;
  std::shared_ptr<link_shaper> shaper;
  std::unique_ptr<swarm_transport> transport;
};

struct pair_fixture {
  boost::asio::io_context io;
  shaped_node origin;
  shaped_node peer;

  pair_fixture(double origin_upload_bps, core::micros one_way)
      : origin(io, 'o', ps::node_role::origin, origin_upload_bps, one_way),
        peer(io, 'p', ps::node_role::peer, 0, one_way) {
    peer.transport->dial(origin.transport->local_endpoint());
    EXPECT_TRUE(testing::run_until(
        io, [&] { return peer.node->neighbour_count() == 1 && origin.node->neighbour_count() == 1; }));
  }

  /// The origin produces a `bytes` chunk (whole TS packets) every 100 ms for `n` chunks.
  void stream(std::size_t n, std::size_t bytes) {
    for (std::uint64_t seq = 0; seq < n; ++seq) {
      origin.node->on_local_chunk(chunk_at(seq, bytes, now()), now());
      origin.transport->poke();
      testing::run_for(io, 100ms);
    }
  }
};

TEST(shaped_transport, chunks_and_pings_take_the_one_way_delay) {
  pair_fixture f(0, 80ms);
  f.stream(10, 10 * chunk::k_ts_packet_bytes);
  testing::run_for(f.io, 300ms);
  std::size_t arrivals = 0;
  while (auto a = f.peer.node->poll_arrival()) {
    ++arrivals;
    const auto delay = a->arrival - a->source_time;
    EXPECT_GE(delay, 80ms);
    EXPECT_LT(delay, 400ms);
  }
  EXPECT_GE(arrivals, 9u);  // all but perhaps the first, stored before the peer's bitmap came
  const auto conns = f.peer.transport->connections();
  ASSERT_EQ(conns.size(), 1u);
  ASSERT_TRUE(conns[0].rtt);
  EXPECT_GE(*conns[0].rtt, 160ms);  // 80 ms each way
  EXPECT_LT(*conns[0].rtt, 400ms);
}

TEST(shaped_transport, the_origin_uploads_no_faster_than_its_link) {
  // 1.6 Mbit/s of chunks offered to an 800 kbit/s uplink: the chunks queue at the origin.
  pair_fixture f(800'000, 10ms);
  const auto t0 = now();
  f.stream(20, 106 * chunk::k_ts_packet_bytes);  // 19 928 bytes
  const double seconds = static_cast<double>((now() - t0).count()) / 1e6;
  const auto in = f.peer.transport->stats().bytes_in;
  EXPECT_LE(static_cast<double>(in), 100'000 * seconds + 25'000);  // rate × T + one chunk in flight
  EXPECT_GE(static_cast<double>(in), 0.6 * 100'000 * seconds);     // and the link was kept busy
}

TEST(shaped_transport, stop_delivers_the_close_after_the_delay_and_abort_sends_nothing) {
  pair_fixture f(0, 50ms);
  const auto t0 = std::chrono::steady_clock::now();
  f.origin.transport->stop();
  // The close frame crosses the 50 ms link; then the peer has no neighbour.
  EXPECT_TRUE(testing::run_until(
      f.io, [&] { return f.peer.node->neighbour_count() == 0; }, 2s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 40ms);

  pair_fixture g(0, 50ms);
  g.peer.transport->abort();
  // The origin sees the connection end (EOF, no close frame) and drops the neighbour.
  EXPECT_TRUE(testing::run_until(
      g.io, [&] { return g.origin.node->neighbour_count() == 0; }, 2s));
  EXPECT_EQ(g.peer.transport->stats().connections, 0u);
}

}  // namespace
}  // namespace meshcast::net
