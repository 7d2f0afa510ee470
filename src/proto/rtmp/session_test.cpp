#include "proto/rtmp/session.hpp"

#include <gtest/gtest.h>

#include "proto/rtmp/test_client.hpp"

namespace meshcast::proto::rtmp {
namespace {

using amf0::value;
using testing::server_view;
using testing::test_client;

const core::time_point t0 = core::from_us(1'700'000'000'000'000);

core::bytes payload_of(std::size_t n, std::uint8_t seed = 1) {
  core::bytes p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(seed + i * 13);
  return p;
}

// A session fed by a test_client; everything it sends goes into `server`, events into `events`.
class rtmp_session : public ::testing::Test {
 protected:
  explicit rtmp_session(session_settings settings = {}) : s(settings, t0) {}

  void feed(core::byte_view data, core::time_point now = t0, std::size_t step = 0) {
    if (step == 0) step = std::max<std::size_t>(data.size(), 1);
    for (std::size_t off = 0; off < data.size(); off += step) {
      s.on_bytes(data.subspan(off, std::min(step, data.size() - off)), now);
      drain();
    }
  }
  void drain() {
    while (auto b = s.poll_transmit()) server.feed(*b);
    while (auto e = s.poll_event()) events.push_back(std::move(*e));
  }
  /// Handshake, connect, releaseStream/FCPublish/createStream, publish, and accept.
  void publishing(const std::string& name = "test?key=abc") {
    feed(client.publish_all("live", name));
    s.accept_publish();
    drain();
    ASSERT_EQ(s.state(), session_state::publishing) << s.error();
  }

  template <class T>
  std::vector<T> events_of() const {
    std::vector<T> out;
    for (const auto& e : events) {
      if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
    }
    return out;
  }
  std::string closed_reason() const {
    auto c = events_of<closed_event>();
    return c.empty() ? "<open>" : c.back().reason;
  }

  session s;
  test_client client;
  server_view server;
  std::vector<event> events;
};

TEST_F(rtmp_session, handshake_answers_c0_c1_with_s0_s1_and_an_s2_echoing_c1) {
  const auto c0c1 = client_handshake_hello(42);
  feed(c0c1);
  EXPECT_EQ(s.state(), session_state::handshake_c2);
  ASSERT_EQ(server.handshake().size(), 3073u);
  EXPECT_EQ(server.handshake()[0], 3);
  EXPECT_TRUE(std::equal(c0c1.begin() + 1, c0c1.end(), server.handshake().begin() + 1537));
  feed(core::bytes(1536, 0));
  EXPECT_EQ(s.state(), session_state::wait_connect);
}

TEST_F(rtmp_session, handshake_split_into_single_bytes_still_completes) {
  feed(test_client::handshake(), t0, 1);
  EXPECT_EQ(s.state(), session_state::wait_connect);
}

TEST_F(rtmp_session, http_request_instead_of_rtmp_closes_at_the_first_byte) {
  feed(core::as_bytes("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(s.is_closed());
  EXPECT_EQ(closed_reason(), "rtmp handshake: unsupported version 0x47 (expected 3); is this HTTP?");
  EXPECT_EQ(events_of<closed_event>()[0].kind, close_kind::protocol_error);
  EXPECT_FALSE(s.poll_transmit());
}

TEST_F(rtmp_session, connect_is_answered_with_window_bandwidth_chunk_size_and_success) {
  feed(test_client::handshake());
  feed(client.connect("live", "rtmp://127.0.0.1:1935/live"));
  EXPECT_EQ(s.state(), session_state::connected);
  EXPECT_EQ(server.message_types(), (std::vector<int>{5, 6, 1, 20}));
  const auto cmds = server.commands();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0][0].string, "_result");
  EXPECT_EQ(cmds[0][1].number, 1);
  EXPECT_EQ(cmds[0][2].get_string("fmsVer"), "FMS/3,0,1,123");
  EXPECT_EQ(cmds[0][3].get_string("code"), "NetConnection.Connect.Success");
  EXPECT_EQ(server.error(), "");
}

TEST_F(rtmp_session, connect_event_carries_app_tc_url_and_flash_version) {
  feed(test_client::handshake());
  feed(client.connect("live", "rtmp://127.0.0.1:1935/live"));
  const auto c = events_of<connect_event>();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].app, "live");
  EXPECT_EQ(c[0].tc_url, "rtmp://127.0.0.1:1935/live");
  EXPECT_EQ(c[0].flash_ver, "FMLE/3.0 (compatible; Lavf59.27.100)");
  EXPECT_EQ(c[0].key, "");
}

TEST_F(rtmp_session, ffmpeg_url_puts_the_key_in_the_publish_name) {
  // rtmp://HOST/live/test?key=abc: app "live", publish name "test?key=abc" (FFmpeg and OBS alike).
  feed(client.publish_all("live", "test?key=abc"));
  EXPECT_EQ(s.state(), session_state::publish_pending);
  const auto p = events_of<publish_event>();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].app, "live");
  EXPECT_EQ(p[0].stream_name, "test");
  EXPECT_EQ(p[0].key, "abc");
  EXPECT_EQ(p[0].publish_type, "live");
}

