#include "media/flv.hpp"

#include <gtest/gtest.h>

namespace meshcast::media {
namespace {

core::bytes unhex(std::string_view s) {
  core::bytes out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Parameter sets written by the stock libx264 on this project's machines (ffmpeg -c:v libx264).
const core::bytes k_sps_640x360 = unhex("6764001eacd940a02ff970110000030001000003003c0f162d96");
const core::bytes k_pps = unhex("68ebe3cb22c0");

std::string error_of(const core::result<flv_video_tag>& r) {
  return r ? "<no error>" : r.error().message;
}
std::string error_of(const core::result<flv_audio_tag>& r) {
  return r ? "<no error>" : r.error().message;
}

TEST(flv_video_tag, avc_sequence_header_yields_sps_pps_and_nal_length_size) {
  const auto body = make_avc_sequence_header_tag(k_sps_640x360, k_pps);
  auto tag = parse_video_tag(body);
  ASSERT_TRUE(tag) << tag.error().message;
  EXPECT_EQ(tag->frame_type, 1);
  EXPECT_EQ(tag->codec_id, 7);
  EXPECT_EQ(tag->avc_packet_type, 0);
  auto record = parse_avc_decoder_config(tag->data);
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(record->profile_idc, 100);
  EXPECT_EQ(record->level_idc, 30);
  EXPECT_EQ(record->nal_length_size, 4);
  ASSERT_EQ(record->sps.size(), 1u);
  EXPECT_EQ(record->sps[0], k_sps_640x360);
  EXPECT_EQ(record->pps[0], k_pps);
}

TEST(flv_video_tag, composition_time_is_a_signed_24_bit_offset) {
  auto neg = parse_video_tag(make_avc_nalu_tag(false, -33, {{0x41, 0x9a}}));
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->composition_time, -33);
  EXPECT_EQ(neg->frame_type, 2);
  auto pos = parse_video_tag(make_avc_nalu_tag(true, 0x7fffff, {{0x65}}));
  EXPECT_EQ(pos->composition_time, 0x7fffff);
}

TEST(flv_video_tag, other_video_codecs_are_refused_by_name) {
  EXPECT_EQ(error_of(parse_video_tag(core::bytes{0x22, 0, 0})),
            "unsupported video codec id 2 (Sorenson H.263): meshcast ingests H.264 and AAC");
  EXPECT_EQ(error_of(parse_video_tag(core::bytes{0x14, 0})),
            "unsupported video codec id 4 (On2 VP6): meshcast ingests H.264 and AAC");
  EXPECT_EQ(error_of(parse_video_tag(core::bytes{0x1c, 0, 0, 0, 0})),
            "unsupported video codec id 12 (HEVC, non-standard FLV): meshcast ingests H.264 and AAC");
  EXPECT_EQ(error_of(parse_video_tag(core::bytes{0x90, 'h', 'v', 'c', '1'})),
            "unsupported enhanced-RTMP video codec 'hvc1': meshcast ingests H.264 and AAC");
  EXPECT_EQ(parse_video_tag(core::bytes{0x22}).error().code,
            static_cast<int>(flv_errc::unsupported_codec));
}

TEST(flv_video_tag, truncated_avc_header_is_malformed) {
  EXPECT_EQ(error_of(parse_video_tag(core::bytes{})), "flv video tag is empty");
  EXPECT_EQ(error_of(parse_video_tag(core::bytes{0x17, 1, 0})),
            "flv AVC video tag of 3 bytes is shorter than its 5-byte header");
  EXPECT_EQ(parse_video_tag(core::bytes{0x17}).error().code,
            static_cast<int>(flv_errc::malformed_tag));
}

TEST(flv_audio_tag, aac_header_and_raw_frame) {
  const auto asc = make_audio_specific_config(44100, 2);
  EXPECT_EQ(asc, (core::bytes{0x12, 0x10}));
  auto seq = parse_audio_tag(make_aac_sequence_header_tag(asc));
  ASSERT_TRUE(seq);
  EXPECT_EQ(seq->sound_format, 10);
  EXPECT_EQ(seq->sound_type, 1);
  EXPECT_EQ(seq->aac_packet_type, 0);
  auto raw = parse_audio_tag(make_aac_raw_tag(core::bytes{0x21, 0x10}));
  EXPECT_EQ(raw->aac_packet_type, 1);
  EXPECT_EQ(raw->data.size(), 2u);
}

TEST(flv_audio_tag, other_audio_codecs_are_refused_by_name) {
  EXPECT_EQ(error_of(parse_audio_tag(core::bytes{0x2f, 0xff})),
            "unsupported audio codec id 2 (MP3): meshcast ingests H.264 and AAC");
  EXPECT_EQ(error_of(parse_audio_tag(core::bytes{0xb6, 0})),
            "unsupported audio codec id 11 (Speex): meshcast ingests H.264 and AAC");
  EXPECT_EQ(error_of(parse_audio_tag(core::bytes{0x9f, 'O', 'p', 'u', 's'})),
            "unsupported enhanced-RTMP audio codec 'Opus': meshcast ingests H.264 and AAC");
  EXPECT_EQ(error_of(parse_audio_tag(core::bytes{0xaf})),
            "flv AAC audio tag of 1 byte has no AAC packet type");
}

TEST(audio_specific_config, lc_at_standard_rates) {
  auto a = parse_audio_specific_config(core::bytes{0x12, 0x10});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->object_type, 2);
  EXPECT_EQ(a->sample_rate, 44100);
  EXPECT_EQ(a->channels, 2);
  auto mono48 = parse_audio_specific_config(make_audio_specific_config(48000, 1));
  EXPECT_EQ(mono48->sample_rate, 48000);
  EXPECT_EQ(mono48->channels, 1);
  EXPECT_EQ(mono48->audio_specific_config, (core::bytes{0x11, 0x88}));
}

TEST(audio_specific_config, explicit_rate_and_extended_object_type) {
  // object type 31 + 6 bits (escape: 32 + 10 = 42), frequency index 15 + 24-bit 12345, 1 channel.
  auto a = parse_audio_specific_config(core::bytes{0xf9, 0x5e, 0x00, 0x60, 0x72, 0x20});
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->object_type, 42);
  EXPECT_EQ(a->sample_rate, 12345);
  EXPECT_EQ(a->channels, 1);
}

