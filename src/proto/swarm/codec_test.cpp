#include "proto/swarm/codec.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace meshcast::proto::swarm {
namespace {

// ---------------------------------------------------------------------------------------------
// fixtures

chunk::chunk_signature test_signature(std::uint8_t seed) {
  chunk::chunk_signature s{};
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(seed + i);
  return s;
}

/// A chunk of `packets` TS packets; signed with a made-up signature unless `sign` is false
/// (the codec does not verify, the node does).
chunk::chunk_ptr test_chunk(std::uint64_t seq, std::size_t packets = 2, bool sign = true) {
  chunk::chunk_header h;
  h.seq = chunk_seq(seq);
  h.segment = core::segment_seq(seq / 20);
  h.discontinuity = 3;
  h.source_time = core::from_us(1'700'000'000'000'000 + static_cast<std::int64_t>(seq) * 100'000);
  h.duration = core::micros(100'000);
  h.pts_90k = -4500;  // negative values survive the wire
  h.flags = chunk::flag_keyframe | chunk::flag_segment_start;
  core::bytes payload(packets * chunk::k_ts_packet_bytes);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 31);
  if (sign)
    return chunk::make_chunk(h, std::move(payload), test_signature(static_cast<std::uint8_t>(seq)));
  return chunk::make_chunk(h, std::move(payload));
}

node_id test_id(std::uint8_t seed) {
  node_id id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(seed * 16 + i);
  return id;
}

hello test_hello() {
  hello h;
  h.stream = "live/test";
  h.rendition = "source";
  h.id = test_id(1);
  h.role = node_role::edge;
  h.upload_kbps = 50'000;
  h.listen_port = 7001;
  return h;
}

std::vector<chunk_seq> seqs(std::initializer_list<std::uint64_t> v) {
  std::vector<chunk_seq> out;
  for (auto s : v) out.emplace_back(s);
  return out;
}
std::vector<chunk_seq> seq_range(std::size_t n) {
  std::vector<chunk_seq> out;
  for (std::size_t i = 0; i < n; ++i) out.emplace_back(1000 + i);
  return out;
}

/// Every field of a message as text, so a round trip compares (and prints) everything.
std::string describe(const message& m) {
  std::ostringstream o;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        o << to_string(type_of(m)) << ' ';
        if constexpr (std::is_same_v<T, hello>) {
          o << int(v.version) << ' ' << v.stream << ' ' << v.rendition << ' ' << int(v.id[0]) << '/'
            << int(v.id[15]) << ' ' << to_string(v.role) << ' ' << v.upload_kbps << ' '
            << v.listen_port;
        } else if constexpr (std::is_same_v<T, have>) {
          o << v.seq;
        } else if constexpr (std::is_same_v<T, bitmap>) {
          o << v.base << ' ';
          for (bool b : v.bits) o << (b ? '1' : '0');
        } else if constexpr (std::is_same_v<T, request> || std::is_same_v<T, cancel>) {
          for (auto s : v.seqs) o << s << ',';
        } else if constexpr (std::is_same_v<T, chunk_data>) {
          const auto& h = v.chunk->header();
          o << h.seq << ' ' << h.segment << ' ' << h.discontinuity << ' '
            << core::to_us(h.source_time) << ' ' << h.duration.count() << ' ' << h.pts_90k << ' '
            << int(h.flags)
            << " sig=" << (v.chunk->signature() ? int((*v.chunk->signature())[63]) : -1)
            << " pushed=" << v.pushed << " payload=";
          for (auto b : v.chunk->payload()) o << int(b) << '.';
        } else if constexpr (std::is_same_v<T, reject>) {
          o << v.seq << ' ' << int(v.reason);
        } else if constexpr (std::is_same_v<T, pex>) {
          for (const auto& p : v.peers) o << int(p.id[0]) << '@' << p.host << ':' << p.port << ' ';
        } else if constexpr (std::is_same_v<T, ping>) {
          o << v.nonce << ' ' << v.sent_us;
        } else if constexpr (std::is_same_v<T, pong>) {
          o << v.nonce << ' ' << v.echo_sent_us << ' ' << v.origin_clock_us;
        } else if constexpr (std::is_same_v<T, close>) {
          o << to_string(v.reason) << " \"" << v.text << '"';
        }
      },
      m);
  return o.str();
}