TEST_F(rtmp_session, key_may_come_from_the_connect_app_query) {
  feed(test_client::handshake());
  feed(client.connect("live?key=s3cret", "rtmp://h/live?key=s3cret"));
  feed(client.publish("cam1"));
  const auto p = events_of<publish_event>();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].app, "live");
  EXPECT_EQ(p[0].stream_name, "cam1");
  EXPECT_EQ(p[0].key, "s3cret");
}

TEST_F(rtmp_session, create_stream_result_carries_stream_id_1) {
  feed(test_client::handshake());
  feed(client.connect("live", "rtmp://h/live"));
  feed(client.prepare_publish("test"));
  const auto cmds = server.commands();
  ASSERT_EQ(cmds.size(), 4u);  // connect, releaseStream, FCPublish, createStream results
  EXPECT_EQ(cmds[3][1].number, 4);
  EXPECT_EQ(cmds[3][3].number, 1);
}

TEST_F(rtmp_session, accepted_publish_sends_stream_begin_on_fc_publish_and_publish_start) {
  publishing();
  const auto& msgs = server.messages();
  ASSERT_GE(msgs.size(), 3u);
  const auto names = server.command_names();
  EXPECT_EQ(names[names.size() - 2], "onFCPublish");
  EXPECT_EQ(names.back(), "onStatus");
  const auto& begin = msgs[msgs.size() - 3];
  EXPECT_EQ(begin.type_id, 4);
  EXPECT_EQ(begin.payload, (core::bytes{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(msgs.back().stream_id, 1u);
  EXPECT_EQ(server.status_codes().back(), "NetStream.Publish.Start");
}

TEST_F(rtmp_session, rejected_publish_sends_the_error_status_then_closes) {
  feed(client.publish_all("live", "test?key=wrong"));
  s.reject_publish("NetStream.Publish.Denied", "bad stream key for live/test");
  drain();
  EXPECT_TRUE(s.is_closed());
  EXPECT_EQ(server.status_codes().back(), "NetStream.Publish.Denied");
  EXPECT_EQ(server.commands().back()[3].get_string("level"), "error");
  EXPECT_EQ(closed_reason(),
            "publish rejected: NetStream.Publish.Denied: bad stream key for live/test");
  EXPECT_EQ(events_of<closed_event>()[0].kind, close_kind::rejected);
}

class rtmp_session_chunk_sizes : public rtmp_session,
                                 public ::testing::WithParamInterface<std::uint32_t> {};

TEST_P(rtmp_session_chunk_sizes, media_arrives_as_events_with_timestamps_and_payloads) {
  publishing();
  core::bytes wire = client.set_chunk_size(GetParam());
  const auto idr = payload_of(20'000, 5);
  core::append(wire, client.video(0, idr));
  core::append(wire, client.audio(0, payload_of(300, 6)));
  core::append(wire, client.video(33, payload_of(900, 7)));
  core::append(wire, client.audio(23, payload_of(301, 8)));
  feed(wire, t0, 1000);
  const auto m = events_of<media_event>();
  ASSERT_EQ(m.size(), 4u) << s.error();
  EXPECT_EQ(m[0].kind, media_kind::video);
  EXPECT_EQ(m[0].payload, idr);
  EXPECT_EQ(m[1].kind, media_kind::audio);
  EXPECT_EQ(m[2].timestamp, 33u);
  EXPECT_EQ(m[3].timestamp, 23u);
  EXPECT_EQ(m[3].payload, payload_of(301, 8));
}

INSTANTIATE_TEST_SUITE_P(rtmp, rtmp_session_chunk_sizes, ::testing::Values(1u, 128u, 65536u));

TEST_F(rtmp_session, interleaved_chunk_streams_deliver_whole_messages) {
  publishing();
  const auto v = payload_of(1000, 1);
  const auto a = payload_of(400, 2);
  auto vc = client.chunks(6, message_type::video, 1, 66, v);
  auto ac = client.chunks(4, message_type::audio, 1, 60, a);
  core::bytes wire;
  for (std::size_t i = 0; i < vc.size(); ++i) {
    core::append(wire, vc[i]);
    if (i < ac.size()) core::append(wire, ac[i]);
  }
  feed(wire);
  const auto m = events_of<media_event>();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].payload, a);
  EXPECT_EQ(m[1].payload, v);
  EXPECT_EQ(m[1].timestamp, 66u);
}

TEST_F(rtmp_session, extended_timestamps_reach_the_media_events) {
  publishing();
  feed(client.video(0x01000000, payload_of(500)));
  feed(client.video(0x01000021, payload_of(500)));
  const auto m = events_of<media_event>();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].timestamp, 0x01000000u);
  EXPECT_EQ(m[1].timestamp, 0x01000021u);
}

