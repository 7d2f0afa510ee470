#include "media/ts_viewer.hpp"

#include <gtest/gtest.h>

#include "media/chunk_spec.hpp"

namespace meshcast::media {
namespace {

using testing::chunk_maker;

// A viewer fed from a log that the test grows with specs; `send(n)` plays the socket.
struct viewer_fixture {
  explicit viewer_fixture(ts_viewer_settings s = small_limits()) : viewer(s) {}

  // 2 packets (376 bytes) per 1 s chunk: behind above 1000 bytes and 2 s queued.
  static ts_viewer_settings small_limits() {
    ts_viewer_settings s;
    s.soft_limit_bytes = 1000;
    s.soft_limit_duration = core::micros{2'000'000};
    s.hard_limit_bytes = 100'000;
    s.max_drops = 3;
    s.drop_window = core::micros{60'000'000};
    return s;
  }

  void start() { viewer.start(log); }
  // Inserts the chunks of `spec` into the log only (history from before the viewer came).
  void fill(std::string_view spec) { maker.add(log, spec); }
  // Inserts the chunks of `spec` and offers each to the viewer, as the log's listener would.
  void feed(std::string_view spec) {
    for (const auto& c : maker.add(log, spec)) viewer.on_chunk(c);
  }
  // Sends up to n chunks; returns their sequence numbers.
  std::vector<std::uint64_t> send(std::size_t n = 1000) {
    std::vector<std::uint64_t> out;
    while (out.size() < n) {
      const chunk::chunk_ptr c = viewer.next_to_send();
      if (!c) break;
      viewer.on_sent(c);
      out.push_back(c->seq().value());
    }
    return out;
  }

