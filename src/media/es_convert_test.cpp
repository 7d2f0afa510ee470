#include "media/es_convert.hpp"

#include <gtest/gtest.h>

#include <random>

namespace meshcast::media::es {
namespace {

const core::bytes k_sps{0x67, 0x42, 0xc0, 0x1e, 0xd9};
const core::bytes k_pps{0x68, 0xce, 0x3c, 0x80};
const core::bytes k_idr{0x65, 0x88, 0x84};
const core::bytes k_slice{0x41, 0x9a, 0x02};

core::bytes annexb(std::initializer_list<core::bytes> nals) {
  core::bytes out;
  for (const auto& n : nals) append_nal(out, n);
  return out;
}

core::bytes avcc_record_bytes() {
  core::bytes r{1, 0x42, 0xc0, 0x1e, 0xff, 0xe1};
  core::put_be16(r, static_cast<std::uint16_t>(k_sps.size()));
  core::append(r, k_sps);
  r.push_back(1);
  core::put_be16(r, static_cast<std::uint16_t>(k_pps.size()));
  core::append(r, k_pps);
  return r;
}

TEST(es_convert, split_annexb_handles_three_and_four_byte_start_codes) {
  const core::bytes data{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4};
  const auto nals = split_annexb(data);
  ASSERT_EQ(nals.size(), 3u);
  EXPECT_EQ(nal_type(nals[0]), k_nal_sps);
  EXPECT_EQ(nals[0].size(), 3u);
  EXPECT_EQ(nal_type(nals[1]), k_nal_pps);
  EXPECT_EQ(nals[1].size(), 2u);
  EXPECT_EQ(nal_type(nals[2]), k_nal_idr);
  EXPECT_TRUE(split_annexb(core::bytes{1, 2, 3}).empty());
}

TEST(es_convert, avcc_record_gives_parameter_sets_and_length_size) {
  auto rec = parse_avcc(avcc_record_bytes());
  ASSERT_TRUE(rec) << rec.error().message;
  EXPECT_EQ(rec->sps, k_sps);
  EXPECT_EQ(rec->pps, k_pps);
  EXPECT_EQ(rec->nal_length_size, 4);
}

TEST(es_convert, truncated_avcc_record_is_an_error_at_every_length) {
  const auto full = avcc_record_bytes();
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(parse_avcc(core::byte_view(full).first(n))) << "length " << n;
  }
}

TEST(es_convert, avcc_sample_becomes_annexb) {
  core::bytes sample;
  core::put_be32(sample, static_cast<std::uint32_t>(k_idr.size()));
  core::append(sample, k_idr);
  core::put_be32(sample, static_cast<std::uint32_t>(k_slice.size()));
  core::append(sample, k_slice);
  auto out = avcc_to_annexb(sample, 4);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, annexb({k_idr, k_slice}));
}

TEST(es_convert, avcc_length_past_the_sample_is_an_error) {
  core::bytes sample;
  core::put_be32(sample, 100);
  core::append(sample, k_idr);
  auto out = avcc_to_annexb(sample, 4);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("100 bytes"), std::string::npos) << out.error().message;
  EXPECT_FALSE(avcc_to_annexb(sample, 3));
}

TEST(es_convert, parameter_sets_go_in_front_of_an_idr_that_lacks_them) {
  video_config v;
  v.sps = k_sps;
  v.pps = k_pps;
  const core::bytes aud{0x09, 0xf0};
  EXPECT_EQ(ensure_parameter_sets(annexb({aud, k_idr}), v), annexb({aud, k_sps, k_pps, k_idr}));
  const auto with = annexb({k_sps, k_pps, k_idr});
  EXPECT_EQ(ensure_parameter_sets(with, v), with);
  const auto inter = annexb({k_slice});
  EXPECT_EQ(ensure_parameter_sets(inter, v), inter);
}

TEST(es_convert, adts_header_is_parsed_and_rebuilt_as_audio_specific_config) {
  // AAC-LC, 48 kHz (index 3), stereo, frame of 7 + 4 bytes, no CRC.
  const core::bytes frame{0xff, 0xf1, 0x4c, 0x80, 0x01, 0x7f, 0xfc, 1, 2, 3, 4};
  auto h = parse_adts(frame);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->object_type, 2);
  EXPECT_EQ(h->sample_rate, 48000);
  EXPECT_EQ(h->channel_config, 2);
  EXPECT_EQ(h->header_bytes, 7u);
  EXPECT_EQ(h->frame_bytes, 11u);
  const auto asc = make_audio_specific_config(h->object_type, h->sample_rate_index, h->channel_config);
  EXPECT_EQ(asc, (core::bytes{0x11, 0x90}));
  auto a = parse_audio_specific_config(asc);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->sample_rate, 48000);
  EXPECT_EQ(a->channels, 2);
  EXPECT_FALSE(parse_adts(core::byte_view(frame).first(10)));  // frame length past the end
}

TEST(es_convert, random_bytes_never_crash_the_parsers) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    core::bytes b(rng() % 64);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (!b.empty() && i % 2 == 0) b[0] = 1;  // look like an avcC record half of the time
    (void)parse_avcc(b);
    (void)avcc_to_annexb(b, 1 + static_cast<int>(rng() % 4));
    (void)parse_adts(b);
    (void)parse_audio_specific_config(b);
    (void)split_annexb(b);
    (void)ensure_parameter_sets(b, video_config{k_sps, k_pps, 0, 0, 0});
  }
}

}  // namespace
}  // namespace meshcast::media::es
