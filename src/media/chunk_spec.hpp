// chunk_spec: builds chunks from a compact text spec, for tests and benchmarks of everything that
// reads a chunk log (playlists, continuous TS viewers, HTTP outputs). Header-only, no I/O.
//   "S1 c c S2 c _ c D3 c:500"
//   S<n> segment start of segment n (keyframe) · D<n> the same after a discontinuity
//   c    a chunk continuing the open segment   · _    a missing chunk (its seq is skipped)
//   :<ms> after any token sets that chunk's duration (default 1000 ms)
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "chunk/chunk.hpp"
#include "chunk/chunk_log.hpp"

namespace meshcast::media::testing {

/// 2024-05-01T12:00:00Z, the source time of the first chunk of every spec.
inline constexpr std::int64_t k_spec_epoch_us = 1'714'564'800'000'000;

/// Appends chunks described by specs to a running sequence. Payloads are `packets_per_chunk`
/// 188-byte TS packets (sync byte 0x47) whose bytes encode the sequence number, so every chunk's
/// bytes differ and a concatenation can be checked.
class chunk_maker {
 public:
  explicit chunk_maker(std::size_t packets_per_chunk = 2) : packets_(packets_per_chunk) {}

  /// The chunks for `spec`, continuing numbering, time and discontinuity count from the last call.
  std::vector<chunk::chunk_ptr> make(std::string_view spec) {
    std::vector<chunk::chunk_ptr> out;
    std::istringstream in{std::string(spec)};
    std::string token;
    while (in >> token) {
      std::int64_t ms = 1000;
      if (const auto colon = token.find(':'); colon != std::string::npos) {
        ms = std::stoll(token.substr(colon + 1));
        token.resize(colon);
      }
      const core::micros duration{ms * 1000};
      if (token == "_") {
        ++seq_;
        time_us_ += duration.count();
        continue;
      }
      chunk::chunk_header h;
      h.seq = core::chunk_seq{seq_++};
      h.source_time = core::from_us(time_us_);
      h.duration = duration;
      h.pts_90k = (time_us_ - k_spec_epoch_us) * 9 / 100;
      time_us_ += duration.count();
      if (token[0] == 'S' || token[0] == 'D') {
        if (token[0] == 'D') {
          ++discontinuity_;
          h.flags |= chunk::flag_discontinuity;
        }
        h.flags |= chunk::flag_segment_start | chunk::flag_keyframe;
        segment_ = std::stoull(token.substr(1));
      }
      h.segment = core::segment_seq{segment_};
      h.discontinuity = discontinuity_;
      out.push_back(chunk::make_chunk(h, payload_for(h.seq.value())));
    }
    return out;
  }

  /// Inserts the chunks for `spec` into `log`; returns them.
  std::vector<chunk::chunk_ptr> add(chunk::chunk_log& log, std::string_view spec) {
    auto chunks = make(spec);
    for (const auto& c : chunks) log.insert(c);
    return chunks;
  }

  [[nodiscard]] core::bytes payload_for(std::uint64_t seq) const {
    core::bytes p(packets_ * chunk::k_ts_packet_bytes);
    for (std::size_t i = 0; i < p.size(); ++i) {
      p[i] = i % chunk::k_ts_packet_bytes == 0 ? 0x47 : static_cast<std::uint8_t>(seq + i / 188);
    }
    return p;
  }

 private:
  std::size_t packets_;
  std::uint64_t seq_ = 0;
  std::uint64_t segment_ = 0;
  std::uint32_t discontinuity_ = 0;
  std::int64_t time_us_ = k_spec_epoch_us;
};

/// A chunk log holding `spec` with a one-hour window (nothing is trimmed by time).
inline chunk::chunk_log log_from(std::string_view spec, std::size_t packets_per_chunk = 2) {
  chunk::chunk_log log{core::micros{3'600'000'000LL}};
  chunk_maker{packets_per_chunk}.add(log, spec);
  return log;
}

/// The concatenated payloads of `chunks`.
inline std::string concat(const std::vector<chunk::chunk_ptr>& chunks) {
  std::string out;
  for (const auto& c : chunks) out += core::as_chars(c->payload());
  return out;
}

}  // namespace meshcast::media::testing
