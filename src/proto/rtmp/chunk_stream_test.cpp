#include "proto/rtmp/chunk_stream.hpp"

#include <gtest/gtest.h>

#include "proto/rtmp/test_client.hpp"

namespace meshcast::proto::rtmp {
namespace {

core::bytes payload_of(std::size_t n, std::uint8_t seed = 1) {
  core::bytes p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(seed + i * 7);
  return p;
}

core::bytes hex(std::initializer_list<int> list) {
  core::bytes out;
  for (int b : list) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

// Reads messages from a chunk_reader fed with `data`, optionally a few bytes at a time.
struct read_all {
  chunk_reader reader;
  std::vector<message> messages;
  std::string error;

  explicit read_all(chunk_limits lim = {}) : reader(lim) {}

  read_all& feed(core::byte_view data, std::size_t step = 0) {
    if (step == 0) step = data.size() == 0 ? 1 : data.size();
    for (std::size_t off = 0; off < data.size(); off += step) {
      auto r = reader.on_bytes(data.subspan(off, std::min(step, data.size() - off)));
      if (!r) {
        error = r.error().message;
        break;
      }
    }
    while (auto m = reader.poll_message()) messages.push_back(std::move(*m));
    return *this;
  }
};

TEST(chunk_writer, first_chunk_is_fmt0_and_continuations_are_fmt3) {
  chunk_writer w;
  w.set_chunk_size(2);
  core::bytes out;
  w.write(out, {3, 20, 0x01020304, 0x0a0b0c}, hex({0xaa, 0xbb, 0xcc}));
  EXPECT_EQ(out, hex({0x03, 0x0a, 0x0b, 0x0c, 0x00, 0x00, 0x03, 20, 0x04, 0x03, 0x02, 0x01,
                      0xaa, 0xbb, 0xc3, 0xcc}));
}

TEST(chunk_writer, basic_header_uses_one_two_or_three_bytes) {
  core::bytes out;
  write_basic_header(out, 3, 63);
  write_basic_header(out, 0, 64);
  write_basic_header(out, 1, 319);
  write_basic_header(out, 2, 320);
  write_basic_header(out, 0, 65599);
  EXPECT_EQ(out, hex({0xff, 0x00, 0x00, 0x40, 0xff, 0x81, 0x00, 0x01, 0x01, 0xff, 0xff}));
}

TEST(chunk_reader, small_message_in_one_chunk) {
  chunk_writer w;
  core::bytes out;
  w.write(out, {4, 8, 1, 1000}, hex({1, 2, 3}));
  read_all r;
  r.feed(out);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].csid, 4u);
  EXPECT_EQ(r.messages[0].type_id, 8);
  EXPECT_EQ(r.messages[0].stream_id, 1u);
  EXPECT_EQ(r.messages[0].timestamp, 1000u);
  EXPECT_EQ(r.messages[0].payload, hex({1, 2, 3}));
}

TEST(chunk_reader, message_longer_than_chunk_size_is_reassembled_from_fmt3_continuations) {
  chunk_writer w;
  const auto p = payload_of(1000);
  core::bytes out;
  w.write(out, {6, 9, 1, 40}, p);
  EXPECT_EQ(out.size(), 12 + 1000 + 7u);  // one fmt 0 header, seven 1-byte fmt 3 headers
  read_all r;
  r.feed(out);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].payload, p);
}

class chunk_sizes : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(chunk_sizes, set_chunk_size_applies_from_the_next_chunk_even_byte_by_byte) {
  testing::test_client client;
  core::bytes wire = client.set_chunk_size(GetParam());
  const auto big = payload_of(70'000, 3);
  core::append(wire, client.video(0, big));
  core::append(wire, client.video(33, payload_of(5)));
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    read_all r;
    r.feed(wire, step);
    ASSERT_EQ(r.error, "");
    ASSERT_EQ(r.messages.size(), 3u);
    EXPECT_EQ(r.reader.chunk_size(), GetParam());
    EXPECT_EQ(r.messages[1].payload, big);
    EXPECT_EQ(r.messages[2].timestamp, 33u);
  }
}

INSTANTIATE_TEST_SUITE_P(rtmp, chunk_sizes, ::testing::Values(1u, 128u, 4096u, 65536u));

