// RTMP simple handshake (RTMP spec 1.0, section 5.2): C0+C1 -> S0+S1+S2 -> C2. FFmpeg and OBS
// (librtmp) publish with it, or send a digest C1 that they accept a plain echo for, so the server
// never does the "complex" digest handshake. Pure functions; randomness comes from a seed passed in.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace meshcast::proto::rtmp {

inline constexpr std::uint8_t k_rtmp_version = 3;
inline constexpr std::size_t k_handshake_bytes = 1536;  ///< size of C1, C2, S1, S2

enum class handshake_errc { bad_version = 1, truncated };

/// Server side. `c0c1` must be exactly 1 + 1536 bytes. Returns S0+S1+S2: S1 carries zero time,
/// zero version and pseudo-random bytes from `seed`; S2 echoes C1. Fails on a version other than 3
/// (e.g. "rtmp handshake: unsupported version 0x47 (expected 3); is this HTTP?").
core::result<core::bytes> server_handshake_reply(core::byte_view c0c1, std::uint64_t seed);

/// Checks C0 alone, so garbage (an HTTP request, TLS) is refused at its first byte.
core::result<void> check_handshake_version(std::uint8_t c0);

/// Client side, for tests and fuzz seeds: C0+C1 with pseudo-random C1 bytes from `seed`.
core::bytes client_handshake_hello(std::uint64_t seed);
/// Client side: C2 (the echo of S1) from S0+S1+S2 (3073 bytes).
core::result<core::bytes> client_handshake_ack(core::byte_view s0s1s2);

}  // namespace meshcast::proto::rtmp
