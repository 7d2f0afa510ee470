#include "chunk/chunk_log.hpp"

#include <gtest/gtest.h>

#include <string>

namespace meshcast::chunk {
namespace {

using namespace std::chrono_literals;

// Builds chunks from a compact spec: "S" starts a segment, "c" continues it, "D" starts a segment
// after a discontinuity, "_" is a gap (a sequence number that never arrives). Each chunk covers
// 100 ms of media and arrives 100 ms after the previous one.
class log_fixture {
 public:
  explicit log_fixture(core::micros window = 30s) : log(window) {}

  void feed(std::string_view spec) {
    for (char ch : spec) {
      if (ch == ' ') continue;
      const chunk_seq seq = next_seq_++;
      const core::time_point t = core::from_us(1'000'000'000 + static_cast<std::int64_t>(seq.value()) * 100'000);
      if (ch == '_') continue;
      chunk_header h;
      h.seq = seq;
      h.source_time = t;
      h.duration = 100ms;
      if (ch == 'S' || ch == 'D') {
        h.flags = flag_segment_start | flag_keyframe;
        if (started_) ++segment_;
        started_ = true;
        if (ch == 'D') {
          h.flags |= flag_discontinuity;
          ++discontinuity_;
        }
      }
      h.segment = segment_seq{segment_};
      h.discontinuity = discontinuity_;
      log.insert(make_chunk(h, core::bytes(188, static_cast<std::uint8_t>(seq.value()))));
    }
  }

  chunk_log log;

 private:
  chunk_seq next_seq_{0};
  std::uint64_t segment_ = 0;
  std::uint32_t discontinuity_ = 0;
  bool started_ = false;
};

TEST(chunk_log, late_joiner_starts_at_the_newest_segment_start) {
  log_fixture f;
  f.feed("Sccc Sccc Scc");
  ASSERT_TRUE(f.log.live_edge());
  EXPECT_EQ(f.log.live_edge()->value(), 8u);
}

TEST(chunk_log, no_live_edge_until_a_segment_start_arrives) {
  log_fixture f;
  f.feed("");
  EXPECT_FALSE(f.log.live_edge());
}

TEST(chunk_log, segment_is_complete_only_once_the_next_segment_starts) {
  log_fixture f;
  f.feed("Sccc Scc");
  const auto segs = f.log.complete_segments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].number.value(), 0u);
  EXPECT_EQ(segs[0].first.value(), 0u);
  EXPECT_EQ(segs[0].end.value(), 4u);
  EXPECT_EQ(segs[0].duration, 400ms);
  EXPECT_EQ(segs[0].bytes, 4u * 188);
}

TEST(chunk_log, a_gap_makes_its_segment_incomplete) {
  log_fixture f;
  f.feed("Sc_c Scc Sc");
  const auto segs = f.log.complete_segments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].number.value(), 1u);
}

TEST(chunk_log, filling_a_gap_completes_the_segment) {
  log_fixture f;
  f.feed("Sc_c Sc");
  ASSERT_EQ(f.log.complete_segments().size(), 0u);
  chunk_header h;
  h.seq = chunk_seq{2};
  h.segment = segment_seq{0};
  h.duration = 100ms;
  h.source_time = core::from_us(1'000'200'000);
  EXPECT_EQ(f.log.insert(make_chunk(h, core::bytes(188))), insert_result::inserted);
  EXPECT_EQ(f.log.complete_segments().size(), 1u);
}

TEST(chunk_log, duplicate_and_too_old_chunks_are_reported) {
  log_fixture f(1s);
  f.feed("Sccccccccc Sccccccccc Sc");  // 22 chunks of 100 ms: the first ones fall out of 1 s
  EXPECT_GT(f.log.first_seq().value(), 0u);
  chunk_header h;
  h.seq = f.log.last_seq();
  EXPECT_EQ(f.log.insert(make_chunk(h, {})), insert_result::duplicate);
  h.seq = chunk_seq{0};
  EXPECT_EQ(f.log.insert(make_chunk(h, {})), insert_result::too_old);
}

TEST(chunk_log, window_bounds_what_is_held) {
  log_fixture f(1s);
  for (int i = 0; i < 50; ++i) f.feed("Sccc");
  EXPECT_LE(f.log.size(), 12u);
  EXPECT_EQ(f.log.bytes(), f.log.size() * 188);
}

TEST(chunk_log, discontinuity_is_carried_into_the_segment) {
  log_fixture f;
  f.feed("Scc Dcc S");
  const auto segs = f.log.complete_segments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_FALSE(segs[0].discontinuity_start);
  EXPECT_TRUE(segs[1].discontinuity_start);
  EXPECT_EQ(segs[1].discontinuity, 1u);
}

TEST(chunk_log, segment_chunks_are_returned_in_order) {
  log_fixture f;
  f.feed("Scc Scc S");
  const auto chunks = f.log.segment_chunks(segment_seq{1});
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0]->seq().value(), 3u);
  EXPECT_EQ(chunks[2]->seq().value(), 5u);
  EXPECT_TRUE(f.log.segment_chunks(segment_seq{2}).empty());
}

TEST(chunk_log, next_segment_start_skips_forward) {
  log_fixture f;
  f.feed("Scc Scc Sc");
  EXPECT_EQ(f.log.next_segment_start(chunk_seq{1})->value(), 3u);
  EXPECT_EQ(f.log.next_segment_start(chunk_seq{3})->value(), 6u);
  EXPECT_FALSE(f.log.next_segment_start(chunk_seq{6}));
}

TEST(chunk_log, listener_sees_every_insert_and_may_unsubscribe_itself) {
  log_fixture f;
  int calls = 0;
  chunk_log::listener_id id = 0;
  id = f.log.subscribe([&](const chunk_ptr&) {
    if (++calls == 2) f.log.unsubscribe(id);
  });
  f.feed("Sccc");
  EXPECT_EQ(calls, 2);
}

TEST(chunk_log, a_far_jump_in_sequence_resets_the_log) {
  chunk_log log(30s, 16);
  chunk_header h;
  h.flags = flag_segment_start;
  h.seq = chunk_seq{5};
  log.insert(make_chunk(h, core::bytes(188)));
  h.seq = chunk_seq{1000};
  EXPECT_EQ(log.insert(make_chunk(h, core::bytes(188))), insert_result::inserted);
  EXPECT_EQ(log.size(), 1u);
  EXPECT_EQ(log.first_seq().value(), 1000u);
}

}  // namespace
}  // namespace meshcast::chunk
