// Fuzzes the RTMP server session and its chunk reader. The first input byte picks the mode:
// even -> the rest is raw client bytes from the very first byte (handshake included); odd -> the
// rest follows a valid handshake + connect + publish that was accepted (a copy of a session
// prepared once), so the chunk layer, control messages and media paths get the fuzzer's bytes.
// Bits 1-3 of that byte pick how the input is split into on_bytes calls.
#include <cstddef>
#include <cstdint>

#include "proto/rtmp/session.hpp"
#include "proto/rtmp/test_client.hpp"

using namespace meshcast;
using namespace meshcast::proto::rtmp;

namespace {

const core::time_point k_now = core::from_us(1'000'000);

void drain(session& s) {
  while (true) {
    while (s.poll_transmit()) {
    }
    auto e = s.poll_event();
    if (!e) return;
    if (std::holds_alternative<publish_event>(*e)) s.accept_publish();
  }
}

session_settings fuzz_settings() {
  session_settings settings;
  settings.limits.max_message_bytes = 1 << 20;
  settings.limits.max_buffered_bytes = 4 << 20;
  return settings;
}

const session& publishing_session() {
  static const session prepared = [] {
    session s(fuzz_settings(), k_now);
    testing::test_client client;
    s.on_bytes(client.publish_all("live", "test?key=abc"), k_now);
    drain(s);
    if (s.state() != session_state::publishing) __builtin_trap();
    return s;
  }();
  return prepared;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const core::byte_view in(data + 1, size - 1);
  session s = (mode & 1) ? publishing_session() : session(fuzz_settings(), k_now);
  static constexpr std::size_t k_steps[8] = {0, 1, 2, 3, 7, 13, 128, 1000};
  std::size_t step = k_steps[(mode >> 1) & 7];
  if (step == 0) step = in.empty() ? 1 : in.size();
  for (std::size_t off = 0; off < in.size(); off += step) {
    s.on_bytes(in.subspan(off, std::min(step, in.size() - off)), k_now);
    drain(s);
  }
  s.on_timeout(k_now + core::micros{60'000'000});
  drain(s);
  return 0;
}
