#include "proto/swarm/session.hpp"

#include <gtest/gtest.h>

namespace meshcast::proto::swarm {
namespace {

using namespace std::chrono_literals;

const core::time_point t0 = core::from_us(1'700'000'000'000'000);

node_id id_of(std::uint8_t seed) {
  node_id id{};
  id.fill(seed);
  return id;
}

hello hello_of(std::uint8_t seed, std::string stream = "live/test",
               std::string rendition = "source") {
  hello h;
  h.stream = std::move(stream);
  h.rendition = std::move(rendition);
  h.id = id_of(seed);
  h.role = node_role::peer;
  h.listen_port = 7000 + seed;
  return h;
}

chunk::chunk_ptr signed_chunk(std::uint64_t seq) {
  chunk::chunk_header h;
  h.seq = chunk_seq(seq);
  h.duration = core::micros(100'000);
  return chunk::make_chunk(h, core::bytes(2 * chunk::k_ts_packet_bytes, 0x47),
                           chunk::chunk_signature{});
}

core::bytes flatten(const transmit& t) {
  core::bytes out = t.head;
  if (t.payload) core::append(out, *t.payload);
  return out;
}

template <class T>
std::vector<T> of_type(const std::vector<std::pair<core::time_point, session_event>>& events) {
  std::vector<T> out;
  for (const auto& [when, e] : events) {
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

/// One side of a pair: its session, the events it produced (with their virtual time), and the
/// bytes on their way to the other side.
struct endpoint {
  session s;
  std::vector<std::pair<core::time_point, session_event>> events;
  std::deque<std::pair<core::time_point, core::bytes>> in_flight;  ///< arrival time, bytes
  bool link_up = true;  ///< false: what this side sends is lost

  [[nodiscard]] std::optional<closed_event> closed() const {
    auto c = of_type<closed_event>(events);
    if (c.empty()) return std::nullopt;
    return c.back();
  }
  [[nodiscard]] std::vector<message> received() const {
    std::vector<message> out;
    for (const auto& r : of_type<received_event>(events)) out.push_back(r.msg);
    return out;
  }
};

/// Two sessions connected in memory (quinn's Pair): bytes one side transmits arrive at the other
/// after `delay`, in order; time is virtual and advances from one due action to the next
/// (a delivery or a session deadline).
class pair {
 public:
  explicit pair(hello a_hello = hello_of(1), hello b_hello = hello_of(2),
                session_settings settings = {}, core::micros delay = 0us)
      : a{session(std::move(a_hello), settings, t0), {}, {}},
        b{session(std::move(b_hello), settings, t0), {}, {}},
        delay_(delay) {
    drain(a);
    drain(b);
  }

  /// Runs until `until` (inclusive), delivering bytes and firing timers in time order.
  void run_until(core::time_point until) {
    while (true) {
      std::optional<core::time_point> next;
      auto consider = [&](std::optional<core::time_point> t) {
        if (t && (!next || *t < *next)) next = t;
      };
      consider(a.s.next_deadline());
      consider(b.s.next_deadline());
      if (!a.in_flight.empty()) consider(a.in_flight.front().first);
      if (!b.in_flight.empty()) consider(b.in_flight.front().first);
      if (!next || *next > until) break;
      now = std::max(now, *next);
      deliver(a, b);
      deliver(b, a);
      for (endpoint* e : {&a, &b}) {
        if (auto d = e->s.next_deadline(); d && *d <= now) {
          e->s.on_timeout(now);
          drain(*e);
        }
      }
    }
    now = std::max(now, until);
  }
  void run_for(core::micros d) { run_until(now + d); }
  /// Lets everything in flight arrive (no timers beyond that).
  void settle() { run_for(delay_ + 1us); }

  /// Hands raw bytes to `to` as if the other side had sent them.
  void inject(endpoint& to, core::byte_view bytes) {
    to.s.on_bytes(bytes, now);
    drain(to);
  }
  void send(endpoint& from, const message& m) {
    EXPECT_TRUE(from.s.send(m));
    drain(from);
  }
  void close(endpoint& from, close_reason r, std::string text) {
    from.s.close(r, std::move(text));
    drain(from);
  }

  endpoint a, b;
  core::time_point now = t0;

 private:
  void drain(endpoint& e) {
    while (auto t = e.s.poll_transmit()) {
      if (e.link_up) e.in_flight.emplace_back(now + delay_, flatten(*t));
    }
    while (auto ev = e.s.poll_event()) e.events.emplace_back(now, std::move(*ev));
  }
  void deliver(endpoint& from, endpoint& to) {
    while (!from.in_flight.empty() && from.in_flight.front().first <= now) {
      core::bytes bytes = std::move(from.in_flight.front().second);
      from.in_flight.pop_front();
      to.s.on_bytes(bytes, now);
      drain(to);
    }
  }

  core::micros delay_;
};

/// A single session whose transmits and events are collected (no peer).
struct lone {
  explicit lone(hello local = hello_of(1), session_settings settings = {})
      : s(std::move(local), settings, t0) {
    drain();
  }
  void feed(const message& m, core::time_point now = t0) {
    auto b = encode(m);
    ASSERT_TRUE(b) << b.error().message;
    feed(*b, now);
  }
  void feed(core::byte_view bytes, core::time_point now = t0) {
    s.on_bytes(bytes, now);
    drain();
  }
  void drain() {
    while (auto t = s.poll_transmit()) sent.push_back(std::move(*t));
    while (auto e = s.poll_event()) events.emplace_back(t0, std::move(*e));
  }
  /// Decoded frames sent so far.
  [[nodiscard]] std::vector<message> sent_messages() const {
    std::vector<message> out;
    for (const auto& t : sent) {
      auto m = decode(flatten(t));
      EXPECT_TRUE(m) << m.error().message;
      if (m) out.push_back(*m);
    }
    return out;
  }
  [[nodiscard]] std::optional<closed_event> closed() const {
    auto c = of_type<closed_event>(events);
    if (c.empty()) return std::nullopt;
    return c.back();
  }

  session s;
  std::vector<transmit> sent;
  std::vector<std::pair<core::time_point, session_event>> events;
};

// ---------------------------------------------------------------------------------------------
// handshake

TEST(swarm_session, hello_is_sent_at_once) {
  lone l;
  ASSERT_EQ(l.sent_messages().size(), 1u);
  EXPECT_EQ(std::get<hello>(l.sent_messages()[0]).stream, "live/test");
  EXPECT_EQ(l.s.current_state(), session::state::handshaking);
}

TEST(swarm_session, handshake_completes_and_each_side_learns_the_other) {
  pair p;
  p.settle();
  ASSERT_EQ(p.a.s.current_state(), session::state::established);
  ASSERT_EQ(p.b.s.current_state(), session::state::established);
  auto a_up = of_type<established_event>(p.a.events);
  auto b_up = of_type<established_event>(p.b.events);
  ASSERT_EQ(a_up.size(), 1u);
  ASSERT_EQ(b_up.size(), 1u);
  EXPECT_EQ(a_up[0].remote.id, id_of(2));
  EXPECT_EQ(a_up[0].remote.listen_port, 7002);
  EXPECT_EQ(b_up[0].remote.id, id_of(1));
}

TEST(swarm_session, wrong_stream_is_rejected_with_a_reason) {
  pair p(hello_of(1, "live/test"), hello_of(2, "live/other"));
  p.settle();
  auto c = p.a.closed();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->reason, close_reason::wrong_stream);
  EXPECT_EQ(c->text,
            "swarm hello names stream \"live/other\" rendition \"source\", this node serves "
            "\"live/test\" rendition \"source\"");
  EXPECT_FALSE(c->by_remote);
  EXPECT_TRUE(of_type<established_event>(p.a.events).empty());
  ASSERT_TRUE(p.b.closed());
  EXPECT_EQ(p.b.closed()->reason, close_reason::wrong_stream);
}

TEST(swarm_session, wrong_rendition_is_rejected) {
  lone l;
  l.feed(hello_of(2, "live/test", "720p"));
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->reason, close_reason::wrong_stream);
  // hello, then the close frame telling the remote why.
  const auto sent = l.sent_messages();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(std::get<close>(sent[1]).reason, close_reason::wrong_stream);
}

TEST(swarm_session, other_protocol_version_is_rejected_as_bad_version) {
  lone l;
  hello v2 = hello_of(2);
  v2.version = 2;
  l.feed(v2);
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->reason, close_reason::bad_version);
  EXPECT_EQ(l.closed()->text, "swarm hello version 2, this node speaks version 1");
}

TEST(swarm_session, frame_before_hello_is_malformed) {
  lone l;
  l.feed(have{chunk_seq(1)});
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->reason, close_reason::malformed);
  EXPECT_EQ(l.closed()->text, "swarm have frame before hello");
}

TEST(swarm_session, second_hello_is_malformed) {
  lone l;
  l.feed(hello_of(2));
  l.feed(hello_of(2));
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->text, "swarm hello frame after the handshake");
}

TEST(swarm_session, connecting_to_ourselves_is_a_duplicate) {
  lone l(hello_of(1));
  l.feed(hello_of(1));
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->reason, close_reason::duplicate);
}

