#include "proto/rtmp/amf0.hpp"

#include <bit>
#include <cmath>
#include <cstdio>

namespace meshcast::proto::rtmp::amf0 {

value value::make_number(double v) {
  value r;
  r.kind = type::number;
  r.number = v;
  return r;
}
value value::make_boolean(bool v) {
  value r;
  r.kind = type::boolean;
  r.boolean = v;
  return r;
}
value value::make_string(std::string v) {
  value r;
  r.kind = v.size() > 0xffff ? type::long_string : type::string;
  r.string = std::move(v);
  return r;
}
value value::make_null() { return value{}; }
value value::make_undefined() {
  value r;
  r.kind = type::undefined;
  return r;
}
value value::make_object() { return make_object(std::vector<property>{}); }
value value::make_ecma_array() { return make_ecma_array(std::vector<property>{}); }
value value::make_object(std::vector<property> props) {
  value r;
  r.kind = type::object;
  r.properties = std::move(props);
  return r;
}
value value::make_ecma_array(std::vector<property> props) {
  value r;
  r.kind = type::ecma_array;
  r.properties = std::move(props);
  return r;
}
value value::make_strict_array(std::vector<value> items) {
  value r;
  r.kind = type::strict_array;
  r.items = std::move(items);
  return r;
}
value value::make_date(double ms, std::int16_t tz) {
  value r;
  r.kind = type::date;
  r.number = ms;
  r.timezone = tz;
  return r;
}

const value* value::find(std::string_view key) const {
  if (!is_object_like()) return nullptr;
  for (const auto& p : properties) {
    if (p.key == key) return &p.val;
  }
  return nullptr;
}

std::optional<std::string> value::get_string(std::string_view key) const {
  const value* v = find(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->string;
}

std::optional<double> value::get_number(std::string_view key) const {
  const value* v = find(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->number;
}

value& value::set(std::string key, value v) {
  for (auto& p : properties) {
    if (p.key == key) {
      p.val = std::move(v);
      return *this;
    }
  }
  properties.push_back({std::move(key), std::move(v)});
  return *this;
}

bool operator==(const value& a, const value& b) {
  if (a.kind != b.kind) return false;
  // NaN equals NaN here: values compare as what they encode, and a NaN round-trips.
  const bool same_number = a.number == b.number || (std::isnan(a.number) && std::isnan(b.number));
  switch (a.kind) {
    case type::number:
      return same_number;
    case type::boolean:
      return a.boolean == b.boolean;
    case type::string:
    case type::long_string:
      return a.string == b.string;
    case type::object:
    case type::ecma_array:
      return a.properties == b.properties;
    case type::strict_array:
      return a.items == b.items;
    case type::date:
      return same_number && a.timezone == b.timezone;
    case type::null:
    case type::undefined:
    case type::object_end:
      return true;
  }
  return false;
}

namespace {

void append_quoted(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

void render(std::string& out, const value& v) {
  switch (v.kind) {
    case type::number: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.number);
      out += buf;
      return;
    }
    case type::boolean:
      out += v.boolean ? "true" : "false";
      return;
    case type::string:
    case type::long_string:
      append_quoted(out, v.string);
      return;
    case type::null:
      out += "null";
      return;
    case type::undefined:
      out += "undefined";
      return;
    case type::object_end:
      out += "<object end>";
      return;
    case type::date: {
      char buf[48];
      std::snprintf(buf, sizeof buf, "date(%.17g, tz %d)", v.number, static_cast<int>(v.timezone));
      out += buf;
      return;
    }
    case type::object:
    case type::ecma_array: {
      out += v.kind == type::object ? "{" : "ecma{";
      bool first = true;
      for (const auto& p : v.properties) {
        if (!first) out += ", ";
        first = false;
        out += p.key;
        out += ": ";
        render(out, p.val);
      }
      out += "}";
      return;
    }
    case type::strict_array: {
      out += "[";
      bool first = true;
      for (const auto& item : v.items) {
        if (!first) out += ", ";
        first = false;
        render(out, item);
      }
      out += "]";
      return;
    }
  }
}

const char* marker_name(std::uint8_t m) {
  switch (m) {
    case 0x04: return "movieclip";
    case 0x07: return "reference";
    case 0x0d: return "unsupported";
    case 0x0e: return "recordset";
    case 0x0f: return "xml document";
    case 0x10: return "typed object";
    case 0x11: return "AMF3 switch";
    default: return "unknown";
  }
}

core::error fail(errc code, std::string what, std::size_t offset) {
  return core::make_error(code, "amf0: " + what + " at offset " + std::to_string(offset));
}

class decoder {
 public:
  decoder(core::byte_reader& in, const limits& lim) : in_(in), lim_(lim) {}

  core::result<value> any(int depth) {
    const std::size_t at = in_.position();
    std::uint8_t marker = 0;
    if (!in_.u8(marker)) return fail(errc::truncated, "truncated value: expected a type marker", at);
    if (++count_ > lim_.max_values) {
      return fail(errc::too_many_values,
                  "value count exceeds limit " + std::to_string(lim_.max_values), at);
    }
    value v;
    switch (marker) {
      case 0x00: {
        std::uint64_t bits = 0;
        if (!in_.be64(bits)) return fail(errc::truncated, "truncated number: expected 8 bytes", at);
        return value::make_number(std::bit_cast<double>(bits));
      }
      case 0x01: {
        std::uint8_t b = 0;
        if (!in_.u8(b)) return fail(errc::truncated, "truncated boolean: expected 1 byte", at);
        return value::make_boolean(b != 0);
      }
      case 0x02:
      case 0x0c: {
        auto s = marker == 0x02 ? short_string("string") : long_string();
        if (!s) return s.error();
        v.kind = static_cast<type>(marker);
        v.string = std::move(*s);
        return v;
      }
      case 0x03:
      case 0x08: {
        if (depth >= lim_.max_depth) {
          return fail(errc::too_deep, "nesting depth exceeds limit " + std::to_string(lim_.max_depth), at);
        }
        v.kind = static_cast<type>(marker);
        if (marker == 0x08) {
          std::uint32_t declared = 0;  // advisory only: encoders get it wrong, we read to the end marker
          if (!in_.be32(declared)) return fail(errc::truncated, "truncated ECMA array count", at);
        }
        if (auto r = properties(v.properties, depth + 1, marker == 0x08); !r) return r.error();
        return v;
      }
      case 0x05:
        return value::make_null();
      case 0x06:
        return value::make_undefined();
      case 0x09:
        return fail(errc::unexpected_object_end, "object end marker outside an object", at);
      case 0x0a: {
        if (depth >= lim_.max_depth) {
          return fail(errc::too_deep, "nesting depth exceeds limit " + std::to_string(lim_.max_depth), at);
        }
        std::uint32_t n = 0;
        if (!in_.be32(n)) return fail(errc::truncated, "truncated strict array count", at);
        // Every element takes at least one byte, so a count beyond the remaining bytes is a lie.
        if (n > in_.remaining()) {
          return fail(errc::truncated,
                      "strict array count " + std::to_string(n) + " exceeds the " +
                          std::to_string(in_.remaining()) + " bytes left",
                      at);
        }
        v.kind = type::strict_array;
        for (std::uint32_t i = 0; i < n; ++i) {
          auto item = any(depth + 1);
          if (!item) return item.error();
          v.items.push_back(std::move(*item));
        }
        return v;
      }
      case 0x0b: {
        std::uint64_t bits = 0;
        std::uint16_t tz = 0;
        if (!in_.be64(bits) || !in_.be16(tz)) {
          return fail(errc::truncated, "truncated date: expected 10 bytes", at);
        }
        return value::make_date(std::bit_cast<double>(bits), static_cast<std::int16_t>(tz));
      }
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned>(marker));
        return fail(errc::bad_marker,
                    std::string("unsupported type marker ") + buf + " (" + marker_name(marker) + ")",
                    at);
      }
    }
  }

 private:
  core::result<std::string> short_string(const char* what) {
    const std::size_t at = in_.position();
    std::uint16_t n = 0;
    core::byte_view s;
    if (!in_.be16(n)) return fail(errc::truncated, std::string("truncated ") + what + " length", at);
    if (!in_.take(n, s)) {
      return fail(errc::truncated,
                  std::string(what) + " of " + std::to_string(n) + " bytes is truncated", at);
    }
    return std::string(core::as_chars(s));
  }

  core::result<std::string> long_string() {
    const std::size_t at = in_.position();
    std::uint32_t n = 0;
    core::byte_view s;
    if (!in_.be32(n)) return fail(errc::truncated, "truncated long string length", at);
    if (!in_.take(n, s)) {
      return fail(errc::truncated, "long string of " + std::to_string(n) + " bytes is truncated", at);
    }
    return std::string(core::as_chars(s));
  }

  // Reads key/value pairs up to the empty key + object end marker. ECMA arrays that simply stop
  // at the end of the message are accepted (some encoders omit the end marker there).
  core::result<void> properties(std::vector<property>& out, int depth, bool lenient_end) {
    while (true) {
      if (lenient_end && in_.remaining() == 0) return core::ok();
      auto key = short_string("property name");
      if (!key) return key.error();
      if (key->empty()) {
        const std::size_t at = in_.position();
        std::uint8_t m = 0;
        if (in_.u8(m) && m == 0x09) return core::ok();
        if (lenient_end && !in_.ok()) return core::ok();
        return fail(errc::truncated, "expected object end marker 0x09 after empty property name", at);
      }
      auto val = any(depth);
      if (!val) return val.error();
      out.push_back({std::move(*key), std::move(*val)});
    }
  }

  core::byte_reader& in_;
  const limits& lim_;
  std::size_t count_ = 0;
};

void put_string_body(core::bytes& out, const std::string& s, bool is_long) {
  if (is_long) {
    core::put_be32(out, static_cast<std::uint32_t>(s.size()));
  } else {
    core::put_be16(out, static_cast<std::uint16_t>(s.size()));
  }
  core::append(out, core::as_bytes(s));
}

void put_properties(core::bytes& out, const std::vector<property>& props) {
  for (const auto& p : props) {
    // Property names are short strings; a longer name cannot be encoded and is cut.
    const std::string key = p.key.size() > 0xffff ? p.key.substr(0, 0xffff) : p.key;
    put_string_body(out, key, false);
    encode(out, p.val);
  }
  core::put_be16(out, 0);
  core::put_u8(out, 0x09);
}

}  // namespace