/// Encodes, checks encoded_size, decodes, and compares every field.
void roundtrip(const message& m) {
  SCOPED_TRACE(describe(m));
  auto bytes = encode(m);
  ASSERT_TRUE(bytes) << bytes.error().message;
  EXPECT_EQ(encoded_size(m), bytes->size());
  EXPECT_EQ(core::get_be32(bytes->data()), bytes->size() - 4);
  EXPECT_EQ((*bytes)[4], static_cast<std::uint8_t>(type_of(m)));
  auto back = decode(*bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(describe(*back), describe(m));
}

/// A frame with the given type byte and body (prefix computed).
core::bytes frame(std::uint8_t type, const core::bytes& body) {
  core::bytes out;
  core::put_be32(out, static_cast<std::uint32_t>(1 + body.size()));
  core::put_u8(out, type);
  core::append(out, body);
  return out;
}
core::bytes frame(frame_type type, const core::bytes& body) {
  return frame(static_cast<std::uint8_t>(type), body);
}

/// The valid encoding of `m`, for tests that then damage it.
core::bytes encoded(const message& m) {
  auto b = encode(m);
  EXPECT_TRUE(b) << b.error().message;
  return b ? *b : core::bytes{};
}

/// decode's error text, or "<ok>".
std::string decode_error(const core::bytes& f) {
  auto m = decode(f);
  return m ? "<ok>" : m.error().message;
}
int decode_code(const core::bytes& f) {
  auto m = decode(f);
  return m ? 0 : m.error().code;
}
std::string encode_error(const message& m) {
  auto b = encode(m);
  return b ? "<ok>" : b.error().message;
}

/// A body of the given u64/u16/... pieces.
struct body_builder {
  core::bytes b;
  body_builder& u8(std::uint8_t v) {
    core::put_u8(b, v);
    return *this;
  }
  body_builder& u16(std::uint16_t v) {
    core::put_be16(b, v);
    return *this;
  }
  body_builder& u32(std::uint32_t v) {
    core::put_be32(b, v);
    return *this;
  }
  body_builder& u64(std::uint64_t v) {
    core::put_be64(b, v);
    return *this;
  }
  body_builder& raw(core::byte_view v) {
    core::append(b, v);
    return *this;
  }
  body_builder& zeros(std::size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
  body_builder& name(std::string_view s) {
    return u16(static_cast<std::uint16_t>(s.size())).raw(core::as_bytes(s));
  }
  operator core::bytes() const { return b; }      // NOLINT: fixture convenience
  operator core::byte_view() const { return b; }  // NOLINT
};

/// A chunk frame body with the given pushed flag, payload length field and payload size.
core::bytes chunk_body(std::uint32_t length_field, std::size_t payload_bytes,
                       std::uint8_t flags = 1, std::uint8_t pushed = 0,
                       std::int64_t duration = 100'000) {
  return body_builder{}
      .u64(7)
      .u64(0)
      .u32(0)
      .u64(1'000)
      .u64(static_cast<std::uint64_t>(duration))
      .u64(0)
      .u8(flags)
      .zeros(64)
      .u8(pushed)
      .u32(length_field)
      .zeros(payload_bytes);
}

// ---------------------------------------------------------------------------------------------
// round trips

TEST(swarm_codec, hello_round_trips) {
  roundtrip(test_hello());
  hello h = test_hello();
  h.role = node_role::origin;
  h.stream = std::string(k_max_name_bytes, 'x');
  h.rendition = "";
  h.upload_kbps = 0;
  h.listen_port = 0;
  roundtrip(h);
}

TEST(swarm_codec, have_round_trips) {
  roundtrip(have{chunk_seq(0)});
  roundtrip(have{chunk_seq(UINT64_MAX)});
}

TEST(swarm_codec, bitmap_round_trips_at_every_fill_of_the_last_byte) {
  roundtrip(bitmap{chunk_seq(100), {}});
  roundtrip(bitmap{chunk_seq(100), {true}});
  roundtrip(bitmap{chunk_seq(100), {true, false, true, true, false, false, true, true}});
  roundtrip(bitmap{chunk_seq(100), {false, false, false, false, false, false, false, false, true}});
  std::vector<bool> full(k_max_bitmap_bits);
  for (std::size_t i = 0; i < full.size(); i += 3) full[i] = true;
  roundtrip(bitmap{chunk_seq(5), full});
}

TEST(swarm_codec, bitmap_bits_are_most_significant_first) {
  const auto b =
      encoded(bitmap{chunk_seq(1), {true, false, false, false, false, false, false, false, true}});
  ASSERT_EQ(b.size(), 5u + 8 + 4 + 2);
  EXPECT_EQ(b[17], 0x80);
  EXPECT_EQ(b[18], 0x80);
}

TEST(swarm_codec, request_and_cancel_round_trip) {
  roundtrip(request{seqs({5, 7})});
  roundtrip(request{seq_range(k_max_request_seqs)});
  roundtrip(cancel{seqs({9})});
}

TEST(swarm_codec, chunk_round_trips_pushed_and_pulled) {
  roundtrip(chunk_data{test_chunk(42), true});
  roundtrip(chunk_data{test_chunk(43, 7), false});
}

TEST(swarm_codec, reject_round_trips) {
  roundtrip(reject{chunk_seq(9), reject_reason::not_held});
  roundtrip(reject{chunk_seq(9), reject_reason::busy});
  roundtrip(reject{chunk_seq(9), reject_reason::too_late});
}

TEST(swarm_codec, pex_round_trips_ipv4_and_ipv6) {
  roundtrip(pex{});
  roundtrip(pex{{{test_id(2), "192.0.2.7", 7001}, {test_id(3), "2001:db8::1", 65535}}});
  std::vector<peer_address> many(k_max_pex_entries, {test_id(4), "10.0.0.1", 1});
  roundtrip(pex{many});
}

TEST(swarm_codec, ping_pong_round_trip_with_negative_times) {
  roundtrip(ping{UINT64_MAX, -1});
  roundtrip(pong{1, 1'700'000'000'000'000, -5});
}

TEST(swarm_codec, close_round_trips_every_reason) {
  for (int r = 0; r <= static_cast<int>(close_reason::shutdown); ++r) {
    roundtrip(close{static_cast<close_reason>(r), "bye"});
  }
  roundtrip(close{close_reason::malformed, std::string(k_max_close_text_bytes, 'a')});
}

TEST(swarm_codec, chunk_frame_head_is_114_bytes_before_the_payload) {
  const auto c = test_chunk(1, 3);
  auto t = encode_frame(chunk_data{c, false});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->head.size(), k_frame_head_bytes + k_chunk_head_bytes);
  EXPECT_EQ(t->size(), encoded_size(chunk_data{c, false}));
  EXPECT_EQ(core::get_be32(t->head.data() + t->head.size() - 4), 3 * 188u);
}

TEST(swarm_codec, chunk_frame_sends_the_chunks_own_payload_buffer) {
  const auto c = test_chunk(1);
  auto t = encode_frame(chunk_data{c, true});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->payload.get(), c->payload_buffer().get());
}

TEST(swarm_codec, decoded_chunk_adopts_the_readers_payload_buffer) {
  frame_reader reader;
  ASSERT_TRUE(reader.feed(encoded(chunk_data{test_chunk(8), false})));
  auto f = reader.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->body.size(), k_chunk_head_bytes);
  const std::uint8_t* where = f->payload.data();
  auto m = decode(std::move(*f));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(std::get<chunk_data>(*m).chunk->payload().data(), where);
}

TEST(swarm_codec, encoded_size_counts_without_encoding) {
  EXPECT_EQ(encoded_size(have{chunk_seq(1)}), 13u);
  EXPECT_EQ(encoded_size(request{seqs({1, 2, 3})}), 5u + 2 + 24);
  EXPECT_EQ(encoded_size(bitmap{chunk_seq(1), std::vector<bool>(9)}), 5u + 12 + 2);
  EXPECT_EQ(encoded_size(pex{{{test_id(1), "::1", 1}, {test_id(1), "1.2.3.4", 1}}}),
            5u + 1 + (16 + 1 + 16 + 2) + (16 + 1 + 4 + 2));
  // The simulator passes unsigned chunks: they still count the 64 signature bytes.
  EXPECT_EQ(encoded_size(chunk_data{test_chunk(1, 2, false), false}), 5u + 114 + 376);
}

// ---------------------------------------------------------------------------------------------
// the wire form, byte for byte (docs/protocol.md)

/// Bytes from hex text; spaces (between fields) are skipped.
core::bytes hex(std::string h) {
  std::erase(h, ' ');
  core::bytes out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(swarm_codec, hello_wire_form_matches_the_spec) {
  hello h;
  h.stream = "live/fuzz";
  h.rendition = "source";
  for (std::size_t i = 0; i < h.id.size(); ++i) h.id[i] = static_cast<std::uint8_t>(i);
  h.role = node_role::peer;
  h.upload_kbps = 5000;
  h.listen_port = 7001;
  h.origin_key[0] = 0xab;
  h.origin_key[31] = 0xcd;
  EXPECT_EQ(encoded(h), hex("00000050 01 4d435357 01 0009 6c6976652f66757a7a 0006 736f75726365 "
                            "000102030405060708090a0b0c0d0e0f 02 00001388 1b59 "
                            "ab000000000000000000000000000000000000000000000000000000000000cd"));
}

TEST(swarm_codec, control_frames_wire_form_matches_the_spec) {
  EXPECT_EQ(encoded(have{chunk_seq(41)}), hex("00000009 02 0000000000000029"));
  EXPECT_EQ(encoded(bitmap{chunk_seq(30),
                           {true, false, true, true, false, true, false, true, true, true, true}}),
            hex("0000000f 03 000000000000001e 0000000b b5e0"));
  EXPECT_EQ(encoded(request{seqs({5, 7})}),
            hex("00000013 04 0002 0000000000000005 0000000000000007"));
  EXPECT_EQ(encoded(reject{chunk_seq(9), reject_reason::busy}),
            hex("0000000a 07 0000000000000009 02"));
  EXPECT_EQ(encoded(pex{{{node_id{}, "192.0.2.7", 7001}}}),
            hex("00000019 08 01 00000000000000000000000000000000 04 c0000207 1b59"));
  EXPECT_EQ(encoded(ping{1, -2}), hex("00000011 09 0000000000000001 fffffffffffffffe"));
  EXPECT_EQ(encoded(close{close_reason::shutdown, "bye"}), hex("00000007 0b 0a 0003 627965"));
}

TEST(swarm_codec, chunk_wire_form_matches_the_spec) {
  const auto c = test_chunk(5, 1);
  const auto b = encoded(chunk_data{c, true});
  ASSERT_EQ(b.size(), 5u + 114 + 188);
  const core::bytes head(b.begin(), b.begin() + 5 + 45);
  EXPECT_EQ(head, hex("0000012f 06 0000000000000005 0000000000000000 00000003 00060a241825e120 "
                      "00000000000186a0 ffffffffffffee6c 03"));
  EXPECT_EQ(b[5 + 45], 5);       // signature byte 0 (the fixture's)
  EXPECT_EQ(b[5 + 45 + 64], 1);  // pushed
  EXPECT_EQ(core::get_be32(b.data() + 5 + 45 + 65), 188u);
  EXPECT_EQ(b[5 + 114], c->payload()[0]);
}

// ---------------------------------------------------------------------------------------------
// what encode refuses

TEST(swarm_codec, unsigned_chunk_cannot_be_encoded) {
  EXPECT_EQ(
      encode_error(chunk_data{test_chunk(12, 2, false), true}),
      "cannot encode swarm chunk frame: chunk 12 is unsigned (sign it before sending it to peers)");
  EXPECT_FALSE(validate(chunk_data{nullptr, true}));
}

TEST(swarm_codec, encode_refuses_what_a_receiver_would_reject) {
  EXPECT_EQ(encode_error(request{seq_range(300)}),
            "cannot encode swarm request frame: lists 300 chunks, limit 256");
  EXPECT_EQ(encode_error(cancel{}), "cannot encode swarm cancel frame: lists no chunks");
  EXPECT_EQ(encode_error(pex{{{test_id(1), "peer.example.org", 7001}}}),
            "cannot encode swarm pex frame: host \"peer.example.org\" is not a numeric IP address");
  EXPECT_EQ(encode_error(pex{{{test_id(1), "10.0.0.1", 0}}}),
            "cannot encode swarm pex frame: host 10.0.0.1 has port 0");
  EXPECT_EQ(encode_error(bitmap{chunk_seq(0), std::vector<bool>(k_max_bitmap_bits + 1)}),
            "cannot encode swarm bitmap frame: 65537 bits, limit 65536");
  hello h = test_hello();
  h.stream = "live/a\nb";
  EXPECT_EQ(encode_error(h), "cannot encode swarm hello frame: stream name has control characters");
  EXPECT_EQ(encode_error(close{close_reason::normal, std::string(600, 'x')}),
            "cannot encode swarm close frame: text of 600 bytes exceeds limit 512");
}

// ---------------------------------------------------------------------------------------------
// what decode rejects, and how it says so

TEST(swarm_codec, request_over_the_limit_is_rejected) {
  body_builder b;
  b.u16(300);
  for (int i = 0; i < 300; ++i) b.u64(static_cast<std::uint64_t>(i));
  EXPECT_EQ(decode_error(frame(frame_type::request, b)),
            "swarm request frame lists 300 chunks, limit 256");
  EXPECT_EQ(decode_code(frame(frame_type::request, b)), int(codec_errc::over_limit));
}

TEST(swarm_codec, empty_request_or_cancel_is_rejected) {
  EXPECT_EQ(decode_error(frame(frame_type::request, body_builder{}.u16(0))),
            "swarm request frame lists no chunks");
  EXPECT_EQ(decode_error(frame(frame_type::cancel, body_builder{}.u16(0))),
            "swarm cancel frame lists no chunks");
}

TEST(swarm_codec, truncated_fields_are_named) {
  EXPECT_EQ(decode_error(frame(frame_type::request, body_builder{}.u16(2).u64(1))),
            "swarm request frame truncated at seq: needs 8 bytes, 0 left");
  EXPECT_EQ(decode_error(frame(frame_type::ping, body_builder{}.u64(1).u16(0))),
            "swarm ping frame truncated at sent time: needs 8 bytes, 2 left");
  EXPECT_EQ(decode_error(frame(frame_type::have, {})),
            "swarm have frame truncated at seq: needs 8 bytes, 0 left");
  EXPECT_EQ(decode_code(frame(frame_type::have, {})), int(codec_errc::truncated));
}

TEST(swarm_codec, trailing_bytes_are_rejected) {
  EXPECT_EQ(decode_error(frame(frame_type::have, body_builder{}.u64(1).u8(0).u16(0))),
            "swarm have frame has 3 trailing bytes");
  auto two = encoded(have{chunk_seq(1)});
  core::append(two, encoded(have{chunk_seq(2)}));
  EXPECT_EQ(decode_error(two), "swarm frame followed by 13 trailing bytes");
}

TEST(swarm_codec, unknown_type_and_zero_length_are_rejected) {
  EXPECT_EQ(decode_error(frame(42, body_builder{}.u64(1))), "swarm frame type 42 is unknown");
  EXPECT_EQ(decode_error(frame(0, {})), "swarm frame type 0 is unknown");
  EXPECT_EQ(decode_error(body_builder{}.u32(0).u8(2)),
            "swarm frame length 0 (a frame holds at least its type byte)");
  EXPECT_EQ(decode_error(body_builder{}.u32(1)),
            "swarm frame of 4 bytes is shorter than its 5-byte head");
}

TEST(swarm_codec, frame_shorter_than_its_length_is_truncated) {
  auto b = encoded(have{chunk_seq(1)});
  b.pop_back();
  EXPECT_EQ(decode_error(b), "swarm frame truncated: length says 9 bytes, 8 present");
}

TEST(swarm_codec, hello_magic_and_version_are_checked) {
  auto b = encoded(test_hello());
  b[5] = 'X';
  EXPECT_EQ(decode_error(b), "swarm hello magic 0x58435357, expected 0x4d435357 (MCSW)");
  EXPECT_EQ(decode_code(b), int(codec_errc::bad_magic));
  hello v2 = test_hello();
  v2.version = 2;
  EXPECT_EQ(decode_error(encoded(v2)), "swarm hello version 2, this node speaks version 1");
  EXPECT_EQ(decode_code(encoded(v2)), int(codec_errc::bad_version));
}

TEST(swarm_codec, hello_names_roles_are_checked) {
  const auto base = body_builder{}.u32(k_magic).u8(k_version);
  EXPECT_EQ(decode_error(frame(frame_type::hello, body_builder(base).u16(300).zeros(300))),
            "swarm hello frame stream name of 300 bytes exceeds limit 256");
  EXPECT_EQ(decode_error(frame(frame_type::hello, body_builder(base).name("live/\x1b[31m"))),
            "swarm hello frame stream name has control characters");
  EXPECT_EQ(decode_error(
                frame(frame_type::hello,
                      body_builder(base).name("live/a").name("src").zeros(16).u8(9).u32(0).u16(0).zeros(32))),
            "swarm hello role 9 is unknown");
  EXPECT_EQ(decode_error(frame(frame_type::hello, body_builder(base).name("live/a").name("src"))),
            "swarm hello frame truncated at node id: needs 16 bytes, 0 left");
}

TEST(swarm_codec, bitmap_over_the_limit_is_rejected) {
  EXPECT_EQ(decode_error(frame(frame_type::bitmap, body_builder{}.u64(0).u32(70'000).zeros(8750))),
            "swarm bitmap frame has 70000 bits, limit 65536");
}

TEST(swarm_codec, bitmap_padding_bits_and_overflow_are_rejected) {
  EXPECT_EQ(decode_error(frame(frame_type::bitmap, body_builder{}.u64(0).u32(3).u8(0xf0))),
            "swarm bitmap frame has set padding bits after bit 3");
  EXPECT_EQ(decode_error(frame(frame_type::bitmap, body_builder{}.u64(UINT64_MAX).u32(2).u8(0))),
            "swarm bitmap base 18446744073709551615 plus 2 bits overflows the sequence space");
  EXPECT_EQ(decode_error(frame(frame_type::bitmap, body_builder{}.u64(0).u32(17).u16(0))),
            "swarm bitmap frame truncated at bits: needs 3 bytes, 2 left");
}

TEST(swarm_codec, chunk_payload_must_be_whole_ts_packets) {
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(200, 200))),
            "swarm chunk payload of 200 bytes is not a whole number of 188-byte TS packets");
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(0, 0))),
            "swarm chunk payload of 0 bytes is not a whole number of 188-byte TS packets");
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(376, 376))), "<ok>");
}