TEST(swarm_session, close_before_hello_is_accepted_as_a_refusal) {
  lone l;
  l.feed(close{close_reason::banned, "banned for 60 s"});
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->reason, close_reason::banned);
  EXPECT_TRUE(l.closed()->by_remote);
}

TEST(swarm_session, hello_split_into_single_bytes_completes) {
  lone l;
  const auto b = encode(hello_of(2));
  ASSERT_TRUE(b);
  for (std::uint8_t byte : *b) l.feed(core::byte_view(&byte, 1));
  EXPECT_EQ(l.s.current_state(), session::state::established);
}

// ---------------------------------------------------------------------------------------------
// messages

TEST(swarm_session, messages_flow_both_ways) {
  pair p;
  p.settle();
  p.send(p.a, have{chunk_seq(5)});
  p.send(p.b, request{{chunk_seq(5), chunk_seq(7)}});
  p.send(p.a, chunk_data{signed_chunk(5), false});
  p.settle();
  const auto at_b = p.b.received();
  ASSERT_EQ(at_b.size(), 2u);
  EXPECT_EQ(std::get<have>(at_b[0]).seq, chunk_seq(5));
  EXPECT_EQ(std::get<chunk_data>(at_b[1]).chunk->seq(), chunk_seq(5));
  const auto at_a = p.a.received();
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(std::get<request>(at_a[0]).seqs.size(), 2u);
}

