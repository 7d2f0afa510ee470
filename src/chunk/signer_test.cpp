#include "chunk/signer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace meshcast::chunk {
namespace {

// One key for the whole suite (generation is cheap, but a fixed identity reads better).
const signer& origin_key() {
  static const signer s = signer::generate();
  return s;
}

chunk_header header_of(std::uint64_t seq) {
  chunk_header h;
  h.seq = chunk_seq(seq);
  h.segment = segment_seq(seq / 20);
  h.discontinuity = 1;
  h.source_time = core::from_us(1'700'000'000'123'456 + static_cast<std::int64_t>(seq) * 100'000);
  h.duration = core::micros(100'000);
  h.pts_90k = 900'000 + static_cast<std::int64_t>(seq) * 9000;
  h.flags = seq % 20 == 0 ? (flag_keyframe | flag_segment_start) : flag_none;
  return h;
}

chunk_ptr unsigned_chunk(std::uint64_t seq = 40, std::size_t packets = 3) {
  core::bytes payload(packets * k_ts_packet_bytes);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  return make_chunk(header_of(seq), std::move(payload));
}

chunk_ptr signed_chunk(std::uint64_t seq = 40) {
  return origin_key().sign("live/test", "source", unsigned_chunk(seq));
}

/// The same chunk with one thing changed (header edit, payload byte flip), signature kept.
chunk_ptr tampered(const chunk_ptr& c, void (*edit)(chunk_header&)) {
  chunk_header h = c->header();
  edit(h);
  return make_chunk(h, c->payload_buffer(), c->signature());
}
chunk_ptr corrupt_byte(const chunk_ptr& c, std::size_t off) {
  core::bytes p(c->payload().begin(), c->payload().end());
  p[off] ^= 0x01;
  return make_chunk(c->header(), std::move(p), c->signature());
}

verifier origin_verifier() { return verifier(origin_key().public_key()); }

// A temporary directory removed at the end of the test.
struct temp_dir {
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("meshcast_signer_test_" + std::to_string(rd()) + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

TEST(signer, signed_chunk_verifies) {
  EXPECT_TRUE(origin_verifier().verify("live/test", "source", *signed_chunk()));
}

TEST(signer, signed_chunk_shares_the_payload_buffer) {
  const chunk_ptr plain = unsigned_chunk();
  const chunk_ptr s = origin_key().sign("live/test", "source", plain);
  EXPECT_EQ(s->payload_buffer().get(), plain->payload_buffer().get());
  EXPECT_EQ(s->payload().data(), plain->payload().data());
  ASSERT_TRUE(s->signature().has_value());
  EXPECT_FALSE(plain->signature().has_value());
}

TEST(signer, ed25519_signatures_are_deterministic) {
  EXPECT_EQ(signed_chunk()->signature(), signed_chunk()->signature());
  EXPECT_NE(signed_chunk(40)->signature(), signed_chunk(41)->signature());
}

TEST(signer, flipped_payload_byte_is_rejected) {
  const auto s = signed_chunk();
  EXPECT_FALSE(origin_verifier().verify("live/test", "source", *corrupt_byte(s, 0)));
  EXPECT_FALSE(origin_verifier().verify("live/test", "source", *corrupt_byte(s, s->size() - 1)));
}

TEST(signer, every_header_field_is_covered) {
  const auto s = signed_chunk();
  const verifier v = origin_verifier();
  EXPECT_FALSE(v.verify("live/test", "source", *tampered(s, [](chunk_header& h) { ++h.seq; })));
  EXPECT_FALSE(v.verify("live/test", "source", *tampered(s, [](chunk_header& h) { ++h.segment; })));
  EXPECT_FALSE(
      v.verify("live/test", "source", *tampered(s, [](chunk_header& h) { ++h.discontinuity; })));
  EXPECT_FALSE(v.verify("live/test", "source",
                        *tampered(s, [](chunk_header& h) { h.source_time += core::micros(1); })));
  EXPECT_FALSE(v.verify("live/test", "source",
                        *tampered(s, [](chunk_header& h) { h.duration += core::micros(1); })));
  EXPECT_FALSE(v.verify("live/test", "source", *tampered(s, [](chunk_header& h) { ++h.pts_90k; })));
  EXPECT_FALSE(v.verify("live/test", "source",
                        *tampered(s, [](chunk_header& h) { h.flags ^= flag_keyframe; })));
  EXPECT_TRUE(v.verify("live/test", "source", *tampered(s, [](chunk_header&) {})));
}

TEST(signer, wrong_stream_or_rendition_is_rejected) {
  const auto s = signed_chunk();
  EXPECT_FALSE(origin_verifier().verify("live/other", "source", *s));
  EXPECT_FALSE(origin_verifier().verify("live/test", "720p", *s));
  // Length prefixes keep the boundary between stream and rendition unambiguous.
  EXPECT_FALSE(origin_verifier().verify("live/tests", "ource", *s));
}

TEST(signer, wrong_key_is_rejected) {
  const signer other = signer::generate();
  EXPECT_NE(other.public_key(), origin_key().public_key());
  EXPECT_FALSE(verifier(other.public_key()).verify("live/test", "source", *signed_chunk()));
}

TEST(signer, unsigned_chunk_is_rejected) {
  EXPECT_FALSE(origin_verifier().verify("live/test", "source", *unsigned_chunk()));
}

TEST(signer, signed_message_starts_with_the_domain_and_ends_with_the_payload_hash) {
  const auto c = unsigned_chunk();
  const core::bytes m = signed_message("live/a", "source", c->header(), c->payload());
  ASSERT_EQ(m.size(), 18u + 4 + 6 + 4 + 6 + 45 + 32);
  EXPECT_EQ(core::as_chars(core::byte_view(m).first(18)), k_signature_domain);
  EXPECT_EQ(core::get_be32(m.data() + 18), 6u);
  EXPECT_EQ(core::get_be64(m.data() + 38), 40u);  // seq follows both names
}

TEST(signer, pem_save_and_load_keeps_the_identity) {
  temp_dir dir;
  const auto file = dir.path / "origin.key";
  ASSERT_TRUE(origin_key().save_pem(file));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = signer::load_pem(file);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->public_key(), origin_key().public_key());
  const auto c = loaded->sign("live/test", "source", unsigned_chunk());
  EXPECT_TRUE(origin_verifier().verify("live/test", "source", *c));
}

TEST(signer, load_or_create_creates_once_then_reuses) {
  temp_dir dir;
  const auto file = dir.path / "origin.key";
  auto first = signer::load_or_create(file);
  ASSERT_TRUE(first) << first.error().message;
  auto second = signer::load_or_create(file);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(first->public_key(), second->public_key());
}

TEST(signer, missing_or_garbage_key_file_is_an_error) {
  temp_dir dir;
  auto missing = signer::load_pem(dir.path / "nope.key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, static_cast<int>(key_errc::io));
  std::ofstream(dir.path / "garbage.key") << "-----BEGIN PRIVATE KEY-----\nAAAA\n";
  auto garbage = signer::load_pem(dir.path / "garbage.key");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, static_cast<int>(key_errc::bad_pem));
  EXPECT_NE(garbage.error().message.find("garbage.key"), std::string::npos);
}

TEST(signer, pem_of_another_key_type_is_refused) {
  // An X25519 key: same size, wrong algorithm (`openssl genpkey -algorithm x25519`).
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VuBCIEIEAKkzfk7iwZBjZTfX7lqKG4TandKneyBoU3nB/AXWJY\n"
      "-----END PRIVATE KEY-----\n";
  auto s = signer::from_pem(pem);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, static_cast<int>(key_errc::wrong_key_type)) << s.error().message;
}

TEST(verifier, accepts_hex_and_base64_public_keys) {
  const ed25519_public_key& k = origin_key().public_key();
  const std::string hex = to_hex(k);
  ASSERT_EQ(hex.size(), 64u);
  auto from_hex_text = verifier::from_text("  " + hex + "\n");
  ASSERT_TRUE(from_hex_text) << from_hex_text.error().message;
  EXPECT_EQ(from_hex_text->public_key(), k);

  // RFC 8032 test 1 public key, in the three spellings.
  const std::string rfc_hex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
  auto a = parse_public_key(rfc_hex);
  auto b = parse_public_key("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  auto c = parse_public_key("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_EQ(to_hex(*a), rfc_hex);
}

TEST(verifier, malformed_key_text_is_an_error) {
  EXPECT_FALSE(verifier::from_text("xyz"));
  EXPECT_FALSE(verifier::from_text(std::string(64, 'g')));
  auto short_key = verifier::from_text("abcd");
  ASSERT_FALSE(short_key);
  EXPECT_EQ(short_key.error().message,
            "origin public key is 3 bytes, expected 32 (64 hex digits or 44 base64 characters)");
  auto wrong_len = verifier::from_raw(core::bytes(31, 1));
  ASSERT_FALSE(wrong_len);
  EXPECT_EQ(wrong_len.error().message, "ed25519 public key of 31 bytes, expected 32");
}

}  // namespace
}  // namespace meshcast::chunk
