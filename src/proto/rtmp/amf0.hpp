// AMF0 (Action Message Format 0): the value encoding of RTMP commands (connect, publish, onStatus)
// and data messages (@setDataFrame/onMetaData). Plain value types; decode never throws on hostile
// input: it returns core::result with what was expected and what came, and bounds nesting depth,
// element counts and string sizes. No thread affinity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace meshcast::proto::rtmp::amf0 {

/// Type markers of AMF0 (Adobe AMF0 spec, section 2.1). Only the ones we decode are listed;
/// movieclip, reference, recordset, xml document, typed object and AMF3 switch are refused.
enum class type : std::uint8_t {
  number = 0x00,
  boolean = 0x01,
  string = 0x02,
  object = 0x03,
  null = 0x05,
  undefined = 0x06,
  ecma_array = 0x08,
  object_end = 0x09,
  strict_array = 0x0a,
  date = 0x0b,
  long_string = 0x0c,
};

enum class errc { truncated = 1, bad_marker, too_deep, too_many_values, unexpected_object_end };

struct property;

/// One AMF0 value. A tagged struct rather than a variant so that objects can nest (properties
/// hold values) and so that reading a field of the wrong kind is a plain default, not a throw.
struct value {
  // Special members are defined below, once `property` is complete.
  value();
  value(const value&);
  value(value&&) noexcept;
  value& operator=(const value&);
  value& operator=(value&&) noexcept;
  ~value();

  type kind = type::null;
  double number = 0;                ///< number; date (ms since the Unix epoch)
  bool boolean = false;             ///< boolean
  std::string string;               ///< string, long_string
  std::vector<property> properties;  ///< object, ecma_array (in wire order)
  std::vector<value> items;         ///< strict_array
  std::int16_t timezone = 0;        ///< date (minutes; "should be 0" per spec)

  static value make_number(double v);
  static value make_boolean(bool v);
  static value make_string(std::string v);  ///< long_string when longer than 65535 bytes
  static value make_null();
  static value make_undefined();
  static value make_object();  ///< empty; fill with set()
  static value make_object(std::vector<property> props);
  static value make_ecma_array();
  static value make_ecma_array(std::vector<property> props);
  static value make_strict_array(std::vector<value> items);
  static value make_date(double ms, std::int16_t tz = 0);

  [[nodiscard]] bool is_string() const { return kind == type::string || kind == type::long_string; }
  [[nodiscard]] bool is_number() const { return kind == type::number; }
  [[nodiscard]] bool is_object_like() const {
    return kind == type::object || kind == type::ecma_array;
  }

  /// Property `key` of an object or ECMA array, or nullptr (also for other kinds).
  [[nodiscard]] const value* find(std::string_view key) const;
  /// Property `key` if it is a string / number, else nullopt.
  [[nodiscard]] std::optional<std::string> get_string(std::string_view key) const;
  [[nodiscard]] std::optional<double> get_number(std::string_view key) const;

  /// Appends or replaces property `key` (object / ECMA array). Returns *this for chaining.
  value& set(std::string key, value v);

  friend bool operator==(const value& a, const value& b);
};

struct property {
  std::string key;
  value val;
  friend bool operator==(const property& a, const property& b) = default;
};

inline value::value() = default;
inline value::value(const value&) = default;
inline value::value(value&&) noexcept = default;
inline value& value::operator=(const value&) = default;
inline value& value::operator=(value&&) noexcept = default;
inline value::~value() = default;

/// Human-readable one-line rendering for logs and test messages, e.g. {app: "live", n: 1}.
std::string to_string(const value& v);

struct limits {
  int max_depth = 16;              ///< objects/arrays nested deeper than this are refused
  std::size_t max_values = 10'000;  ///< total values in one decode call (bounds memory)
};

/// Decodes one value at the reader's position; on error the reader's position is unspecified.
core::result<value> decode(core::byte_reader& in, const limits& lim = {});
/// Decodes values until the end of `data` (a command or data message body).
core::result<std::vector<value>> decode_all(core::byte_view data, const limits& lim = {});

/// Appends the AMF0 encoding of `v`. Strings longer than 65535 bytes are written as long strings.
void encode(core::bytes& out, const value& v);
/// Appends every value in order (a command body: name, transaction id, command object, ...).
void encode_all(core::bytes& out, const std::vector<value>& values);

}  // namespace meshcast::proto::rtmp::amf0
