#include "chunk/signer.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace meshcast::chunk {
namespace {

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct pkey_ctx_free {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* k) { return {k, pkey_free{}}; }

/// The last OpenSSL error as text (and clears the queue, so errors do not leak between calls).
std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

ed25519_public_key raw_public_key(EVP_PKEY* k) {
  ed25519_public_key out{};
  std::size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(k, out.data(), &len) != 1 || len != out.size()) {
    throw std::runtime_error("ed25519: cannot read public key: " + openssl_error());
  }
  return out;
}

void put_string(core::bytes& out, std::string_view s) {
  core::put_be32(out, static_cast<std::uint32_t>(s.size()));
  core::append(out, core::as_bytes(s));
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

core::bytes signed_message(std::string_view stream, std::string_view rendition,
                           const chunk_header& h, core::byte_view payload) {
  core::bytes m;
  m.reserve(k_signature_domain.size() + 8 + stream.size() + rendition.size() + 45 + 32);
  core::append(m, core::as_bytes(k_signature_domain));
  put_string(m, stream);
  put_string(m, rendition);
  core::put_be64(m, h.seq.value());
  core::put_be64(m, h.segment.value());
  core::put_be32(m, h.discontinuity);
  core::put_be64(m, static_cast<std::uint64_t>(core::to_us(h.source_time)));
  core::put_be64(m, static_cast<std::uint64_t>(h.duration.count()));
  core::put_be64(m, static_cast<std::uint64_t>(h.pts_90k));
  core::put_u8(m, h.flags);
  std::array<std::uint8_t, 32> digest{};
  unsigned int digest_len = 0;
  if (EVP_Digest(payload.data(), payload.size(), digest.data(), &digest_len, EVP_sha256(),
                 nullptr) != 1 ||
      digest_len != digest.size()) {
    throw std::runtime_error("sha-256 failed: " + openssl_error());
  }
  core::append(m, digest);
  return m;
}

// ---------------------------------------------------------------------------------------------
// signer

signer::signer(std::shared_ptr<EVP_PKEY> key)
    : key_(std::move(key)), public_key_(raw_public_key(key_.get())) {}

signer signer::generate() {
  std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* k = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &k) != 1) {
    throw std::runtime_error("ed25519 key generation failed: " + openssl_error());
  }
  return signer(own(k));
}

core::result<signer> signer::from_pem(std::string_view pem) {
  if (pem.size() > INT_MAX) return core::make_error(key_errc::bad_pem, "PEM text too large");
  std::unique_ptr<BIO, bio_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return core::make_error(key_errc::crypto, "cannot allocate a BIO: " + openssl_error());
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (k == nullptr) {
    return core::make_error(key_errc::bad_pem, "not a PEM private key (" + openssl_error() + ")");
  }
  auto key = own(k);
  if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
    return core::make_error(
        key_errc::wrong_key_type,
        std::string("PEM key is of type ") + OBJ_nid2sn(EVP_PKEY_get_id(k)) + ", expected ED25519");
  }
  return signer(std::move(key));
}

