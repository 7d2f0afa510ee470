// Chunk signing: the origin's Ed25519 `signer` and every node's `verifier` (OpenSSL EVP).
// A signer holds the origin's private key (generated, or kept in a PEM file so the origin keeps
// its identity across restarts); a verifier holds the 32-byte public key that viewers are given.
// Both are immutable after construction and may be shared between threads (OpenSSL keys are).
// What exactly is signed: docs/protocol.md, "Signatures", and signed_message() below.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "chunk/chunk.hpp"
#include "core/bytes.hpp"
#include "core/result.hpp"

namespace meshcast::chunk {

inline constexpr std::size_t k_public_key_bytes = 32;
using ed25519_public_key = std::array<std::uint8_t, k_public_key_bytes>;

/// Domain separation of the signed message; bumped if what is signed ever changes.
inline constexpr std::string_view k_signature_domain{"meshcast-chunk-v1\0", 18};

enum class key_errc { io = 1, bad_pem, wrong_key_type, bad_text, crypto };

/// The exact bytes a chunk signature covers:
///   "meshcast-chunk-v1\0" || u32 len || stream || u32 len || rendition
///   || seq u64 || segment u64 || discontinuity u32 || source_time i64 µs || duration i64 µs
///   || pts_90k i64 || flags u8 || SHA-256(payload)
/// all integers big-endian. Hashing the payload first keeps the Ed25519 input small (Ed25519
/// hashes its whole input twice).
core::bytes signed_message(std::string_view stream, std::string_view rendition,
                           const chunk_header& header, core::byte_view payload);

/// The origin's signing key. Copies share the same OpenSSL key.
class signer {
 public:
  /// A fresh random key. Throws std::runtime_error only if OpenSSL cannot allocate.
  static signer generate();
  /// Reads a PKCS#8 PEM Ed25519 private key (as save_pem writes, or `openssl genpkey -algorithm
  /// ed25519`). A missing file, another key type or garbage is an error, never a throw.
  static core::result<signer> load_pem(const std::filesystem::path& path);
  static core::result<signer> from_pem(std::string_view pem);
  /// Loads `path` if it exists, else generates a key and saves it there: an origin started with
  /// the same key file always signs with the same identity.
  static core::result<signer> load_or_create(const std::filesystem::path& path);

  /// Writes the private key as PKCS#8 PEM, unencrypted, with mode 0600 (written to a temporary
  /// file beside it and renamed, so a crash never leaves half a key).
  [[nodiscard]] core::result<void> save_pem(const std::filesystem::path& path) const;
  [[nodiscard]] std::string to_pem() const;

  [[nodiscard]] const ed25519_public_key& public_key() const { return public_key_; }

  /// Signature over signed_message(stream, rendition, header, payload).
  [[nodiscard]] chunk_signature signature(std::string_view stream, std::string_view rendition,
                                          const chunk_header& header,
                                          core::byte_view payload) const;
  /// A signed copy of `unsigned_chunk`: same header, the *same* payload buffer (no copy), and the
  /// signature. An already signed chunk is signed afresh. Precondition: unsigned_chunk != null.
  [[nodiscard]] chunk_ptr sign(std::string_view stream, std::string_view rendition,
                               const chunk_ptr& unsigned_chunk) const;

 private:
  explicit signer(std::shared_ptr<EVP_PKEY> key);
  std::shared_ptr<EVP_PKEY> key_;
  ed25519_public_key public_key_{};
};

/// Checks chunk signatures against one origin public key. ~50 µs per chunk (Ed25519 verify).
class verifier {
 public:
  /// Any 32 bytes; if OpenSSL refuses them, verify() always returns false.
  explicit verifier(const ed25519_public_key& key);
  /// From 32 raw bytes; any other length is an error.
  static core::result<verifier> from_raw(core::byte_view key);
  /// From text as given on a command line or in a config: 64 hex digits, or base64 / base64url
  /// of the 32 bytes (padding optional). Surrounding whitespace is ignored.
  static core::result<verifier> from_text(std::string_view text);

  /// True when `c` carries a signature by this key over (stream, rendition, header, payload).
  /// An unsigned chunk is never valid.
  [[nodiscard]] bool verify(std::string_view stream, std::string_view rendition,
                            const chunk& c) const;

  [[nodiscard]] const ed25519_public_key& public_key() const { return public_key_; }

 private:
  std::shared_ptr<EVP_PKEY> key_;
  ed25519_public_key public_key_{};
};

/// Lower-case hex of `data` ("a1b2..."), e.g. to print a public key.
std::string to_hex(core::byte_view data);
/// Parses hex (either case, even length, no separators).
core::result<core::bytes> from_hex(std::string_view text);
/// Parses base64 or base64url, padding optional.
core::result<core::bytes> from_base64(std::string_view text);
/// Parses a public key given as 64 hex digits or base64/base64url text.
core::result<ed25519_public_key> parse_public_key(std::string_view text);

}  // namespace meshcast::chunk
