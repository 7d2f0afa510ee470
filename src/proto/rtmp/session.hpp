// session: the server side of one RTMP connection as a sans-IO state machine (quinn-proto, h11):
// bytes, commands and `now` go in; bytes to send, events and the next deadline come out. It never
// touches a socket or a clock; src/net/rtmp_server drives it over TCP. One object per connection,
// driven from one thread (the node's event loop).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/bytes.hpp"
#include "core/time.hpp"
#include "proto/rtmp/amf0.hpp"
#include "proto/rtmp/chunk_stream.hpp"

namespace meshcast::proto::rtmp {

/// The client connected: `app` is the connect app without its query ("live" for
/// rtmp://HOST/live?key=S), `key` the `key` parameter of the app or tcUrl query, if any.
struct connect_event {
  std::string app;
  std::string tc_url;
  std::string flash_ver;
  std::string key;
};

/// The client asks to publish. `stream_name` is the publish name without its query ("test" for
/// "test?key=abc"); `key` comes from that query, else from the connect app or tcUrl query.
/// The driver must answer with accept_publish() or reject_publish().
struct publish_event {
  std::string app;
  std::string stream_name;
  std::string key;
  std::string publish_type;  ///< "live", "record" or "append" as sent (may be empty)
};

enum class media_kind { audio, video, data };

/// One audio/video message (an FLV tag body) or a data message other than onMetaData.
struct media_event {
  media_kind kind = media_kind::video;
  std::uint32_t timestamp = 0;  ///< ms, wraps at 2^32 like on the wire
  core::bytes payload;
};

/// onMetaData, sent directly or through @setDataFrame: the ECMA array / object of properties
/// (videocodecid, audiocodecid, width, height, framerate, ...).
struct metadata_event {
  amf0::value metadata;
};

/// The client ended its publication (FCUnpublish, deleteStream or closeStream) but not the
/// connection; it may publish again.
struct unpublish_event {
  std::string reason;
};

enum class close_kind {
  protocol_error,  ///< the client sent something we cannot follow (counted as a remote fault)
  timeout,         ///< handshake not finished or no bytes in time
  rejected,        ///< the driver refused the publish
  refused_play,    ///< the client asked to play; this server only ingests
  local,           ///< close() was called
};

/// The session reached `closed`; send what poll_transmit() still holds, then close the socket.
struct closed_event {
  close_kind kind = close_kind::protocol_error;
  std::string reason;
};

using event = std::variant<connect_event, publish_event, media_event, metadata_event,
                           unpublish_event, closed_event>;

enum class session_state {
  handshake_c0c1,   ///< waiting for C0+C1 (1 + 1536 bytes)
  handshake_c2,     ///< S0+S1+S2 sent; waiting for C2 (1536 bytes)
  wait_connect,     ///< handshake done; only the connect command moves us on
  connected,        ///< connect answered; releaseStream/FCPublish/createStream/publish expected
  publish_pending,  ///< publish_event out; waiting for accept_publish() / reject_publish()
  publishing,       ///< media flows as media_event / metadata_event
  closed,           ///< terminal; error() says why
};

struct session_settings {
  std::uint32_t chunk_size = 4096;  ///< what we announce and send with (default 128 is tiny)
  std::uint32_t window_ack_size = 2'500'000;
  std::uint32_t peer_bandwidth = 2'500'000;
  core::micros handshake_timeout{10'000'000};  ///< from the first byte slot until connect is done
  core::micros idle_timeout{10'000'000};       ///< no bytes at all for this long closes
  chunk_limits limits;
  std::uint64_t random_seed = 0;  ///< fills S1
};

/// Server session for RTMP publishing (FFmpeg, OBS).
///
/// Inputs:  on_bytes(data, now), on_timeout(now), and the commands accept_publish(),
///          reject_publish(code, description), close(reason).
/// Outputs: poll_transmit() (bytes to write, in order), poll_event(), next_deadline().
/// Drain order after every input: poll_transmit() until empty, then poll_event() until empty;
/// commands given while handling events add transmit, so drain transmit again afterwards.
///
/// States and transitions:
///   handshake_c0c1 --C0+C1 (version 3)--> handshake_c2 (S0+S1+S2 sent)
///   handshake_c2   --C2--> wait_connect
///   wait_connect   --connect--> connected (Window Ack Size, Set Peer Bandwidth, Set Chunk Size,
///                                          _result NetConnection.Connect.Success; connect_event)
///   connected      --publish--> publish_pending (publish_event)
///   publish_pending --accept_publish()--> publishing (StreamBegin, onFCPublish if FCPublish came,
///                                          onStatus NetStream.Publish.Start)
///   publish_pending --reject_publish()--> closed (onStatus error with the given code)
///   publishing / publish_pending --FCUnpublish|deleteStream|closeStream--> connected
///                                          (unpublish_event)
///   any --play--> closed (onStatus NetStream.Play.Failed)
///   any --malformed input, limit exceeded, command out of order--> closed (protocol_error)
///   any --handshake_timeout before connect, or idle_timeout without bytes--> closed (timeout)
/// Every transition to closed queues one closed_event. releaseStream, FCPublish and createStream
/// are answered in connected and later states; unknown commands (_checkbw, getStreamLength, ...)
/// are ignored. Acknowledgements are sent once the client has set a window ack size.
class session {
 public:
  session(session_settings settings, core::time_point now);

