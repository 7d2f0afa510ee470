// Estimated wire size of a swarm message, for byte accounting in the simulator and the node's
// stats. A local estimate (docs/protocol.md framing: 4-byte length + 1-byte type, then the
// body) until proto/swarm/codec.hpp offers encoded_size(); within a few bytes of the real thing.
// Pure function; no thread affinity.
#pragma once

#include <cstddef>
#include <type_traits>
#include <variant>

#include "proto/swarm/messages.hpp"

namespace meshcast::swarm {

inline constexpr std::size_t k_frame_head_bytes = 5;
/// Chunk header on the wire: seq, segment, discontinuity, source time, duration, pts, flags,
/// pushed flag, signature (64) and payload length.
inline constexpr std::size_t k_chunk_head_bytes = 8 + 8 + 4 + 8 + 4 + 8 + 1 + 1 + 64 + 4;

inline std::size_t estimated_size(const proto::swarm::message& m) {
  namespace ps = proto::swarm;
  const std::size_t body = std::visit(
      [](const auto& v) -> std::size_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, ps::hello>) {
          return 1 + 2 + v.stream.size() + 2 + v.rendition.size() + 16 + 1 + 4 + 2;
        } else if constexpr (std::is_same_v<T, ps::have>) {
          return 8;
        } else if constexpr (std::is_same_v<T, ps::bitmap>) {
          return 8 + 4 + (v.bits.size() + 7) / 8;
        } else if constexpr (std::is_same_v<T, ps::request> || std::is_same_v<T, ps::cancel>) {
          return 2 + 8 * v.seqs.size();
        } else if constexpr (std::is_same_v<T, ps::chunk_data>) {
          return k_chunk_head_bytes + (v.chunk ? v.chunk->size() : 0);
        } else if constexpr (std::is_same_v<T, ps::reject>) {
          return 9;
        } else if constexpr (std::is_same_v<T, ps::pex>) {
          std::size_t n = 1;
          for (const auto& p : v.peers) n += 16 + 1 + p.host.size() + 2;
          return n;
        } else if constexpr (std::is_same_v<T, ps::ping>) {
          return 16;
        } else if constexpr (std::is_same_v<T, ps::pong>) {
          return 24;
        } else {
          return 1 + 2 + v.text.size();
        }
      },
      m);
  return k_frame_head_bytes + body;
}

/// Chunk payload bytes carried by `m` (0 for control messages).
inline std::size_t payload_size(const proto::swarm::message& m) {
  const auto* c = std::get_if<proto::swarm::chunk_data>(&m);
  return c && c->chunk ? c->chunk->size() : 0;
}

}  // namespace meshcast::swarm