TEST(swarm_codec, chunk_payload_length_must_match_the_frame) {
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(376, 188))),
            "swarm chunk frame truncated at payload: needs 376 bytes, 188 left");
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(188, 376))),
            "swarm chunk frame has 188 trailing bytes");
  core::bytes short_head = chunk_body(188, 0);
  short_head.resize(100);
  EXPECT_EQ(decode_error(frame(frame_type::chunk, short_head)),
            "swarm chunk frame truncated at signature: needs 64 bytes, 55 left");
}

TEST(swarm_codec, chunk_flags_pushed_duration_and_source_time_are_checked) {
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(188, 188, 0x09))),
            "swarm chunk flags 0x09 have unknown bits");
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(188, 188, 1, 2))),
            "swarm chunk pushed flag 2 (expected 0 or 1)");
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(188, 188, 1, 0, -1))),
            "swarm chunk duration -1 us is outside 0..3600000000");
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(188, 188, 1, 0, 3'600'000'001))),
            "swarm chunk duration 3600000001 us is outside 0..3600000000");
  core::bytes negative_time = chunk_body(188, 188);
  negative_time[20] = 0xff;  // source time's top byte
  EXPECT_EQ(decode_error(frame(frame_type::chunk, negative_time)),
            "swarm chunk source time -72057594037926936 us is outside 0..2^62");
}

