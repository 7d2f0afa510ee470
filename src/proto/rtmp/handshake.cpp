#include "proto/rtmp/handshake.hpp"
#include "core/splitmix.hpp"

#include <cstdio>
#include <cstring>
#include <string>

namespace meshcast::proto::rtmp {
namespace {

// splitmix64: good enough to fill handshake padding that nobody checks.
std::uint64_t next_random(std::uint64_t& state) { return core::splitmix64_next(state); }

void put_random_block(core::bytes& out, std::uint64_t seed) {
  const std::size_t at = out.size();
  out.resize(at + k_handshake_bytes, 0);  // time (4) and zero (4) stay 0: a simple handshake
  std::uint64_t state = seed;
  for (std::size_t i = 8; i < k_handshake_bytes; i += 8) {
    const std::uint64_t r = next_random(state);
    std::memcpy(out.data() + at + i, &r, 8);  // 1536 - 8 is a multiple of 8
  }
}

core::error bad_version(std::uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned>(v));
  std::string msg = std::string("rtmp handshake: unsupported version ") + buf + " (expected 3)";
  if (v == 'G' || v == 'P' || v == 'H') msg += "; is this HTTP?";
  if (v == 0x16) msg += "; is this TLS (rtmps)?";
  return core::make_error(handshake_errc::bad_version, msg);
}

}  // namespace

core::result<void> check_handshake_version(std::uint8_t c0) {
  if (c0 != k_rtmp_version) return bad_version(c0);
  return core::ok();
}

core::result<core::bytes> server_handshake_reply(core::byte_view c0c1, std::uint64_t seed) {
  if (c0c1.size() != 1 + k_handshake_bytes) {
    return core::make_error(handshake_errc::truncated,
                            "rtmp handshake: expected 1537 bytes of C0+C1, got " +
                                std::to_string(c0c1.size()));
  }
  if (c0c1[0] != k_rtmp_version) return bad_version(c0c1[0]);
  core::bytes out;
  out.reserve(1 + 2 * k_handshake_bytes);
  out.push_back(k_rtmp_version);
  put_random_block(out, seed);
  core::append(out, c0c1.subspan(1));  // S2 = C1
  return out;
}

core::bytes client_handshake_hello(std::uint64_t seed) {
  core::bytes out;
  out.reserve(1 + k_handshake_bytes);
  out.push_back(k_rtmp_version);
  put_random_block(out, seed);
  return out;
}

core::result<core::bytes> client_handshake_ack(core::byte_view s0s1s2) {
  if (s0s1s2.size() != 1 + 2 * k_handshake_bytes) {
    return core::make_error(handshake_errc::truncated,
                            "rtmp handshake: expected 3073 bytes of S0+S1+S2, got " +
                                std::to_string(s0s1s2.size()));
  }
  if (s0s1s2[0] != k_rtmp_version) return bad_version(s0s1s2[0]);
  const auto s1 = s0s1s2.subspan(1, k_handshake_bytes);
  return core::bytes(s1.begin(), s1.end());
}

}  // namespace meshcast::proto::rtmp
