// compact types for the swarm node's per-neighbour state: Boost's vector and devector with 32-bit
// sizes (16 and 24 bytes instead of 24 and 32), the flat maps built on them, and an optional
// duration in 8 bytes. A node keeps ~18 neighbours, each with a handful of mostly empty queues and
// maps, and the simulator keeps 10^6 nodes: the headers alone were ~10 % of its memory. Nothing
// here holds 2^32 elements.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <utility>

#include <boost/container/devector.hpp>
#include <boost/container/flat_map.hpp>
#include <boost/container/options.hpp>
#include <boost/container/vector.hpp>

#include "core/time.hpp"

namespace meshcast::swarm {

template <class T>
using compact_vector = boost::container::vector<
    T, void, boost::container::vector_options_t<boost::container::stored_size<std::uint32_t>>>;

template <class T>
using compact_devector = boost::container::devector<
    T, void, boost::container::devector_options_t<boost::container::stored_size<std::uint32_t>>>;

/// Small maps (a neighbour's requests, chunks wanted, live neighbours): sorted vectors, which
/// allocate nothing while empty and iterate in key order like std::map.
template <class K, class V>
using small_map = boost::container::flat_map<K, V, std::less<K>, compact_vector<std::pair<K, V>>>;

/// A std::optional<micros> in 8 bytes instead of 16 (the smallest count stands for "none"), with
/// the parts of its interface the node uses. A neighbour keeps two (its RTT, its response time).
class optional_micros {
 public:
  optional_micros() = default;
  optional_micros(core::micros v) : v_(v.count()) {}  // NOLINT: converts like std::optional

  explicit operator bool() const { return v_ != k_none; }
  [[nodiscard]] bool has_value() const { return v_ != k_none; }
  core::micros operator*() const { return core::micros{v_}; }
  [[nodiscard]] core::micros value_or(core::micros otherwise) const { return has_value() ? core::micros{v_} : otherwise; }
  operator std::optional<core::micros>() const {  // NOLINT: converts like std::optional
    return has_value() ? std::optional<core::micros>{core::micros{v_}} : std::nullopt;
  }

 private:
  static constexpr std::int64_t k_none = std::numeric_limits<std::int64_t>::min();
  std::int64_t v_ = k_none;
};

}  // namespace meshcast::swarm