  void on_bytes(core::byte_view data, core::time_point now);
  /// Call at or after next_deadline(); closes the session if a timer expired.
  void on_timeout(core::time_point now);

  /// Precondition: state() == publish_pending (otherwise ignored).
  void accept_publish();
  /// `code` is a NetStream status code such as "NetStream.Publish.BadName" (stream name invalid
  /// or already published) or "NetStream.Publish.Denied" (bad key). Closes the session after the
  /// onStatus reply. Precondition: state() == publish_pending (otherwise ignored).
  void reject_publish(const std::string& code, const std::string& description);
  /// Ends the session from our side (server stopping). No-op when already closed.
  void close(const std::string& reason);

  std::optional<core::bytes> poll_transmit();
  std::optional<event> poll_event();
  /// When on_timeout() must next be called; nullopt once closed.
  [[nodiscard]] std::optional<core::time_point> next_deadline() const;

  [[nodiscard]] session_state state() const { return state_; }
  [[nodiscard]] bool is_closed() const { return state_ == session_state::closed; }
  /// Why the session closed (empty while open).
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::uint64_t bytes_received() const { return bytes_received_; }
  /// The message stream id of the current publication (0 before publish).
  [[nodiscard]] std::uint32_t publish_stream_id() const { return publish_stream_id_; }

 private:
  struct timer_table {
    std::optional<core::time_point> handshake;  ///< cleared once connect is answered
    std::optional<core::time_point> idle;       ///< pushed forward by every byte
  };

  void process_chunks(core::byte_view data);
  void on_message(message& m);
  void on_command(const message& m, core::byte_view body);
  void on_data(message& m, core::byte_view body);
  void on_aggregate(const message& m);
  void on_user_control(const message& m);
  void on_connect(double tid, const amf0::value& cmd);
  void on_publish(const message& m, const std::vector<amf0::value>& args);
  void on_play(const message& m);
  void end_publication(const std::string& reason);
  void maybe_acknowledge();

  void send(message_type type, std::uint32_t csid, std::uint32_t stream_id,
            core::byte_view payload);
  void send_command(std::uint32_t csid, std::uint32_t stream_id,
                    const std::vector<amf0::value>& values);
  void send_status(std::uint32_t stream_id, const std::string& level, const std::string& code,
                   const std::string& description);
  void fail(close_kind kind, std::string reason);

  session_settings settings_;
  session_state state_ = session_state::handshake_c0c1;
  timer_table timers_;
  core::bytes handshake_in_;  // C0+C1 or C2 being collected
  chunk_reader reader_;
  chunk_writer writer_;
  core::bytes out_;
  std::deque<event> events_;
  std::string error_;

  std::string app_;
  std::string tc_url_;
  std::string connect_key_;
  std::uint32_t next_stream_id_ = 1;
  std::uint32_t publish_stream_id_ = 0;
  std::string publish_name_;
  bool fc_publish_ = false;  // the client sent FCPublish: answer onFCPublish on accept

  std::uint64_t bytes_received_ = 0;
  std::uint32_t peer_window_ = 0;  // Window Ack Size the client asked for; 0 = no acks
  std::uint64_t last_ack_ = 0;
};

/// Splits "name?a=1&key=S" into "name" and the value of `param` ("S"); empty when absent.
std::pair<std::string, std::string> split_query_param(const std::string& s,
                                                      std::string_view param);

}  // namespace meshcast::proto::rtmp
