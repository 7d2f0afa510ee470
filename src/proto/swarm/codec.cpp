#include "proto/swarm/codec.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace meshcast::proto::swarm {
namespace {

constexpr std::size_t k_node_id_bytes = std::tuple_size_v<node_id>;
constexpr std::size_t k_signature_bytes = std::tuple_size_v<chunk::chunk_signature>;
// seq, segment, discontinuity, source time, duration, pts, flags | signature | pushed | length
static_assert(k_chunk_head_bytes == 8 + 8 + 4 + 8 + 8 + 8 + 1 + k_signature_bytes + 1 + 4);
constexpr std::uint8_t k_known_chunk_flags =
    chunk::flag_keyframe | chunk::flag_segment_start | chunk::flag_discontinuity;
constexpr std::uint8_t k_max_role = static_cast<std::uint8_t>(node_role::peer);
constexpr std::uint8_t k_max_close_reason = static_cast<std::uint8_t>(close_reason::shutdown);
constexpr std::uint8_t k_min_reject_reason = static_cast<std::uint8_t>(reject_reason::not_held);
constexpr std::uint8_t k_max_reject_reason = static_cast<std::uint8_t>(reject_reason::too_late);
/// Chunk times are bounded so that deadline arithmetic on them (source time + duration + playout
/// delay, before the signature is checked) cannot overflow: 2^62 µs is ~146,000 years after 1970,
/// and no chunk (never longer than a segment) lasts an hour.
constexpr std::int64_t k_max_source_time_us = std::int64_t{1} << 62;
constexpr std::int64_t k_max_chunk_duration_us = 3'600'000'000;
constexpr std::uint8_t k_family_ipv4 = 4;
constexpr std::uint8_t k_family_ipv6 = 6;

std::string frame_name(frame_type t) { return std::string("swarm ") + to_string(t) + " frame"; }

core::error fail(codec_errc c, std::string msg) { return core::make_error(c, std::move(msg)); }

std::string hex32(std::uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string hex8(std::uint8_t v) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "0x%02x", v);
  return buf;
}

/// Control characters (and DEL) are refused in names and texts: they end up in logs.
bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::size_t bitmap_bytes(std::size_t bits) { return (bits + 7) / 8; }

/// A pex host in binary form: family 4 or 6 and its address bytes.
struct ip_bytes {
  std::uint8_t family = 0;
  std::array<std::uint8_t, 16> addr{};
  [[nodiscard]] std::size_t size() const { return family == k_family_ipv4 ? 4 : 16; }
};

std::optional<ip_bytes> parse_ip(const std::string& host) {
  ip_bytes ip;
  if (::inet_pton(AF_INET, host.c_str(), ip.addr.data()) == 1) {
    ip.family = k_family_ipv4;
    return ip;
  }
  if (::inet_pton(AF_INET6, host.c_str(), ip.addr.data()) == 1) {
    ip.family = k_family_ipv6;
    return ip;
  }
  return std::nullopt;
}

