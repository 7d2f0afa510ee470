#include "app/swarm_member.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "net/metrics.hpp"

namespace meshcast::app {

namespace asio = boost::asio;
namespace ps = proto::swarm;

namespace {
core::time_point now() { return core::system_clock{}.now(); }

ps::node_id random_id() {
  ps::node_id id{};
  std::random_device rd;
  for (auto& b : id) b = static_cast<std::uint8_t>(rd());
  return id;
}

double ms(core::micros us) { return static_cast<double>(us.count()) / 1000.0; }
}  // namespace

swarm_member::swarm_member(asio::io_context& io, swarm_member_settings settings, chunk::chunk_log& log,
                           std::function<void(const chunk::chunk_ptr&)> playout_to)
    : io_(io), settings_(std::move(settings)), log_(log), id_(random_id()), playout_timer_(io), joined_(now()) {
  swarm::node_settings ns;
  ns.id = id_;
  ns.role = settings_.role;
  ns.stream = settings_.stream;
  ns.rendition = settings_.rendition;
  ns.min_neighbours = settings_.min_neighbours;
  ns.max_neighbours = settings_.max_neighbours;
  ns.upload_kbps = settings_.upload_kbps;
  ns.playout_delay = settings_.playout_delay;
  ns.seed = std::random_device{}();
  // Delay is measured by the playout (peers); arrival records are drained only for a lab record.
  ns.max_arrival_records = settings_.record_path.empty() ? 0 : 4096;
  node_ = std::make_unique<swarm::node>(ns, log_, [this](const chunk::chunk& c) {
    if (!verifier_) {
      ++refused_unverified_;
      return false;
    }
    return verifier_->verify(settings_.stream, settings_.rendition, c);
  });

  ps::hello hello;
  hello.stream = settings_.stream;
  hello.rendition = settings_.rendition;
  hello.id = id_;
  hello.role = settings_.role;
  hello.upload_kbps = settings_.upload_kbps;
  net::swarm_transport_settings ts;
  ts.listen = settings_.listen;
  transport_ = std::make_unique<net::swarm_transport>(io_, *node_, hello, ts);
  transport_->set_is_origin(settings_.role == ps::node_role::origin);
  // The origin key in a neighbour's hello: adopted when we know none (a --join bootstrap with no
  // tracker: trust on first use), refused when it names another origin than ours.
  transport_->set_hello_filter([this](const ps::hello& remote) -> std::optional<ps::close_reason> {
    const bool named = std::any_of(remote.origin_key.begin(), remote.origin_key.end(), [](auto b) { return b != 0; });
    if (!named) return std::nullopt;
    if (!verifier_) {
      set_public_key(remote.origin_key);
      spdlog::info("swarm: adopted origin key {} from a neighbour", chunk::to_hex(remote.origin_key));
      return std::nullopt;
    }
    if (verifier_->public_key() != remote.origin_key) return ps::close_reason::bad_signature;
    return std::nullopt;
  });

  if (playout_to) {
    chunk::playout_settings ps_settings;
    ps_settings.delay = settings_.playout_delay;
    playout_ = std::make_unique<chunk::playout>(ps_settings, std::move(playout_to), joined_);
    listener_ = log_.subscribe([this](const chunk::chunk_ptr& c) { on_stored(c); });
  }
}

swarm_member::~swarm_member() {
  stop();
  if (listener_ != 0) log_.unsubscribe(listener_);
}

core::result<void> swarm_member::start() {
  if (auto r = transport_->start(); !r) return r;
  if (settings_.record_path.empty() || recorder_) return core::ok();
  auto writer = lab::record_writer::open(settings_.record_path, id_hex(), ps::to_string(settings_.role));
  if (!writer) return writer.error();
  recorder_ = std::make_unique<node_recorder>(io_, std::move(*writer), *node_, *transport_, log_,
                                              settings_.role == ps::node_role::origin);
  recorder_->start();
  return core::ok();
}

void swarm_member::stop() {
  if (recorder_) recorder_->stop();
  transport_->stop();
  playout_timer_.cancel();
}

void swarm_member::set_public_key(const chunk::ed25519_public_key& key) {
  if (verifier_ && verifier_->public_key() == key) return;
  verifier_.emplace(key);
  transport_->set_origin_key(key);
}

void swarm_member::add_candidates(const std::vector<ps::peer_address>& candidates) {
  node_->on_candidates(candidates, now());
  transport_->poke();
}

void swarm_member::dial(const asio::ip::tcp::endpoint& ep) { transport_->dial(ep); }

std::string swarm_member::id_hex() const { return chunk::to_hex(id_); }

void swarm_member::on_stored(const chunk::chunk_ptr& c) {
  playout_->on_chunk(c, now() + transport_->origin_offset());
  arm_playout();
}

void swarm_member::arm_playout() {
  const auto deadline = playout_->next_deadline();
  if (!deadline) return;
  const auto local = *deadline - transport_->origin_offset();
  playout_timer_.expires_after(std::max(local - now(), core::micros{0}));
  playout_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    playout_->on_timeout(now() + transport_->origin_offset());
    arm_playout();
  });
}