TEST(swarm_session, chunk_is_transmitted_as_head_plus_the_shared_payload) {
  lone l;
  l.feed(hello_of(2));
  l.sent.clear();
  const auto c = signed_chunk(9);
  ASSERT_TRUE(l.s.send(chunk_data{c, true}));
  EXPECT_EQ(l.s.queued_bytes(), k_frame_head_bytes + k_chunk_head_bytes + c->size());
  l.drain();
  EXPECT_EQ(l.s.queued_bytes(), 0u);
  ASSERT_EQ(l.sent.size(), 1u);
  EXPECT_EQ(l.sent[0].head.size(), k_frame_head_bytes + k_chunk_head_bytes);
  EXPECT_EQ(l.sent[0].payload.get(), c->payload_buffer().get());
}

TEST(swarm_session, send_refuses_what_it_cannot_or_must_not_send) {
  lone l;
  EXPECT_FALSE(l.s.send(have{chunk_seq(1)}));  // not established yet
  l.feed(hello_of(2));
  chunk::chunk_header h;
  EXPECT_FALSE(l.s.send(chunk_data{chunk::make_chunk(h, core::bytes(188, 0)), true}));  // unsigned
  EXPECT_FALSE(l.s.send(ping{1, 2}));
  EXPECT_FALSE(l.s.send(hello_of(1)));
  EXPECT_FALSE(l.s.send(close{}));
  EXPECT_FALSE(l.s.send(request{}));
  EXPECT_TRUE(l.s.send(have{chunk_seq(1)}));
}

