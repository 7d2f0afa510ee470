// verify_memo: the chunk signature check every node of an in-process lab run shares. The lab's
// nodes receive the same chunk hundreds of times, each a byte-identical copy; at N = 1000 and ten
// chunks a second, one Ed25519 verification (~50 µs) per copy would be half the event loop's
// time. A copy whose sequence number, header, signature and payload bytes equal those of a copy
// Ed25519 already accepted is accepted with a memcmp; anything else is verified in full, so a
// forged or corrupted chunk is refused exactly as a real node refuses it. Single-threaded (the
// lab's event loop). docs/lab.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "chunk/signer.hpp"
#include "swarm/node.hpp"

namespace meshcast::lab {

struct verify_memo_stats {
  std::uint64_t ed25519_checks = 0;  ///< full verifications
  std::uint64_t memo_hits = 0;       ///< accepted as identical to a verified copy
  std::uint64_t refused = 0;
};

class verify_memo {
 public:
  /// Checks chunks of (stream, rendition) against `key`; remembers the last `capacity`
  /// sequence numbers verified.
  verify_memo(const chunk::ed25519_public_key& key, std::string stream, std::string rendition,
              std::size_t capacity = 1024);

  /// True when `c` is authentic (see the file comment).
  bool verify(const chunk::chunk& c);
  /// verify() as a swarm::chunk_verifier; the memo must outlive every node given it.
  swarm::chunk_verifier as_verifier();

  [[nodiscard]] const verify_memo_stats& stats() const { return stats_; }

 private:
  chunk::verifier verifier_;
  std::string stream_, rendition_;
  std::size_t capacity_;
  std::map<std::uint64_t, chunk::chunk_ptr> verified_;  // by seq: a copy Ed25519 accepted
  verify_memo_stats stats_;
};

}  // namespace meshcast::lab