TEST(swarm_codec, pex_entries_are_checked) {
  body_builder many;
  many.u8(65);
  EXPECT_EQ(decode_error(frame(frame_type::pex, many)), "swarm pex frame lists 65 peers, limit 64");
  EXPECT_EQ(decode_error(frame(frame_type::pex, body_builder{}.u8(1).zeros(16).u8(5).zeros(6))),
            "swarm pex entry 0 address family 5 (expected 4 or 6)");
  EXPECT_EQ(decode_error(frame(frame_type::pex,
                               body_builder{}.u8(1).zeros(16).u8(4).u32(0x0a000001).u16(0))),
            "swarm pex entry 0 has port 0");
  EXPECT_EQ(decode_error(frame(frame_type::pex, body_builder{}.u8(1).zeros(16).u8(6).zeros(10))),
            "swarm pex frame truncated at address: needs 16 bytes, 10 left");
}

TEST(swarm_codec, unknown_reject_and_close_reasons_are_rejected) {
  EXPECT_EQ(decode_error(frame(frame_type::reject, body_builder{}.u64(1).u8(0))),
            "swarm reject reason 0 is unknown");
  EXPECT_EQ(decode_error(frame(frame_type::close, body_builder{}.u8(99).u16(0))),
            "swarm close reason 99 is unknown");
  EXPECT_EQ(decode_error(frame(frame_type::close, body_builder{}.u8(0).u16(600).zeros(600))),
            "swarm close frame text of 600 bytes exceeds limit 512");
}