TEST(swarm_session, stats_count_bytes_frames_and_payload_on_both_sides) {
  pair p;
  p.settle();
  p.send(p.a, chunk_data{signed_chunk(1), true});
  p.send(p.a, have{chunk_seq(2)});
  p.settle();
  const auto& a = p.a.s.stats();
  const auto& b = p.b.s.stats();
  EXPECT_EQ(a.bytes_out, b.bytes_in);
  EXPECT_EQ(a.frames_out, b.frames_in);
  EXPECT_EQ(b.bytes_out, a.bytes_in);
  EXPECT_EQ(a.payload_out, 376u);
  EXPECT_EQ(b.payload_in, 376u);
  EXPECT_EQ(a.frames_out, 5u);  // hello, ping, pong to b's ping, chunk, have
}

// ---------------------------------------------------------------------------------------------
// keepalive, RTT and the origin clock

TEST(swarm_session, rtt_is_measured_across_the_injected_delay) {
  pair p(hello_of(1), hello_of(2), {}, 30ms);
  p.run_for(200ms);
  auto rtts = of_type<rtt_event>(p.a.events);
  ASSERT_EQ(rtts.size(), 1u);
  EXPECT_EQ(rtts[0].rtt, 60ms);
  EXPECT_EQ(p.a.s.rtt(), core::micros(60ms));
  EXPECT_EQ(of_type<rtt_event>(p.b.events).size(), 1u);
}

TEST(swarm_session, pong_carries_the_responders_origin_clock) {
  pair p(hello_of(1), hello_of(2), {}, 30ms);
  p.b.s.set_origin_offset(-5s);  // b's clock runs 5 s ahead of the origin
  p.run_for(200ms);
  auto rtts = of_type<rtt_event>(p.a.events);
  ASSERT_EQ(rtts.size(), 1u);
  // Sample of a's offset to the origin = origin clock at receipt - local time of receipt.
  const auto& [when, e] = *std::find_if(p.a.events.begin(), p.a.events.end(), [](const auto& x) {
    return std::holds_alternative<rtt_event>(x.second);
  });
  EXPECT_EQ(rtts[0].origin_clock_at_receipt - when, core::micros(-5s));
}

TEST(swarm_session, keepalive_pings_every_interval) {
  pair p(hello_of(1), hello_of(2), {}, 10ms);
  p.run_for(10s + 15ms);
  // One ping on establishment (t0 + 10 ms), then every 2 s: 2.01, 4.01, 6.01, 8.01 s answered by
  // 10 s; the one sent at 10.01 s not yet.
  EXPECT_EQ(of_type<rtt_event>(p.a.events).size(), 5u);
  EXPECT_EQ(p.a.s.current_state(), session::state::established);
  EXPECT_TRUE(p.a.received().empty());  // pings and pongs never reach the node
}

TEST(swarm_session, next_deadline_is_the_earliest_timer) {
  lone l;
  EXPECT_EQ(l.s.next_deadline(), t0 + 10s);  // handshake timeout
  l.feed(hello_of(2), t0 + 1s);
  EXPECT_EQ(l.s.next_deadline(), t0 + 3s);  // keepalive after the first ping at 1 s
  l.s.on_timeout(t0 + 3s);
  l.drain();
  EXPECT_EQ(l.s.next_deadline(), t0 + 5s);
  l.s.close(close_reason::normal, "");
  EXPECT_EQ(l.s.next_deadline(), std::nullopt);
}

