#include "swarm/node.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>

namespace meshcast::swarm {
namespace {

using namespace std::chrono_literals;

const core::time_point t0 = core::from_us(1'000'000'000'000);
constexpr std::uint8_t k_signed = 0x5a;

/// Chunk `seq` of a 100 ms-per-chunk stream that started at t0: source time t0 + seq × 100 ms.
chunk::chunk_ptr make(std::uint64_t seq, std::size_t bytes = 1000, bool forged = false) {
  chunk::chunk_header h;
  h.seq = core::chunk_seq{seq};
  h.segment = core::segment_seq{seq / 20};
  h.source_time = t0 + std::chrono::milliseconds(100 * static_cast<std::int64_t>(seq));
  h.duration = 100ms;
  if (seq % 20 == 0) h.flags = chunk::flag_segment_start | chunk::flag_keyframe;
  chunk::chunk_signature sig{};
  sig[0] = forged ? 0 : k_signed;
  return chunk::make_chunk(h, core::bytes(bytes, 0x47), sig);
}

ps::node_id id_of(char name) {
  ps::node_id n{};
  n[0] = static_cast<std::uint8_t>(name);
  return n;
}

/// One node under test and named fake neighbours ('a'..'z'; the node itself is 'm'). Messages
/// the node sends are read back as text: "bitmap:0+111 have:5 request:3,4 cancel:3 push:5
/// chunk:5 reject:3:busy pex:2".
struct node_fixture {
  explicit node_fixture(ps::node_role role = ps::node_role::peer,
                        const std::function<void(node_settings&)>& tweak = {}) {
    node_settings s;
    s.id = id_of('m');
    s.role = role;
    s.stream = "live/test";
    s.listen_port = 7000;
    if (tweak) tweak(s);
    n = std::make_unique<node>(
        s, log, [](const chunk::chunk& c) { return c.signature() && (*c.signature())[0] == k_signed; });
  }

  std::optional<ps::close_reason> try_up(char name, ps::node_role role = ps::node_role::peer,
                                         std::uint16_t listen_port = 7000, bool inbound = true) {
    ps::hello h;
    h.stream = "live/test";
    h.id = id_of(name);
    h.role = role;
    h.listen_port = listen_port;
    const neighbour_id nid = next_id++;
    const auto r = n->on_neighbour_up(nid, h, inbound, now, "10.0.0." + std::to_string(name));
    if (!r) ids[name] = nid;
    return r;
  }
  void up(char name, ps::node_role role = ps::node_role::peer, std::uint16_t listen_port = 7000) {
    ASSERT_EQ(try_up(name, role, listen_port), std::nullopt) << name;
  }
  void down(char name) { n->on_neighbour_down(ids.at(name), now); }
  void deliver(char name, const ps::message& m) { n->on_message(ids.at(name), m, now); }
  void push(char name, std::uint64_t seq, bool pushed = true, bool forged = false) {
    deliver(name, ps::chunk_data{make(seq, 1000, forged), pushed});
  }
  void at(core::micros since_t0) {
    now = t0 + since_t0;
    n->on_timeout(now);
  }

  std::string drain(char name) {
    std::string out;
    while (auto m = n->next_message_for(ids.at(name), now)) {
      if (!out.empty()) out += ' ';
      out += text(*m);
    }
    return out;
  }
  void drain_all() {
    for (auto& [name, nid] : ids) drain(name);
  }

