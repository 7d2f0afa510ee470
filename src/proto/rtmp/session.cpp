#include "proto/rtmp/session.hpp"

#include <algorithm>

#include "proto/rtmp/handshake.hpp"

namespace meshcast::proto::rtmp {
namespace {

constexpr std::uint32_t k_csid_control = 2;   // protocol control and user control messages
constexpr std::uint32_t k_csid_command = 3;   // connection-level commands
constexpr std::uint32_t k_csid_status = 5;    // stream-level onStatus
constexpr std::uint16_t k_uc_stream_begin = 0;
constexpr std::uint16_t k_uc_ping_request = 6;
constexpr std::uint16_t k_uc_ping_response = 7;

using amf0::value;

core::bytes be32_payload(std::uint32_t v) {
  core::bytes p;
  core::put_be32(p, v);
  return p;
}

std::string duration_text(core::micros d) {
  if (d.count() % 1'000'000 == 0) return std::to_string(d.count() / 1'000'000) + " s";
  return std::to_string(d.count() / 1000) + " ms";
}

bool is_publishing(session_state s) {
  return s == session_state::publishing || s == session_state::publish_pending;
}

// AMF3 command and data messages (types 17 and 15) start with a format byte 0 and then carry
// AMF0 values, at least for everything a publishing client sends.
core::byte_view amf0_body(const message& m) {
  core::byte_view body = m.payload;
  const auto type = static_cast<message_type>(m.type_id);
  if ((type == message_type::command_amf3 || type == message_type::data_amf3) && !body.empty() &&
      body[0] == 0) {
    body = body.subspan(1);
  }
  return body;
}

}  // namespace

std::pair<std::string, std::string> split_query_param(const std::string& s,
                                                      std::string_view param) {
  const auto q = s.find('?');
  if (q == std::string::npos) return {s, {}};
  std::string base = s.substr(0, q);
  std::string_view query = std::string_view(s).substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == param) {
      return {base, std::string(pair.substr(eq + 1))};
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {base, {}};
}

session::session(session_settings settings, core::time_point now)
    : settings_(settings), reader_(settings.limits) {
  timers_.handshake = now + settings_.handshake_timeout;
  timers_.idle = now + settings_.idle_timeout;
}

// ---------------------------------------------------------------------------------------------
// inputs

void session::on_bytes(core::byte_view data, core::time_point now) {
  if (is_closed()) return;
  bytes_received_ += data.size();
  if (!data.empty()) timers_.idle = now + settings_.idle_timeout;

  while (!data.empty() && (state_ == session_state::handshake_c0c1 ||
                           state_ == session_state::handshake_c2)) {
    const bool c0c1 = state_ == session_state::handshake_c0c1;
    if (c0c1 && handshake_in_.empty()) {
      if (auto v = check_handshake_version(data[0]); !v) {
        fail(close_kind::protocol_error, v.error().message);
        return;
      }
    }
    const std::size_t want = (c0c1 ? 1 + k_handshake_bytes : k_handshake_bytes) - handshake_in_.size();
    const std::size_t take = std::min(want, data.size());
    core::append(handshake_in_, data.first(take));
    data = data.subspan(take);
    if (take < want) break;
    if (c0c1) {
      auto reply = server_handshake_reply(handshake_in_, settings_.random_seed);
      if (!reply) {
        fail(close_kind::protocol_error, reply.error().message);
        return;
      }
      core::append(out_, *reply);
      state_ = session_state::handshake_c2;
    } else {
      // C2 should echo S1; FFmpeg and librtmp do, others send anything, and nothing depends on it.
      state_ = session_state::wait_connect;
    }
    handshake_in_.clear();
  }
  if (!data.empty()) process_chunks(data);
  maybe_acknowledge();
}

void session::on_timeout(core::time_point now) {
  if (is_closed()) return;
  if (timers_.handshake && now >= *timers_.handshake) {
    fail(close_kind::timeout, "rtmp handshake and connect not completed within " +
                                  duration_text(settings_.handshake_timeout));
  } else if (timers_.idle && now >= *timers_.idle) {
    fail(close_kind::timeout, "rtmp: no data for " + duration_text(settings_.idle_timeout));
  }
}

std::optional<core::time_point> session::next_deadline() const {
  if (is_closed()) return std::nullopt;
  std::optional<core::time_point> d = timers_.idle;
  if (timers_.handshake && (!d || *timers_.handshake < *d)) d = timers_.handshake;
  return d;
}

void session::process_chunks(core::byte_view data) {
  const auto r = reader_.on_bytes(data);
  // Messages completed before a bad chunk are still handled, in order.
  while (!is_closed()) {
    auto m = reader_.poll_message();
    if (!m) break;
    on_message(*m);
  }
  if (!r && !is_closed()) fail(close_kind::protocol_error, r.error().message);
}

void session::on_message(message& m) {
  switch (static_cast<message_type>(m.type_id)) {
    case message_type::set_chunk_size:
    case message_type::abort:
      return;  // applied by the chunk reader already
    case message_type::window_ack_size:
      if (m.payload.size() < 4) {
        fail(close_kind::protocol_error,
             "rtmp window acknowledgement size message of " + std::to_string(m.payload.size()) +
                 " bytes (expected 4)");
        return;
      }
      peer_window_ = core::get_be32(m.payload.data());
      return;
    case message_type::user_control:
      on_user_control(m);
      return;
    case message_type::audio:
    case message_type::video:
      if (is_publishing(state_)) {
        const auto kind = m.type_id == static_cast<std::uint8_t>(message_type::audio)
                              ? media_kind::audio
                              : media_kind::video;
        events_.push_back(media_event{kind, m.timestamp, std::move(m.payload)});
      }
      return;
    case message_type::data_amf0:
    case message_type::data_amf3:
      on_data(m, amf0_body(m));
      return;
    case message_type::command_amf0:
    case message_type::command_amf3:
      on_command(m, amf0_body(m));
      return;
    case message_type::aggregate:
      on_aggregate(m);
      return;
    case message_type::acknowledgement:
    case message_type::set_peer_bandwidth:
    case message_type::shared_object_amf0:
    case message_type::shared_object_amf3:
      return;
  }
  // Unknown message types are skipped: newer clients may send extensions we do not need.
}

void session::on_user_control(const message& m) {
  if (m.payload.size() < 6) return;
  const std::uint16_t type = core::get_be16(m.payload.data());
  if (type == k_uc_ping_request) {
    core::bytes p;
    core::put_be16(p, k_uc_ping_response);
    core::append(p, core::byte_view(m.payload).subspan(2, 4));
    send(message_type::user_control, k_csid_control, 0, p);
  }
}

void session::on_command(const message& m, core::byte_view body) {
  auto values = amf0::decode_all(body);
  if (!values) {
    fail(close_kind::protocol_error, "rtmp command: " + values.error().message);
    return;
  }
  if (values->empty() || !(*values)[0].is_string()) {
    fail(close_kind::protocol_error,
         "rtmp command: expected a command name string, got " +
             (values->empty() ? std::string("nothing") : amf0::to_string((*values)[0])));
    return;
  }
  const std::string& name = (*values)[0].string;
  const double tid = values->size() > 1 && (*values)[1].is_number() ? (*values)[1].number : 0;

  if (state_ == session_state::wait_connect && name != "connect") {
    fail(close_kind::protocol_error, "rtmp: expected the connect command, got '" + name + "'");
    return;
  }
  if (name == "connect") {
    if (state_ != session_state::wait_connect) {
      fail(close_kind::protocol_error, "rtmp: connect received twice");
      return;
    }
    on_connect(tid, values->size() > 2 ? (*values)[2] : value::make_null());
  } else if (name == "releaseStream" || name == "FCPublish") {
    // Adobe leftovers; FFmpeg and OBS send them and do not care about the answer. FCPublish is
    // also answered with onFCPublish once the publish is accepted (what FMS and SRS do).
    if (name == "FCPublish") fc_publish_ = true;
    if (tid != 0) {
      send_command(k_csid_command, 0,
                   {value::make_string("_result"), value::make_number(tid), value::make_null(),
                    value::make_undefined()});
    }
  } else if (name == "createStream") {
    send_command(k_csid_command, 0,
                 {value::make_string("_result"), value::make_number(tid), value::make_null(),
                  value::make_number(next_stream_id_)});
    if (next_stream_id_ < 1000) ++next_stream_id_;
  } else if (name == "publish") {
    on_publish(m, *values);
  } else if (name == "FCUnpublish" || name == "deleteStream" || name == "closeStream") {
    end_publication(name);
  } else if (name == "play" || name == "play2") {
    on_play(m);
  }
  // Anything else (_checkbw, getStreamLength, FCSubscribe, _result, ...) is politely ignored.
}

void session::on_connect(double tid, const value& cmd) {
  auto [app, app_key] = split_query_param(cmd.get_string("app").value_or(""), "key");
  while (!app.empty() && app.back() == '/') app.pop_back();
  tc_url_ = cmd.get_string("tcUrl").value_or("");
  auto [tc_base, tc_key] = split_query_param(tc_url_, "key");
  app_ = app;
  connect_key_ = !app_key.empty() ? app_key : tc_key;

  send(message_type::window_ack_size, k_csid_control, 0, be32_payload(settings_.window_ack_size));
  core::bytes bw = be32_payload(settings_.peer_bandwidth);
  bw.push_back(2);  // limit type: dynamic
  send(message_type::set_peer_bandwidth, k_csid_control, 0, bw);
  send(message_type::set_chunk_size, k_csid_control, 0, be32_payload(settings_.chunk_size));
  writer_.set_chunk_size(settings_.chunk_size);

  value props = value::make_object();
  props.set("fmsVer", value::make_string("FMS/3,0,1,123"));
  props.set("capabilities", value::make_number(31));
  value info = value::make_object();
  info.set("level", value::make_string("status"));
  info.set("code", value::make_string("NetConnection.Connect.Success"));
  info.set("description", value::make_string("Connection succeeded."));
  info.set("objectEncoding", value::make_number(cmd.get_number("objectEncoding").value_or(0)));
  send_command(k_csid_command, 0,
               {value::make_string("_result"), value::make_number(tid), props, info});

  state_ = session_state::connected;
  timers_.handshake.reset();
  events_.push_back(
      connect_event{app_, tc_url_, cmd.get_string("flashVer").value_or(""), connect_key_});
}

void session::on_publish(const message& m, const std::vector<value>& args) {
  if (is_publishing(state_)) {
    fail(close_kind::protocol_error, "rtmp: publish while already publishing '" + publish_name_ + "'");
    return;
  }
  const std::string raw = args.size() > 3 && args[3].is_string() ? args[3].string : "";
  auto [name, key] = split_query_param(raw, "key");
  publish_name_ = name;
  publish_stream_id_ = m.stream_id != 0 ? m.stream_id : 1;
  state_ = session_state::publish_pending;
  events_.push_back(publish_event{app_, std::move(name), key.empty() ? connect_key_ : std::move(key),
                                  args.size() > 4 && args[4].is_string() ? args[4].string : ""});
}

void session::on_play(const message& m) {
  send_status(m.stream_id, "error", "NetStream.Play.Failed",
              "meshcast only ingests over RTMP; watch the stream over HLS or HTTP-TS");
  fail(close_kind::refused_play, "client asked to play; RTMP playback is not served");
}

void session::end_publication(const std::string& reason) {
  if (!is_publishing(state_)) return;
  state_ = session_state::connected;
  publish_stream_id_ = 0;
  events_.push_back(unpublish_event{reason});
}

void session::on_data(message& m, core::byte_view body) {
  if (!is_publishing(state_)) return;
  // Undecodable data messages are passed on raw rather than closing the connection: they carry
  // nothing we need, and some encoders put AMF3-only types in cue points.
  if (auto values = amf0::decode_all(body); values && !values->empty() && (*values)[0].is_string()) {
    const auto& v = *values;
    if (v[0].string == "@setDataFrame" && v.size() >= 3 && v[1].is_string() &&
        v[1].string == "onMetaData" && v[2].is_object_like()) {
      events_.push_back(metadata_event{v[2]});
      return;
    }
    if (v[0].string == "onMetaData" && v.size() >= 2 && v[1].is_object_like()) {
      events_.push_back(metadata_event{v[1]});
      return;
    }
  }
  events_.push_back(media_event{media_kind::data, m.timestamp, std::move(m.payload)});
}

void session::on_aggregate(const message& m) {
  if (!is_publishing(state_)) return;
  // An aggregate message is a run of FLV tags: type, size(24), timestamp(24+8), stream id(24),
  // body, previous tag size(32). Sub-message times are offsets from the first tag's time.
  core::byte_reader r(m.payload);
  std::optional<std::uint32_t> first_ts;
  while (r.remaining() > 0) {
    const std::size_t at = r.position();
    std::uint8_t type = 0, ts_ext = 0;
    std::uint32_t size = 0, ts = 0, sid = 0, back = 0;
    core::byte_view body;
    if (!r.u8(type) || !r.be24(size) || !r.be24(ts) || !r.u8(ts_ext) || !r.be24(sid) ||
        !r.take(size, body) || !r.be32(back)) {
      fail(close_kind::protocol_error,
           "rtmp aggregate message: truncated tag at offset " + std::to_string(at));
      return;
    }
    ts |= std::uint32_t{ts_ext} << 24;
    if (!first_ts) first_ts = ts;
    message sub;
    sub.csid = m.csid;
    sub.type_id = type;
    sub.stream_id = m.stream_id;
    sub.timestamp = m.timestamp + (ts - *first_ts);
    sub.payload.assign(body.begin(), body.end());
    const auto t = static_cast<message_type>(type);
    if (t == message_type::audio || t == message_type::video || t == message_type::data_amf0) {
      on_message(sub);
      if (is_closed()) return;
    }
  }
}

void session::maybe_acknowledge() {
  if (is_closed() || peer_window_ == 0 || state_ == session_state::handshake_c0c1 ||
      state_ == session_state::handshake_c2) {
    return;
  }
  if (bytes_received_ - last_ack_ >= peer_window_) {
    send(message_type::acknowledgement, k_csid_control, 0,
         be32_payload(static_cast<std::uint32_t>(bytes_received_)));
    last_ack_ = bytes_received_;
  }
}

// ---------------------------------------------------------------------------------------------
// commands

void session::accept_publish() {
  if (state_ != session_state::publish_pending) return;
  core::bytes p;
  core::put_be16(p, k_uc_stream_begin);
  core::put_be32(p, publish_stream_id_);
  send(message_type::user_control, k_csid_control, 0, p);
  if (fc_publish_) {
    value info = value::make_object();
    info.set("code", value::make_string("NetStream.Publish.Start"));
    info.set("description", value::make_string(publish_name_));
    send_command(k_csid_command, 0,
                 {value::make_string("onFCPublish"), value::make_number(0), value::make_null(), info});
  }
  send_status(publish_stream_id_, "status", "NetStream.Publish.Start",
              publish_name_ + " is now published.");
  state_ = session_state::publishing;
}

void session::reject_publish(const std::string& code, const std::string& description) {
  if (state_ != session_state::publish_pending) return;
  send_status(publish_stream_id_, "error", code, description);
  fail(close_kind::rejected, "publish rejected: " + code + ": " + description);
}

void session::close(const std::string& reason) { fail(close_kind::local, reason); }

// ---------------------------------------------------------------------------------------------
// outputs

std::optional<core::bytes> session::poll_transmit() {
  if (out_.empty()) return std::nullopt;
  core::bytes b = std::move(out_);
  out_.clear();
  return b;
}

std::optional<event> session::poll_event() {
  if (events_.empty()) return std::nullopt;
  event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void session::send(message_type type, std::uint32_t csid, std::uint32_t stream_id,
                   core::byte_view payload) {
  writer_.write(out_, message_header{csid, static_cast<std::uint8_t>(type), stream_id, 0},
                payload);
}

void session::send_command(std::uint32_t csid, std::uint32_t stream_id,
                           const std::vector<value>& values) {
  core::bytes body;
  amf0::encode_all(body, values);
  send(message_type::command_amf0, csid, stream_id, body);
}

void session::send_status(std::uint32_t stream_id, const std::string& level,
                          const std::string& code, const std::string& description) {
  value info = value::make_object();
  info.set("level", value::make_string(level));
  info.set("code", value::make_string(code));
  info.set("description", value::make_string(description));
  if (!publish_name_.empty()) info.set("details", value::make_string(publish_name_));
  send_command(k_csid_status, stream_id,
               {value::make_string("onStatus"), value::make_number(0), value::make_null(), info});
}

void session::fail(close_kind kind, std::string reason) {
  if (is_closed()) return;
  state_ = session_state::closed;
  error_ = reason;
  timers_ = {};
  events_.push_back(closed_event{kind, std::move(reason)});
}

}  // namespace meshcast::proto::rtmp
