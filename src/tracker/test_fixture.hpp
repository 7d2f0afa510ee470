// Test vocabulary for the tracker (registry, policy, service tests): nodes named by short
// strings and described by one line, e.g.
//   announce("peer p1 region=eu up=5000 used=1000")
//   announce("origin o stream_kbps=3000 key=abcd port=9000")
// Keys: region, up (upload_kbps), used (stats.upload_kbps_used), slots (stats.neighbour_slots),
// starving (stats.starving), port (default 7000), host,
// rendition (default source), stream_kbps, key (public_key). Tests only; not thread-aware.
#pragma once

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "proto/tracker/messages.hpp"

namespace meshcast::tracker::testing {

namespace ps = proto::swarm;
namespace pt = proto::tracker;

/// A node id spelling `name` (up to 16 characters), zero padded.
inline ps::node_id id_of(std::string_view name) {
  ps::node_id id{};
  std::copy_n(name.begin(), std::min(name.size(), id.size()), id.begin());
  return id;
}

inline std::string name_of(const ps::node_id& id) {
  std::string s;
  for (const auto b : id) {
    if (b == 0) break;
    s += static_cast<char>(b);
  }
  return s;
}

inline std::uint32_t number(std::string_view v) {
  std::uint32_t n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

inline pt::announce_request announce(std::string_view spec, std::string_view stream = "live/cam") {
  std::vector<std::string_view> words;
  for (std::size_t pos = 0; pos < spec.size();) {
    const auto end = std::min(spec.find(' ', pos), spec.size());
    if (end > pos) words.push_back(spec.substr(pos, end - pos));
    pos = end + 1;
  }
  pt::announce_request a;
  a.stream = std::string(stream);
  a.role = words.size() > 0 ? pt::role_from_name(words[0]).value_or(ps::node_role::peer)
                            : ps::node_role::peer;
  a.id = id_of(words.size() > 1 ? words[1] : "anon");
  a.port = 7000;
  for (std::size_t i = 2; i < words.size(); ++i) {
    const auto eq = words[i].find('=');
    const std::string_view k = words[i].substr(0, eq);
    const std::string_view v = eq == std::string_view::npos ? "" : words[i].substr(eq + 1);
    if (k == "region") a.region = std::string(v);
    if (k == "up") a.upload_kbps = number(v);
    if (k == "used") a.stats[std::string(pt::k_stat_upload_kbps_used)] = number(v);
    if (k == "slots") a.stats[std::string(pt::k_stat_neighbour_slots)] = number(v);
    if (k == "starving") a.stats[std::string(pt::k_stat_starving)] = number(v);
    if (k == "port") a.port = static_cast<std::uint16_t>(number(v));
    if (k == "host") a.host = std::string(v);
    if (k == "rendition") a.rendition = std::string(v);
    if (k == "stream_kbps") a.stream_kbps = number(v);
    if (k == "key") a.public_key = std::string(v);
  }
  return a;
}

}  // namespace meshcast::tracker::testing
