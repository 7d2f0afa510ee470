#include "swarm/picker.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace meshcast::swarm {
namespace {

using namespace std::chrono_literals;

// A pick round from a one-line fixture (libtorrent setup_picker style), with the node defaults:
// urgent below 400 ms to the deadline, pull grace 400 ms, playout delay 1.5 s.
//   have=1100       our chunks from seq 0 ('1' held)
//   flight=0010     already requested (and not timed out)
//   due=800         chunk 0's deadline in ms from now, each next chunk 100 ms later;
//                   due=? : unknown (joining). Source age = 1500 - due.
//   heard=-50       all chunks were first announced to us this many ms from now
//   NAME=BITS[/FREE][@p|@e|@o][~MS]   a neighbour: what it holds, free request slots (default
//                   2), class peer/edge/origin (default peer), response time (default 100 ms)
// Returns the requests in order, "a:0 b:3!" (neighbour:seq, ! = urgent).
struct pick_fixture {
  explicit pick_fixture(std::string_view spec) {
    std::istringstream in{std::string(spec)};
    std::string tok;
    std::optional<std::int64_t> due;
    std::optional<std::int64_t> heard;
    std::string have, flight;
    while (in >> tok) {
      const auto eq = tok.find('=');
      const std::string key = tok.substr(0, eq), val = tok.substr(eq + 1);
      if (key == "have") {
        have = val;
      } else if (key == "flight") {
        flight = val;
      } else if (key == "due") {
        if (val != "?") due = std::stoll(val);
      } else if (key == "heard") {
        heard = std::stoll(val);
      } else {
        pick_neighbour n;
        n.id = static_cast<neighbour_id>(key[0]);
        n.free_slots = 2;
        std::size_t i = 0;
        for (; i < val.size() && (val[i] == '0' || val[i] == '1'); ++i) n.has.push_back(val[i] == '1');
        while (i < val.size()) {
          const char c = val[i++];
          std::size_t used = 0;
          if (c == '/') {
            n.free_slots = std::stoul(val.substr(i), &used);
          } else if (c == '@') {
            n.cls = val[i] == 'o'   ? source_class::origin
                    : val[i] == 'e' ? source_class::edge
                                    : source_class::peer;
            used = 1;
          } else if (c == '~') {
            n.response = std::chrono::milliseconds(std::stoll(val.substr(i), &used));
          }
          i += used;
        }
        problem.neighbours.push_back(n);
      }
    }
    problem.now = core::from_us(1'000'000'000'000);
    problem.first = core::chunk_seq{0};
    for (std::size_t i = 0; i < have.size(); ++i) {
      problem.wanted.push_back(have[i] == '0' && (i >= flight.size() || flight[i] == '0'));
      if (due) {
        problem.deadline.push_back(problem.now +
                                   std::chrono::milliseconds(*due + 100 * static_cast<std::int64_t>(i)));
      } else {
        problem.deadline.push_back(std::nullopt);
      }
      if (heard) problem.heard.push_back(problem.now + std::chrono::milliseconds(*heard));
    }
  }

  std::string pick() {
    const pick_result r = chunk_picker{settings}.pick(problem);
    recheck = r.recheck_at;
    std::string out;
    for (const auto& p : r.picks) {
      if (!out.empty()) out += ' ';
      out += static_cast<char>(p.neighbour);
      out += ':' + std::to_string(p.seq.value()) + (p.urgent ? "!" : "");
    }
    return out;
  }
  /// The recheck time in ms from now (-1 when none).
  [[nodiscard]] std::int64_t recheck_ms() const {
    return recheck ? (*recheck - problem.now).count() / 1000 : -1;
  }

  pick_problem problem;
  picker_settings settings;
  std::optional<core::time_point> recheck;
};

std::string pick(std::string_view spec) { return pick_fixture(spec).pick(); }

TEST(chunk_picker, rarest_first_when_nothing_is_urgent) {
  // Holders: chunk 0 a; 1 a,b,c; 2 a,b; 3 a. Ties in rarity go to the earlier deadline.
  EXPECT_EQ(pick("have=0000 due=800 a=1111 b=0110 c=0100"), "a:0 a:3 b:2 c:1");
}

TEST(chunk_picker, deadline_first_when_urgent_then_rarest_first) {
  // Chunks 0 and 1 are due in 200 and 300 ms: urgent. 2 is the rarest of the rest.
  EXPECT_EQ(pick("have=00000 due=200 a=11111/8 b=00011"), "a:0! a:1! a:2 b:3 b:4");
}

TEST(chunk_picker, chunks_past_their_deadline_are_skipped) {
  EXPECT_EQ(pick("have=000 due=-100 a=111"), "a:2!");
}

TEST(chunk_picker, chunks_held_or_in_flight_are_not_requested) {
  EXPECT_EQ(pick("have=1000 flight=0110 due=800 a=1111"), "a:3");
}

TEST(chunk_picker, a_fresh_chunk_is_left_to_push_until_its_grace_ends) {
  pick_fixture f("have=00 due=1300 a=11");  // source ages 200 and 100 ms
  EXPECT_EQ(f.pick(), "");
  EXPECT_EQ(f.recheck_ms(), 200);  // chunk 0 turns 400 ms old
}

TEST(chunk_picker, a_chunk_just_announced_waits_a_local_grace_while_a_push_may_come) {
  EXPECT_EQ(pick("have=0 due=1050 heard=-50 a=1"), "");      // age 450: heard 50 ms ago
  EXPECT_EQ(pick("have=0 due=1050 heard=-150 a=1"), "a:0");  // heard 150 ms ago
  EXPECT_EQ(pick("have=0 due=900 heard=0 a=1"), "a:0");      // age 600: no push can come any more
}

TEST(chunk_picker, the_origin_is_asked_only_for_urgent_chunks) {
  pick_fixture f("have=0 due=800 o=1@o");
  EXPECT_EQ(f.pick(), "");
  EXPECT_EQ(f.recheck_ms(), 400);  // when it turns urgent
  EXPECT_EQ(pick("have=0 due=300 o=1@o"), "o:0!");
}

TEST(chunk_picker, a_pull_only_swarm_asks_the_origin_like_a_peer_but_after_the_peers) {
  pick_fixture f("have=00 due=800 o=11/8@o a=01");
  f.settings.origin_like_a_peer = true;
  EXPECT_EQ(f.pick(), "o:0 a:1");  // not urgent, yet the origin is asked for what only it holds
  EXPECT_EQ(f.recheck_ms(), -1);
}

TEST(chunk_picker, peers_come_before_edges_and_the_origin_even_when_urgent) {
  EXPECT_EQ(pick("have=0 due=300 o=1/8@o e=1/8@e a=1/1"), "a:0!");
  EXPECT_EQ(pick("have=0 due=300 o=1/8@o e=1/8@e"), "e:0!");
}

TEST(chunk_picker, a_neighbour_without_free_slots_is_not_asked) {
  EXPECT_EQ(pick("have=00 due=800 a=11/0 b=11/1"), "b:0");
}

TEST(chunk_picker, requests_go_to_the_shortest_expected_wait) {
  // Expected wait = response × (our requests there + 1): a 50, 100, 150, 200 ms; b 150 ms
  // (a tie goes to the first listed).
  EXPECT_EQ(pick("have=0000 due=800 a=1111/4~50 b=1111/4~150"), "a:0 a:1 a:2 b:3");
}

TEST(chunk_picker, joining_chunks_have_no_known_deadline_and_are_fetched_at_once) {
  EXPECT_EQ(pick("have=0 due=? o=1@o"), "o:0!");
}

}  // namespace
}  // namespace meshcast::swarm