TEST_F(rtmp_session, set_data_frame_on_meta_data_becomes_a_metadata_event) {
  publishing();
  value meta = value::make_ecma_array();
  meta.set("width", value::make_number(640)).set("videocodecid", value::make_number(7));
  meta.set("audiocodecid", value::make_number(10));
  feed(client.metadata(meta));
  const auto md = events_of<metadata_event>();
  ASSERT_EQ(md.size(), 1u);
  EXPECT_EQ(md[0].metadata.get_number("videocodecid"), 7);
  EXPECT_TRUE(events_of<media_event>().empty());
}

TEST_F(rtmp_session, other_data_messages_pass_as_data_media) {
  publishing();
  core::bytes body;
  amf0::encode_all(body, {value::make_string("onTextData"), value::make_object()});
  feed(client.message(5, message_type::data_amf0, 1, 100, body));
  const auto m = events_of<media_event>();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].kind, media_kind::data);
  EXPECT_EQ(m[0].payload, body);
}

TEST_F(rtmp_session, unknown_commands_are_ignored_politely) {
  publishing();
  const auto before = server.messages().size();
  feed(client.command("_checkbw", 9, {value::make_null()}));
  feed(client.command("getStreamLength", 10, {value::make_null(), value::make_string("x")}));
  EXPECT_EQ(s.state(), session_state::publishing);
  EXPECT_EQ(server.messages().size(), before);
}

TEST_F(rtmp_session, play_is_refused_with_a_clear_status) {
  feed(test_client::handshake());
  feed(client.connect("live", "rtmp://h/live"));
  feed(client.command("play", 4, {value::make_null(), value::make_string("test")}, 1));
  EXPECT_TRUE(s.is_closed());
  EXPECT_EQ(server.status_codes().back(), "NetStream.Play.Failed");
  EXPECT_EQ(events_of<closed_event>()[0].kind, close_kind::refused_play);
}

