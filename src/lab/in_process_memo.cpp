#include "lab/in_process_memo.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace meshcast::lab {
namespace {

bool same_header(const chunk::chunk_header& a, const chunk::chunk_header& b) {
  return a.seq == b.seq && a.segment == b.segment && a.discontinuity == b.discontinuity &&
         a.source_time == b.source_time && a.duration == b.duration && a.pts_90k == b.pts_90k && a.flags == b.flags;
}

bool same_chunk(const chunk::chunk& a, const chunk::chunk& b) {
  return same_header(a.header(), b.header()) && a.signature() == b.signature() && a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.payload().data(), b.payload().data(), a.size()) == 0);
}

}  // namespace

verify_memo::verify_memo(const chunk::ed25519_public_key& key, std::string stream, std::string rendition,
                         std::size_t capacity)
    : verifier_(key),
      stream_(std::move(stream)),
      rendition_(std::move(rendition)),
      capacity_(std::max<std::size_t>(capacity, 1)) {}

bool verify_memo::verify(const chunk::chunk& c) {
  if (!c.signature()) {
    ++stats_.refused;
    return false;
  }
  const std::uint64_t seq = c.seq().value();
  if (const auto it = verified_.find(seq); it != verified_.end() && same_chunk(*it->second, c)) {
    ++stats_.memo_hits;
    return true;
  }
  ++stats_.ed25519_checks;
  if (!verifier_.verify(stream_, rendition_, c)) {
    ++stats_.refused;
    return false;
  }
  // Keep a copy sharing the payload buffer: the node stores the chunk it was given, not this.
  verified_[seq] = std::make_shared<const chunk::chunk>(c.header(), c.payload_buffer(), c.signature());
  while (verified_.size() > capacity_) verified_.erase(verified_.begin());
  return true;
}

swarm::chunk_verifier verify_memo::as_verifier() {
  return [this](const chunk::chunk& c) { return verify(c); };
}

}  // namespace meshcast::lab
