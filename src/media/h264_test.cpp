#include "media/h264.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "media/testing/h264_fixtures.hpp"

namespace meshcast::media::h264 {
namespace {

using testing::k_sps_640x360;  // real x264 SPS
using testing::unhex;

// Short hand-made units for the framing tests (only their types matter).
const core::bytes k_sps{0x67, 0x42, 0xc0, 0x1e, 0xd9};
const core::bytes k_pps{0x68, 0xce, 0x3c, 0x80};
const core::bytes k_idr{0x65, 0x88, 0x84};
const core::bytes k_slice{0x41, 0x9a, 0x02};

core::bytes annex_b(std::initializer_list<core::bytes> nals) {
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

std::string error_of(const core::result<core::bytes>& r) {
  return r ? "<no error>" : r.error().message;
}

// --- Annex B -------------------------------------------------------------------------------------

TEST(annex_b, split_handles_three_and_four_byte_start_codes) {
  const core::bytes data{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4};
  const auto nals = split_annex_b(data);
  ASSERT_EQ(nals.size(), 3u);
  EXPECT_EQ(nal_type(nals[0]), k_nal_sps);
  EXPECT_EQ(nals[0].size(), 3u);
  EXPECT_EQ(nal_type(nals[1]), k_nal_pps);
  EXPECT_EQ(nals[1].size(), 2u);
  EXPECT_EQ(nal_type(nals[2]), k_nal_idr);
  EXPECT_TRUE(split_annex_b(core::bytes{1, 2, 3}).empty());
}

TEST(parameter_sets, go_in_front_of_an_idr_that_lacks_them) {
  video_config v;
  v.sps = k_sps;
  v.pps = k_pps;
  const core::bytes aud{0x09, 0xf0};
  EXPECT_EQ(ensure_parameter_sets(annex_b({aud, k_idr}), v), annex_b({aud, k_sps, k_pps, k_idr}));
  const auto with = annex_b({k_sps, k_pps, k_idr});
  EXPECT_EQ(ensure_parameter_sets(with, v), with);
  const auto inter = annex_b({k_slice});
  EXPECT_EQ(ensure_parameter_sets(inter, v), inter);
}

// --- avcC ----------------------------------------------------------------------------------------

TEST(avc_decoder_config, record_gives_parameter_sets_and_length_size) {
  auto rec = parse_decoder_config(avcc_record_bytes());
  ASSERT_TRUE(rec) << rec.error().message;
  ASSERT_EQ(rec->sps.size(), 1u);
  ASSERT_EQ(rec->pps.size(), 1u);
  EXPECT_EQ(rec->sps.front(), k_sps);
  EXPECT_EQ(rec->pps.front(), k_pps);
  EXPECT_EQ(rec->nal_length_size, 4);
}

TEST(avc_decoder_config, truncated_record_is_an_error_at_every_length) {
  const auto full = avcc_record_bytes();
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(parse_decoder_config(core::byte_view(full).first(n))) << "length " << n;
  }
}

TEST(avc_decoder_config, errors_say_what_is_missing) {
  EXPECT_EQ(parse_decoder_config(core::bytes{1, 100, 0}).error().message,
            "AVC decoder configuration record of 3 bytes is shorter than its 6-byte header");
  EXPECT_EQ(parse_decoder_config(core::bytes{0, 100, 0, 30, 0xff, 0xe1}).error().message,
            "AVC decoder configuration record version 0 (expected 1)");
  EXPECT_EQ(parse_decoder_config(core::bytes{1, 100, 0, 30, 0xff, 0xe1, 0, 9, 0x67})
                .error()
                .message,
            "AVC decoder configuration record: SPS 0 is truncated");
  EXPECT_EQ(parse_decoder_config(core::bytes{1, 100, 0, 30, 0xff, 0xe1, 0, 1, 0x67, 0})
                .error()
                .message,
            "AVC decoder configuration record holds 1 SPS and 0 PPS (expected at least one each)");
}

// --- length-prefixed NAL units -------------------------------------------------------------------

TEST(length_prefixed_nalus, become_annex_b_with_four_byte_start_codes) {
  auto out = length_prefixed_to_annex_b(
      core::bytes{0, 0, 0, 2, 0x65, 0xaa, 0, 0, 0, 0, 0, 0, 0, 1, 0x06}, 4);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, (core::bytes{0, 0, 0, 1, 0x65, 0xaa, 0, 0, 0, 1, 0x06}));
  auto two = length_prefixed_to_annex_b(core::bytes{0, 1, 0x41}, 2);
  ASSERT_TRUE(two);
  EXPECT_EQ(*two, (core::bytes{0, 0, 0, 1, 0x41}));
}

TEST(length_prefixed_nalus, sample_of_two_units_becomes_annex_b) {
  core::bytes sample;
  core::put_be32(sample, static_cast<std::uint32_t>(k_idr.size()));
  core::append(sample, k_idr);
  core::put_be32(sample, static_cast<std::uint32_t>(k_slice.size()));
  core::append(sample, k_slice);
  auto out = length_prefixed_to_annex_b(sample, 4);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, annex_b({k_idr, k_slice}));
}