  static std::string seqs(const std::vector<core::chunk_seq>& v) {
    std::string s;
    for (auto q : v) s += (s.empty() ? "" : ",") + std::to_string(q.value());
    return s;
  }
  static std::string text(const ps::message& m) {
    if (auto* x = std::get_if<ps::bitmap>(&m)) {
      std::string bits;
      for (bool b : x->bits) bits += b ? '1' : '0';
      return "bitmap:" + std::to_string(x->base.value()) + "+" + bits;
    }
    if (auto* x = std::get_if<ps::have>(&m)) return "have:" + std::to_string(x->seq.value());
    if (auto* x = std::get_if<ps::request>(&m)) return "request:" + seqs(x->seqs);
    if (auto* x = std::get_if<ps::cancel>(&m)) return "cancel:" + seqs(x->seqs);
    if (auto* x = std::get_if<ps::chunk_data>(&m)) {
      return (x->pushed ? "push:" : "chunk:") + std::to_string(x->chunk->seq().value());
    }
    if (auto* x = std::get_if<ps::reject>(&m)) {
      const char* why = x->reason == ps::reject_reason::busy       ? "busy"
                        : x->reason == ps::reject_reason::too_late ? "too_late"
                                                                   : "not_held";
      return "reject:" + std::to_string(x->seq.value()) + ":" + why;
    }
    if (auto* x = std::get_if<ps::pex>(&m)) return "pex:" + std::to_string(x->peers.size());
    return "other";
  }