TEST(chunk_reader, chunks_of_two_chunk_streams_may_interleave) {
  testing::test_client client;
  const auto v = payload_of(300, 1);
  const auto a = payload_of(200, 2);
  auto vc = client.chunks(6, message_type::video, 1, 100, v);
  auto ac = client.chunks(4, message_type::audio, 1, 90, a);
  ASSERT_EQ(vc.size(), 3u);
  ASSERT_EQ(ac.size(), 2u);
  core::bytes wire;
  for (std::size_t i = 0; i < 3; ++i) {
    core::append(wire, vc[i]);
    if (i < ac.size()) core::append(wire, ac[i]);
  }
  read_all r;
  r.feed(wire);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].type_id, 8);  // audio completes first
  EXPECT_EQ(r.messages[0].payload, a);
  EXPECT_EQ(r.messages[0].timestamp, 90u);
  EXPECT_EQ(r.messages[1].payload, v);
  EXPECT_EQ(r.messages[1].timestamp, 100u);
}

TEST(chunk_reader, two_and_three_byte_chunk_stream_ids) {
  testing::test_client client;
  core::bytes wire;
  for (std::uint32_t csid : {64u, 319u, 320u, 65599u}) {
    core::append(wire, client.message(csid, message_type::audio, 1, csid, payload_of(200)));
  }
  read_all r;
  r.feed(wire);
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[2].csid, 320u);
  EXPECT_EQ(r.messages[3].csid, 65599u);
  EXPECT_EQ(r.messages[3].timestamp, 65599u);
}

TEST(chunk_reader, compressed_headers_accumulate_timestamp_deltas) {
  // Same size and spacing: fmt 0, then fmt 2 (delta 33), then fmt 3 new messages repeating it.
  testing::test_client client;
  core::bytes wire;
  for (std::uint32_t i = 0; i < 5; ++i) core::append(wire, client.video(1000 + 33 * i, payload_of(10)));
  EXPECT_EQ(wire[12 + 10] >> 6, 2);      // second message: fmt 2
  EXPECT_EQ(wire[22 + 14] >> 6, 3);      // third message: fmt 3 (1-byte header)
  read_all r;
  r.feed(wire);
  ASSERT_EQ(r.messages.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_EQ(r.messages[i].timestamp, 1000 + 33 * i);
}

TEST(chunk_reader, fmt3_after_fmt0_repeats_the_absolute_timestamp_field_like_ffmpeg) {
  // FFmpeg writes fmt 3 when the new delta equals the previous timestamp field, even if that field
  // was the absolute time of a fmt 0 header: 33 then 66.
  auto wire = hex({0x06, 0, 0, 33, 0, 0, 1, 9, 1, 0, 0, 0, 0xaa, 0xc6, 0xbb});
  read_all r;
  r.feed(wire);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].timestamp, 66u);
  EXPECT_EQ(r.messages[1].payload, hex({0xbb}));
}

TEST(chunk_reader, extended_timestamp_is_repeated_in_continuation_chunks) {
  testing::test_client client;
  const auto p = payload_of(300);
  auto wire = client.video(0x12345678, p);
  // fmt 0 (12) + ext (4) + 128, then twice fmt 3 (1) + ext (4) + payload.
  EXPECT_EQ(wire.size(), 12 + 4 + 300 + 2 * 5u);
  core::append(wire, client.video(0x12345678 + 0x1000000, p));  // delta >= 0xffffff: extended delta
  core::append(wire, client.video(0x12345678 + 0x1000010, p));
  read_all r;
  r.feed(wire, 3);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].timestamp, 0x12345678u);
  EXPECT_EQ(r.messages[0].payload, p);
  EXPECT_EQ(r.messages[1].timestamp, 0x13345678u);
  EXPECT_EQ(r.messages[2].timestamp, 0x13345688u);
}

TEST(chunk_reader, timestamp_going_back_is_sent_as_a_fresh_fmt0) {
  testing::test_client client;
  auto wire = client.audio(0xfffffff0u, payload_of(4));
  core::append(wire, client.audio(0x10, payload_of(5)));  // written as a fresh fmt 0 (went back)
  chunk_writer w(true);
  core::bytes delta_wire;
  w.write(delta_wire, {4, 8, 1, 0xfffffff0u}, payload_of(4));
  w.write(delta_wire, {4, 8, 1, 0xfffffffeu}, payload_of(5));
  read_all r;
  r.feed(wire).feed(delta_wire);
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[1].timestamp, 0x10u);
  EXPECT_EQ(r.messages[3].timestamp, 0xfffffffeu);
}

TEST(chunk_reader, delta_header_wraps_past_2_pow_32) {
  // fmt 0 at 0xfffffff0, then fmt 2 with delta 0x20: 0x10 after the wrap.
  auto wire = hex({0x04, 0xff, 0xff, 0xff, 0, 0, 1, 8, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0, 0xaa,
                   0x84, 0, 0, 0x20, 0xbb});
  read_all r;
  r.feed(wire);
  ASSERT_EQ(r.messages.size(), 2u) << r.error;
  EXPECT_EQ(r.messages[0].timestamp, 0xfffffff0u);
  EXPECT_EQ(r.messages[1].timestamp, 0x10u);
}

