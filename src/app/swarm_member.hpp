// swarm_member: what makes a process a member of one rendition's swarm — the swarm::node, its
// TCP transport, the chunk verifier, and (at viewers) the playout that feeds local outputs.
// Shared by `meshcast origin` (the source peer) and `meshcast peer`. With a record path it also
// writes the node's lab record (app/node_recorder.hpp). Runs on the node's io_context thread;
// owner creates it, calls start(), and stop() before destroying it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chunk/chunk_log.hpp"
#include "chunk/playout.hpp"
#include "app/node_recorder.hpp"
#include "chunk/signer.hpp"
#include "net/swarm_transport.hpp"
#include "swarm/node.hpp"

namespace meshcast::app {

struct swarm_member_settings {
  proto::swarm::node_role role = proto::swarm::node_role::peer;
  std::string stream;  ///< "live/NAME"
  std::string rendition = "source";
  boost::asio::ip::tcp::endpoint listen;
  std::uint32_t upload_kbps = 0;
  std::size_t min_neighbours = 8;
  std::size_t max_neighbours = 24;
  core::micros playout_delay{1'500'000};
  std::string region;
  std::string record_path;  ///< lab record written while the member runs (--record); empty = none
};

class swarm_member {
 public:
  /// `log` is the node's swarm store: at the origin the rendition's own log (the packager fills
  /// it), at a peer a log of its own. `playout_to` (peers only) receives chunks at their playout
  /// deadline; null at the origin.
  swarm_member(boost::asio::io_context& io, swarm_member_settings settings, chunk::chunk_log& log,
               std::function<void(const chunk::chunk_ptr&)> playout_to);
  ~swarm_member();

  /// Listens; with a record path, creates the record (an error if it cannot be opened).
  core::result<void> start();
  /// Stops the swarm; the record gets its `left` line. Idempotent.
  void stop();

  /// The origin's public key, once known (from the tracker, --public-key or the origin itself).
  /// Chunks are refused until then.
  void set_public_key(const chunk::ed25519_public_key& key);
  [[nodiscard]] bool has_public_key() const { return verifier_.has_value(); }

  /// Candidates to dial (tracker answer, bootstrap).
  void add_candidates(const std::vector<proto::swarm::peer_address>& candidates);
  void dial(const boost::asio::ip::tcp::endpoint& ep);

  [[nodiscard]] const proto::swarm::node_id& id() const { return id_; }
  [[nodiscard]] std::string id_hex() const;
  [[nodiscard]] boost::asio::ip::tcp::endpoint swarm_endpoint() const { return transport_->local_endpoint(); }
  [[nodiscard]] const swarm_member_settings& settings() const { return settings_; }
  [[nodiscard]] swarm::node& node() { return *node_; }
  [[nodiscard]] net::swarm_transport& transport() { return *transport_; }
  [[nodiscard]] const chunk::playout* playout() const { return playout_.get(); }

  /// Stats for /api/v1/stats and the tracker announce (the words of the glossary).
  [[nodiscard]] nlohmann::json stats_json() const;
  /// Appends Prometheus families (meshcast_swarm_*, meshcast_playout_*).
  void write_metrics(std::string& out) const;

 private:
  void on_stored(const chunk::chunk_ptr& c);
  void arm_playout();

  boost::asio::io_context& io_;
  swarm_member_settings settings_;
  chunk::chunk_log& log_;
  proto::swarm::node_id id_{};
  std::optional<chunk::verifier> verifier_;
  std::unique_ptr<swarm::node> node_;
  std::unique_ptr<net::swarm_transport> transport_;
  std::unique_ptr<chunk::playout> playout_;
  boost::asio::steady_timer playout_timer_;
  chunk::chunk_log::listener_id listener_ = 0;
  core::time_point joined_;
  std::uint64_t refused_unverified_ = 0;
  std::unique_ptr<node_recorder> recorder_;  // last: goes before the node and transport it reads
};

}  // namespace meshcast::app
