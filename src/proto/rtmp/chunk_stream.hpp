// RTMP chunk stream (RTMP spec 1.0, section 5.3): messages are cut into chunks of at most
// `chunk size` bytes, each with a basic header (fmt 0-3, chunk stream id of 1-3 bytes) and a message
// header that may be compressed against the previous one on the same chunk stream. chunk_reader
// reassembles messages from hostile bytes within fixed limits; chunk_writer cuts messages into
// chunks (what the server sends, and what test clients send). Plain objects, no thread affinity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace meshcast::proto::rtmp {

/// Message type ids (RTMP spec sections 5.4 and 7.1).
enum class message_type : std::uint8_t {
  set_chunk_size = 1,
  abort = 2,
  acknowledgement = 3,
  user_control = 4,
  window_ack_size = 5,
  set_peer_bandwidth = 6,
  audio = 8,
  video = 9,
  data_amf3 = 15,
  shared_object_amf3 = 16,
  command_amf3 = 17,
  data_amf0 = 18,
  shared_object_amf0 = 19,
  command_amf0 = 20,
  aggregate = 22,
};

inline constexpr std::uint32_t k_default_chunk_size = 128;
inline constexpr std::uint32_t k_max_chunk_size = 0x7fff'ffff;

/// One reassembled message. `timestamp` is in milliseconds and wraps at 2^32 like on the wire.
struct message {
  std::uint32_t csid = 0;
  std::uint8_t type_id = 0;
  std::uint32_t stream_id = 0;
  std::uint32_t timestamp = 0;
  core::bytes payload;
};

struct chunk_limits {
  /// A single message above this is refused. The 24-bit length field cannot say more than
  /// 16 MiB - 1 anyway; 8 MiB is twice a large 4K IDR frame and halves what one header can make
  /// us expect.
  std::size_t max_message_bytes = 8u << 20;
  /// Distinct chunk stream ids per connection; FFmpeg and OBS use 2-8.
  std::size_t max_chunk_streams = 64;
  /// Bytes held in partially received messages across all chunk streams.
  std::size_t max_buffered_bytes = 32u << 20;
};

enum class chunk_errc {
  message_too_large = 1,
  too_many_chunk_streams,
  no_previous_header,
  interrupted_message,
  bad_chunk_size,
  buffered_too_much,
  bad_control_message,
};

/// Reassembles messages from the chunk stream a peer sends (after the handshake).
/// Set Chunk Size (type 1) and Abort (type 2) are applied as soon as they complete, because the
/// very next chunk may already be cut with the new size; they are still queued for the caller.
/// Errors are final: the reader stays failed and returns the same error.
class chunk_reader {
 public:
  explicit chunk_reader(chunk_limits limits = {}) : limits_(limits) {}

  /// Consumes all of `data`; completed messages are queued for poll_message().
  core::result<void> on_bytes(core::byte_view data);
  /// The next completed message, in completion order.
  std::optional<message> poll_message();

  [[nodiscard]] std::uint32_t chunk_size() const { return chunk_size_; }
  [[nodiscard]] std::uint64_t bytes_consumed() const { return consumed_; }
  [[nodiscard]] std::size_t chunk_streams() const { return streams_.size(); }

 private:
  struct stream_state {
    bool has_header = false;
    std::uint32_t timestamp = 0;  // of the current / last message
    std::uint32_t ts_field = 0;   // last timestamp field: absolute (fmt 0) or delta (fmt 1/2)
    bool extended = false;        // last fmt 0-2 header used an extended timestamp
    std::uint32_t length = 0;
    std::uint8_t type_id = 0;
    std::uint32_t stream_id = 0;
    bool in_message = false;      // a message is partially received
    core::bytes payload;
  };

  core::result<void> fail(core::error e);
  std::size_t header_bytes_needed() const;
  core::result<void> parse_header();
  core::result<void> finish_message(stream_state& st, std::uint32_t csid);

  chunk_limits limits_;
  std::uint32_t chunk_size_ = k_default_chunk_size;
  std::map<std::uint32_t, stream_state> streams_;
  std::deque<message> ready_;
  std::uint8_t hdr_[18] = {};
  std::size_t hdr_len_ = 0;
  std::uint32_t payload_csid_ = 0;
  std::size_t chunk_left_ = 0;  // payload bytes left in the current chunk; 0 = reading a header
  bool in_payload_ = false;
  std::size_t buffered_ = 0;
  std::uint64_t consumed_ = 0;
  std::optional<core::error> error_;
};

struct message_header {
  std::uint32_t csid = 3;
  std::uint8_t type_id = 0;
  std::uint32_t stream_id = 0;
  std::uint32_t timestamp = 0;  ///< ms
};

/// Cuts messages into chunks. With `compress_headers` off (the server's choice, simplest for
/// readers) every message starts with a fmt 0 header; with it on, headers are compressed against
/// the previous message of the chunk stream like FFmpeg does (fmt 1/2/3), which test clients use.
/// Continuation chunks are fmt 3 and repeat the extended timestamp when there is one.
class chunk_writer {
 public:
  explicit chunk_writer(bool compress_headers = false) : compress_(compress_headers) {}

  /// Chunk size for the messages written after this call (1..2^31-1). The caller sends the
  /// Set Chunk Size message itself, before changing this.
  void set_chunk_size(std::uint32_t n) { chunk_size_ = n; }
  [[nodiscard]] std::uint32_t chunk_size() const { return chunk_size_; }

  /// Appends the chunks of one message to `out`.
  void write(core::bytes& out, const message_header& h, core::byte_view payload);
  /// The chunks of one message, one buffer each (tests interleave them across chunk streams).
  std::vector<core::bytes> write_chunks(const message_header& h, core::byte_view payload);

 private:
  struct stream_state {
    bool valid = false;
    std::uint32_t timestamp = 0;
    std::uint32_t ts_field = 0;
    std::uint32_t length = 0;
    std::uint8_t type_id = 0;
    std::uint32_t stream_id = 0;
  };

  bool compress_;
  std::uint32_t chunk_size_ = k_default_chunk_size;
  std::map<std::uint32_t, stream_state> streams_;
};

/// Appends a basic header: fmt in the top two bits, csid 2..65599 in 1, 2 or 3 bytes.
void write_basic_header(core::bytes& out, int fmt, std::uint32_t csid);

}  // namespace meshcast::proto::rtmp