TEST(chunk_reader, abort_discards_the_partial_message) {
  testing::test_client client;
  auto chunks = client.chunks(6, message_type::video, 1, 0, payload_of(300));
  core::bytes wire = chunks[0];
  core::append(wire, client.message(2, message_type::abort, 0, 0, hex({0, 0, 0, 6})));
  core::append(wire, client.message(6, message_type::video, 1, 40, payload_of(3)));
  read_all r;
  r.feed(wire);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.messages.size(), 2u);  // the abort itself, then the small video message
  EXPECT_EQ(r.messages[1].payload, payload_of(3));
}

TEST(chunk_reader, zero_length_message_completes_at_its_header) {
  read_all r;
  r.feed(hex({0x04, 0, 0, 5, 0, 0, 0, 8, 1, 0, 0, 0}));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_TRUE(r.messages[0].payload.empty());
}

TEST(chunk_reader, oversized_message_is_refused_at_its_header) {
  // fmt 0, csid 6, length 0xffffff (the largest a 24-bit length can say), video.
  read_all r;
  r.feed(hex({0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0}));
  EXPECT_EQ(r.error, "rtmp message size 16777215 exceeds limit 8388608");
  EXPECT_TRUE(r.messages.empty());
}

TEST(chunk_reader, compressed_header_without_a_previous_header_is_refused) {
  read_all r;
  r.feed(hex({0x46, 0, 0, 1, 0, 0, 1, 9, 0xaa}));
  EXPECT_EQ(r.error, "rtmp chunk stream 6: fmt 1 header without a previous fmt 0 header");
}

TEST(chunk_reader, chunk_stream_count_is_bounded) {
  testing::test_client client;
  core::bytes wire;
  for (std::uint32_t csid = 3; csid < 3 + 65; ++csid) {
    core::append(wire, client.message(csid, message_type::audio, 1, 0, payload_of(1)));
  }
  read_all r;
  r.feed(wire);
  EXPECT_EQ(r.error, "rtmp chunk stream count exceeds limit 64");
  EXPECT_EQ(r.messages.size(), 64u);
}

TEST(chunk_reader, set_chunk_size_out_of_range_is_refused) {
  read_all zero;
  zero.feed(hex({0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(zero.error, "rtmp set chunk size 0 out of range 1..2147483647");
  read_all top_bit;
  top_bit.feed(hex({0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x80, 0, 0, 0}));
  EXPECT_EQ(top_bit.error, "rtmp set chunk size 2147483648 out of range 1..2147483647");
  read_all short_payload;
  short_payload.feed(hex({0x02, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0x10, 0}));
  EXPECT_EQ(short_payload.error, "rtmp set chunk size message of 2 bytes (expected 4)");
}

TEST(chunk_reader, new_header_in_the_middle_of_a_message_is_refused) {
  testing::test_client client;
  auto chunks = client.chunks(6, message_type::video, 1, 0, payload_of(300));
  core::bytes wire = chunks[0];
  core::append(wire, hex({0x06, 0, 0, 0, 0, 0, 1, 9, 1, 0, 0, 0, 0xaa}));
  read_all r;
  r.feed(wire);
  EXPECT_EQ(r.error,
            "rtmp chunk stream 6: fmt 0 header while the previous message of 300 bytes is 172 "
            "bytes short");
}

TEST(chunk_reader, buffered_partial_messages_are_bounded) {
  testing::test_client client;
  core::bytes wire;
  for (std::uint32_t csid = 4; csid < 8; ++csid) {
    core::append(wire, client.chunks(csid, message_type::video, 1, 0, payload_of(1000))[0]);
  }
  read_all r(chunk_limits{.max_message_bytes = 1 << 20, .max_chunk_streams = 64,
                          .max_buffered_bytes = 400});
  r.feed(wire);
  EXPECT_EQ(r.error, "rtmp partially received messages hold more than 400 bytes");
}

TEST(chunk_reader, errors_are_final) {
  chunk_reader reader;
  ASSERT_FALSE(reader.on_bytes(hex({0x46, 0, 0, 1, 0, 0, 1, 9, 0xaa})));
  const auto again = reader.on_bytes(hex({0x04, 0, 0, 5, 0, 0, 0, 8, 1, 0, 0, 0}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "rtmp chunk stream 6: fmt 1 header without a previous fmt 0 header");
  EXPECT_FALSE(reader.poll_message());
}

}  // namespace
}  // namespace meshcast::proto::rtmp
