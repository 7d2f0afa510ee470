// netns_topology: the pure part of a lab run in network namespaces — names, addresses, the `ip`
// command lines that build and remove each node's namespace, the command line of each node's
// `meshcast` process, and what the mode refuses — so all of it is testable without root.
// lab/netns.cpp carries them out. Layout of one run (prefix "mclab<lab pid>"):
//   namespace <prefix>-n<i> per node i of the plan: lo up, one TUN device "tun0" holding
//   10.77.0.<i+1>/16 (the origin, node 0, is 10.77.0.1), opened by the lab process, which is the
//   wire between them (lab/sansio/netns_wire.hpp); nothing is created outside these namespaces.
// Plain functions and values; no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "scenario/scenario.hpp"

namespace meshcast::lab {

/// One process per node: beyond ~100 the machine, not the swarm, is what gets measured.
inline constexpr std::size_t k_max_netns_nodes = 100;
inline constexpr std::uint16_t k_netns_http_port = 8080;     ///< the origin's HTTP (embedded tracker)
inline constexpr std::uint16_t k_netns_swarm_port = 7070;    ///< every node's swarm port
inline constexpr std::string_view k_netns_prefix = "mclab";  ///< + the lab's pid
inline constexpr std::string_view k_netns_tun = "tun0";
inline constexpr std::string_view k_netns_stream = "lab";  ///< served as live/lab
/// A node's --upload-kbps as a share of its link's upload: the rest carries the TCP/IP headers
/// (~3.5 % at full-size segments) and their ACKs. The node itself keeps its chunk payloads to
/// 95 % of --upload-kbps for the swarm's framing and control messages (swarm/node_impl.hpp),
/// so payloads get ~90 % of the link and its queue stays short.
inline constexpr double k_upload_budget_share = 0.95;

struct netns_layout {
  std::string prefix;    ///< "mclab<pid>"
  std::string work_dir;  ///< per-node logs and records
  std::string binary;    ///< the meshcast executable
};

[[nodiscard]] std::string namespace_name(const netns_layout& l, std::uint32_t node);
/// 10.77.0.0/16, host byte order: node i is 10.77.0.0 + i + 1.
[[nodiscard]] std::uint32_t node_address(std::uint32_t node);
[[nodiscard]] std::string address_text(std::uint32_t address);
[[nodiscard]] std::string log_path(const netns_layout& l, std::uint32_t node);
[[nodiscard]] std::string record_path(const netns_layout& l, std::uint32_t node);

using command_line = std::vector<std::string>;
/// Creates the node's namespace (before the lab opens its TUN device inside it).
[[nodiscard]] std::vector<command_line> namespace_setup_commands(const netns_layout& l, std::uint32_t node);
/// Once tun0 exists in the namespace: loopback up, the node's address, tun0 up.
[[nodiscard]] std::vector<command_line> interface_setup_commands(const netns_layout& l, std::uint32_t node);
/// Removes the namespace (and with it tun0, if the lab still holds it open).
[[nodiscard]] command_line namespace_teardown_command(const std::string& namespace_name);

/// Why this scenario/plan cannot run in namespaces, or ok: more than k_max_netns_nodes nodes,
/// edges, a swarm mode other than push-pull (push-only and pull-only exist in the simulator), a
/// source other than the test source or a file.
core::result<void> check_netns_supported(const scenario::scenario& s, const scenario::plan& p);

/// The argv of node `node`'s process: `meshcast origin ...` for node 0, `meshcast peer ...` for
/// peers (see docs/lab.md for the flags).
[[nodiscard]] command_line node_command(const scenario::scenario& s, const scenario::plan& p, const netns_layout& l,
                                        std::uint32_t node);

/// Namespaces left behind by a lab that died (its pid is no longer alive): "mclab<pid>-..." among
/// `existing` whose pid `alive` says is gone. Names of other shapes are never returned.
[[nodiscard]] std::vector<std::string> stale_namespaces(const std::vector<std::string>& existing,
                                                        const std::function<bool(int pid)>& alive);

}  // namespace meshcast::lab