core::result<signer> signer::load_pem(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::make_error(key_errc::io,
                            "cannot open key file " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  // A PEM Ed25519 key is ~120 bytes; anything far bigger is not one.
  if (text.str().size() > 64 * 1024) {
    return core::make_error(key_errc::bad_pem, "key file " + path.string() + " is " +
                                                   std::to_string(text.str().size()) +
                                                   " bytes, not a PEM Ed25519 key");
  }
  auto s = from_pem(text.str());
  if (!s) return s.error().with_context("key file " + path.string());
  return s;
}

core::result<signer> signer::load_or_create(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return load_pem(path);
  signer s = generate();
  if (auto saved = s.save_pem(path); !saved) return saved.error();
  return s;
}

std::string signer::to_pem() const {
  std::unique_ptr<BIO, bio_free> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw std::runtime_error("cannot write PEM key: " + openssl_error());
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

core::result<void> signer::save_pem(const std::filesystem::path& path) const {
  const std::string pem = to_pem();
  const std::string tmp = path.string() + ".tmp";
  auto fail = [&](const std::string& what) {
    const std::string msg = what + " " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return core::make_error(key_errc::io, msg);
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return core::make_error(key_errc::io, "cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t off = 0;
  while (off < pem.size()) {
    const ssize_t n = ::write(fd, pem.data() + off, pem.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail("cannot write");
    }
    off += static_cast<std::size_t>(n);
  }
  // O_CREAT's mode only applies to a new file; a stale .tmp may have had wider permissions.
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    return fail("cannot sync");
  }
  if (::close(fd) != 0) return fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename into place");
  return core::ok();
}

chunk_signature signer::signature(std::string_view stream, std::string_view rendition,
                                  const chunk_header& header, core::byte_view payload) const {
  const core::bytes msg = signed_message(stream, rendition, header, payload);
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  chunk_signature sig{};
  std::size_t sig_len = sig.size();
  // Ed25519 is "pure": no digest (NULL md) and one-shot EVP_DigestSign only.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &sig_len, msg.data(), msg.size()) != 1 ||
      sig_len != sig.size()) {
    throw std::runtime_error("ed25519 signing failed: " + openssl_error());
  }
  return sig;
}

chunk_ptr signer::sign(std::string_view stream, std::string_view rendition,
                       const chunk_ptr& unsigned_chunk) const {
  const chunk& c = *unsigned_chunk;
  return make_chunk(c.header(), c.payload_buffer(),
                    signature(stream, rendition, c.header(), c.payload()));
}

// ---------------------------------------------------------------------------------------------
// verifier

verifier::verifier(const ed25519_public_key& key)
    : key_(own(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()))),
      public_key_(key) {
  if (!key_) ERR_clear_error();
}

core::result<verifier> verifier::from_raw(core::byte_view key) {
  if (key.size() != k_public_key_bytes) {
    return core::make_error(
        key_errc::bad_text,
        "ed25519 public key of " + std::to_string(key.size()) + " bytes, expected 32");
  }
  ed25519_public_key k{};
  std::memcpy(k.data(), key.data(), k.size());
  verifier v(k);
  if (!v.key_) return core::make_error(key_errc::crypto, "OpenSSL refused the ed25519 public key");
  return v;
}

core::result<verifier> verifier::from_text(std::string_view text) {
  auto k = parse_public_key(text);
  if (!k) return k.error();
  return from_raw(*k);
}

bool verifier::verify(std::string_view stream, std::string_view rendition, const chunk& c) const {
  if (!key_ || !c.signature()) return false;
  const core::bytes msg = signed_message(stream, rendition, c.header(), c.payload());
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  const chunk_signature& sig = *c.signature();
  const bool ok = ctx &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) == 1;
  if (!ok) ERR_clear_error();  // a bad signature leaves an error on the thread's queue
  return ok;
}

// ---------------------------------------------------------------------------------------------
// text helpers

std::string to_hex(core::byte_view data) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out.push_back(k_digits[b >> 4]);
    out.push_back(k_digits[b & 15]);
  }
  return out;
}

core::result<core::bytes> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) {
    return core::make_error(key_errc::bad_text,
                            "hex text of odd length " + std::to_string(text.size()));
  }
  core::bytes out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit(text[2 * i]);
    const int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return core::make_error(key_errc::bad_text, "hex text has a non-hex character at offset " +
                                                      std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

core::result<core::bytes> from_base64(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) {
    return core::make_error(key_errc::bad_text, "base64 text of " + std::to_string(text.size()) +
                                                    " digits is not a whole number of bytes");
  }
  core::bytes out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int d = base64_digit(text[i]);
    if (d < 0) {
      return core::make_error(
          key_errc::bad_text,
          "base64 text has an invalid character at offset " + std::to_string(i));
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) {
    return core::make_error(key_errc::bad_text, "base64 text has non-zero padding bits");
  }
  return out;
}

core::result<ed25519_public_key> parse_public_key(std::string_view text) {
  text = trim(text);
  auto raw = text.size() == 2 * k_public_key_bytes ? from_hex(text) : from_base64(text);
  if (!raw) return raw.error().with_context("origin public key");
  if (raw->size() != k_public_key_bytes) {
    return core::make_error(key_errc::bad_text,
                            "origin public key is " + std::to_string(raw->size()) +
                                " bytes, expected 32 (64 hex digits or 44 base64 characters)");
  }
  ed25519_public_key k{};
  std::memcpy(k.data(), raw->data(), k.size());
  return k;
}

}  // namespace meshcast::chunk