  chunk::chunk_log log{30s};
  std::unique_ptr<node> n;
  core::time_point now = t0;
  std::map<char, neighbour_id> ids;
  neighbour_id next_id = 1;
};

/// The names of the nodes the node wants dialled, in order.
std::string dialled(node_fixture& f) {
  std::string out;
  while (auto a = f.n->poll_dial()) out += static_cast<char>(a->id[0]);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return (" " + haystack + " ").find(" " + needle + " ") != std::string::npos;
}

// --- announcing and pushing --------------------------------------------------------------------

TEST(swarm_node, a_new_neighbour_gets_our_bitmap_first) {
  node_fixture f(ps::node_role::origin);
  f.now = t0 + 400ms;
  for (std::uint64_t q = 0; q < 5; ++q) f.n->on_local_chunk(make(q), f.now);
  f.up('a');
  EXPECT_EQ(f.drain('a'), "bitmap:0+11111");
}

TEST(swarm_node, the_origin_pushes_a_new_chunk_to_push_fanout_neighbours_and_tells_everyone) {
  node_fixture f(ps::node_role::origin);
  for (char c : std::string("abcde")) f.up(c);
  f.drain_all();
  f.n->on_local_chunk(make(0), f.now);
  int pushes = 0;
  for (char c : std::string("abcde")) {
    const std::string out = f.drain(c);
    EXPECT_TRUE(contains(out, "have:0")) << c << ": " << out;
    pushes += contains(out, "push:0") ? 1 : 0;
  }
  EXPECT_EQ(pushes, 3);
  EXPECT_EQ(f.n->stats().chunks_pushed_out, 3u);
}

TEST(swarm_node, a_received_chunk_is_announced_to_all_but_its_sender_and_relayed_once) {
  node_fixture f;
  for (char c : std::string("abcd")) f.up(c);
  f.drain_all();
  f.now = t0 + 50ms;
  f.push('a', 0);
  EXPECT_EQ(f.drain('a'), "");
  int relayed = 0;
  for (char c : std::string("bcd")) {
    const std::string out = f.drain(c);
    EXPECT_TRUE(contains(out, "have:0")) << c;
    relayed += contains(out, "push:0") ? 1 : 0;
  }
  EXPECT_EQ(relayed, 1);  // relay_fanout
  EXPECT_EQ(f.n->stats().chunks_pushed_in, 1u);
}

TEST(swarm_node, an_old_chunk_is_announced_but_not_pushed) {
  node_fixture f;
  f.up('a');
  f.up('b');
  f.drain_all();
  f.now = t0 + 600ms;  // 600 ms old: past push_max_age
  f.push('a', 0);
  EXPECT_EQ(f.drain('b'), "have:0");
}

// --- pulling --------------------------------------------------------------------------------

TEST(swarm_node, a_late_joiner_starts_at_the_newest_chunk_its_neighbours_hold) {
  node_fixture f;
  f.now = t0 + 9950ms;  // chunk 99 is 50 ms old; its neighbour holds 0..99
  f.up('a');
  f.drain_all();
  f.deliver('a', ps::bitmap{core::chunk_seq{0}, std::vector<bool>(100, true)});
  EXPECT_EQ(f.drain('a'), "request:99");
  f.push('a', 99, false);
  EXPECT_EQ(f.n->join_point(), core::chunk_seq{99});
  EXPECT_EQ(f.log.first_seq(), core::chunk_seq{99});
}

TEST(swarm_node, a_chunk_arriving_by_push_cancels_its_request_elsewhere) {
  node_fixture f;
  f.up('a');
  f.up('b');
  f.now = t0 + 50ms;
  f.push('b', 0);  // joined at 0
  f.drain_all();
  f.now = t0 + 850ms;  // chunk 1 is 750 ms old: to be pulled
  f.deliver('a', ps::have{core::chunk_seq{1}});
  EXPECT_EQ(f.drain('a'), "request:1");
  f.push('b', 1);
  EXPECT_EQ(f.drain('a'), "cancel:1");
  EXPECT_EQ(f.n->stats().cancels_sent, 1u);
}

TEST(swarm_node, a_request_that_times_out_is_cancelled_and_asked_elsewhere) {
  node_fixture f;
  f.up('a');
  f.up('b');
  f.now = t0 + 50ms;
  f.push('b', 0);
  f.drain_all();
  f.now = t0 + 850ms;
  f.deliver('a', ps::have{core::chunk_seq{1}});
  f.deliver('b', ps::have{core::chunk_seq{1}});
  EXPECT_EQ(f.drain('a'), "request:1");
  EXPECT_EQ(f.drain('b'), "");
  // Unanswered. It times out at the last moment a retry elsewhere can still make the deadline:
  // due at 1.6 s, and a request takes RTT + one transfer (100 + 150 ms unmeasured) = 1.35 s.
  f.at(1349ms);
  EXPECT_EQ(f.drain('a'), "");
  f.at(1350ms);
  EXPECT_EQ(f.drain('a'), "cancel:1");
  EXPECT_EQ(f.drain('b'), "request:1");
  EXPECT_EQ(f.n->stats().requests_timed_out, 1u);
}

TEST(swarm_node, chunks_past_their_deadline_are_skipped_and_counted) {
  node_fixture f;
  f.up('a');
  f.now = t0 + 50ms;
  f.push('a', 0);
  f.push('a', 3);
  f.drain_all();
  f.at(2s);  // chunks 1 and 2 were due at 1.6 and 1.7 s
  EXPECT_EQ(f.drain('a'), "");
  EXPECT_EQ(f.n->stats().chunks_skipped_late, 2u);
}

TEST(swarm_node, haves_far_ahead_of_the_stream_are_ignored) {
  node_fixture f;
  f.up('a');
  f.now = t0 + 50ms;
  f.push('a', 0);
  f.deliver('a', ps::have{core::chunk_seq{100'000}});
  EXPECT_EQ(f.n->stats().haves_ignored, 1u);
}

// --- serving within the budget ------------------------------------------------------------------

TEST(swarm_node, chunk_messages_wait_for_the_upload_budget_and_next_deadline_says_when) {
  // Chunk payloads get 95 % of the upload (the rest is framing and control): 1600 kbit/s
  // upload, 190 kB/s of payload.
  node_fixture f(ps::node_role::origin, [](node_settings& s) { s.upload_kbps = 1600; });
  f.up('a');
  f.drain_all();
  f.n->on_local_chunk(make(0, 19'000), f.now);
  EXPECT_EQ(f.drain('a'), "have:0 push:0");
  f.n->on_local_chunk(make(1, 19'000), f.now);
  EXPECT_EQ(f.drain('a'), "have:1");  // the bucket is empty: 19 kB take 100 ms
  EXPECT_EQ(f.n->next_deadline(), f.now + 100ms);
  f.at(100ms);
  EXPECT_EQ(f.drain('a'), "push:1");
}

TEST(swarm_node, a_source_with_a_limited_upload_pushes_a_new_chunk_before_an_urgent_answer) {
  // 190 kB/s of payload: one 19 kB chunk per 100 ms.
  node_fixture f(ps::node_role::origin, [](node_settings& s) {
    s.upload_kbps = 1600;
    s.push_fanout = 1;
  });
  f.n->on_local_chunk(make(0, 15'000), f.now);  // before anyone is there: nobody has it
  f.up('a');
  f.up('b');
  f.drain_all();
  f.now = t0 + 1100ms;
  f.n->on_local_chunk(make(11, 19'000), f.now);
  EXPECT_TRUE(contains(f.drain('a') + " " + f.drain('b'), "push:11"));  // the budget is spent until 1.2 s
  f.now = t0 + 1150ms;
  f.deliver('a', ps::request{{core::chunk_seq{0}}});  // due at 1.5 s: urgent from 1.1 s on
  EXPECT_EQ(f.drain('a'), "");                        // waits for the budget
  f.now = t0 + 1200ms;
  f.n->on_local_chunk(make(12, 19'000), f.now);
  const std::string sent = f.drain('a') + " " + f.drain('b');
  EXPECT_TRUE(contains(sent, "push:12")) << sent;  // the chunk only the source has goes first
  EXPECT_FALSE(contains(sent, "chunk:0")) << sent;
  f.at(1280ms);
  EXPECT_TRUE(contains(f.drain('a'), "chunk:0"));  // then the answer, in time
}

TEST(swarm_node, a_node_waiting_for_upload_tokens_sleeps_until_the_chunk_next_in_line_can_go) {
  // 95 kB/s of payload. Small chunks make the average chunk small; a large one goes to a, and
  // when b asks for it too, the tokens for it take a while — those for an average chunk not.
  node_fixture f(ps::node_role::origin, [](node_settings& s) {
    s.upload_kbps = 800;
    s.push_fanout = 0;
  });
  for (std::uint64_t q = 0; q < 8; ++q) f.n->on_local_chunk(make(q, 1'000), f.now);
  f.n->on_local_chunk(make(8, 60'000), f.now);
  f.up('a');
  f.up('b');
  f.drain_all();
  f.deliver('a', ps::request{{core::chunk_seq{8}}});
  EXPECT_EQ(f.drain('a'), "chunk:8");
  f.at(300ms);
  f.deliver('b', ps::request{{core::chunk_seq{8}}});
  EXPECT_EQ(f.drain('b'), "");  // waits for tokens
  // The next wake-up is when something can happen: the tokens for chunk 8, or b's request
  // running out of serve wait — not when an average chunk's tokens are there: that time has
  // passed, and a timer set to it fired again and again for nothing.
  const auto next = f.n->next_deadline();
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, f.now + 100ms);
}

TEST(swarm_node, requests_for_chunks_late_or_not_held_are_rejected) {
  node_fixture f(ps::node_role::origin);
  f.n->on_local_chunk(make(0), f.now);
  f.up('a');
  f.drain_all();
  f.now = t0 + 1600ms;  // chunk 0 was due at 1.5 s
  f.deliver('a', ps::request{{core::chunk_seq{0}, core::chunk_seq{1}}});
  EXPECT_EQ(f.drain('a'), "reject:0:too_late reject:1:not_held");
}

TEST(swarm_node, requests_beyond_a_neighbours_queue_limit_are_refused_busy) {
  node_fixture f(ps::node_role::origin, [](node_settings& s) { s.serve_queue_limit = 2; });
  for (std::uint64_t q = 0; q < 4; ++q) f.n->on_local_chunk(make(q), f.now);
  f.up('a');
  f.drain_all();
  f.deliver('a',
            ps::request{{core::chunk_seq{0}, core::chunk_seq{1}, core::chunk_seq{2}, core::chunk_seq{3}}});
  EXPECT_EQ(f.drain('a'), "reject:2:busy reject:3:busy chunk:0");
  f.at(1ms);
  EXPECT_EQ(f.drain('a'), "chunk:1");
  EXPECT_EQ(f.n->stats().requests_served, 2u);
}

TEST(swarm_node, a_cancelled_request_is_not_served) {
  node_fixture f(ps::node_role::origin, [](node_settings& s) { s.upload_kbps = 80; });  // 10 kB/s
  for (std::uint64_t q = 0; q < 3; ++q) f.n->on_local_chunk(make(q, 10'000), f.now);
  f.up('a');
  f.drain_all();
  f.deliver('a', ps::request{{core::chunk_seq{0}, core::chunk_seq{1}}});
  EXPECT_EQ(f.drain('a'), "chunk:0");
  f.deliver('a', ps::cancel{{core::chunk_seq{1}}});
  f.at(2s);
  EXPECT_EQ(f.drain('a'), "");
}

// --- protection ---------------------------------------------------------------------------------

TEST(swarm_node, a_neighbour_sending_a_forged_chunk_is_disconnected_and_banned_and_no_one_else) {
  node_fixture f;
  f.up('a');
  f.up('b');
  f.now = t0 + 50ms;
  f.push('a', 0, true, /*forged=*/true);
  const auto d = f.n->poll_disconnect();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->neighbour, f.ids['a']);
  EXPECT_EQ(d->reason, ps::close_reason::bad_signature);
  EXPECT_FALSE(f.n->poll_disconnect());
  EXPECT_EQ(f.log.size(), 0u);
  EXPECT_EQ(f.n->stats().bad_signatures, 1u);
  EXPECT_EQ(f.n->stats().bans, 1u);

  f.push('b', 0);  // the genuine one from b is taken
  EXPECT_EQ(f.log.size(), 1u);
  EXPECT_EQ(f.n->neighbour_count(), 1u);

  f.down('a');
  EXPECT_EQ(f.try_up('a'), ps::close_reason::banned);
  EXPECT_EQ(f.n->stats().refused_banned, 1u);
  f.at(61s);  // ban_duration is 60 s
  EXPECT_EQ(f.try_up('a'), std::nullopt);
}

TEST(swarm_node, a_neighbour_flooding_requests_is_disconnected_and_banned) {
  node_fixture f(ps::node_role::origin);
  f.n->on_local_chunk(make(0), f.now);
  f.up('a');
  f.up('b');
  f.drain_all();
  ps::request far;
  for (std::uint64_t k = 0; k < ps::k_max_request_seqs; ++k)
    far.seqs.push_back(core::chunk_seq{1'000'000 + k});
  f.deliver('a', far);
  const auto d = f.n->poll_disconnect();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->neighbour, f.ids['a']);
  EXPECT_EQ(d->reason, ps::close_reason::flood);
  EXPECT_EQ(f.n->stats().floods, 1u);

  f.deliver('b', ps::request{{core::chunk_seq{0}}});  // b is served as before
  EXPECT_EQ(f.drain('b'), "chunk:0");
  f.down('a');
  EXPECT_EQ(f.try_up('a'), ps::close_reason::banned);
}

// --- membership -----------------------------------------------------------------------------

TEST(swarm_node, of_two_connections_to_one_node_both_ends_keep_the_one_dialled_by_the_lower_id) {
  // We are 'm'. 'z' > 'm': keep the one we dialled; 'a' < 'm': keep the one 'a' dialled.
  node_fixture f;
  ASSERT_EQ(f.try_up('z', ps::node_role::peer, 7000, /*inbound=*/false), std::nullopt);
  EXPECT_EQ(f.try_up('z', ps::node_role::peer, 7000, /*inbound=*/true), ps::close_reason::duplicate);

  ASSERT_EQ(f.try_up('a', ps::node_role::peer, 7000, /*inbound=*/false), std::nullopt);
  const neighbour_id first = f.ids['a'];
  EXPECT_EQ(f.try_up('a', ps::node_role::peer, 7000, /*inbound=*/true), std::nullopt);
  const auto d = f.n->poll_disconnect();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->neighbour, first);
  EXPECT_EQ(d->reason, ps::close_reason::duplicate);
  EXPECT_EQ(f.n->neighbour_count(), 2u);
}

TEST(swarm_node, a_full_node_refuses_newcomers_and_itself) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) { s.max_neighbours = 2; });
  f.up('a');
  f.up('b');
  EXPECT_EQ(f.try_up('c'), ps::close_reason::normal);
  EXPECT_EQ(f.try_up('m'), ps::close_reason::duplicate);
  EXPECT_EQ(f.n->stats().refused_full, 1u);
}

TEST(swarm_node, dials_candidates_until_it_has_min_neighbours) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) { s.min_neighbours = 2; });
  f.n->on_candidates(
      {{id_of('a'), "10.0.0.1", 7001}, {id_of('b'), "10.0.0.2", 7002}, {id_of('c'), "10.0.0.3", 7003}},
      f.now);
  EXPECT_EQ(dialled(f), "ab");
  f.n->on_dial_failed({id_of('b'), "10.0.0.2", 7002}, f.now);
  EXPECT_EQ(dialled(f), "c");
}

TEST(swarm_node, a_starving_peer_asks_for_candidates_and_dials_up_to_max_neighbours) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) {
    s.min_neighbours = 2;
    s.max_neighbours = 4;
    s.neighbour_replace_interval = 60s;  // a stays
    s.young_for = 0s;
  });
  f.up('a');
  f.up('b');
  f.n->on_candidates({{id_of('c'), "10.0.0.3", 7003}, {id_of('d'), "10.0.0.4", 7004}, {id_of('e'), "10.0.0.5", 7005}},
                     f.now);
  EXPECT_EQ(dialled(f), "");  // min_neighbours: enough
  EXPECT_TRUE(f.n->starving(f.now));  // nothing stored yet
  f.at(1s);
  EXPECT_FALSE(f.n->take_candidates_wanted());  // still joining
  EXPECT_EQ(dialled(f), "");
  f.at(2s);  // nothing stored for starve_after: a and b may be as cut off as we are
  EXPECT_TRUE(f.n->take_candidates_wanted());
  EXPECT_FALSE(f.n->take_candidates_wanted());  // once per starve_after
  EXPECT_EQ(dialled(f), "cd");                  // up to max_neighbours (2 up, 2 dialling)
  f.at(3s);
  EXPECT_FALSE(f.n->take_candidates_wanted());
  f.at(4s);
  EXPECT_TRUE(f.n->take_candidates_wanted());  // and again while still starving, 2 s later
  for (const auto t : {5s, 6s, 7s}) {
    f.at(t);
    EXPECT_FALSE(f.n->take_candidates_wanted()) << t.count();  // then 4 s later
  }
  f.at(8s);
  EXPECT_TRUE(f.n->take_candidates_wanted());
  f.at(15s);
  EXPECT_FALSE(f.n->take_candidates_wanted());  // then 8 s later
  f.at(16s);
  EXPECT_TRUE(f.n->take_candidates_wanted());
  EXPECT_EQ(dialled(f), "e");  // d's dial was forgotten after dial_timeout: e instead

  // A chunk stored: fed again, back to min_neighbours and quiet.
  f.now = t0 + 16100ms;
  f.push('a', 161);
  EXPECT_FALSE(f.n->starving(f.now));
  f.n->on_dial_failed({id_of('c'), "10.0.0.3", 7003}, f.now);
  f.at(17s);
  EXPECT_EQ(dialled(f), "");
  f.at(18s);
  EXPECT_FALSE(f.n->take_candidates_wanted());
  EXPECT_TRUE(f.n->starving(t0 + 18100ms));  // 2 s after the last chunk
  f.at(19s);
  EXPECT_TRUE(f.n->take_candidates_wanted());  // starving again: the gap starts over at 2 s
  f.at(20s);
  EXPECT_FALSE(f.n->take_candidates_wanted());
  f.at(21s);
  EXPECT_TRUE(f.n->take_candidates_wanted());
}

TEST(swarm_node, the_origin_never_starves) {
  node_fixture f(ps::node_role::origin);
  f.at(10s);
  EXPECT_FALSE(f.n->starving(f.now));
  EXPECT_FALSE(f.n->take_candidates_wanted());
}

TEST(swarm_node, the_origin_never_dials) {
  node_fixture f(ps::node_role::origin);
  f.n->on_candidates({{id_of('a'), "10.0.0.1", 7001}}, f.now);
  EXPECT_FALSE(f.n->poll_dial());
}

TEST(swarm_node, pex_lists_the_neighbours_that_accept_connections_and_feeds_candidates) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) { s.min_neighbours = 4; });
  f.up('a', ps::node_role::peer, 7001);
  f.up('b', ps::node_role::peer, 0);  // does not accept connections
  f.up('c');
  EXPECT_EQ(f.drain('c'), "bitmap:0+ pex:1");  // a only: not b, not c itself
  f.deliver('a', ps::pex{{{id_of('x'), "10.0.0.9", 7009}}});
  f.at(1ms);
  EXPECT_EQ(dialled(f), "x");
}

TEST(swarm_node, the_least_useful_peer_is_replaced_after_the_interval) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) {
    s.min_neighbours = 2;
    s.starve_after = 60s;  // not starving meanwhile: that would dial c at once
    s.young_for = 0s;      // the steady cadence from the start (the young one: below)
  });
  f.up('a');
  f.up('b');
  f.up('o', ps::node_role::origin);
  f.n->on_candidates({{id_of('c'), "10.0.0.3", 7003}}, f.now);
  f.at(2s);
  for (std::uint64_t q = 20; q < 25; ++q) {
    f.now = t0 + std::chrono::milliseconds(100 * q + 20);
    f.push('a', q);  // a is useful; b and the origin sent nothing
  }
  f.drain_all();
  f.at(2900ms);
  EXPECT_FALSE(f.n->poll_disconnect());  // not before the interval (3 s)
  f.at(3s);
  const auto d = f.n->poll_disconnect();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->neighbour, f.ids['b']);
  EXPECT_EQ(d->reason, ps::close_reason::replaced);
  EXPECT_EQ(dialled(f), "c");
}

TEST(swarm_node, a_young_node_replaces_every_half_second_then_every_three) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) {
    s.min_neighbours = 2;
    s.starve_after = 60s;
    s.young_for = 2s;  // (10 s by default)
  });
  for (const char c : std::string("abcdefgh")) f.up(c);
  std::vector<ps::peer_address> cands;
  for (int k = 0; k < 20; ++k) cands.push_back({id_of(static_cast<char>('A' + k)), "10.0.1." + std::to_string(k), 7000});
  f.n->on_candidates(cands, f.now);
  std::vector<std::int64_t> at_ms;  // when a neighbour was dropped as replaced
  for (core::micros t = 1ms; t <= 9s; t += 1ms) {
    f.at(t);
    while (const auto d = f.n->poll_disconnect()) {
      if (d->reason == ps::close_reason::replaced) at_ms.push_back((t / 1ms));
    }
    while (f.n->poll_dial()) {
    }
  }
  // Started when the first neighbour came (0 s): young until 2 s, replacing every 0.5 s among
  // neighbours 0.5 s old; then every 3 s among neighbours 3 s old (at 2 s none is: the round
  // passes). The least useful goes each time (all are equal here), one of eight at a time.
  EXPECT_EQ(at_ms, (std::vector<std::int64_t>{500, 1000, 1500, 5000, 8000}));
}