TEST(audio_specific_config, bad_configs_are_malformed) {
  EXPECT_EQ(parse_audio_specific_config(core::bytes{0x12}).error().message,
            "AAC AudioSpecificConfig of 1 bytes (expected at least 2)");
  EXPECT_EQ(parse_audio_specific_config(core::bytes{0x16, 0x90}).error().message,
            "AAC AudioSpecificConfig: sampling frequency index 13 is reserved");
  EXPECT_EQ(parse_audio_specific_config(core::bytes{0x07, 0x90}).error().message,
            "AAC AudioSpecificConfig: audio object type 0 is invalid");
}

struct sps_case {
  const char* name;
  const char* hex;
  int width;
  int height;
};

class h264_sps : public ::testing::TestWithParam<sps_case> {};

TEST_P(h264_sps, dimensions_are_read_after_frame_cropping) {
  auto info = parse_h264_sps(unhex(GetParam().hex));
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
    auto r = parse_h264_sps(core::byte_view(sps).first(n));
    EXPECT_FALSE(r) << n;
  }
  EXPECT_EQ(parse_h264_sps(core::bytes{0x68, 1, 2, 3}).error().message,
            "H.264 SPS: expected a NAL unit of type 7 with at least 4 bytes");
}

TEST(avc_decoder_config, errors_say_what_is_missing) {
  EXPECT_EQ(parse_avc_decoder_config(core::bytes{1, 100, 0}).error().message,
            "AVC decoder configuration record of 3 bytes is shorter than its 6-byte header");
  EXPECT_EQ(parse_avc_decoder_config(core::bytes{0, 100, 0, 30, 0xff, 0xe1}).error().message,
            "AVC decoder configuration record version 0 (expected 1)");
  EXPECT_EQ(parse_avc_decoder_config(core::bytes{1, 100, 0, 30, 0xff, 0xe1, 0, 9, 0x67})
                .error()
                .message,
            "AVC decoder configuration record: SPS 0 is truncated");
  EXPECT_EQ(parse_avc_decoder_config(core::bytes{1, 100, 0, 30, 0xff, 0xe1, 0, 1, 0x67, 0})
                .error()
                .message,
            "AVC decoder configuration record holds 1 SPS and 0 PPS (expected at least one each)");
}

TEST(length_prefixed_nalus, become_annex_b_with_four_byte_start_codes) {
  core::bytes out;
  ASSERT_TRUE(length_prefixed_to_annex_b(core::bytes{0, 0, 0, 2, 0x65, 0xaa, 0, 0, 0, 0, 0, 0, 0,
                                                     1, 0x06},
                                         4, out));
  EXPECT_EQ(out, (core::bytes{0, 0, 0, 1, 0x65, 0xaa, 0, 0, 0, 1, 0x06}));
  core::bytes two;
  ASSERT_TRUE(length_prefixed_to_annex_b(core::bytes{0, 1, 0x41}, 2, two));
  EXPECT_EQ(two, (core::bytes{0, 0, 0, 1, 0x41}));
}

TEST(length_prefixed_nalus, length_past_the_end_is_malformed) {
  core::bytes out;
  EXPECT_EQ(length_prefixed_to_annex_b(core::bytes{0, 0, 0, 9, 0x65}, 4, out).error().message,
            "AVC NALU packet: NAL unit of 9 bytes at offset 0 runs past the end (5 bytes)");
  EXPECT_EQ(length_prefixed_to_annex_b(core::bytes{0, 0, 0, 1, 0x65, 0, 0}, 4, out).error().message,
            "AVC NALU packet: 2 trailing bytes at offset 5 are too few for a NAL length");
}

}  // namespace
}  // namespace meshcast::media
