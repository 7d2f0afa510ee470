// Byte buffers. `bytes` is an owned, growable buffer; `byte_view` a borrowed read-only view;
// `shared_bytes` an immutable buffer shared by reference count (one copy however many readers).
// Helpers here read/write big-endian integers; all bounds are checked by the caller (see reader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace meshcast::core {

using bytes = std::vector<std::uint8_t>;
using byte_view = std::span<const std::uint8_t>;
using shared_bytes = std::shared_ptr<const bytes>;

inline byte_view as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(byte_view b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline void append(bytes& out, byte_view in) { out.insert(out.end(), in.begin(), in.end()); }

inline void put_u8(bytes& out, std::uint8_t v) { out.push_back(v); }
inline void put_be16(bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
inline void put_be24(bytes& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
inline void put_be32(bytes& out, std::uint32_t v) {
  put_be16(out, static_cast<std::uint16_t>(v >> 16));
  put_be16(out, static_cast<std::uint16_t>(v));
}
inline void put_be64(bytes& out, std::uint64_t v) {
  put_be32(out, static_cast<std::uint32_t>(v >> 32));
  put_be32(out, static_cast<std::uint32_t>(v));
}

inline std::uint16_t get_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t get_be24(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
}
inline std::uint32_t get_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::uint64_t get_be64(const std::uint8_t* p) {
  return (std::uint64_t{get_be32(p)} << 32) | get_be32(p + 4);
}

/// Bounds-checked sequential reader over a byte_view. Every read reports failure by returning
/// false / leaving `ok()` false instead of reading past the end; callers turn that into an error.
class byte_reader {
 public:
  explicit byte_reader(byte_view data) : data_(data) {}

  [[nodiscard]] std::size_t remaining() const { return data_.size() - pos_; }
  [[nodiscard]] std::size_t position() const { return pos_; }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] byte_view rest() const { return data_.subspan(pos_); }

  bool u8(std::uint8_t& v) { return read_be(v, 1); }
  bool be16(std::uint16_t& v) { return read_be(v, 2); }
  bool be24(std::uint32_t& v) { return read_be(v, 3); }
  bool be32(std::uint32_t& v) { return read_be(v, 4); }
  bool be64(std::uint64_t& v) { return read_be(v, 8); }
  bool take(std::size_t n, byte_view& out) {
    if (!need(n)) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(std::size_t n) {
    if (!need(n)) return false;
    pos_ += n;
    return true;
  }

 private:
  bool need(std::size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  template <class T>
  bool read_be(T& v, std::size_t n) {
    if (!need(n)) return false;
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < n; ++i) acc = (acc << 8) | data_[pos_ + i];
    v = static_cast<T>(acc);
    pos_ += n;
    return true;
  }

  byte_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace meshcast::core