nlohmann::json swarm_member::stats_json() const {
  using nlohmann::json;
  const auto t = transport_->stats();
  json j;
  j["node_id"] = id_hex();
  j["role"] = ps::to_string(settings_.role);
  j["stream"] = settings_.stream;
  j["rendition"] = settings_.rendition;
  j["swarm_port"] = transport_->local_endpoint().port();
  j["upload_kbps_cap"] = settings_.upload_kbps;
  j["origin_offset_ms"] = ms(transport_->origin_offset());
  j["public_key_known"] = verifier_.has_value();
  j["bytes"] = {{"in", t.bytes_in}, {"out", t.bytes_out}, {"payload_in", t.payload_in}, {"payload_out", t.payload_out}};
  const auto total_payload = t.payload_in + t.payload_out;
  j["overhead"] = total_payload == 0 ? 0.0
                                     : static_cast<double>(t.bytes_in + t.bytes_out - total_payload) /
                                           static_cast<double>(total_payload);
  j["connections"] = {{"accepted", t.accepted}, {"dialled", t.dialled}, {"dial_failures", t.dial_failures},
                      {"closed_malformed", t.closed_malformed}, {"open", t.connections}};
  json neighbours = json::array();
  for (const auto& c : transport_->connections()) {
    json n{{"remote", c.remote}, {"inbound", c.inbound}, {"established", c.established},
           {"bytes_in", c.stats.bytes_in}, {"bytes_out", c.stats.bytes_out},
           {"payload_in", c.stats.payload_in}, {"payload_out", c.stats.payload_out}};
    if (c.hello) {
      n["node_id"] = chunk::to_hex(c.hello->id);
      n["role"] = ps::to_string(c.hello->role);
    }
    if (c.rtt) n["rtt_ms"] = ms(*c.rtt);
    neighbours.push_back(std::move(n));
  }
  j["neighbours"] = std::move(neighbours);
  const swarm::node_stats& n = node_->stats();
  const auto by_role = [](const swarm::role_bytes& b) {
    return json{{"origin", b.origin}, {"edge", b.edge}, {"peer", b.peer}};
  };
  const auto received = n.chunks_pushed_in + n.chunks_pulled_in;
  j["chunks"] = {{"pushed_in", n.chunks_pushed_in},
                 {"pulled_in", n.chunks_pulled_in},
                 {"local", n.chunks_local},
                 {"duplicates", n.duplicate_chunks},
                 {"duplicate_bytes", n.duplicate_bytes},
                 {"duplicate_share", received + n.duplicate_chunks == 0
                                         ? 0.0
                                         : static_cast<double>(n.duplicate_chunks) /
                                               static_cast<double>(received + n.duplicate_chunks)},
                 {"pushed_out", n.chunks_pushed_out},
                 {"requests_sent", n.requests_sent},
                 {"requests_served", n.requests_served},
                 {"requests_rejected", n.requests_rejected},
                 {"skipped_late", n.chunks_skipped_late}};
  j["payload_down_by_role"] = by_role(n.bytes_down);
  j["payload_up_by_role"] = by_role(n.bytes_up);
  j["protection"] = {{"bad_signatures", n.bad_signatures}, {"floods", n.floods}, {"bans", n.bans},
                     {"refused_banned", n.refused_banned}, {"refused_full", n.refused_full},
                     {"unverified_refused", refused_unverified_}};
  if (playout_) {
    const auto& p = playout_->stats();
    json pj{{"delay_ms", ms(settings_.playout_delay)},
            {"continuity", p.continuity()},
            {"on_time", p.on_time},
            {"late", p.late},
            {"missed", p.missed},
            {"released", p.released},
            {"lag_ms", ms(p.last_lag)}};
    if (p.startup) pj["startup_ms"] = ms(*p.startup);
    if (p.first_release) pj["first_release_ms"] = ms(*p.first_release);
    if (p.first_seq) pj["first_seq"] = *p.first_seq;
    for (const auto& [name, pct] : {std::pair{"p50", 50.0}, {"p95", 95.0}, {"p99", 99.0}}) {
      if (auto d = playout_->delay_percentile(pct)) pj["arrival_delay_ms"][name] = ms(*d);
    }
    j["playout"] = std::move(pj);
  }
  return j;
}