std::string format_ip(const ip_bytes& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(ip.family == k_family_ipv4 ? AF_INET : AF_INET6, ip.addr.data(), buf, sizeof buf);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// sizes

std::size_t body_size(const hello& m) {
  return 4 + 1 + 2 + m.stream.size() + 2 + m.rendition.size() + k_node_id_bytes + 1 + 4 + 2 +
         m.origin_key.size();
}
std::size_t body_size(const have&) { return 8; }
std::size_t body_size(const bitmap& m) { return 8 + 4 + bitmap_bytes(m.bits.size()); }
std::size_t body_size(const request& m) { return 2 + 8 * m.seqs.size(); }
std::size_t body_size(const cancel& m) { return 2 + 8 * m.seqs.size(); }
std::size_t body_size(const chunk_data& m) {
  return k_chunk_head_bytes + (m.chunk ? m.chunk->size() : 0);
}
std::size_t body_size(const reject&) { return 9; }
std::size_t body_size(const pex& m) {
  std::size_t n = 1;
  for (const auto& p : m.peers) {
    // Without parsing: an IPv6 address always has a colon, an IPv4 one never.
    const std::size_t addr = p.host.find(':') == std::string::npos ? 4 : 16;
    n += k_node_id_bytes + 1 + addr + 2;
  }
  return n;
}
std::size_t body_size(const ping&) { return 16; }
std::size_t body_size(const pong&) { return 24; }
std::size_t body_size(const close& m) { return 1 + 2 + m.text.size(); }

// ---------------------------------------------------------------------------------------------
// validation before encoding (mirrors what decode refuses)

core::error not_encodable(frame_type t, const std::string& what) {
  return fail(codec_errc::not_encodable, "cannot encode " + frame_name(t) + ": " + what);
}

core::result<void> check_name(const char* what, const std::string& s) {
  if (s.size() > k_max_name_bytes) {
    return not_encodable(frame_type::hello, std::string(what) + " of " + std::to_string(s.size()) +
                                                " bytes exceeds limit " +
                                                std::to_string(k_max_name_bytes));
  }
  if (has_control_chars(s)) {
    return not_encodable(frame_type::hello, std::string(what) + " has control characters");
  }
  return core::ok();
}

core::result<void> check_seq_list(frame_type t, const std::vector<chunk_seq>& seqs) {
  if (seqs.empty()) return not_encodable(t, "lists no chunks");
  if (seqs.size() > k_max_request_seqs) {
    return not_encodable(t, "lists " + std::to_string(seqs.size()) + " chunks, limit " +
                                std::to_string(k_max_request_seqs));
  }
  return core::ok();
}

core::result<void> check(const hello& m) {
  if (auto r = check_name("stream name", m.stream); !r) return r;
  if (auto r = check_name("rendition name", m.rendition); !r) return r;
  if (static_cast<std::uint8_t>(m.role) > k_max_role) {
    return not_encodable(frame_type::hello, "role " + std::to_string(static_cast<int>(m.role)));
  }
  return core::ok();
}
core::result<void> check(const have&) { return core::ok(); }
core::result<void> check(const bitmap& m) {
  if (m.bits.size() > k_max_bitmap_bits) {
    return not_encodable(frame_type::bitmap, std::to_string(m.bits.size()) + " bits, limit " +
                                                 std::to_string(k_max_bitmap_bits));
  }
  if (!m.bits.empty() && m.base.value() > UINT64_MAX - (m.bits.size() - 1)) {
    return not_encodable(frame_type::bitmap, "base plus bit count overflows the sequence space");
  }
  return core::ok();
}
core::result<void> check(const request& m) { return check_seq_list(frame_type::request, m.seqs); }
core::result<void> check(const cancel& m) { return check_seq_list(frame_type::cancel, m.seqs); }
core::result<void> check(const chunk_data& m) {
  if (!m.chunk) return not_encodable(frame_type::chunk, "no chunk");
  const auto seq = std::to_string(m.chunk->seq().value());
  if (!m.chunk->signature()) {
    return not_encodable(frame_type::chunk,
                         "chunk " + seq + " is unsigned (sign it before sending it to peers)");
  }
  const std::size_t n = m.chunk->size();
  if (n == 0 || n % chunk::k_ts_packet_bytes != 0) {
    return not_encodable(frame_type::chunk, "chunk " + seq + " payload of " + std::to_string(n) +
                                                " bytes is not a whole number of TS packets");
  }
  const chunk::chunk_header& h = m.chunk->header();
  const std::int64_t source_us = core::to_us(h.source_time);
  if ((h.flags & ~k_known_chunk_flags) != 0 || h.duration.count() < 0 ||
      h.duration.count() > k_max_chunk_duration_us || source_us < 0 ||
      source_us > k_max_source_time_us) {
    return not_encodable(frame_type::chunk, "chunk " + seq +
                                                " has unknown flags, or a source time or duration "
                                                "out of range");
  }
  return core::ok();
}
core::result<void> check(const reject& m) {
  const auto r = static_cast<std::uint8_t>(m.reason);
  if (r < k_min_reject_reason || r > k_max_reject_reason) {
    return not_encodable(frame_type::reject, "reason " + std::to_string(r));
  }
  return core::ok();
}
core::result<void> check(const pex& m) {
  if (m.peers.size() > k_max_pex_entries) {
    return not_encodable(frame_type::pex, "lists " + std::to_string(m.peers.size()) +
                                              " peers, limit " + std::to_string(k_max_pex_entries));
  }
  for (const auto& p : m.peers) {
    if (!parse_ip(p.host)) {
      return not_encodable(frame_type::pex, "host \"" + p.host + "\" is not a numeric IP address");
    }
    if (p.port == 0) return not_encodable(frame_type::pex, "host " + p.host + " has port 0");
  }
  return core::ok();
}
core::result<void> check(const ping&) { return core::ok(); }
core::result<void> check(const pong&) { return core::ok(); }
core::result<void> check(const close& m) {
  if (static_cast<std::uint8_t>(m.reason) > k_max_close_reason) {
    return not_encodable(frame_type::close, "reason " + std::to_string(static_cast<int>(m.reason)));
  }
  if (m.text.size() > k_max_close_text_bytes) {
    return not_encodable(frame_type::close, "text of " + std::to_string(m.text.size()) +
                                                " bytes exceeds limit " +
                                                std::to_string(k_max_close_text_bytes));
  }
  if (has_control_chars(m.text))
    return not_encodable(frame_type::close, "text has control characters");
  return core::ok();
}

// ---------------------------------------------------------------------------------------------
// encoding (after check)

void put_name(core::bytes& out, const std::string& s) {
  core::put_be16(out, static_cast<std::uint16_t>(s.size()));
  core::append(out, core::as_bytes(s));
}
void put_i64(core::bytes& out, std::int64_t v) {
  core::put_be64(out, static_cast<std::uint64_t>(v));
}
void put_seqs(core::bytes& out, const std::vector<chunk_seq>& seqs) {
  core::put_be16(out, static_cast<std::uint16_t>(seqs.size()));
  for (auto s : seqs) core::put_be64(out, s.value());
}

void put_body(core::bytes& out, const hello& m) {
  core::put_be32(out, k_magic);
  core::put_u8(out, m.version);
  put_name(out, m.stream);
  put_name(out, m.rendition);
  core::append(out, m.id);
  core::put_u8(out, static_cast<std::uint8_t>(m.role));
  core::put_be32(out, m.upload_kbps);
  core::put_be16(out, m.listen_port);
  core::append(out, m.origin_key);
}
void put_body(core::bytes& out, const have& m) { core::put_be64(out, m.seq.value()); }
void put_body(core::bytes& out, const bitmap& m) {
  core::put_be64(out, m.base.value());
  core::put_be32(out, static_cast<std::uint32_t>(m.bits.size()));
  const std::size_t first = out.size();
  out.resize(first + bitmap_bytes(m.bits.size()), 0);
  for (std::size_t i = 0; i < m.bits.size(); ++i) {
    if (m.bits[i]) out[first + i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
  }
}
void put_body(core::bytes& out, const request& m) { put_seqs(out, m.seqs); }
void put_body(core::bytes& out, const cancel& m) { put_seqs(out, m.seqs); }
void put_body(core::bytes& out, const chunk_data& m) {  // the head; the payload follows
  const chunk::chunk_header& h = m.chunk->header();
  core::put_be64(out, h.seq.value());
  core::put_be64(out, h.segment.value());
  core::put_be32(out, h.discontinuity);
  put_i64(out, core::to_us(h.source_time));
  put_i64(out, h.duration.count());
  put_i64(out, h.pts_90k);
  core::put_u8(out, h.flags);
  core::append(out, *m.chunk->signature());
  core::put_u8(out, m.pushed ? 1 : 0);
  core::put_be32(out, static_cast<std::uint32_t>(m.chunk->size()));
}
void put_body(core::bytes& out, const reject& m) {
  core::put_be64(out, m.seq.value());
  core::put_u8(out, static_cast<std::uint8_t>(m.reason));
}
void put_body(core::bytes& out, const pex& m) {
  core::put_u8(out, static_cast<std::uint8_t>(m.peers.size()));
  for (const auto& p : m.peers) {
    const ip_bytes ip = *parse_ip(p.host);
    core::append(out, p.id);
    core::put_u8(out, ip.family);
    core::append(out, core::byte_view(ip.addr).first(ip.size()));
    core::put_be16(out, p.port);
  }
}
void put_body(core::bytes& out, const ping& m) {
  core::put_be64(out, m.nonce);
  put_i64(out, m.sent_us);
}
void put_body(core::bytes& out, const pong& m) {
  core::put_be64(out, m.nonce);
  put_i64(out, m.echo_sent_us);
  put_i64(out, m.origin_clock_us);
}
void put_body(core::bytes& out, const close& m) {
  core::put_u8(out, static_cast<std::uint8_t>(m.reason));
  put_name(out, m.text);
}

// ---------------------------------------------------------------------------------------------
// decoding

/// Bounds-checked field reads that name the frame and field in their error.
class field_reader {
 public:
  field_reader(frame_type t, core::byte_view body) : type_(t), r_(body) {}

  bool u8(std::uint8_t& v, const char* field) { return need(1, field) && r_.u8(v); }
  bool be16(std::uint16_t& v, const char* field) { return need(2, field) && r_.be16(v); }
  bool be32(std::uint32_t& v, const char* field) { return need(4, field) && r_.be32(v); }
  bool be64(std::uint64_t& v, const char* field) { return need(8, field) && r_.be64(v); }
  bool i64(std::int64_t& v, const char* field) {
    std::uint64_t u = 0;
    if (!be64(u, field)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  bool take(std::size_t n, core::byte_view& v, const char* field) {
    return need(n, field) && r_.take(n, v);
  }
  template <std::size_t N>
  bool array(std::array<std::uint8_t, N>& out, const char* field) {
    core::byte_view v;
    if (!take(N, v, field)) return false;
    std::memcpy(out.data(), v.data(), N);
    return true;
  }
  /// u16 length + bytes, at most `limit`, no control characters.
  bool name(std::string& out, const char* field, std::size_t limit) {
    std::uint16_t len = 0;
    if (!be16(len, field)) return false;
    if (len > limit) {
      return fail(codec_errc::over_limit, frame_name(type_) + " " + field + " of " +
                                              std::to_string(len) + " bytes exceeds limit " +
                                              std::to_string(limit));
    }
    core::byte_view v;
    if (!take(len, v, field)) return false;
    out.assign(core::as_chars(v));
    if (has_control_chars(out)) {
      return fail(codec_errc::bad_value,
                  frame_name(type_) + " " + field + " has control characters");
    }
    return true;
  }

  bool fail(codec_errc c, std::string msg) {
    if (!error_) error_ = swarm::fail(c, std::move(msg));
    return false;
  }
  [[nodiscard]] const core::error& error() const { return *error_; }
  [[nodiscard]] std::size_t remaining() const { return r_.remaining(); }
  [[nodiscard]] frame_type type() const { return type_; }

 private:
  bool need(std::size_t n, const char* field) {
    if (r_.remaining() >= n) return true;
    return fail(codec_errc::truncated, frame_name(type_) + " truncated at " + field + ": needs " +
                                           std::to_string(n) + " bytes, " +
                                           std::to_string(r_.remaining()) + " left");
  }

  frame_type type_;
  core::byte_reader r_;
  std::optional<core::error> error_;
};

core::result<message> decode_hello(field_reader& r) {
  hello m;
  std::uint32_t magic = 0;
  if (!r.be32(magic, "magic")) return r.error();
  if (magic != k_magic) {
    return fail(codec_errc::bad_magic,
                "swarm hello magic " + hex32(magic) + ", expected " + hex32(k_magic) + " (MCSW)");
  }
  if (!r.u8(m.version, "version")) return r.error();
  // Checked before anything else is read: another version may lay the rest out differently.
  if (m.version != k_version) {
    return fail(codec_errc::bad_version, "swarm hello version " + std::to_string(m.version) +
                                             ", this node speaks version " +
                                             std::to_string(k_version));
  }
  std::uint8_t role = 0;
  if (!r.name(m.stream, "stream name", k_max_name_bytes) ||
      !r.name(m.rendition, "rendition name", k_max_name_bytes) || !r.array(m.id, "node id") ||
      !r.u8(role, "role") || !r.be32(m.upload_kbps, "upload capacity") ||
      !r.be16(m.listen_port, "listen port") || !r.array(m.origin_key, "origin key")) {
    return r.error();
  }
  if (role > k_max_role) {
    return fail(codec_errc::bad_value, "swarm hello role " + std::to_string(role) + " is unknown");
  }
  m.role = static_cast<node_role>(role);
  return message{std::move(m)};
}

core::result<message> decode_have(field_reader& r) {
  std::uint64_t seq = 0;
  if (!r.be64(seq, "seq")) return r.error();
  return message{have{chunk_seq(seq)}};
}

core::result<message> decode_bitmap(field_reader& r) {
  std::uint64_t base = 0;
  std::uint32_t count = 0;
  if (!r.be64(base, "base") || !r.be32(count, "bit count")) return r.error();
  if (count > k_max_bitmap_bits) {
    return fail(codec_errc::over_limit, "swarm bitmap frame has " + std::to_string(count) +
                                            " bits, limit " + std::to_string(k_max_bitmap_bits));
  }
  if (count > 0 && base > UINT64_MAX - (count - 1)) {
    return fail(codec_errc::bad_value, "swarm bitmap base " + std::to_string(base) + " plus " +
                                           std::to_string(count) +
                                           " bits overflows the sequence space");
  }
  core::byte_view bytes;
  if (!r.take(bitmap_bytes(count), bytes, "bits")) return r.error();
  bitmap m;
  m.base = chunk_seq(base);
  m.bits.resize(count);
  for (std::size_t i = 0; i < count; ++i) m.bits[i] = (bytes[i / 8] & (0x80u >> (i % 8))) != 0;
  // The encoding is canonical: the unused low bits of the last byte are zero.
  if (count % 8 != 0 && (bytes.back() & (0xffu >> (count % 8))) != 0) {
    return fail(codec_errc::bad_value,
                "swarm bitmap frame has set padding bits after bit " + std::to_string(count));
  }
  return message{std::move(m)};
}

core::result<std::vector<chunk_seq>> decode_seqs(field_reader& r) {
  std::uint16_t count = 0;
  if (!r.be16(count, "count")) return r.error();
  const std::string name = frame_name(r.type());
  if (count == 0) return fail(codec_errc::bad_value, name + " lists no chunks");
  if (count > k_max_request_seqs) {
    return fail(codec_errc::over_limit, name + " lists " + std::to_string(count) +
                                            " chunks, limit " + std::to_string(k_max_request_seqs));
  }
  std::vector<chunk_seq> seqs(count);
  for (auto& s : seqs) {
    std::uint64_t v = 0;
    if (!r.be64(v, "seq")) return r.error();
    s = chunk_seq(v);
  }
  return seqs;
}

core::result<message> decode_request(field_reader& r) {
  auto seqs = decode_seqs(r);
  if (!seqs) return seqs.error();
  return message{request{std::move(*seqs)}};
}

core::result<message> decode_cancel(field_reader& r) {
  auto seqs = decode_seqs(r);
  if (!seqs) return seqs.error();
  return message{cancel{std::move(*seqs)}};
}

/// `r` reads the fixed head; `payload` is everything after it in the frame.
core::result<message> decode_chunk(field_reader& r, core::bytes payload) {
  chunk::chunk_header h;
  std::uint64_t seq = 0, segment = 0;
  std::int64_t source_us = 0, duration_us = 0;
  chunk::chunk_signature sig{};
  std::uint8_t pushed = 0;
  std::uint32_t length = 0;
  if (!r.be64(seq, "seq") || !r.be64(segment, "segment") ||
      !r.be32(h.discontinuity, "discontinuity") || !r.i64(source_us, "source time") ||
      !r.i64(duration_us, "duration") || !r.i64(h.pts_90k, "pts") || !r.u8(h.flags, "flags") ||
      !r.array(sig, "signature") || !r.u8(pushed, "pushed flag") ||
      !r.be32(length, "payload length")) {
    return r.error();
  }
  h.seq = chunk_seq(seq);
  h.segment = core::segment_seq(segment);
  h.source_time = core::from_us(source_us);
  h.duration = core::micros(duration_us);
  if ((h.flags & ~k_known_chunk_flags) != 0) {
    return fail(codec_errc::bad_value, "swarm chunk flags " + hex8(h.flags) + " have unknown bits");
  }
  if (duration_us < 0 || duration_us > k_max_chunk_duration_us) {
    return fail(codec_errc::bad_value, "swarm chunk duration " + std::to_string(duration_us) +
                                           " us is outside 0.." +
                                           std::to_string(k_max_chunk_duration_us));
  }
  if (source_us < 0 || source_us > k_max_source_time_us) {
    return fail(codec_errc::bad_value,
                "swarm chunk source time " + std::to_string(source_us) + " us is outside 0..2^62");
  }
  if (pushed > 1) {
    return fail(codec_errc::bad_value,
                "swarm chunk pushed flag " + std::to_string(pushed) + " (expected 0 or 1)");
  }
  if (length > payload.size()) {
    return fail(codec_errc::truncated, "swarm chunk frame truncated at payload: needs " +
                                           std::to_string(length) + " bytes, " +
                                           std::to_string(payload.size()) + " left");
  }
  if (length < payload.size()) {
    return fail(
        codec_errc::trailing_bytes,
        "swarm chunk frame has " + std::to_string(payload.size() - length) + " trailing bytes");
  }
  if (length == 0 || length % chunk::k_ts_packet_bytes != 0) {
    return fail(codec_errc::bad_value, "swarm chunk payload of " + std::to_string(length) +
                                           " bytes is not a whole number of 188-byte TS packets");
  }
  auto buffer = std::make_shared<const core::bytes>(std::move(payload));  // adopted, not copied
  return message{chunk_data{chunk::make_chunk(h, std::move(buffer), sig), pushed == 1}};
}

core::result<message> decode_reject(field_reader& r) {
  std::uint64_t seq = 0;
  std::uint8_t reason = 0;
  if (!r.be64(seq, "seq") || !r.u8(reason, "reason")) return r.error();
  if (reason < k_min_reject_reason || reason > k_max_reject_reason) {
    return fail(codec_errc::bad_value,
                "swarm reject reason " + std::to_string(reason) + " is unknown");
  }
  return message{reject{chunk_seq(seq), static_cast<reject_reason>(reason)}};
}

core::result<message> decode_pex(field_reader& r) {
  std::uint8_t count = 0;
  if (!r.u8(count, "count")) return r.error();
  if (count > k_max_pex_entries) {
    return fail(codec_errc::over_limit, "swarm pex frame lists " + std::to_string(count) +
                                            " peers, limit " + std::to_string(k_max_pex_entries));
  }
  pex m;
  m.peers.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    peer_address& p = m.peers[i];
    ip_bytes ip;
    core::byte_view addr;
    if (!r.array(p.id, "node id") || !r.u8(ip.family, "address family")) return r.error();
    if (ip.family != k_family_ipv4 && ip.family != k_family_ipv6) {
      return fail(codec_errc::bad_value, "swarm pex entry " + std::to_string(i) +
                                             " address family " + std::to_string(ip.family) +
                                             " (expected 4 or 6)");
    }
    if (!r.take(ip.size(), addr, "address") || !r.be16(p.port, "port")) return r.error();
    std::memcpy(ip.addr.data(), addr.data(), addr.size());
    if (p.port == 0) {
      return fail(codec_errc::bad_value, "swarm pex entry " + std::to_string(i) + " has port 0");
    }
    p.host = format_ip(ip);
  }
  return message{std::move(m)};
}

core::result<message> decode_ping(field_reader& r) {
  ping m;
  if (!r.be64(m.nonce, "nonce") || !r.i64(m.sent_us, "sent time")) return r.error();
  return message{m};
}

core::result<message> decode_pong(field_reader& r) {
  pong m;
  if (!r.be64(m.nonce, "nonce") || !r.i64(m.echo_sent_us, "echoed sent time") ||
      !r.i64(m.origin_clock_us, "origin clock")) {
    return r.error();
  }
  return message{m};
}

core::result<message> decode_close(field_reader& r) {
  close m;
  std::uint8_t reason = 0;
  if (!r.u8(reason, "reason")) return r.error();
  if (reason > k_max_close_reason) {
    return fail(codec_errc::bad_value,
                "swarm close reason " + std::to_string(reason) + " is unknown");
  }
  m.reason = static_cast<close_reason>(reason);
  if (!r.name(m.text, "text", k_max_close_text_bytes)) return r.error();
  return message{std::move(m)};
}

/// `body` is the whole body, except for chunk frames where it is the head and `payload` the rest.
core::result<message> decode_parts(std::uint8_t type_byte, core::byte_view body,
                                   core::bytes payload) {
  const auto type = static_cast<frame_type>(type_byte);
  field_reader r(type, body);
  core::result<message> m = [&]() -> core::result<message> {
    switch (type) {
      case frame_type::hello:
        return decode_hello(r);
      case frame_type::have:
        return decode_have(r);
      case frame_type::bitmap:
        return decode_bitmap(r);
      case frame_type::request:
        return decode_request(r);
      case frame_type::cancel:
        return decode_cancel(r);
      case frame_type::chunk:
        return decode_chunk(r, std::move(payload));
      case frame_type::reject:
        return decode_reject(r);
      case frame_type::pex:
        return decode_pex(r);
      case frame_type::ping:
        return decode_ping(r);
      case frame_type::pong:
        return decode_pong(r);
      case frame_type::close:
        return decode_close(r);
    }
    return fail(codec_errc::unknown_type,
                "swarm frame type " + std::to_string(type_byte) + " is unknown");
  }();
  if (m && r.remaining() != 0) {
    return fail(codec_errc::trailing_bytes,
                frame_name(type) + " has " + std::to_string(r.remaining()) + " trailing bytes");
  }
  return m;
}

bool is_known_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(frame_type::hello) &&
         t <= static_cast<std::uint8_t>(frame_type::close);
}

std::size_t limit_for(std::uint8_t type, std::size_t max_frame_bytes) {
  return type == static_cast<std::uint8_t>(frame_type::chunk)
             ? max_frame_bytes
             : std::min(k_max_control_frame_bytes, max_frame_bytes);
}

/// How much of a chunk frame's body is the fixed head (the rest is payload).
std::size_t head_part(std::uint8_t type, std::size_t body_bytes) {
  return type == static_cast<std::uint8_t>(frame_type::chunk)
             ? std::min(body_bytes, k_chunk_head_bytes)
             : body_bytes;
}

frame_type type_of_alt(const hello&) { return frame_type::hello; }
frame_type type_of_alt(const have&) { return frame_type::have; }
frame_type type_of_alt(const bitmap&) { return frame_type::bitmap; }
frame_type type_of_alt(const request&) { return frame_type::request; }
frame_type type_of_alt(const cancel&) { return frame_type::cancel; }
frame_type type_of_alt(const chunk_data&) { return frame_type::chunk; }
frame_type type_of_alt(const reject&) { return frame_type::reject; }
frame_type type_of_alt(const pex&) { return frame_type::pex; }
frame_type type_of_alt(const ping&) { return frame_type::ping; }
frame_type type_of_alt(const pong&) { return frame_type::pong; }
frame_type type_of_alt(const close&) { return frame_type::close; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// public API

frame_type type_of(const message& msg) {
  return std::visit([](const auto& m) { return type_of_alt(m); }, msg);
}

core::result<void> validate(const message& msg) {
  return std::visit([](const auto& m) { return check(m); }, msg);
}

core::result<transmit> encode_frame(const message& msg) {
  if (auto ok = validate(msg); !ok) return ok.error();
  transmit t;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        const std::size_t body = body_size(m);
        std::size_t head_body = body;
        if constexpr (std::is_same_v<T, chunk_data>) {
          head_body = k_chunk_head_bytes;
          t.payload = m.chunk->payload_buffer();
        }
        t.head.reserve(k_frame_head_bytes + head_body);
        core::put_be32(t.head, static_cast<std::uint32_t>(1 + body));
        core::put_u8(t.head, static_cast<std::uint8_t>(type_of(msg)));
        put_body(t.head, m);
      },
      msg);
  return t;
}

core::result<core::bytes> encode(const message& msg) {
  auto t = encode_frame(msg);
  if (!t) return t.error();
  core::bytes out = std::move(t->head);
  if (t->payload) core::append(out, *t->payload);
  return out;
}

std::size_t encoded_size(const message& msg) {
  return k_frame_head_bytes + std::visit([](const auto& m) { return body_size(m); }, msg);
}

core::result<void> check_frame_head(std::uint32_t length, std::uint8_t type,
                                    std::size_t max_frame_bytes) {
  if (length == 0) {
    return fail(codec_errc::too_large,
                "swarm frame length 0 (a frame holds at least its type byte)");
  }
  if (!is_known_type(type)) {
    return fail(codec_errc::unknown_type,
                "swarm frame type " + std::to_string(type) + " is unknown");
  }
  const std::size_t limit = limit_for(type, max_frame_bytes);
  if (length > limit) {
    return fail(codec_errc::too_large, frame_name(static_cast<frame_type>(type)) + " of " +
                                           std::to_string(length) + " bytes exceeds limit " +
                                           std::to_string(limit));
  }
  return core::ok();
}

core::result<message> decode(raw_frame frame) {
  return decode_parts(frame.type, frame.body, std::move(frame.payload));
}

core::result<message> decode(core::byte_view frame, std::size_t max_frame_bytes) {
  if (frame.size() < k_frame_head_bytes) {
    return fail(codec_errc::truncated, "swarm frame of " + std::to_string(frame.size()) +
                                           " bytes is shorter than its 5-byte head");
  }
  const std::uint32_t length = core::get_be32(frame.data());
  const std::uint8_t type = frame[4];
  if (auto ok = check_frame_head(length, type, max_frame_bytes); !ok) return ok.error();
  const std::size_t have_bytes = frame.size() - 4;
  if (have_bytes < length) {
    return fail(codec_errc::truncated, "swarm frame truncated: length says " +
                                           std::to_string(length) + " bytes, " +
                                           std::to_string(have_bytes) + " present");
  }
  if (have_bytes > length) {
    return fail(
        codec_errc::trailing_bytes,
        "swarm frame followed by " + std::to_string(have_bytes - length) + " trailing bytes");
  }
  const core::byte_view body = frame.subspan(k_frame_head_bytes);
  const std::size_t head = head_part(type, body.size());
  const core::byte_view rest = body.subspan(head);
  return decode_parts(type, body.first(head), core::bytes(rest.begin(), rest.end()));
}

// ---------------------------------------------------------------------------------------------
// frame_reader

core::result<void> frame_reader::feed(core::byte_view data) {
  if (error_) return *error_;
  while (!data.empty()) {
    if (head_have_ < k_frame_head_bytes) {
      const std::size_t take = std::min(k_frame_head_bytes - head_have_, data.size());
      std::memcpy(head_.data() + head_have_, data.data(), take);
      head_have_ += take;
      data = data.subspan(take);
      const std::uint32_t length = head_have_ >= 4 ? core::get_be32(head_.data()) : 0;
      if (head_have_ < k_frame_head_bytes) {
        // The prefix alone already rules out a length over every limit.
        const std::size_t largest = std::max(max_frame_bytes_, k_max_control_frame_bytes);
        if (head_have_ == 4 && length == 0) {
          error_ = check_frame_head(0, 0, max_frame_bytes_).error();
        } else if (head_have_ == 4 && length > largest) {
          error_ =
              fail(codec_errc::too_large, "swarm frame of " + std::to_string(length) +
                                              " bytes exceeds limit " + std::to_string(largest));
        }
        if (error_) return *error_;
        break;
      }
      if (auto ok = check_frame_head(length, head_[4], max_frame_bytes_); !ok) {
        error_ = ok.error();
        return *error_;
      }
      current_ = raw_frame{head_[4], {}, {}};
      body_want_ = length - 1;
      body_have_ = 0;
      const std::size_t head = head_part(current_.type, body_want_);
      current_.body.reserve(head);
      // Reserved at once so the payload lands in its final buffer with no reallocation; pages
      // of this reservation are only touched (committed) as bytes arrive.
      current_.payload.reserve(body_want_ - head);
    }
    const std::size_t head = head_part(current_.type, body_want_);
    if (body_have_ < head) {
      const std::size_t take = std::min(head - body_have_, data.size());
      core::append(current_.body, data.first(take));
      body_have_ += take;
      data = data.subspan(take);
    }
    if (body_have_ >= head && body_have_ < body_want_) {
      const std::size_t take = std::min(body_want_ - body_have_, data.size());
      core::append(current_.payload, data.first(take));
      body_have_ += take;
      data = data.subspan(take);
    }
    if (body_have_ == body_want_) {
      ready_.push_back(std::move(current_));
      current_ = raw_frame{};
      head_have_ = 0;
      body_want_ = body_have_ = 0;
    }
  }
  return core::ok();
}

std::optional<raw_frame> frame_reader::next() {
  if (ready_.empty()) return std::nullopt;
  raw_frame f = std::move(ready_.front());
  ready_.pop_front();
  return f;
}

std::size_t frame_reader::partial_bytes() const { return head_have_ + body_have_; }

}  // namespace meshcast::proto::swarm