std::string to_string(const value& v) {
  std::string out;
  render(out, v);
  return out;
}

core::result<value> decode(core::byte_reader& in, const limits& lim) {
  decoder d(in, lim);
  return d.any(0);
}

core::result<std::vector<value>> decode_all(core::byte_view data, const limits& lim) {
  core::byte_reader in(data);
  decoder d(in, lim);
  std::vector<value> out;
  while (in.remaining() > 0) {
    auto v = d.any(0);
    if (!v) return v.error();
    out.push_back(std::move(*v));
  }
  return out;
}

void encode(core::bytes& out, const value& v) {
  switch (v.kind) {
    case type::number:
      core::put_u8(out, 0x00);
      core::put_be64(out, std::bit_cast<std::uint64_t>(v.number));
      return;
    case type::boolean:
      core::put_u8(out, 0x01);
      core::put_u8(out, v.boolean ? 1 : 0);
      return;
    case type::string:
    case type::long_string: {
      const bool is_long = v.kind == type::long_string || v.string.size() > 0xffff;
      core::put_u8(out, is_long ? 0x0c : 0x02);
      put_string_body(out, v.string, is_long);
      return;
    }
    case type::object:
      core::put_u8(out, 0x03);
      put_properties(out, v.properties);
      return;
    case type::ecma_array:
      core::put_u8(out, 0x08);
      core::put_be32(out, static_cast<std::uint32_t>(v.properties.size()));
      put_properties(out, v.properties);
      return;
    case type::null:
      core::put_u8(out, 0x05);
      return;
    case type::undefined:
      core::put_u8(out, 0x06);
      return;
    case type::object_end:
      core::put_u8(out, 0x09);
      return;
    case type::strict_array:
      core::put_u8(out, 0x0a);
      core::put_be32(out, static_cast<std::uint32_t>(v.items.size()));
      for (const auto& item : v.items) encode(out, item);
      return;
    case type::date:
      core::put_u8(out, 0x0b);
      core::put_be64(out, std::bit_cast<std::uint64_t>(v.number));
      core::put_be16(out, static_cast<std::uint16_t>(v.timezone));
      return;
  }
}

void encode_all(core::bytes& out, const std::vector<value>& values) {
  for (const auto& v : values) encode(out, v);
}

}  // namespace meshcast::proto::rtmp::amf0
