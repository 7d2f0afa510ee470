#include "media/hls_playlist.hpp"

#include <gtest/gtest.h>

#include "media/chunk_spec.hpp"
#include "media/live_stream.hpp"

namespace meshcast::media {
namespace {

using testing::chunk_maker;
using testing::log_from;

std::string playlist(const chunk::chunk_log& log, std::size_t segments = 6) {
  auto r = media_playlist(log, "source", segments);
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r ? *r : std::string{};
}

TEST(hls_playlist, lists_the_complete_segments_with_exact_text) {
  EXPECT_EQ(playlist(log_from("S1 c c S2 c c S3")),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:3\n"
            "#EXT-X-MEDIA-SEQUENCE:1\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n"
            "#EXTINF:3.000,\n"
            "source/1.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:03.000Z\n"
            "#EXTINF:3.000,\n"
            "source/2.ts\n");
}

TEST(hls_playlist, no_complete_segment_is_an_error_not_an_empty_playlist) {
  for (const char* spec : {"", "c c", "S1 c c", "S1 c _ S2 c"}) {
    const auto r = media_playlist(log_from(spec), "source");
    ASSERT_FALSE(r.has_value()) << spec;
    EXPECT_EQ(r.error().code, static_cast<int>(hls_error::no_complete_segment));
  }
}

TEST(hls_playlist, window_slides_to_the_newest_segments) {
  chunk::chunk_log log = log_from("S1 c S2 c S3 c S4");
  EXPECT_NE(playlist(log, 2).find("#EXT-X-MEDIA-SEQUENCE:2\n"), std::string::npos);
  EXPECT_EQ(playlist(log, 2).find("source/1.ts"), std::string::npos);

  chunk_maker more;
  more.make("S1 c S2 c S3 c");  // skip the numbers already in the log
  more.add(log, "S4 c S5");
  const std::string text = playlist(log, 2);
  EXPECT_NE(text.find("#EXT-X-MEDIA-SEQUENCE:3\n"), std::string::npos);
  EXPECT_EQ(text.find("source/2.ts"), std::string::npos);
  EXPECT_NE(text.find("source/3.ts\n#EXT-X-PROGRAM-DATE-TIME"), std::string::npos);
  EXPECT_TRUE(text.ends_with("source/4.ts\n"));
}

TEST(hls_playlist, discontinuity_tag_goes_before_the_restarted_segment) {
  const std::string text = playlist(log_from("S1 c S2 c D3 c S4"));
  EXPECT_NE(text.find("#EXT-X-DISCONTINUITY-SEQUENCE:0\n"), std::string::npos);
  EXPECT_NE(text.find("source/2.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:"
                      "2024-05-01T12:00:04.000Z\n#EXTINF:2.000,\nsource/3.ts\n"),
            std::string::npos);
  EXPECT_EQ(text.find("#EXT-X-DISCONTINUITY\n"), text.rfind("#EXT-X-DISCONTINUITY\n"));
}

TEST(hls_playlist, first_listed_segment_after_a_discontinuity_sets_the_sequence_not_a_tag) {
  const std::string text = playlist(log_from("S1 c D2 c S3 c D4 c S5"), 2);
  // Segments 3 and 4 are listed: 3 carries one discontinuity, 4 starts the second.
  EXPECT_NE(text.find("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), std::string::npos);
  EXPECT_NE(text.find("source/3.ts\n#EXT-X-DISCONTINUITY\n"), std::string::npos);

  const std::string from_d = playlist(log_from("S1 c D2 c S3"), 1);
  EXPECT_NE(from_d.find("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), std::string::npos);
  EXPECT_EQ(from_d.find("#EXT-X-DISCONTINUITY\n"), std::string::npos);
}

TEST(hls_playlist, target_duration_is_the_ceiling_of_the_longest_listed_segment) {
  const std::string text = playlist(log_from("S1:4000 S2:500 c:1501 S3:1000 S4"), 2);
  EXPECT_NE(text.find("#EXT-X-TARGETDURATION:3\n"), std::string::npos);  // 2.001 s -> 3
  EXPECT_NE(text.find("#EXTINF:2.001,\nsource/2.ts"), std::string::npos);
  EXPECT_NE(text.find("#EXTINF:1.000,\nsource/3.ts"), std::string::npos);
  EXPECT_NE(playlist(log_from("S1:2000 S2")).find("#EXT-X-TARGETDURATION:2\n"),
            std::string::npos);
  EXPECT_NE(playlist(log_from("S1:0 S2")).find("#EXT-X-TARGETDURATION:1\n"), std::string::npos);
}

TEST(hls_playlist, a_missing_chunk_ends_the_window_at_the_newest_unbroken_run) {
  const std::string text = playlist(log_from("S1 c S2 _ S3 c S4 c S5"));
  EXPECT_NE(text.find("#EXT-X-MEDIA-SEQUENCE:3\n"), std::string::npos);
  EXPECT_EQ(text.find("source/1.ts"), std::string::npos);
  EXPECT_EQ(text.find("source/2.ts"), std::string::npos);
  EXPECT_TRUE(text.ends_with("source/4.ts\n"));
}

TEST(hls_playlist, playlists_are_a_pure_function_of_the_chunks_held) {
  chunk_maker maker;
  const auto chunks = maker.make("S1 c c S2 c c S3 c c S4 c c S5 c c S6");
  chunk::chunk_log in_order{core::micros{3'600'000'000LL}};
  for (const auto& c : chunks) in_order.insert(c);
  // Another node: joined later (holds less history) and got two chunks out of order.
  chunk::chunk_log other{core::micros{3'600'000'000LL}};
  for (std::size_t i = 6; i < chunks.size(); ++i) {
    if (i == 8) continue;
    other.insert(chunks[i]);
    if (i == 9) other.insert(chunks[8]);
  }
  EXPECT_EQ(playlist(in_order, 3), playlist(other, 3));
  EXPECT_EQ(playlist(in_order, 3), playlist(in_order, 3));
}

TEST(hls_playlist, program_date_time_is_utc_with_milliseconds) {
  EXPECT_EQ(iso8601_ms(core::from_us(testing::k_spec_epoch_us + 3'250'999)),
            "2024-05-01T12:00:03.250Z");
  EXPECT_EQ(iso8601_ms(core::from_us(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_ms(core::from_us(951'782'400'000'000)), "2000-02-29T00:00:00.000Z");
}

TEST(hls_playlist, master_lists_each_rendition_with_bandwidth_codecs_and_resolution) {
  live_stream stream{"live/cam", stream_settings{}};
  rendition& src = stream.source();
  rendition_info info;
  info.codecs = "avc1.64001f,mp4a.40.2";
  info.width = 1280;
  info.height = 720;
  info.frame_rate = 30;
  src.set_info(info);
  // 1 s segments of 10 packets: 15040 bit/s per segment, about 30 kbit/s measured; both under
  // the floor.
  for (const auto& c : chunk_maker{10}.make("S1 S2 S3")) src.add(c);

  const auto text = master_playlist(stream);
  ASSERT_TRUE(text.has_value()) << text.error().message;
  EXPECT_EQ(*text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"avc1.64001f,mp4a.40.2\","
            "RESOLUTION=1280x720,FRAME-RATE=30.000\n"
            "cam/source.m3u8\n");
}

TEST(hls_playlist, master_bandwidth_follows_the_peak_segment_rate) {
  live_stream stream{"live/cam", stream_settings{}};
  rendition& src = stream.source();
  rendition_info info;
  info.codecs = "mp4a.40.2";
  src.set_info(info);
  // 100 packets per chunk: 150400 bit/s in a 1 s segment, four times that in a 250 ms one,
  // while the rate meter (1 s windows) has seen about 300 kbit/s.
  for (const auto& c : chunk_maker{100}.make("S1 S2:250 S3")) src.add(c);
  const auto text = master_playlist(stream);
  ASSERT_TRUE(text.has_value());
  EXPECT_NE(text->find("BANDWIDTH=601600,CODECS=\"mp4a.40.2\"\ncam/source.m3u8\n"),
            std::string::npos)
      << *text;
}

TEST(hls_playlist, master_without_a_rendition_is_an_error) {
  const live_stream stream{"live/cam", stream_settings{}};
  const auto r = master_playlist(stream);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, static_cast<int>(hls_error::no_rendition));
}

}  // namespace
}  // namespace meshcast::media
