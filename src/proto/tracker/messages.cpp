#include "proto/tracker/messages.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

namespace meshcast::proto::tracker {

namespace {

using json = nlohmann::json;

core::error fail(errc code, std::string message) {
  return core::make_error(code, std::move(message));
}

// A hostile string, shortened and made printable for an error message.
std::string quote(std::string_view s) {
  constexpr std::size_t k_shown = 40;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < k_shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > k_shown) out += "...";
  return out + "'";
}

// What came, for "..., got X": a number or string itself, else its JSON type.
std::string shown(const json& j) {
  if (j.is_string()) return quote(j.get_ref<const std::string&>());
  if (j.is_number()) return j.dump();
  return j.type_name();
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

core::result<json> parse_object(std::string_view body) {
  if (body.empty()) return fail(errc::malformed_json, "empty body, expected a JSON object");
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(errc::malformed_json, "body is not valid JSON");
  if (!j.is_object()) {
    return fail(errc::malformed_json, std::string("expected a JSON object, got ") + j.type_name());
  }
  return j;
}

// Checked access to the members of one JSON object. The first failure is kept in `error` and
// every later call returns false at once, so a decoder reads fields in a row and checks once.
class object_reader {
 public:
  object_reader(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  std::optional<core::error> error;

  [[nodiscard]] bool ok() const { return !error; }

  // The member, or nullptr when absent or null (missing_field if required).
  const json* member(std::string_view key, bool required) {
    if (error) return nullptr;
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) set(errc::missing_field, "missing field '" + path(key) + "'");
      return nullptr;
    }
    return &*it;
  }

  const json* object(std::string_view key, bool required) {
    const json* m = member(key, required);
    if (m && !m->is_object()) {
      wrong_type(key, "an object", *m);
      return nullptr;
    }
    return m;
  }

  const json* array(std::string_view key, bool required) {
    const json* m = member(key, required);
    if (m && !m->is_array()) {
      wrong_type(key, "an array", *m);
      return nullptr;
    }
    return m;
  }

  // A string; `valid` says whether its value is acceptable, `expected` how to describe one.
  template <class Valid>
  bool text(std::string_view key, std::string& out, bool required, Valid valid,
            std::string_view expected) {
    const json* m = member(key, required);
    if (!m) return ok() && !required;
    if (!m->is_string()) return wrong_type(key, "a string", *m);
    const auto& s = m->get_ref<const std::string&>();
    if (!valid(std::string_view(s))) {
      return set(errc::invalid_value, "field '" + path(key) + "' must be " + std::string(expected) +
                                          ", got " + quote(s));
    }
    out = s;
    return true;
  }

  // A non-negative integer up to `max` (an integral float such as 5.0 is accepted too).
  bool integer(std::string_view key, std::uint64_t& out, std::uint64_t max, bool required) {
    const json* m = member(key, required);
    if (!m) return ok() && !required;
    const std::string expected = "an integer in 0.." + std::to_string(max);
    if (!m->is_number()) return wrong_type(key, expected, *m);
    std::optional<std::uint64_t> v;
    if (m->is_number_unsigned()) {
      v = m->get<std::uint64_t>();
    } else if (m->is_number_float()) {
      const double d = m->get<double>();
      if (std::isfinite(d) && d >= 0 && d <= static_cast<double>(max) && std::floor(d) == d) {
        v = static_cast<std::uint64_t>(d);
      }
    }
    if (!v || *v > max) {
      return set(errc::invalid_value,
                 "field '" + path(key) + "' must be " + expected + ", got " + shown(*m));
    }
    out = *v;
    return true;
  }

  // A finite number in [min, max].
  bool number(std::string_view key, double& out, double min, double max, bool required) {
    const json* m = member(key, required);
    if (!m) return ok() && !required;
    if (!m->is_number()) return wrong_type(key, "a number", *m);
    const double d = m->get<double>();
    if (!std::isfinite(d) || d < min || d > max) {
      return set(errc::invalid_value, "field '" + path(key) + "' must be a number in " +
                                          json(min).dump() + ".." + json(max).dump() + ", got " +
                                          shown(*m));
    }
    out = d;
    return true;
  }

  bool set(errc code, std::string message) {
    if (!error) error = fail(code, std::move(message));
    return false;
  }
  bool wrong_type(std::string_view key, std::string_view expected, const json& got) {
    return set(errc::wrong_type, "field '" + path(key) + "' must be " + std::string(expected) +
                                     ", got " + got.type_name());
  }
  [[nodiscard]] std::string path(std::string_view key) const { return prefix_ + std::string(key); }

 private:
  const json& obj_;
  std::string prefix_;
};

constexpr auto optional_token = [](std::string_view s) { return s.empty() || is_valid_token(s); };
constexpr auto host_text = [](std::string_view s) { return s.empty() || is_numeric_host(s); };
constexpr auto hex_id = [](std::string_view s) { return node_id_from_hex(s).has_value(); };
constexpr auto role_text = [](std::string_view s) { return role_from_name(s).has_value(); };

bool read_node_id(object_reader& r, std::string_view key, ps::node_id& out) {
  std::string text;
  if (!r.text(key, text, true, hex_id, "32 hex digits")) return false;
  out = *node_id_from_hex(text);
  return true;
}

bool read_role(object_reader& r, std::string_view key, ps::node_role& out) {
  std::string text;
  if (!r.text(key, text, true, role_text, "one of origin, edge, peer")) return false;
  out = *role_from_name(text);
  return true;
}

bool read_stats(object_reader& r, node_stats& out) {
  const json* stats = r.object("stats", false);
  if (!stats) return r.ok();
  if (stats->size() > k_max_stats) {
    return r.set(errc::too_large, "field 'stats' has " + std::to_string(stats->size()) +
                                      " entries, limit " + std::to_string(k_max_stats));
  }
  object_reader sr(*stats, "stats.");
  for (const auto& [name, value] : stats->items()) {
    if (!is_valid_token(name)) {
      return r.set(errc::invalid_value,
                   "stat name " + quote(name) + " must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    double v = 0;
    if (!sr.number(name, v, -1e15, 1e15, true)) {
      return r.set(static_cast<errc>(sr.error->code), sr.error->message);
    }
    out.emplace(name, v);
  }
  return true;
}

json interval_json(core::micros interval) {
  if (interval.count() % 1'000'000 == 0) return interval.count() / 1'000'000;
  return static_cast<double>(interval.count()) / 1e6;
}

// One candidate of an announce response; nullopt when it is malformed or of an unknown role.
std::optional<candidate> decode_candidate(const json& j) {
  if (!j.is_object()) return std::nullopt;
  object_reader r(j, "candidate.");
  candidate c;
  std::uint64_t port = 0;
  std::uint64_t rtt = 0;
  read_node_id(r, "node_id", c.address.id);
  r.text("host", c.address.host, true, is_numeric_host, "a numeric IP address");
  r.integer("port", port, 65535, true);
  read_role(r, "role", c.role);
  r.text("region", c.region, false, optional_token, "a region name");
  if (r.member("rtt_hint", false) && r.integer("rtt_hint", rtt, 600'000, true)) {
    c.rtt_hint_ms = static_cast<std::uint32_t>(rtt);
  }
  if (!r.ok() || port == 0) return std::nullopt;
  c.address.port = static_cast<std::uint16_t>(port);
  return c;
}

}  // namespace

std::string_view to_string(errc e) {
  switch (e) {
    case errc::malformed_json:
      return "malformed_json";
    case errc::missing_field:
      return "missing_field";
    case errc::wrong_type:
      return "wrong_type";
    case errc::invalid_value:
      return "invalid_value";
    case errc::too_large:
      return "too_large";
  }
  return "unknown";
}

std::string encode(const announce_request& r) {
  json swarm{{"port", r.port}};
  if (!r.host.empty()) swarm["host"] = r.host;
  json j{{"node_id", to_hex(r.id)},   {"stream", r.stream},        {"rendition", r.rendition},
         {"role", role_name(r.role)}, {"swarm", std::move(swarm)}, {"upload_kbps", r.upload_kbps}};
  if (r.stream_kbps != 0) j["stream_kbps"] = r.stream_kbps;
  if (!r.region.empty()) j["region"] = r.region;
  if (!r.public_key.empty()) j["public_key"] = r.public_key;
  json stats = json::object();
  for (const auto& [name, value] : r.stats) stats[name] = value;
  j["stats"] = std::move(stats);
  return dump(j);
}

std::string encode(const announce_response& r) {
  json candidates = json::array();
  for (const candidate& c : r.candidates) {
    json e{{"node_id", to_hex(c.address.id)},
           {"host", c.address.host},
           {"port", c.address.port},
           {"role", role_name(c.role)}};
    if (!c.region.empty()) e["region"] = c.region;
    if (c.rtt_hint_ms) e["rtt_hint"] = *c.rtt_hint_ms;
    candidates.push_back(std::move(e));
  }
  json j{{"interval", interval_json(r.interval)}, {"candidates", std::move(candidates)}};
  if (!r.public_key.empty()) j["public_key"] = r.public_key;
  return dump(j);
}

std::string encode(const leave_request& r) {
  return dump(json{{"node_id", to_hex(r.id)}, {"stream", r.stream}});
}

core::result<announce_request> decode_announce_request(std::string_view body) {
  if (body.size() > k_max_request_bytes) {
    return fail(errc::too_large, "body of " + std::to_string(body.size()) +
                                     " bytes exceeds limit " + std::to_string(k_max_request_bytes));
  }
  auto parsed = parse_object(body);
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  object_reader r(j, "");
  announce_request a;
  std::uint64_t port = 0;
  std::uint64_t upload = 0;
  std::uint64_t stream_kbps = 0;
  read_node_id(r, "node_id", a.id);
  r.text("stream", a.stream, true, is_valid_stream_name,
         "live/NAME (NAME of A-Z a-z 0-9 . _ -, at most 128 characters in all)");
  r.text("rendition", a.rendition, false, is_valid_token, "a rendition name");
  read_role(r, "role", a.role);
  if (const json* swarm = r.object("swarm", true)) {
    object_reader sr(*swarm, "swarm.");
    sr.text("host", a.host, false, host_text, "a numeric IPv4 or IPv6 address");
    sr.integer("port", port, 65535, true);
    if (sr.error) r.set(static_cast<errc>(sr.error->code), sr.error->message);
  }
  r.integer("upload_kbps", upload, k_max_kbps, false);
  r.integer("stream_kbps", stream_kbps, k_max_kbps, false);
  r.text("region", a.region, false, optional_token,
         "a region name (1-64 characters of A-Z a-z 0-9 . _ -)");
  r.text("public_key", a.public_key, false, is_valid_public_key, "an even number of hex digits");
  read_stats(r, a.stats);
  if (r.error) return *r.error;
  if (is_unspecified_host(a.host)) a.host.clear();
  a.port = static_cast<std::uint16_t>(port);
  a.upload_kbps = static_cast<std::uint32_t>(upload);
  a.stream_kbps = static_cast<std::uint32_t>(stream_kbps);
  return a;
}

core::result<leave_request> decode_leave_request(std::string_view body) {
  if (body.size() > k_max_request_bytes) {
    return fail(errc::too_large, "body of " + std::to_string(body.size()) +
                                     " bytes exceeds limit " + std::to_string(k_max_request_bytes));
  }
  auto parsed = parse_object(body);
  if (!parsed) return parsed.error();
  object_reader r(*parsed, "");
  leave_request l;
  read_node_id(r, "node_id", l.id);
  r.text("stream", l.stream, true, is_valid_stream_name, "live/NAME");
  if (r.error) return *r.error;
  return l;
}

core::result<announce_response> decode_announce_response(std::string_view body) {
  if (body.size() > k_max_response_bytes) {
    return fail(errc::too_large, "response of " + std::to_string(body.size()) +
                                     " bytes exceeds limit " +
                                     std::to_string(k_max_response_bytes));
  }
  auto parsed = parse_object(body);
  if (!parsed) return parsed.error();
  object_reader r(*parsed, "");
  announce_response a;
  double interval_s = 0;
  r.number("interval", interval_s, 0, 1e9, true);
  r.text("public_key", a.public_key, false, is_valid_public_key, "an even number of hex digits");
  const json* candidates = r.array("candidates", true);
  if (r.error) return *r.error;
  const auto us = static_cast<std::int64_t>(std::llround(interval_s * 1e6));
  a.interval = std::clamp(core::micros{us}, k_min_interval, k_max_interval);
  for (const json& e : *candidates) {
    if (a.candidates.size() >= k_max_candidates) {
      ++a.skipped_candidates;
      continue;
    }
    if (auto c = decode_candidate(e)) {
      a.candidates.push_back(std::move(*c));
    } else {
      ++a.skipped_candidates;
    }
  }
  return a;
}

std::string to_hex(const ps::node_id& id) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(id.size() * 2);
  for (const std::uint8_t b : id) {
    out += k_digits[b >> 4];
    out += k_digits[b & 0xf];
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}
}  // namespace

std::optional<ps::node_id> node_id_from_hex(std::string_view text) {
  ps::node_id id{};
  if (text.size() != id.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return id;
}

std::string_view role_name(ps::node_role role) {
  switch (role) {
    case ps::node_role::origin:
      return "origin";
    case ps::node_role::edge:
      return "edge";
    case ps::node_role::peer:
      return "peer";
  }
  return "unknown";
}

std::optional<ps::node_role> role_from_name(std::string_view name) {
  if (name == "origin") return ps::node_role::origin;
  if (name == "edge") return ps::node_role::edge;
  if (name == "peer") return ps::node_role::peer;
  return std::nullopt;
}

bool is_valid_token(std::string_view token) {
  if (token.empty() || token.size() > k_max_token_bytes) return false;
  for (const char c : token) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

bool is_valid_stream_name(std::string_view name) {
  constexpr std::string_view k_prefix = "live/";
  if (!name.starts_with(k_prefix) || name.size() > k_max_stream_name_bytes) return false;
  const std::string_view rest = name.substr(k_prefix.size());
  if (rest.empty()) return false;
  for (const char c : rest) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

bool is_numeric_host(std::string_view host) {
  // INET6_ADDRSTRLEN is 46 with the terminator; a longer text cannot be an address.
  std::array<char, 48> text{};
  if (host.empty() || host.size() >= text.size() - 1 || host.find('\0') != host.npos) return false;
  std::copy(host.begin(), host.end(), text.begin());
  std::array<unsigned char, 16> addr{};
  return inet_pton(AF_INET, text.data(), addr.data()) == 1 ||
         inet_pton(AF_INET6, text.data(), addr.data()) == 1;
}

bool is_unspecified_host(std::string_view host) {
  if (host == "0.0.0.0") return true;
  std::array<char, 48> text{};
  if (host.empty() || host.size() >= text.size() - 1 || host.find('\0') != host.npos) return false;
  std::copy(host.begin(), host.end(), text.begin());
  std::array<unsigned char, 16> addr{};
  if (inet_pton(AF_INET6, text.data(), addr.data()) != 1) return false;
  return addr == std::array<unsigned char, 16>{};
}

bool is_valid_public_key(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() > k_max_public_key_chars) return false;
  for (const char c : hex) {
    if (hex_value(c) < 0) return false;
  }
  return true;
}

}  // namespace meshcast::proto::tracker