  chunk::chunk_log log{core::micros{3'600'000'000LL}};
  chunk_maker maker;
  ts_viewer viewer;
};

using seqs = std::vector<std::uint64_t>;

TEST(ts_viewer, starts_at_the_live_edge_not_the_oldest_chunk) {
  viewer_fixture f;
  f.fill("S1 c c S2 c c S3 c");  // seq 0..7; the live edge is S3 = seq 6
  f.start();
  EXPECT_EQ(f.viewer.current_state(), ts_viewer::state::streaming);
  EXPECT_EQ(f.send(), (seqs{6, 7}));
  f.feed("c S4");
  EXPECT_EQ(f.send(), (seqs{8, 9}));
}

TEST(ts_viewer, without_a_segment_start_it_waits_for_one) {
  viewer_fixture f;
  f.fill("c c");
  f.start();
  EXPECT_EQ(f.viewer.current_state(), ts_viewer::state::waiting_for_segment_start);
  f.feed("c S1 c");
  EXPECT_EQ(f.send(), (seqs{3, 4}));
}

TEST(ts_viewer, chunks_are_shared_not_copied) {
  viewer_fixture f;
  f.fill("S1 c");
  f.start();
  const chunk::chunk_ptr sent = f.viewer.next_to_send();
  EXPECT_EQ(sent, f.log.find(core::chunk_seq{0}));
  EXPECT_EQ(sent->payload().data(), f.log.find(core::chunk_seq{0})->payload().data());
}

TEST(ts_viewer, slow_viewer_is_dropped_forward_to_the_next_segment_start) {
  viewer_fixture f;
  f.start();
  f.feed("S1 c S2");  // 3 chunks = 1128 bytes, 3 s: behind -> jump to S2
  EXPECT_EQ(f.viewer.stats().drop_forwards, 1u);
  EXPECT_EQ(f.send(), (seqs{2}));

  f.feed("c c c");  // no segment start queued past the head: drop all, wait for one
  EXPECT_EQ(f.viewer.stats().drop_forwards, 2u);
  EXPECT_EQ(f.viewer.queued_chunks(), 0u);
  EXPECT_EQ(f.viewer.current_state(), ts_viewer::state::waiting_for_segment_start);
  f.feed("c S3 c");
  EXPECT_EQ(f.send(), (seqs{7, 8}));
  EXPECT_FALSE(f.viewer.should_disconnect());
  EXPECT_EQ(f.viewer.stats().chunks_dropped, 6u);
}

TEST(ts_viewer, a_viewer_that_keeps_up_is_never_dropped) {
  viewer_fixture f;
  f.start();
  for (int i = 0; i < 200; ++i) {
    f.feed(i % 4 == 0 ? "S1" : "c");
    f.send();
  }
  EXPECT_EQ(f.viewer.stats().drop_forwards, 0u);
  EXPECT_EQ(f.viewer.stats().chunks_sent, 200u);
  EXPECT_EQ(f.viewer.stats().bytes_sent, 200u * 376);
}

TEST(ts_viewer, repeated_drop_forwards_disconnect) {
  viewer_fixture f;
  f.start();
  f.feed("S1 c S2 c S3 c S4 c S5 c");
  EXPECT_TRUE(f.viewer.should_disconnect());
  EXPECT_EQ(f.viewer.disconnect_reason(), ts_viewer::reason::too_slow);
  EXPECT_EQ(f.viewer.stats().drop_forwards, 3u);
  EXPECT_EQ(f.viewer.next_to_send(), nullptr);
  EXPECT_EQ(f.viewer.queued_bytes(), 0u);
}

TEST(ts_viewer, drop_forwards_spread_beyond_the_window_are_tolerated) {
  auto s = viewer_fixture::small_limits();
  s.drop_window = core::micros{5'000'000};
  viewer_fixture f{s};
  f.start();
  for (int i = 0; i < 10; ++i) {
    f.feed("S1 c S2");  // a drop every 3 or 4 s of source time: at most 2 within 5 s
    f.send();
    f.feed("c c c c");
    f.send();
  }
  EXPECT_FALSE(f.viewer.should_disconnect());
  EXPECT_EQ(f.viewer.stats().drop_forwards, 20u);
}

TEST(ts_viewer, memory_stays_bounded_when_the_viewer_never_reads) {
  viewer_fixture f;
  f.start();
  std::size_t peak = 0;
  for (int i = 0; i < 1000 && !f.viewer.should_disconnect(); ++i) {
    f.feed(i % 3 == 0 ? "S1" : "c");
    peak = std::max(peak, f.viewer.queued_bytes());
  }
  // Never more than the soft limit (2 s = 752 bytes < 1000 bytes) plus the chunk that tipped it.
  EXPECT_LE(peak, 1000u + 376u);
  EXPECT_LE(f.viewer.stats().peak_queued_bytes, 1000u + 376u);
  EXPECT_TRUE(f.viewer.should_disconnect());
  EXPECT_EQ(f.viewer.queued_bytes(), 0u);
}

TEST(ts_viewer, queue_over_the_hard_limit_disconnects_at_once) {
  auto s = viewer_fixture::small_limits();
  s.hard_limit_bytes = 2000;
  viewer_fixture f{s};
  f.start();
  f.feed("S1 c:0 c:0 c:0 c:0");  // zero durations: the soft limit cannot judge
  EXPECT_FALSE(f.viewer.should_disconnect());
  f.feed("c:0");
  EXPECT_TRUE(f.viewer.should_disconnect());
  EXPECT_EQ(f.viewer.disconnect_reason(), ts_viewer::reason::queue_over_hard_limit);
}

TEST(ts_viewer, a_missing_chunk_skips_forward_to_the_next_segment_start) {
  viewer_fixture f;
  f.start();
  f.feed("S1 c");
  EXPECT_EQ(f.send(), (seqs{0, 1}));
  f.feed("_ c c S2 c");  // seq 2 never comes
  EXPECT_EQ(f.viewer.stats().gaps, 1u);
  EXPECT_EQ(f.send(), (seqs{5, 6}));
  // The missing chunk arriving late is ignored: the viewer never goes backwards.
  f.viewer.on_chunk(chunk::make_chunk(
      chunk::chunk_header{core::chunk_seq{2}, core::segment_seq{1}, 0, {}, {}, 0, 0}, {}));
  EXPECT_EQ(f.send(), seqs{});
}

TEST(ts_viewer, a_missing_chunk_right_before_a_segment_start_costs_nothing) {
  viewer_fixture f{ts_viewer_settings{}};
  f.start();
  f.feed("S1 c _ S2 c");
  EXPECT_EQ(f.send(), (seqs{0, 1, 3, 4}));
}

}  // namespace
}  // namespace meshcast::media