TEST(swarm_codec, oversized_frames_are_rejected_by_type) {
  EXPECT_EQ(decode_error(frame(frame_type::bitmap, core::bytes(k_max_control_frame_bytes, 0))),
            "swarm bitmap frame of 65537 bytes exceeds limit 65536");
  EXPECT_EQ(decode_code(frame(frame_type::bitmap, core::bytes(k_max_control_frame_bytes, 0))),
            int(codec_errc::too_large));
  EXPECT_EQ(decode_error(frame(frame_type::chunk, chunk_body(188 * 600, 188 * 600))), "<ok>");
  auto small = decode(frame(frame_type::chunk, chunk_body(188 * 600, 188 * 600)), 100'000);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().message, "swarm chunk frame of 112915 bytes exceeds limit 100000");
}

// ---------------------------------------------------------------------------------------------
// frame_reader

std::vector<message> every_message() {
  return {test_hello(),
          have{chunk_seq(3)},
          bitmap{chunk_seq(2), {true, true, false}},
          request{seqs({5, 7})},
          cancel{seqs({7})},
          chunk_data{test_chunk(5), true},
          reject{chunk_seq(6), reject_reason::busy},
          pex{{{test_id(9), "198.51.100.4", 9000}}},
          ping{11, 12},
          pong{11, 12, 13},
          close{close_reason::shutdown, "bye"}};
}

core::bytes stream_of(const std::vector<message>& msgs) {
  core::bytes out;
  for (const auto& m : msgs) core::append(out, encoded(m));
  return out;
}

/// Feeds `bytes` in steps of `step` and decodes every frame popped.
std::vector<std::string> read_all(const core::bytes& bytes, std::size_t step) {
  frame_reader reader;
  std::vector<std::string> out;
  for (std::size_t off = 0; off < bytes.size(); off += step) {
    auto fed = reader.feed(core::byte_view(bytes).subspan(off, std::min(step, bytes.size() - off)));
    EXPECT_TRUE(fed) << fed.error().message;
    while (auto f = reader.next()) {
      auto m = decode(std::move(*f));
      out.push_back(m ? describe(*m) : "error: " + m.error().message);
    }
  }
  EXPECT_EQ(reader.partial_bytes(), 0u);
  return out;
}

TEST(swarm_frame_reader, fed_one_byte_at_a_time_yields_every_frame) {
  const auto msgs = every_message();
  std::vector<std::string> want;
  for (const auto& m : msgs) want.push_back(describe(m));
  EXPECT_EQ(read_all(stream_of(msgs), 1), want);
  EXPECT_EQ(read_all(stream_of(msgs), 7), want);
  EXPECT_EQ(read_all(stream_of(msgs), 1 << 20), want);
}

TEST(swarm_frame_reader, oversize_is_reported_from_the_length_prefix_alone) {
  frame_reader reader;
  auto r = reader.feed(body_builder{}.u32(64u << 20));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "swarm frame of 67108864 bytes exceeds limit 4195328");
  EXPECT_EQ(r.error().code, int(codec_errc::too_large));
}

