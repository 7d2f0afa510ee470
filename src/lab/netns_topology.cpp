#include "lab/netns_topology.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>

#include "lab/lab.hpp"

namespace meshcast::lab {
namespace {

std::string kbps_budget(double bps) {
  if (bps <= 0) return "0";
  const auto k = static_cast<std::uint64_t>(std::llround(bps * k_upload_budget_share / 1000.0));
  return std::to_string(std::max<std::uint64_t>(k, 1));
}

std::string endpoint(std::uint32_t node, std::uint16_t port) {
  return address_text(node_address(node)) + ":" + std::to_string(port);
}

std::string source_spec(const scenario::source_spec& src) {
  if (src.kind == "file") return "file:" + src.path + ":loop";
  return "test:" + std::to_string(src.width) + "x" + std::to_string(src.height) + "@" + std::to_string(src.fps) + ":" +
         std::to_string(test_video_kbps(src.bitrate_kbps));
}

core::error unsupported(std::string what) {
  return core::make_error(lab_errc::unsupported, "netns lab: " + std::move(what));
}

}  // namespace

std::string namespace_name(const netns_layout& l, std::uint32_t node) { return l.prefix + "-n" + std::to_string(node); }

std::uint32_t node_address(std::uint32_t node) { return ((10u << 24) | (77u << 16)) + node + 1; }

std::string address_text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." + std::to_string((a >> 8) & 0xff) +
         "." + std::to_string(a & 0xff);
}

std::string log_path(const netns_layout& l, std::uint32_t node) {
  return (std::filesystem::path(l.work_dir) / ("node-" + std::to_string(node) + ".log")).string();
}

std::string record_path(const netns_layout& l, std::uint32_t node) {
  return (std::filesystem::path(l.work_dir) / ("node-" + std::to_string(node) + ".rec")).string();
}

std::vector<command_line> namespace_setup_commands(const netns_layout& l, std::uint32_t node) {
  return {{"ip", "netns", "add", namespace_name(l, node)}};
}

std::vector<command_line> interface_setup_commands(const netns_layout& l, std::uint32_t node) {
  const std::string ns = namespace_name(l, node);
  const std::string tun(k_netns_tun);
  return {
      {"ip", "-n", ns, "link", "set", "lo", "up"},
      {"ip", "-n", ns, "addr", "add", address_text(node_address(node)) + "/16", "dev", tun},
      {"ip", "-n", ns, "link", "set", tun, "up"},
  };
}

command_line namespace_teardown_command(const std::string& name) { return {"ip", "netns", "del", name}; }

core::result<void> check_netns_supported(const scenario::scenario& s, const scenario::plan& p) {
  if (p.nodes.size() > k_max_netns_nodes) {
    return unsupported("this plan has " + std::to_string(p.nodes.size()) + " nodes, at most " +
                       std::to_string(k_max_netns_nodes) +
                       " run in network namespaces (one process each); use the in-process lab for more");
  }
  if (p.nodes.empty() || p.nodes[0].kind != scenario::node_kind::origin) {
    return unsupported("the plan has no origin as node 0");
  }
  for (const auto& n : p.nodes) {
    if (n.kind == scenario::node_kind::edge) return unsupported("edges are not supported yet");
  }
  if (s.swarm.mode != "push-pull") {
    return unsupported("swarm mode '" + s.swarm.mode + "' exists only in the simulator; real nodes run push-pull");
  }
  if (s.source.kind != "test" && s.source.kind != "file") {
    return unsupported("source kind '" + s.source.kind + "' (expected test or file)");
  }
  return core::ok();
}

command_line node_command(const scenario::scenario& s, const scenario::plan& p, const netns_layout& l,
                          std::uint32_t node) {
  const auto& n = p.nodes[node];
  command_line c{l.binary, "--log-level", "info"};
  // Flags and their values, in pairs.
  // clang-format off
  if (n.kind == scenario::node_kind::origin) {
    c.insert(c.end(), {"origin",
                       "--source", source_spec(s.source),
                       "--name", std::string(k_netns_stream),
                       "--http", endpoint(node, k_netns_http_port),
                       "--rtmp", "127.0.0.1:1935",
                       "--swarm", endpoint(node, k_netns_swarm_port),
                       "--public-host", address_text(node_address(node)),
                       "--chunk-ms", std::to_string(s.source.chunk_ms),
                       "--max-neighbours", std::to_string(s.origin.max_neighbours),
                       "--swarm-upload-kbps", kbps_budget(n.upload_bps),
                       "--record", record_path(l, node)});
    return c;
  }
  c.insert(c.end(), {"peer",
                     "--tracker", "http://" + endpoint(0, k_netns_http_port),
                     "--stream", "live/" + std::string(k_netns_stream),
                     "--swarm", endpoint(node, k_netns_swarm_port),
                     "--http", "127.0.0.1:8081",
                     "--upload-kbps", kbps_budget(n.upload_bps),
                     "--playout-delay", std::to_string(s.swarm.playout_delay_ms),
                     "--min-neighbours", std::to_string(s.swarm.min_neighbours),
                     "--max-neighbours", std::to_string(s.swarm.max_neighbours)});
  if (n.region < p.region_names.size() && !p.region_names[n.region].empty()) {
    c.insert(c.end(), {"--region", p.region_names[n.region]});
  }
  // clang-format on
  c.insert(c.end(), {"--record", record_path(l, node)});
  return c;
}

std::vector<std::string> stale_namespaces(const std::vector<std::string>& existing,
                                          const std::function<bool(int pid)>& alive) {
  std::vector<std::string> out;
  for (const auto& name : existing) {
    if (name.rfind(k_netns_prefix, 0) != 0) continue;
    const char* first = name.data() + k_netns_prefix.size();
    const char* last = name.data() + name.size();
    int pid = 0;
    const auto [p, ec] = std::from_chars(first, last, pid);
    if (ec != std::errc{} || p == first || p == last || *p != '-' || pid <= 0) continue;
    if (!alive(pid)) out.push_back(name);
  }
  return out;
}

}  // namespace meshcast::lab
