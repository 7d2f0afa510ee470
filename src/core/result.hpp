// result<T>: the value of an operation on hostile input, or an error that says what was expected
// and what came. Parsers of outside bytes return these and never throw.
// Plain value type; no thread affinity.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace meshcast::core {

/// An error with a human-readable message, e.g. "flv tag size 9000000 exceeds limit 8388608".
/// `code` is a per-domain enum value (cast to int) so callers can branch without string matching.
struct error {
  int code = 0;
  std::string message;

  /// Prefixes context on the way up: err.with_context("edge pull") -> "edge pull: <message>".
  [[nodiscard]] error with_context(std::string_view ctx) const {
    return error{code, std::string(ctx) + ": " + message};
  }
};

template <class E>
error make_error(E code, std::string message) {
  return error{static_cast<int>(code), std::move(message)};
}

/// result<T> holds either a T or an error. `result<void>` holds nothing on success.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(core::error err) : v_(std::in_place_index<1>, std::move(err)) {}  // NOLINT

  [[nodiscard]] bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  [[nodiscard]] const core::error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, core::error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(core::error err) : err_(std::move(err)), ok_(false) {}  // NOLINT

  [[nodiscard]] bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  [[nodiscard]] const core::error& error() const { return err_; }

 private:
  core::error err_;
  bool ok_ = true;
};

inline result<void> ok() { return {}; }

}  // namespace meshcast::core