TEST_F(rtmp_session, fc_unpublish_then_delete_stream_end_the_publication_once) {
  publishing();
  feed(client.command("FCUnpublish", 6, {value::make_null(), value::make_string("test")}));
  feed(client.command("deleteStream", 7, {value::make_null(), value::make_number(1)}));
  const auto u = events_of<unpublish_event>();
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].reason, "FCUnpublish");
  EXPECT_EQ(s.state(), session_state::connected);
  feed(client.video(1000, payload_of(10)));  // media after the end is dropped
  EXPECT_TRUE(events_of<media_event>().empty());
}

TEST_F(rtmp_session, the_connection_may_publish_again_after_unpublish) {
  publishing();
  feed(client.command("deleteStream", 7, {value::make_null(), value::make_number(1)}));
  feed(client.publish("test?key=abc"));
  EXPECT_EQ(s.state(), session_state::publish_pending);
  EXPECT_EQ(events_of<publish_event>().size(), 2u);
}

TEST_F(rtmp_session, media_before_publish_is_dropped) {
  feed(test_client::handshake());
  feed(client.connect("live", "rtmp://h/live"));
  feed(client.video(0, payload_of(10)));
  EXPECT_TRUE(events_of<media_event>().empty());
  EXPECT_EQ(s.state(), session_state::connected);
}

TEST_F(rtmp_session, command_before_connect_closes) {
  feed(test_client::handshake());
  feed(client.publish("test"));
  EXPECT_EQ(closed_reason(), "rtmp: expected the connect command, got 'publish'");
}

TEST_F(rtmp_session, publish_twice_closes) {
  publishing();
  feed(client.publish("other"));
  EXPECT_EQ(closed_reason(), "rtmp: publish while already publishing 'test'");
}

TEST_F(rtmp_session, malformed_command_closes_with_the_amf0_error) {
  feed(test_client::handshake());
  const core::bytes body{0x02, 0x00, 0x07, 'c', 'o', 'n'};  // string claims 7 bytes, has 3
  feed(client.message(3, message_type::command_amf0, 0, 0, body));
  EXPECT_TRUE(s.is_closed());
  EXPECT_EQ(closed_reason(), "rtmp command: amf0: string of 7 bytes is truncated at offset 1");
}

TEST_F(rtmp_session, command_without_a_name_closes) {
  feed(test_client::handshake());
  const core::bytes body{0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0};  // just the number 1
  feed(client.message(3, message_type::command_amf0, 0, 0, body));
  EXPECT_EQ(closed_reason(), "rtmp command: expected a command name string, got 1");
}

TEST_F(rtmp_session, chunk_level_errors_close_with_the_reader_message) {
  publishing();
  feed(core::bytes{0x47, 0, 0, 1, 0, 0, 1, 9, 0xaa});  // fmt 1 on a fresh chunk stream 7
  EXPECT_EQ(closed_reason(), "rtmp chunk stream 7: fmt 1 header without a previous fmt 0 header");
  EXPECT_EQ(events_of<closed_event>()[0].kind, close_kind::protocol_error);
  feed(client.video(0, payload_of(10)));  // ignored once closed
  EXPECT_EQ(events_of<closed_event>().size(), 1u);
}

class rtmp_session_small_limits : public rtmp_session {
 protected:
  static session_settings small() {
    session_settings st;
    st.limits.max_message_bytes = 1000;
    return st;
  }
  rtmp_session_small_limits() : rtmp_session(small()) {}
};

TEST_F(rtmp_session_small_limits, oversized_message_closes_the_session) {
  publishing();
  feed(client.video(0, payload_of(5000)));
  EXPECT_EQ(closed_reason(), "rtmp message size 5000 exceeds limit 1000");
  EXPECT_TRUE(events_of<media_event>().empty());
}