TEST(swarm_frame_reader, oversized_control_frame_is_reported_before_its_body_is_buffered) {
  frame_reader reader;
  // A bitmap frame claiming 1 MiB: fine for a chunk, too big for a control frame.
  auto r =
      reader.feed(body_builder{}.u32(1u << 20).u8(static_cast<std::uint8_t>(frame_type::bitmap)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "swarm bitmap frame of 1048576 bytes exceeds limit 65536");
  EXPECT_FALSE(reader.next());
}

TEST(swarm_frame_reader, unknown_type_is_reported_from_the_head) {
  frame_reader reader;
  auto r = reader.feed(body_builder{}.u32(9).u8(77));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "swarm frame type 77 is unknown");
}

TEST(swarm_frame_reader, frames_before_a_bad_one_are_still_delivered_and_the_error_sticks) {
  frame_reader reader;
  core::bytes in = encoded(have{chunk_seq(1)});
  core::append(in, body_builder{}.u32(0));
  EXPECT_FALSE(reader.feed(in));
  EXPECT_TRUE(reader.failed());
  EXPECT_TRUE(reader.next());
  EXPECT_FALSE(reader.next());
  auto again = reader.feed(encoded(have{chunk_seq(2)}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "swarm frame length 0 (a frame holds at least its type byte)");
  EXPECT_FALSE(reader.next());
}

TEST(swarm_frame_reader, smaller_chunk_limit_applies) {
  frame_reader reader(10'000);
  auto r = reader.feed(encoded(chunk_data{test_chunk(1, 60), false}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "swarm chunk frame of 11395 bytes exceeds limit 10000");
}

TEST(swarm_frame_reader, partial_bytes_counts_the_frame_being_read) {
  frame_reader reader;
  const auto b = encoded(request{seqs({1, 2})});
  ASSERT_TRUE(reader.feed(core::byte_view(b).first(8)));
  EXPECT_EQ(reader.partial_bytes(), 8u);
  EXPECT_FALSE(reader.next());
  ASSERT_TRUE(reader.feed(core::byte_view(b).subspan(8)));
  EXPECT_EQ(reader.partial_bytes(), 0u);
  EXPECT_TRUE(reader.next());
}

}  // namespace
}  // namespace meshcast::proto::swarm
