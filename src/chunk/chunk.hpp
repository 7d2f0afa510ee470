// chunk: the unit of distribution — an immutable run of MPEG-TS packets covering a few frames,
// never crossing a keyframe. Created once by the packager (origin) or the swarm verifier
// (edge/peer), then shared read-only by every output through chunk_ptr: one copy in memory
// however many sockets send it. Immutable after construction, so any thread may read it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "core/bytes.hpp"
#include "core/strong.hpp"
#include "core/time.hpp"

namespace meshcast::chunk {

using core::chunk_seq;
using core::segment_seq;

/// Flag bits of a chunk header.
enum chunk_flags : std::uint8_t {
  flag_none = 0,
  flag_keyframe = 1u << 0,       ///< the chunk starts with a video keyframe (IDR)
  flag_segment_start = 1u << 1,  ///< first chunk of an HLS segment: starts with PAT/PMT (+ keyframe)
  flag_discontinuity = 1u << 2,  ///< timestamps/codec config restart here (publisher came back)
};

/// MPEG-TS packet size; a chunk payload is always a whole number of these.
inline constexpr std::size_t k_ts_packet_bytes = 188;

struct chunk_header {
  chunk_seq seq;                     ///< sequence number within the rendition
  segment_seq segment;               ///< the HLS segment this chunk belongs to
  std::uint32_t discontinuity = 0;   ///< number of discontinuities before this chunk in the stream
  core::time_point source_time;      ///< wall clock at the origin when the first frame arrived
  core::micros duration{0};          ///< media duration covered by the chunk
  std::int64_t pts_90k = 0;          ///< presentation timestamp of the first frame (90 kHz)
  std::uint8_t flags = flag_none;

  [[nodiscard]] bool keyframe() const { return (flags & flag_keyframe) != 0; }
  [[nodiscard]] bool segment_start() const { return (flags & flag_segment_start) != 0; }
  [[nodiscard]] bool discontinuity_start() const { return (flags & flag_discontinuity) != 0; }
};

/// Ed25519 signature over the chunk (see chunk/signer.hpp for what is signed).
using chunk_signature = std::array<std::uint8_t, 64>;

class chunk {
 public:
  chunk(chunk_header header, core::shared_bytes payload, std::optional<chunk_signature> signature)
      : header_(header), payload_(std::move(payload)), signature_(signature) {}

  [[nodiscard]] const chunk_header& header() const { return header_; }
  [[nodiscard]] chunk_seq seq() const { return header_.seq; }
  [[nodiscard]] core::byte_view payload() const { return *payload_; }
  /// The payload buffer itself, to build a signed copy of this chunk without copying bytes.
  [[nodiscard]] const core::shared_bytes& payload_buffer() const { return payload_; }
  [[nodiscard]] std::size_t size() const { return payload_->size(); }
  [[nodiscard]] const std::optional<chunk_signature>& signature() const { return signature_; }

 private:
  chunk_header header_;
  core::shared_bytes payload_;
  std::optional<chunk_signature> signature_;
};

using chunk_ptr = std::shared_ptr<const chunk>;

inline chunk_ptr make_chunk(chunk_header header, core::bytes payload,
                            std::optional<chunk_signature> signature = std::nullopt) {
  return std::make_shared<const chunk>(
      header, std::make_shared<const core::bytes>(std::move(payload)), signature);
}

inline chunk_ptr make_chunk(chunk_header header, core::shared_bytes payload,
                            std::optional<chunk_signature> signature) {
  return std::make_shared<const chunk>(header, std::move(payload), signature);
}

}  // namespace meshcast::chunk