TEST(swarm_session, stale_or_made_up_pong_is_ignored) {
  lone l;
  l.feed(hello_of(2));
  l.feed(pong{12345, 0, 0});
  EXPECT_TRUE(of_type<rtt_event>(l.events).empty());
  EXPECT_EQ(l.s.current_state(), session::state::established);
}

TEST(swarm_session, absurd_origin_clock_in_a_pong_is_clamped) {
  lone l;
  l.feed(hello_of(2));
  const ping sent = std::get<ping>(l.sent_messages().back());
  l.feed(pong{sent.nonce, sent.sent_us, INT64_MAX}, t0 + 10ms);
  auto rtts = of_type<rtt_event>(l.events);
  ASSERT_EQ(rtts.size(), 1u);
  EXPECT_EQ(rtts[0].rtt, 10ms);
  const auto hundred_years = core::micros(100LL * 365 * 24 * 3600 * 1'000'000);
  EXPECT_EQ(rtts[0].origin_clock_at_receipt - (t0 + 10ms), hundred_years + 5ms);
}

TEST(swarm_session, ping_nonces_depend_on_the_seed) {
  session_settings s1, s2;
  s1.nonce_seed = 1;
  s2.nonce_seed = 2;
  lone a(hello_of(1), s1), b(hello_of(1), s2);
  a.feed(hello_of(2));
  b.feed(hello_of(2));
  EXPECT_NE(std::get<ping>(a.sent_messages().back()).nonce,
            std::get<ping>(b.sent_messages().back()).nonce);
}

TEST(swarm_session, ping_flood_closes) {
  lone l;
  l.feed(hello_of(2));
  for (int i = 0; i < 9; ++i) l.feed(ping{static_cast<std::uint64_t>(i), 0}, t0 + 1ms * i);
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->reason, close_reason::flood);
  EXPECT_EQ(l.closed()->text, "swarm: more than 8 pings within 2 s");
}

// ---------------------------------------------------------------------------------------------
// timeouts

TEST(swarm_session, handshake_timeout_fires_at_the_right_virtual_time) {
  pair p(hello_of(1), hello_of(2));
  p.b.link_up = false;
  p.b.in_flight.clear();  // b's hello is lost
  p.run_for(30s);
  auto c = p.a.closed();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->reason, close_reason::timeout);
  EXPECT_EQ(c->text, "swarm handshake not completed within 10 s");
  EXPECT_EQ(p.a.events.back().first, t0 + 10s);
}

TEST(swarm_session, idle_timeout_fires_when_the_remote_goes_silent) {
  pair p(hello_of(1), hello_of(2), {}, 10ms);
  p.run_for(5s);
  p.b.link_up = false;  // from 5 s on, nothing from b arrives
  // a last heard b when the pong to its 4.01 s ping came back, at 4.03 s.
  p.run_for(30s);
  auto c = p.a.closed();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->reason, close_reason::timeout);
  EXPECT_EQ(c->text, "swarm: nothing received for 20 s");
  EXPECT_EQ(p.a.events.back().first, t0 + 4s + 30ms + 20s);
  // b hears a's close frame and learns why.
  ASSERT_TRUE(p.b.closed());
  EXPECT_TRUE(p.b.closed()->by_remote);
  EXPECT_EQ(p.b.closed()->reason, close_reason::timeout);
}

// ---------------------------------------------------------------------------------------------
// closing

TEST(swarm_session, close_reason_and_text_reach_the_remote) {
  pair p;
  p.settle();
  p.close(p.a, close_reason::replaced, "found a closer neighbour");
  p.settle();
  auto mine = p.a.closed();
  auto theirs = p.b.closed();
  ASSERT_TRUE(mine && theirs);
  EXPECT_FALSE(mine->by_remote);
  EXPECT_TRUE(theirs->by_remote);
  EXPECT_EQ(theirs->reason, close_reason::replaced);
  EXPECT_EQ(theirs->text, "found a closer neighbour");
  EXPECT_EQ(of_type<closed_event>(p.a.events).size(), 1u);
  EXPECT_EQ(p.b.s.current_state(), session::state::closed);
}