TEST_F(rtmp_session, acknowledgement_follows_the_clients_window) {
  publishing();
  feed(client.window_ack_size(10'000));
  const auto before = server.messages().size();
  feed(client.video(0, payload_of(12'000)));
  ASSERT_EQ(server.messages().size(), before + 1);
  const auto& ack = server.messages().back();
  EXPECT_EQ(ack.type_id, 3);
  EXPECT_EQ(core::get_be32(ack.payload.data()), s.bytes_received());
}

TEST_F(rtmp_session, ping_request_is_answered) {
  publishing();
  feed(client.message(2, message_type::user_control, 0, 0, core::bytes{0, 6, 0, 0, 1, 2}));
  const auto& pong = server.messages().back();
  EXPECT_EQ(pong.type_id, 4);
  EXPECT_EQ(pong.payload, (core::bytes{0, 7, 0, 0, 1, 2}));
}

TEST_F(rtmp_session, aggregate_message_is_split_into_its_tags) {
  publishing();
  core::bytes agg;
  const auto tag = [&](std::uint8_t type, std::uint32_t ts, const core::bytes& body) {
    agg.push_back(type);
    core::put_be24(agg, static_cast<std::uint32_t>(body.size()));
    core::put_be24(agg, ts & 0xffffff);
    agg.push_back(static_cast<std::uint8_t>(ts >> 24));
    core::put_be24(agg, 0);
    core::append(agg, body);
    core::put_be32(agg, static_cast<std::uint32_t>(body.size() + 11));
  };
  tag(9, 5000, payload_of(20));
  tag(8, 5010, payload_of(7));
  feed(client.message(6, message_type::aggregate, 1, 100, agg));
  const auto m = events_of<media_event>();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].timestamp, 100u);
  EXPECT_EQ(m[1].timestamp, 110u);
  EXPECT_EQ(m[1].kind, media_kind::audio);
  agg.pop_back();
  feed(client.message(6, message_type::aggregate, 1, 200, agg));
  EXPECT_EQ(closed_reason(), "rtmp aggregate message: truncated tag at offset 35");
}

TEST_F(rtmp_session, handshake_must_finish_within_the_timeout) {
  feed(client_handshake_hello(1));
  EXPECT_EQ(s.next_deadline(), t0 + core::micros{10'000'000});
  s.on_timeout(t0 + core::micros{9'999'999});
  EXPECT_FALSE(s.is_closed());
  s.on_timeout(t0 + core::micros{10'000'000});
  drain();
  EXPECT_EQ(closed_reason(), "rtmp handshake and connect not completed within 10 s");
  EXPECT_EQ(events_of<closed_event>()[0].kind, close_kind::timeout);
  EXPECT_FALSE(s.next_deadline());
}

TEST_F(rtmp_session, idle_publisher_times_out_after_ten_seconds_without_bytes) {
  publishing();
  const auto later = t0 + core::micros{5'000'000};
  feed(client.video(0, payload_of(10)), later);
  EXPECT_EQ(s.next_deadline(), later + core::micros{10'000'000});
  s.on_timeout(later + core::micros{10'000'000});
  drain();
  EXPECT_EQ(closed_reason(), "rtmp: no data for 10 s");
}

TEST_F(rtmp_session, close_from_our_side_is_final) {
  publishing();
  s.close("server stopping");
  drain();
  EXPECT_EQ(events_of<closed_event>()[0].kind, close_kind::local);
  s.accept_publish();
  EXPECT_FALSE(s.poll_transmit());
}

TEST(split_query_param, finds_the_parameter_among_others) {
  EXPECT_EQ(split_query_param("test?a=1&key=abc&b=2", "key"),
            (std::pair<std::string, std::string>{"test", "abc"}));
  EXPECT_EQ(split_query_param("test", "key"), (std::pair<std::string, std::string>{"test", ""}));
  EXPECT_EQ(split_query_param("test?keys=1", "key"),
            (std::pair<std::string, std::string>{"test", ""}));
}

}  // namespace
}  // namespace meshcast::proto::rtmp