TEST(swarm_node, a_neighbour_we_feed_is_as_useful_as_one_that_feeds_us) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) {
    s.min_neighbours = 2;
    s.starve_after = 60s;
    s.young_for = 0s;
  });
  f.up('a');
  f.up('b');
  f.up('d');
  f.n->on_candidates({{id_of('c'), "10.0.0.3", 7003}}, f.now);
  f.at(2s);
  for (std::uint64_t q = 20; q < 25; ++q) {
    f.now = t0 + std::chrono::milliseconds(100 * q + 20);
    f.push('a', q);                                  // a feeds us
    f.deliver('b', ps::request{{core::chunk_seq{q}}});  // we feed b
    f.drain_all();
  }
  f.at(3s);
  const auto d = f.n->poll_disconnect();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->neighbour, f.ids['d']);  // d exchanged nothing; b is kept
}

// --- what the driver reads ----------------------------------------------------------------------

TEST(swarm_node, arrivals_are_recorded_with_source_role_and_push_and_bounded) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) { s.max_arrival_records = 2; });
  f.up('o', ps::node_role::origin);
  f.now = t0 + 50ms;
  f.push('o', 0);
  f.now = t0 + 150ms;
  f.push('o', 1);
  f.now = t0 + 260ms;
  f.push('o', 2, false);
  EXPECT_EQ(f.n->stats().arrivals_dropped, 1u);
  const auto a = f.n->poll_arrival();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->seq, core::chunk_seq{1});
  EXPECT_EQ(a->source_time, t0 + 100ms);
  EXPECT_EQ(a->arrival, t0 + 150ms);
  EXPECT_EQ(a->from_role, ps::node_role::origin);
  EXPECT_TRUE(a->pushed);
  EXPECT_FALSE(f.n->poll_arrival()->pushed);
  EXPECT_FALSE(f.n->poll_arrival());
}

