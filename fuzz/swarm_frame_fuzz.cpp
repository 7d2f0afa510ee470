// Fuzzes the swarm frame codec and session. The first input byte picks the mode:
// even -> the rest goes through frame_reader (and the one-shot decode); every frame that decodes
//         must encode back to exactly its input bytes (the wire form is canonical) with
//         encoded_size equal to that length, else the target traps;
// odd  -> the rest is fed to a session that has already accepted a valid hello (a copy of one
//         prepared once), so established-state handling, pings, pongs and close get the bytes.
// Bits 1-3 of that byte pick how the input is split into feed / on_bytes calls.
#include <cstddef>
#include <cstdint>

#include "proto/swarm/codec.hpp"
#include "proto/swarm/session.hpp"

using namespace meshcast;
using namespace meshcast::proto::swarm;

namespace {

const core::time_point k_now = core::from_us(1'700'000'000'000'000);

hello local_hello(std::uint8_t seed) {
  hello h;
  h.stream = "live/fuzz";
  h.rendition = "source";
  h.id.fill(seed);
  return h;
}

session_settings fuzz_settings() {
  session_settings s;
  // 64 KiB rather than 4 MiB: the reader reserves a chunk frame's declared size at its head, and
  // under ASan every such reservation is slow. The limit logic is the same.
  s.max_frame_bytes = 64 << 10;
  return s;
}

void drain(session& s) {
  while (s.poll_transmit()) {
  }
  while (s.poll_event()) {
  }
}

const session& established_session() {
  static const session prepared = [] {
    session s(local_hello(1), fuzz_settings(), k_now);
    auto h = encode(local_hello(2));
    if (!h) __builtin_trap();
    s.on_bytes(*h, k_now);
    drain(s);
    if (s.current_state() != session::state::established) __builtin_trap();
    return s;
  }();
  return prepared;
}

/// The frame's bytes as they came in: prefix, type, body, payload.
core::bytes original_bytes(const raw_frame& f) {
  core::bytes out;
  core::put_be32(out, static_cast<std::uint32_t>(1 + f.body.size() + f.payload.size()));
  core::put_u8(out, f.type);
  core::append(out, f.body);
  core::append(out, f.payload);
  return out;
}

void check_canonical(const core::bytes& in, const message& m) {
  auto again = encode(m);
  if (!again || *again != in || encoded_size(m) != in.size()) __builtin_trap();
}

void fuzz_codec(core::byte_view in, std::size_t step) {
  // One-shot decode of the whole input as a single frame.
  if (auto m = decode(in, fuzz_settings().max_frame_bytes)) {
    check_canonical(core::bytes(in.begin(), in.end()), *m);
  }
  frame_reader reader(fuzz_settings().max_frame_bytes);
  for (std::size_t off = 0; off < in.size(); off += step) {
    const auto fed = reader.feed(in.subspan(off, std::min(step, in.size() - off)));
    while (auto f = reader.next()) {
      const core::bytes original = original_bytes(*f);
      if (auto m = decode(std::move(*f))) check_canonical(original, *m);
    }
    if (!fed) break;
  }
}

void fuzz_session(core::byte_view in, std::size_t step) {
  session s = established_session();
  core::time_point now = k_now;
  for (std::size_t off = 0; off < in.size(); off += step) {
    s.on_bytes(in.subspan(off, std::min(step, in.size() - off)), now);
    drain(s);
    now += core::micros{250'000};
    if (auto d = s.next_deadline(); d && *d <= now) {
      s.on_timeout(now);
      drain(s);
    }
  }
  s.on_timeout(now + core::micros{60'000'000});
  drain(s);
  if (s.current_state() != session::state::closed) __builtin_trap();  // the idle timeout
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const core::byte_view in(data + 1, size - 1);
  static constexpr std::size_t k_steps[8] = {0, 1, 2, 3, 7, 13, 128, 1000};
  std::size_t step = k_steps[(mode >> 1) & 7];
  if (step == 0) step = in.empty() ? 1 : in.size();
  if (mode & 1) {
    fuzz_session(in, step);
  } else {
    fuzz_codec(in, step);
  }
  return 0;
}