TEST(swarm_session, close_keeps_what_was_queued_before_it) {
  lone l;
  l.feed(hello_of(2));
  l.sent.clear();
  ASSERT_TRUE(l.s.send(have{chunk_seq(3)}));
  l.s.close(close_reason::shutdown, "bye");
  l.drain();
  const auto sent = l.sent_messages();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<have>(sent[0]));
  EXPECT_EQ(std::get<close>(sent[1]).text, "bye");
  EXPECT_FALSE(l.s.send(have{chunk_seq(4)}));
}

TEST(swarm_session, close_text_is_cleaned_for_the_wire) {
  lone l;
  l.feed(hello_of(2));
  l.sent.clear();
  l.s.close(close_reason::normal, "line\nbreak" + std::string(600, 'x'));
  l.drain();
  const auto sent = l.sent_messages();
  ASSERT_EQ(sent.size(), 1u);
  const auto& text = std::get<close>(sent[0]).text;
  EXPECT_EQ(text.size(), k_max_close_text_bytes);
  EXPECT_EQ(text.substr(0, 10), "line?break");
}

TEST(swarm_session, garbage_closes_as_malformed_and_tells_the_remote) {
  pair p;
  p.settle();
  const core::bytes garbage = {0, 0, 0, 3, 99, 1, 2};
  p.inject(p.b, garbage);
  p.settle();
  auto c = p.b.closed();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->reason, close_reason::malformed);
  EXPECT_EQ(c->text, "swarm frame type 99 is unknown");
  auto theirs = p.a.closed();
  ASSERT_TRUE(theirs);
  EXPECT_TRUE(theirs->by_remote);
  EXPECT_EQ(theirs->text, "swarm frame type 99 is unknown");
}

TEST(swarm_session, malformed_field_closes_with_the_codec_message) {
  lone l;
  l.feed(hello_of(2));
  core::bytes bad;
  core::put_be32(bad, 3);
  core::put_u8(bad, static_cast<std::uint8_t>(frame_type::request));
  core::put_be16(bad, 300);
  l.feed(bad);
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->reason, close_reason::malformed);
  EXPECT_EQ(l.closed()->text, "swarm request frame lists 300 chunks, limit 256");
}

TEST(swarm_session, oversized_frame_closes_before_its_body_arrives) {
  session_settings settings;
  settings.max_frame_bytes = 64 * 1024;
  lone l(hello_of(1), settings);
  l.feed(hello_of(2));
  core::bytes head;
  core::put_be32(head, 1u << 20);
  core::put_u8(head, static_cast<std::uint8_t>(frame_type::chunk));
  l.feed(head);
  ASSERT_TRUE(l.closed());
  EXPECT_EQ(l.closed()->reason, close_reason::malformed);
  EXPECT_EQ(l.closed()->text, "swarm chunk frame of 1048576 bytes exceeds limit 65536");
}

TEST(swarm_session, frames_before_garbage_in_the_same_read_are_delivered) {
  lone l;
  l.feed(hello_of(2));
  auto b = encode(have{chunk_seq(8)});
  ASSERT_TRUE(b);
  core::bytes in = *b;
  core::append(in, core::bytes{0, 0, 0, 0});
  l.feed(in);
  ASSERT_EQ(of_type<received_event>(l.events).size(), 1u);
  ASSERT_TRUE(l.closed());
}

TEST(swarm_session, nothing_happens_after_close) {
  lone l;
  l.feed(hello_of(2));
  l.s.close(close_reason::normal, "");
  l.drain();
  const auto events = l.events.size();
  l.feed(have{chunk_seq(1)});
  l.s.on_timeout(t0 + 100s);
  l.s.close(close_reason::flood, "again");
  l.drain();
  EXPECT_EQ(l.events.size(), events);
}

}  // namespace
}  // namespace meshcast::proto::swarm
