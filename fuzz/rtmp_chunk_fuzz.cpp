// Fuzzes the RTMP server session and chunk reader. The first input byte picks the mode: even ->
// raw bytes from the first byte on (handshake included); odd -> the bytes follow a valid
// handshake + connect + publish (accepted), so the chunk layer and media paths get exercised.
// Bits 1-3 of that byte pick how the input is split into on_bytes calls.
#include <cstddef>
#include <cstdint>

#include "media/flv_ingest.hpp"
#include "proto/rtmp/session.hpp"
#include "proto/rtmp/test_client.hpp"

using namespace meshcast;
using namespace meshcast::proto::rtmp;

namespace {

const core::bytes& publish_prefix() {
  static const core::bytes prefix = [] {
    testing::test_client client;
    return client.publish_all("live", "test?key=abc");
  }();
  return prefix;
}

void drain(session& s, media::flv_ingest& ingest) {
  while (s.poll_transmit()) {
  }
  while (auto e = s.poll_event()) {
    if (std::holds_alternative<publish_event>(*e)) s.accept_publish();
    if (auto* m = std::get_if<media_event>(&*e)) {
      if (m->kind == media_kind::video) (void)ingest.on_video(m->timestamp, m->payload);
      if (m->kind == media_kind::audio) (void)ingest.on_audio(m->timestamp, m->payload);
    }
    while (s.poll_transmit()) {
    }
  }
  while (ingest.poll()) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const core::byte_view in(data + 1, size - 1);
  const core::time_point now = core::from_us(1'000'000);
  session_settings settings;
  settings.limits.max_message_bytes = 1 << 20;
  settings.limits.max_buffered_bytes = 4 << 20;
  session s(settings, now);
  media::flv_ingest ingest;
  if (mode & 1) {
    s.on_bytes(publish_prefix(), now);
    drain(s, ingest);
  }
  static constexpr std::size_t k_steps[8] = {0, 1, 2, 3, 7, 13, 128, 1000};
  std::size_t step = k_steps[(mode >> 1) & 7];
  if (step == 0) step = in.size() == 0 ? 1 : in.size();
  for (std::size_t off = 0; off < in.size(); off += step) {
    s.on_bytes(in.subspan(off, std::min(step, in.size() - off)), now);
    drain(s, ingest);
  }
  s.on_timeout(now + core::micros{60'000'000});
  drain(s, ingest);
  ingest.flush();
  while (ingest.poll()) {
  }

  // The chunk reader on its own, with the raw bytes.
  chunk_reader reader(chunk_limits{1 << 20, 16, 4 << 20});
  (void)reader.on_bytes(in);
  while (reader.poll_message()) {
  }
  return 0;
}
