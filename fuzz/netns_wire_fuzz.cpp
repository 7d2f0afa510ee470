// Fuzz target: the lab's wire (lab/sansio/netns_wire.hpp) fed packets as a node's TUN device
// gives them — whatever the node's kernel (or a hostile node) writes: the IPv4 header read for
// routing, the TCP ports read for the tracker outage, the link model behind them. Never a crash
// or an out-of-bounds read; every packet is accounted for exactly once (delivered, lost, dropped,
// unroutable or blocked) and a delivered packet goes, unchanged, to the node its address names.
//
// Input: byte 0 picks the node count (2-4) and which links are capped, lossy, blocked; then
// records [from][time step ms][length hi][length lo][packet bytes...] until the input ends.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "lab/sansio/netns_wire.hpp"

using namespace meshcast;
using namespace meshcast::lab;

namespace {

constexpr std::uint32_t k_base = (10U << 24) | (77U << 16);  // 10.77.0.0

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t cfg = data[0];
  const std::uint32_t n = 2 + cfg % 3;
  wire_settings s;
  for (std::uint32_t i = 0; i < n; ++i) {
    s.addresses.push_back(k_base + 1 + i);
    s.upload_bps.push_back((cfg & 0x04) != 0 ? 1e6 * (i + 1) : 0);
    s.download_bps.push_back((cfg & 0x08) != 0 ? 2e6 : 0);
  }
  for (std::uint32_t a = 0; a < n; ++a) {
    for (std::uint32_t b = 0; b < n; ++b) s.one_way.push_back(core::micros{a == b ? 0 : 1000 * (a + b)});
  }
  s.loss = (cfg & 0x10) != 0 ? 0.1 : 0;
  s.max_queue = core::micros{(cfg & 0x20) != 0 ? 2'000 : 500'000};
  wire w(s);
  w.set_tracker_blocked((cfg & 0x40) != 0);

  std::int64_t now = 1'000'000;
  const auto drain = [&](std::int64_t until) {
    while (auto d = w.poll_delivery(until)) {
      const auto a = read_ipv4_addresses(d->packet);
      if (!a || d->to >= n || w.node_of(a->dst) != d->to) std::abort();
    }
  };
  std::size_t pos = 1;
  std::uint64_t packets = 0;
  while (pos + 4 <= size) {
    const std::uint32_t from = data[pos] % (n + 1);  // n: a node the wire does not know
    now += data[pos + 1] * 1000;
    const std::size_t len = std::min<std::size_t>((std::size_t{data[pos + 2]} << 8) | data[pos + 3], size - pos - 4);
    pos += 4;
    core::bytes packet(data + pos, data + pos + len);
    pos += len;
    if (const auto a = read_ipv4_addresses(packet); a && packet.size() < 20) std::abort();
    drain(now);
    w.on_packet(from, std::move(packet), now);
    ++packets;
    if ((packets & 7) == 0) w.set_tracker_blocked(!((cfg & 0x40) != 0));
  }
  drain(now + 60'000'000);
  const wire_stats& st = w.stats();
  if (w.in_flight() != 0 || st.packets_in != packets ||
      st.delivered + st.lost + st.queue_drops + st.unroutable + st.blocked != packets) {
    std::abort();
  }
  return 0;
}
