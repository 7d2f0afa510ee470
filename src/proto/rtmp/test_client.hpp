// test_client: the client half of RTMP publishing as byte builders, for tests and fuzz seeds
// (session_test, chunk_stream_test, src/net/rtmp_server_test, fuzz/rtmp_chunk_fuzz). It speaks
// like FFmpeg: compressed chunk headers, commands on csid 3, audio on 4, video on 6, data on 5.
// Also server_view, which decodes what a session sent back. Header-only; not used in production.
#pragma once

#include <string>
#include <vector>

#include "proto/rtmp/amf0.hpp"
#include "proto/rtmp/chunk_stream.hpp"
#include "proto/rtmp/handshake.hpp"

namespace meshcast::proto::rtmp::testing {

class test_client {
 public:
  static constexpr std::uint32_t k_csid_command = 3;
  static constexpr std::uint32_t k_csid_audio = 4;
  static constexpr std::uint32_t k_csid_data = 5;
  static constexpr std::uint32_t k_csid_video = 6;

  explicit test_client(bool compress_headers = true) : writer_(compress_headers) {}

  /// C0 + C1 + C2. The session does not check C2 against S1, so C2 can go out before S1 arrives.
  static core::bytes handshake() {
    core::bytes out = client_handshake_hello(7);
    out.resize(out.size() + k_handshake_bytes, 0x5a);
    return out;
  }

  /// A command message: name, transaction id, then the arguments (command object first).
  core::bytes command(const std::string& name, double tid, std::vector<amf0::value> args = {},
                      std::uint32_t stream_id = 0) {
    std::vector<amf0::value> v{amf0::value::make_string(name), amf0::value::make_number(tid)};
    for (auto& a : args) v.push_back(std::move(a));
    core::bytes body;
    amf0::encode_all(body, v);
    return message(k_csid_command, message_type::command_amf0, stream_id, 0, body);
  }

  core::bytes connect(const std::string& app, const std::string& tc_url) {
    amf0::value obj = amf0::value::make_object();
    obj.set("app", amf0::value::make_string(app));
    obj.set("type", amf0::value::make_string("nonprivate"));
    obj.set("flashVer", amf0::value::make_string("FMLE/3.0 (compatible; Lavf59.27.100)"));
    obj.set("tcUrl", amf0::value::make_string(tc_url));
    return command("connect", 1, {obj});
  }

  /// What FFmpeg sends after connect: releaseStream, FCPublish, createStream.
  core::bytes prepare_publish(const std::string& name) {
    core::bytes out = command("releaseStream", 2, {null(), amf0::value::make_string(name)});
    core::append(out, command("FCPublish", 3, {null(), amf0::value::make_string(name)}));
    core::append(out, command("createStream", 4, {null()}));
    return out;
  }

  core::bytes publish(const std::string& name, const std::string& type = "live") {
    return command("publish", 5,
                   {null(), amf0::value::make_string(name), amf0::value::make_string(type)}, 1);
  }

  /// handshake + connect + releaseStream/FCPublish/createStream + publish, all at once.
  core::bytes publish_all(const std::string& app, const std::string& name) {
    core::bytes out = handshake();
    core::append(out, connect(app, "rtmp://127.0.0.1/" + app));
    core::append(out, prepare_publish(name));
    core::append(out, publish(name));
    return out;
  }

  core::bytes set_chunk_size(std::uint32_t n) {
    core::bytes p;
    core::put_be32(p, n);
    core::bytes out = message(2, message_type::set_chunk_size, 0, 0, p);
    writer_.set_chunk_size(n);
    return out;
  }

  core::bytes window_ack_size(std::uint32_t n) {
    core::bytes p;
    core::put_be32(p, n);
    return message(2, message_type::window_ack_size, 0, 0, p);
  }

  core::bytes metadata(const amf0::value& props) {
    core::bytes body;
    amf0::encode_all(body, {amf0::value::make_string("@setDataFrame"),
                            amf0::value::make_string("onMetaData"), props});
    return message(k_csid_data, message_type::data_amf0, 1, 0, body);
  }

