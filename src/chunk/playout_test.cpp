#include "chunk/playout.hpp"

#include <gtest/gtest.h>

namespace meshcast::chunk {
namespace {

using namespace std::chrono_literals;

// Chunks of 100 ms: chunk n has source time t0 + n*100ms; 'S' marks a segment start.
class playout_fixture {
 public:
  playout_fixture()
      : p({.delay = 1s}, [this](const chunk_ptr& c) { released.push_back(c->seq().value()); }, t0) {}

  chunk_ptr make(std::uint64_t seq, bool segment_start = false) {
    chunk_header h;
    h.seq = chunk_seq{seq};
    h.source_time = t0 + core::micros{static_cast<std::int64_t>(seq) * 100'000};
    h.duration = 100ms;
    if (segment_start) h.flags = flag_segment_start | flag_keyframe;
    return make_chunk(h, core::bytes(188));
  }
  /// Chunk `seq` arrives `after` past its source time.
  void arrive(std::uint64_t seq, core::micros after, bool segment_start = false) {
    auto c = make(seq, segment_start);
    p.on_chunk(c, c->header().source_time + after);
  }
  void at(core::micros since_t0) { p.on_timeout(t0 + since_t0); }

  core::time_point t0 = core::from_us(1'700'000'000'000'000);
  std::vector<std::uint64_t> released;
  playout p;
};

TEST(playout, releases_in_order_at_source_time_plus_delay) {
  playout_fixture f;
  f.arrive(0, 50ms, true);
  f.arrive(1, 50ms);
  f.at(999ms);
  EXPECT_TRUE(f.released.empty());
  f.at(1000ms);
  EXPECT_EQ(f.released, (std::vector<std::uint64_t>{0}));
  f.at(1100ms);
  EXPECT_EQ(f.released, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(f.p.stats().on_time, 2u);
  EXPECT_FALSE(f.p.next_deadline());
}

TEST(playout, starts_at_a_segment_start_not_before) {
  playout_fixture f;
  f.arrive(3, 10ms);  // mid-segment: not playable
  f.arrive(5, 10ms, true);
  f.arrive(6, 10ms);
  f.at(2s);
  EXPECT_EQ(f.released, (std::vector<std::uint64_t>{5, 6}));
}

TEST(playout, missing_chunk_is_skipped_when_a_later_one_is_due) {
  playout_fixture f;
  f.arrive(0, 10ms, true);
  f.arrive(2, 10ms);
  f.at(1200ms);
  EXPECT_EQ(f.released, (std::vector<std::uint64_t>{0, 2}));
  EXPECT_EQ(f.p.stats().missed, 1u);
  EXPECT_DOUBLE_EQ(f.p.stats().continuity(), 2.0 / 3.0);
}

TEST(playout, chunk_after_its_slot_is_late_not_missed_and_not_released) {
  playout_fixture f;
  f.arrive(0, 10ms, true);
  f.arrive(2, 10ms);
  f.at(1200ms);
  f.arrive(1, 1150ms);
  EXPECT_EQ(f.p.stats().missed, 0u);
  EXPECT_EQ(f.p.stats().late, 1u);
  EXPECT_EQ(f.released, (std::vector<std::uint64_t>{0, 2}));
}

TEST(playout, measures_startup_and_delay) {
  playout_fixture f;
  f.arrive(0, 200ms, true);
  f.arrive(1, 300ms);
  f.arrive(2, 400ms);
  ASSERT_TRUE(f.p.stats().startup);
  EXPECT_EQ(*f.p.stats().startup, 200ms);
  EXPECT_EQ(*f.p.delay_percentile(50), 300ms);
  EXPECT_EQ(*f.p.delay_percentile(100), 400ms);
}

TEST(playout, nodes_with_the_same_delay_release_the_same_chunk_at_the_same_time) {
  playout_fixture near, far;
  near.arrive(0, 20ms, true);
  far.arrive(0, 700ms, true);
  near.at(1000ms);
  far.at(1000ms);
  EXPECT_EQ(near.released, far.released);
  EXPECT_EQ(near.p.stats().last_lag, far.p.stats().last_lag);
}

}  // namespace
}  // namespace meshcast::chunk
