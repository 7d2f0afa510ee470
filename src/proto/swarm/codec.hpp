// codec: the swarm protocol's wire form (docs/protocol.md is normative). Frame = u32 big-endian
// length of (type + body) | u8 frame_type | body. encode*/encoded_size turn messages into bytes;
// frame_reader cuts an incoming byte stream into frames; decode validates every field and limit
// and never throws, asserts or reads out of bounds on hostile bytes. Plain functions and a
// value-type reader; no thread affinity.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "proto/swarm/messages.hpp"

namespace meshcast::proto::swarm {

enum class codec_errc {
  truncated = 1,   ///< a field runs past the end of the frame
  trailing_bytes,  ///< bytes left after the last field
  too_large,       ///< length prefix over the frame-type limit, or zero
  unknown_type,    ///< a frame type this version does not define
  bad_magic,       ///< hello does not start with "MCSW"
  bad_version,     ///< hello of another protocol version
  over_limit,      ///< a count over its k_max_* limit
  bad_value,       ///< a field out of its range (enum, flags, TS packet multiple...)
  not_encodable,   ///< encode: the message breaks a limit or is an unsigned chunk
};

/// u32 length prefix + u8 frame type.
inline constexpr std::size_t k_frame_head_bytes = 5;
/// Fixed part of a chunk frame body before the payload: header fields (45) + signature (64) +
/// pushed (1) + payload length (4).
inline constexpr std::size_t k_chunk_head_bytes = 114;
/// Largest close text on the wire.
inline constexpr std::size_t k_max_close_text_bytes = 512;

/// Bytes to write: `head` then, if set, `payload` (a chunk's shared TS bytes, sent by gather
/// write without a copy). A control frame is all head.
struct transmit {
  core::bytes head;
  core::shared_bytes payload;
  [[nodiscard]] std::size_t size() const { return head.size() + (payload ? payload->size() : 0); }
};

[[nodiscard]] frame_type type_of(const message& msg);

/// Ok when `msg` is within every wire limit a receiver enforces, so that sending it cannot get
/// us disconnected: lists within k_max_*, non-empty request/cancel, names within
/// k_max_name_bytes without control characters, pex hosts numeric IPv4/IPv6 with a port, a
/// chunk that is *signed* with a payload of whole TS packets. Otherwise a not_encodable error.
[[nodiscard]] core::result<void> validate(const message& msg);

/// One whole frame. A chunk frame's payload is not copied: it is the chunk's own buffer.
/// Fails (not_encodable) exactly when validate() does — an unsigned chunk cannot be encoded,
/// the caller signs it first (chunk::signer) since a receiver would drop it anyway.
[[nodiscard]] core::result<transmit> encode_frame(const message& msg);
/// The same frame as one contiguous buffer (copies a chunk payload; for tests and tools).
[[nodiscard]] core::result<core::bytes> encode(const message& msg);
/// encode(msg)->size() without encoding, for any message (also invalid ones: it counts the
/// fields; an unsigned chunk still counts its 64 signature bytes). The simulator's byte count.
[[nodiscard]] std::size_t encoded_size(const message& msg);

/// One whole frame cut by frame_reader. For a chunk frame, `body` holds the fixed head
/// (k_chunk_head_bytes, or less if the frame is short) and `payload` the bytes after it, already
/// in their own buffer so the decoded chunk adopts it without a copy.
struct raw_frame {
  std::uint8_t type = 0;
  core::bytes body;
  core::bytes payload;
};

/// Decodes a frame from frame_reader. Errors say what was expected and what came, e.g.
/// "swarm request frame lists 300 chunks, limit 256".
[[nodiscard]] core::result<message> decode(raw_frame frame);
/// Decodes exactly one whole frame, length prefix included; `max_frame_bytes` as in
/// frame_reader. Bytes after the frame are an error (trailing_bytes).
[[nodiscard]] core::result<message> decode(core::byte_view frame,
                                           std::size_t max_frame_bytes = k_max_frame_bytes);

/// Checks a frame head (length prefix value, type byte) against the limits: a length of at
/// least 1, a known type, at most k_max_control_frame_bytes for control frames and
/// `max_frame_bytes` for chunk frames.
[[nodiscard]] core::result<void> check_frame_head(std::uint32_t length, std::uint8_t type,
                                                  std::size_t max_frame_bytes);

/// Incremental framing: feed bytes as they arrive, pop whole frames. An oversized or unknown
/// frame is reported from its 5-byte head alone, before any of its body is buffered; after an
/// error the reader stays failed (frames completed before the bad one can still be popped).
/// Memory held: the frames completed and not popped, plus the one being read.
class frame_reader {
 public:
  explicit frame_reader(std::size_t max_frame_bytes = k_max_frame_bytes)
      : max_frame_bytes_(max_frame_bytes) {}

  /// Consumes all of `data`. Returns the reader's error if this or an earlier feed hit one.
  core::result<void> feed(core::byte_view data);
  /// The oldest whole frame not yet popped.
  std::optional<raw_frame> next();

  [[nodiscard]] bool failed() const { return error_.has_value(); }
  /// Bytes of the frame currently being read (0 between frames).
  [[nodiscard]] std::size_t partial_bytes() const;

 private:
  std::size_t max_frame_bytes_;
  std::array<std::uint8_t, k_frame_head_bytes> head_{};
  std::size_t head_have_ = 0;
  std::size_t body_want_ = 0;  // body bytes of the current frame (length - 1)
  std::size_t body_have_ = 0;
  raw_frame current_;
  std::deque<raw_frame> ready_;
  std::optional<core::error> error_;
};

}  // namespace meshcast::proto::swarm
