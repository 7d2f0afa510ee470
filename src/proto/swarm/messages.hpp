// The swarm protocol's messages as C++ values (docs/protocol.md is the normative spec of their
// wire form). Codec: proto/swarm/codec.hpp; per-connection framing and handshake:
// proto/swarm/session.hpp; what a node does with them: swarm/node.hpp. Plain value types.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "chunk/chunk.hpp"
#include "core/strong.hpp"

namespace meshcast::proto::swarm {

using core::chunk_seq;

inline constexpr std::uint32_t k_magic = 0x4d435357;  // "MCSW"
inline constexpr std::uint8_t k_version = 1;

/// Largest frame of any type: a chunk of up to 4 MiB of TS plus its header and signature.
inline constexpr std::size_t k_max_frame_bytes = (4u << 20) + 1024;
/// Largest frame of a control type (everything but chunk): bitmaps of a 60 s window at one
/// chunk per frame fit in a few hundred bytes, so 64 KiB is generous.
inline constexpr std::size_t k_max_control_frame_bytes = 64u << 10;
inline constexpr std::size_t k_max_bitmap_bits = 1u << 16;
inline constexpr std::size_t k_max_request_seqs = 256;
inline constexpr std::size_t k_max_pex_entries = 64;
inline constexpr std::size_t k_max_name_bytes = 256;

/// 128-bit random node identity, chosen by the node at start.
using node_id = std::array<std::uint8_t, 16>;

enum class node_role : std::uint8_t { origin = 0, edge = 1, peer = 2 };

enum class frame_type : std::uint8_t {
  hello = 1,
  have = 2,
  bitmap = 3,
  request = 4,
  cancel = 5,
  chunk = 6,
  reject = 7,
  pex = 8,
  ping = 9,
  pong = 10,
  close = 11,
};

/// First frame each side sends. Names what the sender serves and who it is.
struct hello {
  std::uint8_t version = k_version;
  std::string stream;     ///< "live/NAME"
  std::string rendition;  ///< "source"
  node_id id{};
  node_role role = node_role::peer;
  std::uint32_t upload_kbps = 0;  ///< advertised upload capacity; 0 = unlimited / unknown
  std::uint16_t listen_port = 0;  ///< swarm port others may dial; 0 = not accepting
  /// The origin's chunk-signing public key as the sender knows it; all zero = unknown. A node
  /// that joined with --join and no tracker learns the key from its first neighbour (trust on
  /// first use); a node that knows the key refuses a hello naming another.
  std::array<std::uint8_t, 32> origin_key{};
};

/// "I now hold this chunk" (sent for each new chunk to neighbours that were not pushed it).
struct have {
  chunk_seq seq;
};

/// Window advertisement: bit i set = the sender holds chunk base + i.
struct bitmap {
  chunk_seq base;
  std::vector<bool> bits;
};

/// Pull: please send these chunks (in this order of preference).
struct request {
  std::vector<chunk_seq> seqs;
};

/// Withdraws requests that are no longer wanted (arrived by push meanwhile, or too late).
struct cancel {
  std::vector<chunk_seq> seqs;
};

/// A chunk with its signature. `pushed` = sent unrequested (epidemic push), else a pull answer.
struct chunk_data {
  chunk::chunk_ptr chunk;
  bool pushed = false;
};

enum class reject_reason : std::uint8_t { not_held = 1, busy = 2, too_late = 3 };

/// A request that will not be served.
struct reject {
  chunk_seq seq;
  reject_reason reason = reject_reason::not_held;
};

struct peer_address {
  node_id id{};
  std::string host;  ///< numeric IPv4 or IPv6 address
  std::uint16_t port = 0;
};

/// Peer exchange: nodes the sender knows in this swarm.
struct pex {
  std::vector<peer_address> peers;
};

/// RTT and clock offset probe. `sent_us` is the sender's local clock.
struct ping {
  std::uint64_t nonce = 0;
  std::int64_t sent_us = 0;
};

/// Answer to a ping: echoes nonce and sent_us, and gives the responder's estimate of the
/// origin's clock at the moment it answered (origin_clock_us), from which the pinger derives its
/// own offset to the origin (docs/protocol.md, "Keepalive, RTT and the origin clock").
struct pong {
  std::uint64_t nonce = 0;
  std::int64_t echo_sent_us = 0;
  std::int64_t origin_clock_us = 0;
};

enum class close_reason : std::uint8_t {
  normal = 0,
  wrong_stream = 1,
  bad_version = 2,
  malformed = 3,
  bad_signature = 4,
  flood = 5,
  timeout = 6,
  replaced = 7,   ///< the neighbour was dropped for a more useful one
  banned = 8,
  duplicate = 9,  ///< already connected to this node
  shutdown = 10,
};

struct close {
  close_reason reason = close_reason::normal;
  std::string text;
};

using message = std::variant<hello, have, bitmap, request, cancel, chunk_data, reject, pex, ping, pong, close>;

const char* to_string(close_reason r);
const char* to_string(node_role r);
const char* to_string(frame_type t);  ///< "hello", "chunk"...; "unknown" outside the enum

}  // namespace meshcast::proto::swarm