TEST(swarm_node, bytes_and_duplicates_are_counted_by_neighbour_role) {
  node_fixture f(ps::node_role::peer, [](node_settings& s) { s.relay_fanout = 0; });
  f.up('o', ps::node_role::origin);
  f.up('a');
  f.now = t0 + 50ms;
  f.push('o', 0);
  f.push('a', 0);  // a duplicate
  f.deliver('a', ps::request{{core::chunk_seq{0}}});
  f.drain('a');
  const node_stats& s = f.n->stats();
  EXPECT_EQ(s.bytes_down.origin, 1000u);
  EXPECT_EQ(s.bytes_down.peer, 1000u);
  EXPECT_EQ(s.duplicate_chunks, 1u);
  EXPECT_EQ(s.duplicate_bytes, 1000u);
  EXPECT_EQ(s.bytes_up.peer, 1000u);
  EXPECT_EQ(s.requests_served, 1u);
  const auto nbs = f.n->neighbours();
  ASSERT_EQ(nbs.size(), 2u);
  EXPECT_EQ(nbs[0].bytes_down, 1000u);
}

TEST(swarm_node, a_request_for_a_chunk_we_pushed_it_is_not_answered_twice) {
  node_fixture f;
  f.up('o', ps::node_role::origin);
  f.up('a');
  f.drain_all();
  f.now = t0 + 50ms;
  f.push('o', 0);                                     // relayed to a, the only peer
  f.deliver('a', ps::request{{core::chunk_seq{0}}});  // crossed our push
  EXPECT_EQ(f.drain('a'), "have:0 push:0");
  f.at(1s);
  EXPECT_EQ(f.drain('a'), "");
}

TEST(swarm_node, local_hello_names_what_the_driver_must_announce) {
  node_fixture f(ps::node_role::edge, [](node_settings& s) { s.upload_kbps = 50'000; });
  const ps::hello h = f.n->local_hello();
  EXPECT_EQ(h.stream, "live/test");
  EXPECT_EQ(h.rendition, "source");
  EXPECT_EQ(h.id, id_of('m'));
  EXPECT_EQ(h.role, ps::node_role::edge);
  EXPECT_EQ(h.upload_kbps, 50'000u);
  EXPECT_EQ(h.listen_port, 7000);
}

}  // namespace
}  // namespace meshcast::swarm