  core::bytes video(std::uint32_t ts, core::byte_view payload) {
    return message(k_csid_video, message_type::video, 1, ts, payload);
  }
  core::bytes audio(std::uint32_t ts, core::byte_view payload) {
    return message(k_csid_audio, message_type::audio, 1, ts, payload);
  }

  core::bytes message(std::uint32_t csid, message_type type, std::uint32_t stream_id,
                      std::uint32_t ts, core::byte_view payload) {
    core::bytes out;
    writer_.write(out, message_header{csid, static_cast<std::uint8_t>(type), stream_id, ts},
                  payload);
    return out;
  }
  /// The chunks of one message separately, to interleave them with another chunk stream's.
  std::vector<core::bytes> chunks(std::uint32_t csid, message_type type, std::uint32_t stream_id,
                                  std::uint32_t ts, core::byte_view payload) {
    return writer_.write_chunks(
        message_header{csid, static_cast<std::uint8_t>(type), stream_id, ts}, payload);
  }

  [[nodiscard]] std::uint32_t chunk_size() const { return writer_.chunk_size(); }

 private:
  static amf0::value null() { return amf0::value::make_null(); }
  chunk_writer writer_;
};

/// Decodes the bytes a server session sent: S0+S1+S2, then chunks; commands are AMF0-decoded.
class server_view {
 public:
  void feed(core::byte_view data) {
    core::append(pending_, data);
    if (!handshake_done_) {
      if (pending_.size() < 1 + 2 * k_handshake_bytes) return;
      handshake_ = core::bytes(pending_.begin(), pending_.begin() + 1 + 2 * k_handshake_bytes);
      pending_.erase(pending_.begin(), pending_.begin() + 1 + 2 * k_handshake_bytes);
      handshake_done_ = true;
    }
    if (auto r = reader_.on_bytes(pending_); !r) error_ = r.error().message;
    pending_.clear();
    while (auto m = reader_.poll_message()) messages_.push_back(std::move(*m));
  }

  [[nodiscard]] const core::bytes& handshake() const { return handshake_; }
  [[nodiscard]] const std::vector<rtmp::message>& messages() const { return messages_; }
  [[nodiscard]] const std::string& error() const { return error_; }

  /// Every command message decoded: [name, tid, ...].
  [[nodiscard]] std::vector<std::vector<amf0::value>> commands() const {
    std::vector<std::vector<amf0::value>> out;
    for (const auto& m : messages_) {
      if (m.type_id != static_cast<std::uint8_t>(message_type::command_amf0)) continue;
      auto v = amf0::decode_all(m.payload);
      if (v) out.push_back(std::move(*v));
    }
    return out;
  }
  /// Command names in order, e.g. {"_result", "_result", "onStatus"}.
  [[nodiscard]] std::vector<std::string> command_names() const {
    std::vector<std::string> out;
    for (const auto& c : commands()) out.push_back(c.empty() ? "" : c[0].string);
    return out;
  }
  /// The `code` of every onStatus / _result info object, in order.
  [[nodiscard]] std::vector<std::string> status_codes() const {
    std::vector<std::string> out;
    for (const auto& c : commands()) {
      for (std::size_t i = 2; i < c.size(); ++i) {
        if (auto code = c[i].get_string("code")) out.push_back(*code);
      }
    }
    return out;
  }
  /// Type ids of all messages, e.g. {5, 6, 1, 20}.
  [[nodiscard]] std::vector<int> message_types() const {
    std::vector<int> out;
    for (const auto& m : messages_) out.push_back(m.type_id);
    return out;
  }

 private:
  bool handshake_done_ = false;
  core::bytes handshake_;
  core::bytes pending_;
  chunk_reader reader_;
  std::vector<rtmp::message> messages_;
  std::string error_;
};

}  // namespace meshcast::proto::rtmp::testing
