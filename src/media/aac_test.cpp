#include "media/aac.hpp"

#include <gtest/gtest.h>

#include <random>

namespace meshcast::media::aac {
namespace {

TEST(audio_specific_config, lc_at_standard_rates) {
  auto a = parse_audio_specific_config(core::bytes{0x12, 0x10});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->object_type, 2);
  EXPECT_EQ(a->sample_rate, 44100);
  EXPECT_EQ(a->channels, 2);
  EXPECT_EQ(make_lc_audio_specific_config(44100, 2), (core::bytes{0x12, 0x10}));
  auto mono48 = parse_audio_specific_config(make_lc_audio_specific_config(48000, 1));
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

TEST(audio_specific_config, unknown_rate_falls_back_to_44100_in_the_builder) {
  EXPECT_EQ(make_lc_audio_specific_config(44000, 2), make_lc_audio_specific_config(44100, 2));
  EXPECT_EQ(index_of_sample_rate(7350), 12);
  EXPECT_EQ(index_of_sample_rate(44000), -1);
  EXPECT_EQ(sample_rate_of_index(13), 0);
}

TEST(adts, header_is_parsed_and_rebuilt_as_audio_specific_config) {
  // AAC-LC, 48 kHz (index 3), stereo, frame of 7 + 4 bytes, no CRC.
  const core::bytes frame{0xff, 0xf1, 0x4c, 0x80, 0x01, 0x7f, 0xfc, 1, 2, 3, 4};
  auto h = parse_adts(frame);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->object_type, 2);
  EXPECT_EQ(h->sample_rate, 48000);
  EXPECT_EQ(h->channel_config, 2);
  EXPECT_EQ(h->header_bytes, 7u);
  EXPECT_EQ(h->frame_bytes, 11u);
  const auto asc =
      make_audio_specific_config(h->object_type, h->sample_rate_index, h->channel_config);
  EXPECT_EQ(asc, (core::bytes{0x11, 0x90}));
  auto a = parse_audio_specific_config(asc);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->sample_rate, 48000);
  EXPECT_EQ(a->channels, 2);
  EXPECT_FALSE(parse_adts(core::byte_view(frame).first(10)));  // frame length past the end
}

TEST(aac_parsers, random_bytes_never_crash_them) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    core::bytes b(rng() % 64);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (b.size() >= 2 && i % 2 == 0) {  // look like ADTS half of the time
      b[0] = 0xff;
      b[1] = static_cast<std::uint8_t>(0xf0 | (b[1] & 0x09));
    }
    (void)parse_adts(b);
    (void)parse_audio_specific_config(b);
  }
}

}  // namespace
}  // namespace meshcast::media::aac
