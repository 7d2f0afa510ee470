#include "app/node_recorder.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "chunk/signer.hpp"

namespace meshcast::app {

namespace asio = boost::asio;

namespace {
constexpr std::chrono::milliseconds k_tick{100};
core::time_point now() { return core::system_clock{}.now(); }
}  // namespace

node_recorder::node_recorder(asio::io_context& io, lab::record_writer writer, swarm::node& node,
                             net::swarm_transport& transport, chunk::chunk_log& log, bool producer)
    : io_(io),
      writer_(std::move(writer)),
      node_(node),
      transport_(transport),
      log_(log),
      producer_(producer),
      timer_(io) {}

node_recorder::~node_recorder() {
  stop();
  *alive_ = false;
}

void node_recorder::start() {
  writer_.join(now());
  listener_ = log_.subscribe([this](const chunk::chunk_ptr& c) { on_stored(c); });
  tick();
}

void node_recorder::stop() {
  if (stopped_) return;
  drain();
  sample();
  writer_.left(now());
  (void)writer_.flush();
  stopped_ = true;
  timer_.cancel();
  if (listener_ != 0) log_.unsubscribe(listener_);
  listener_ = 0;
}

void node_recorder::on_stored(const chunk::chunk_ptr& c) {
  if (stopped_) return;
  if (producer_) {
    writer_.produced(c->seq().value(), c->header().source_time, c->header().segment_start(), c->size());
    return;
  }
  // The node queues the arrival record during the input that stored the chunk: drain once that
  // input is over, while the sender is surely still a neighbour.
  if (drain_posted_) return;
  drain_posted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    drain_posted_ = false;
    drain();
  });
}

std::string node_recorder::sender_hex(swarm::neighbour_id n) {
  if (auto it = senders_.find(n); it != senders_.end()) return it->second;
  // Neighbour ids are never reused, so a cached name stays right after the neighbour is gone.
  for (const auto& info : node_.neighbours()) senders_.emplace(info.id, chunk::to_hex(info.node));
  if (auto it = senders_.find(n); it != senders_.end()) return it->second;
  return {};
}

void node_recorder::drain() {
  if (stopped_) return;
  if (!join_point_written_) {
    if (const auto jp = node_.join_point()) {
      writer_.join_point(jp->value());
      join_point_written_ = true;
    }
  }
  while (auto a = node_.poll_arrival()) {
    const auto c = log_.find(a->seq);
    writer_.arrival(a->seq.value(), a->source_time, a->arrival, sender_hex(a->from), c ? c->size() : 0, a->pushed);
  }
}

void node_recorder::sample() {
  const auto t = transport_.stats();
  const auto& ns = node_.stats();
  const auto at = now();
  if (t.bytes_out != wire_out_ || t.payload_out != payload_out_) {
    writer_.sent(at, t.bytes_out - wire_out_, t.payload_out - payload_out_);
    wire_out_ = t.bytes_out;
    payload_out_ = t.payload_out;
  }
  if (ns.duplicate_bytes != duplicate_bytes_) {
    writer_.duplicate(at, ns.duplicate_bytes - duplicate_bytes_);
    duplicate_bytes_ = ns.duplicate_bytes;
  }
}

void node_recorder::tick() {
  drain();
  sample();
  if (auto r = writer_.flush(); !r && !write_failed_) {
    write_failed_ = true;  // once: a full disk would otherwise log ten lines a second
    spdlog::error("{}", r.error().message);
  }
  timer_.expires_after(k_tick);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && !stopped_) tick();
  });
}

}  // namespace meshcast::app
