#include "media/flv.hpp"

#include <gtest/gtest.h>

#include "media/aac.hpp"
#include "media/h264.hpp"
#include "media/testing/h264_fixtures.hpp"

namespace meshcast::media {
namespace {

using testing::k_pps;
using testing::k_sps_640x360;

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
  auto record = h264::parse_decoder_config(tag->data);
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
  const auto asc = aac::make_lc_audio_specific_config(44100, 2);
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

}  // namespace
}  // namespace meshcast::media
