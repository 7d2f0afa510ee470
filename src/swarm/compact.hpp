// compact containers for the swarm node's per-neighbour state: Boost's vector and devector with
// 32-bit sizes (16 and 24 bytes instead of 24 and 32). A node keeps ~18 neighbours, each with a
// handful of mostly empty queues and maps, and the simulator keeps 10^6 nodes: the headers alone
// were ~10 % of its memory. Nothing here holds 2^32 elements.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

#include <boost/container/devector.hpp>
#include <boost/container/flat_map.hpp>
#include <boost/container/options.hpp>
#include <boost/container/vector.hpp>

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

}  // namespace meshcast::swarm