void swarm_member::write_metrics(std::string& out) const {
  net::prometheus_writer w(out);
  const auto t = transport_->stats();
  const net::metric_labels l{{"stream", settings_.stream}, {"role", ps::to_string(settings_.role)}};
  w.family("meshcast_swarm_bytes_in_total", "counter", "Swarm bytes received, frames included");
  w.sample("meshcast_swarm_bytes_in_total", l, t.bytes_in);
  w.family("meshcast_swarm_bytes_out_total", "counter", "Swarm bytes sent, frames included");
  w.sample("meshcast_swarm_bytes_out_total", l, t.bytes_out);
  w.family("meshcast_swarm_payload_in_total", "counter", "Chunk payload bytes received");
  w.sample("meshcast_swarm_payload_in_total", l, t.payload_in);
  w.family("meshcast_swarm_payload_out_total", "counter", "Chunk payload bytes sent");
  w.sample("meshcast_swarm_payload_out_total", l, t.payload_out);
  const swarm::node_stats& n = node_->stats();
  w.family("meshcast_swarm_chunks_in_total", "counter", "Chunks stored from the swarm, by how they came");
  w.sample("meshcast_swarm_chunks_in_total", {{"stream", settings_.stream}, {"how", "pushed"}}, n.chunks_pushed_in);
  w.sample("meshcast_swarm_chunks_in_total", {{"stream", settings_.stream}, {"how", "pulled"}}, n.chunks_pulled_in);
  w.family("meshcast_swarm_duplicate_chunks_total", "counter", "Chunks received while already held");
  w.sample("meshcast_swarm_duplicate_chunks_total", l, n.duplicate_chunks);
  w.family("meshcast_swarm_bans_total", "counter", "Neighbours banned (bad signature, flood)");
  w.sample("meshcast_swarm_bans_total", l, n.bans);
  w.family("meshcast_swarm_connections", "gauge", "Open swarm connections");
  w.sample("meshcast_swarm_connections", l, static_cast<std::uint64_t>(t.connections));
  if (playout_) {
    const auto& p = playout_->stats();
    w.family("meshcast_playout_chunks_total", "counter", "Chunks due at playout by outcome");
    w.sample("meshcast_playout_chunks_total", {{"stream", settings_.stream}, {"outcome", "on_time"}}, p.on_time);
    w.sample("meshcast_playout_chunks_total", {{"stream", settings_.stream}, {"outcome", "late"}}, p.late);
    w.sample("meshcast_playout_chunks_total", {{"stream", settings_.stream}, {"outcome", "missed"}}, p.missed);
    w.family("meshcast_playout_continuity", "gauge", "Share of chunks on time");
    w.sample("meshcast_playout_continuity", {{"stream", settings_.stream}}, p.continuity());
  }
}

}  // namespace meshcast::app
