#include "lab/sansio/record.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace meshcast::lab {
namespace {

const std::string k_id = "0123456789abcdef0123456789abcdef";
const std::string k_other = "fedcba9876543210fedcba9876543210";
const std::string k_header = "meshcast-record,1," + k_id + ",peer\n";

core::time_point at(std::int64_t us) { return core::from_us(1'700'000'000'000'000 + us); }

/// A record file in a fresh temporary directory; text() reads back what the writer flushed.
class record_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("meshcast-record-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "node.rec").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string text() const {
    std::ifstream in(path_);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(record_fixture, writer_and_reader_round_trip_every_line_kind) {
  {
    auto w = record_writer::open(path_, k_id, "peer");
    ASSERT_TRUE(w) << w.error().message;
    w->join(at(0));
    w->produced(7, at(100), true, 1880);
    w->join_point(42);
    w->arrival(42, at(200), at(450), k_other, 3760, true);
    w->arrival(43, at(300), at(700), "", 188, false);
    w->duplicate(at(800), 376);
    w->sent(at(900), 5000, 4700);
    w->left(at(1000));
  }  // the destructor flushes
  auto r = read_record(path_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->node_id, k_id);
  EXPECT_EQ(r->role, "peer");
  EXPECT_FALSE(r->truncated_tail);
  using k = record_event::kind;
  ASSERT_EQ(r->events.size(), 8u);
  EXPECT_EQ(r->events[0], (record_event{.k = k::join, .t_us = core::to_us(at(0))}));
  EXPECT_EQ(
      r->events[1],
      (record_event{.k = k::produced, .seq = 7, .source_us = core::to_us(at(100)), .bytes = 1880, .keyframe = true}));
  EXPECT_EQ(r->events[2], (record_event{.k = k::join_point, .seq = 42}));
  EXPECT_EQ(r->events[3], (record_event{.k = k::arrival,
                                        .seq = 42,
                                        .t_us = core::to_us(at(450)),
                                        .source_us = core::to_us(at(200)),
                                        .from = k_other,
                                        .bytes = 3760,
                                        .pushed = true}));
  EXPECT_EQ(r->events[4].from, "");
  EXPECT_FALSE(r->events[4].pushed);
  EXPECT_EQ(r->events[5], (record_event{.k = k::duplicate, .t_us = core::to_us(at(800)), .bytes = 376}));
  EXPECT_EQ(r->events[6], (record_event{.k = k::sent, .t_us = core::to_us(at(900)), .bytes = 5000, .payload = 4700}));
  EXPECT_EQ(r->events[7], (record_event{.k = k::left, .t_us = core::to_us(at(1000))}));
}

TEST_F(record_fixture, nothing_reaches_the_file_before_flush_and_everything_after) {
  auto w = record_writer::open(path_, k_id, "origin");
  ASSERT_TRUE(w);
  w->produced(1, at(0), false, 188);
  EXPECT_EQ(text(), "");
  ASSERT_TRUE(w->flush());
  EXPECT_EQ(text(),
            "meshcast-record,1," + k_id + ",origin\nproduced,1," + std::to_string(core::to_us(at(0))) + ",0,188\n");
  EXPECT_EQ(w->buffered(), 0u);
}

TEST_F(record_fixture, a_partial_record_is_a_valid_prefix) {
  // A writer killed between two flushes: the file holds the lines of the first flush only.
  auto w = record_writer::open(path_, k_id, "peer");
  ASSERT_TRUE(w);
  w->join(at(0));
  ASSERT_TRUE(w->flush());
  w->join_point(5);  // never flushed
  auto r = parse_record(text());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->events.size(), 1u);
}

TEST(record_reader, an_unfinished_last_line_is_dropped_not_an_error) {
  auto r = parse_record(k_header + "join,5\narrival,9,10,2");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->truncated_tail);
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].t_us, 5);
}

TEST(record_reader, node_ids_are_read_in_lowercase) {
  auto r = parse_record("meshcast-record,1,0123456789ABCDEF0123456789ABCDEF,edge\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->node_id, k_id);
  EXPECT_EQ(r->role, "edge");
}

std::string error_of(std::string_view text) {
  auto r = parse_record(text, "n.rec");
  return r ? std::string("(no error)") : r.error().message;
}

TEST(record_reader, malformed_input_names_the_line_and_the_field) {
  EXPECT_EQ(error_of(""), "n.rec: empty record (no header line)");
  EXPECT_EQ(error_of("hello\n"), "n.rec:1: expected header 'meshcast-record,1,NODE_ID,ROLE', got 'hello'");
  EXPECT_EQ(error_of("meshcast-record,2," + k_id + ",peer\n").substr(0, 24), "n.rec:1: expected header");
  EXPECT_EQ(error_of("meshcast-record,1,abc,peer\n").substr(0, 24), "n.rec:1: expected header");
  EXPECT_EQ(error_of("meshcast-record,1," + k_id + ",viewer\n").substr(0, 24), "n.rec:1: expected header");
  EXPECT_EQ(error_of(k_header + "join,1\nteleport,3\n"), "n.rec:3: unknown line kind 'teleport'");
  EXPECT_EQ(error_of(k_header + "arrival,1,2,3\n"), "n.rec:2: arrival: expected 7 fields, got 4");
  EXPECT_EQ(error_of(k_header + "join,soon\n"), "n.rec:2: join: t_us: expected a number, got 'soon'");
  EXPECT_EQ(error_of(k_header + "join,\n"), "n.rec:2: join: t_us: expected a number, got ''");
  EXPECT_EQ(error_of(k_header + "join_point,-1\n"), "n.rec:2: join_point: seq: expected a number, got '-1'");
  EXPECT_EQ(error_of(k_header + "produced,1,2,yes,4\n"), "n.rec:2: produced: keyframe: expected 0 or 1, got 'yes'");
  EXPECT_EQ(error_of(k_header + "arrival,1,2,3,bob,5,0\n"),
            "n.rec:2: arrival: from: expected a node id (32 hex digits) or '-', got 'bob'");
  EXPECT_EQ(error_of(k_header + "sent,1,2,99999999999999999999999\n"),
            "n.rec:2: sent: payload: expected a number, got '99999999999999999999999'");
}

TEST(record_reader, blank_lines_and_crlf_are_tolerated) {
  auto r = parse_record("meshcast-record,1," + k_id + ",peer\r\n\r\njoin,3\r\n");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].t_us, 3);
}

TEST(record_reader, a_missing_file_is_an_io_error) {
  auto r = read_record("/nonexistent/meshcast/node.rec");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, static_cast<int>(record_errc::io));
}

}  // namespace
}  // namespace meshcast::lab