TEST(length_prefixed_nalus, length_past_the_end_is_malformed) {
  EXPECT_EQ(error_of(length_prefixed_to_annex_b(core::bytes{0, 0, 0, 9, 0x65}, 4)),
            "AVC NALU packet: NAL unit of 9 bytes at offset 0 runs past the end (5 bytes)");
  EXPECT_EQ(error_of(length_prefixed_to_annex_b(core::bytes{0, 0, 0, 1, 0x65, 0, 0}, 4)),
            "AVC NALU packet: 2 trailing bytes at offset 5 are too few for a NAL length");
}

TEST(length_prefixed_nalus, length_past_the_sample_is_an_error) {
  core::bytes sample;
  core::put_be32(sample, 100);
  core::append(sample, k_idr);
  auto out = length_prefixed_to_annex_b(sample, 4);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("100 bytes"), std::string::npos) << out.error().message;
  EXPECT_FALSE(length_prefixed_to_annex_b(sample, 3));
}

TEST(length_prefixed_nalus, length_size_three_is_reserved) {
  EXPECT_EQ(error_of(length_prefixed_to_annex_b(core::bytes{0, 0, 1, 0x41}, 3)),
            "NAL length size 3 (expected 1, 2 or 4)");
  EXPECT_FALSE(split_length_prefixed(core::bytes{}, 0));
  EXPECT_FALSE(split_length_prefixed(core::bytes{}, 5));
}

// --- SPS -----------------------------------------------------------------------------------------

struct sps_case {
  const char* name;
  const char* hex;
  int width;
  int height;
};

class h264_sps : public ::testing::TestWithParam<sps_case> {};

TEST_P(h264_sps, dimensions_are_read_after_frame_cropping) {
  auto info = parse_sps(unhex(GetParam().hex));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->width, GetParam().width);
  EXPECT_EQ(info->height, GetParam().height);
}

INSTANTIATE_TEST_SUITE_P(
    x264, h264_sps,
    ::testing::Values(
        sps_case{"high_640x360_cropped_from_368_rows",
                 "6764001eacd940a02ff970110000030001000003003c0f162d96", 640, 360},
        sps_case{"high_1920x1080_cropped_from_1088_rows",
                 "67640028acd940780227e5c044000003000400000300f03c60c658", 1920, 1080},
        sps_case{"high_320x240_uncropped",
                 "6764000dacd94141fb0110000003001000000303c0f1429960", 320, 240},
        sps_case{"high444_640x360_crops_in_luma_units",
                 "67f4001e919b281405ff138088000003000800000301e078b16cb0", 640, 360},
        sps_case{"interlaced_640x360_counts_field_pairs",
                 "6764001eacd940a063f3e022000003000200000300783e28532c", 640, 360}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(h264_sps_errors, truncated_sps_is_malformed_not_a_crash) {
  const auto sps = k_sps_640x360;
  for (std::size_t n = 0; n < 9; ++n) {
    auto r = parse_sps(core::byte_view(sps).first(n));
    EXPECT_FALSE(r) << n;
  }
  EXPECT_EQ(parse_sps(core::bytes{0x68, 1, 2, 3}).error().message,
            "H.264 SPS: expected a NAL unit of type 7 with at least 4 bytes");
}

TEST(h264_parsers, random_bytes_never_crash_them) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    core::bytes b(rng() % 64);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (!b.empty() && i % 2 == 0) b[0] = 1;     // look like an avcC record half of the time
    if (!b.empty() && i % 4 == 1) b[0] = 0x67;  // and like an SPS a quarter of the time
    (void)parse_decoder_config(b);
    (void)length_prefixed_to_annex_b(b, 1 + static_cast<int>(rng() % 4));
    (void)parse_sps(b);
    (void)split_annex_b(b);
    (void)ensure_parameter_sets(b, video_config{k_sps, k_pps, 0, 0, 0});
  }
}

}  // namespace
}  // namespace meshcast::media::h264
