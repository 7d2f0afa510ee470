#include "media/hls_playlist.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "media/live_stream.hpp"

namespace meshcast::media {
namespace {

// Integers only below this line: playlists must not depend on floating-point formatting.

std::string seconds_3dp(core::micros d) {
  const std::int64_t ms = (std::max<std::int64_t>(d.count(), 0) + 500) / 1000;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return buf;
}

std::int64_t ceil_seconds(core::micros d) {
  return std::max<std::int64_t>((d.count() + 999'999) / 1'000'000, 1);
}

// The newest run of consecutive segment numbers among `all`, at most `n` long, oldest first.
std::vector<chunk::segment_view> window(const std::vector<chunk::segment_view>& all,
                                        std::size_t n) {
  std::size_t begin = all.size();
  while (begin > 0 && all.size() - begin < n) {
    if (begin < all.size() && all[begin - 1].number + 1 != all[begin].number) break;
    --begin;
  }
  return {all.begin() + static_cast<std::ptrdiff_t>(begin), all.end()};
}

}  // namespace

std::string iso8601_ms(core::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long long>(hms.hours().count()),
                static_cast<long long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()),
                static_cast<long long>(hms.subseconds().count()));
  return buf;
}

std::string_view short_stream_name(std::string_view full_name) {
  const auto slash = full_name.find('/');
  return slash == std::string_view::npos ? full_name : full_name.substr(slash + 1);
}

core::result<std::string> media_playlist(const chunk::chunk_log& log, std::string_view rendition,
                                         std::size_t max_segments) {
  const auto listed = window(log.complete_segments(), std::max<std::size_t>(max_segments, 1));
  if (listed.empty()) {
    return core::make_error(hls_error::no_complete_segment,
                            "rendition " + std::string(rendition) + " has no complete segment yet");
  }
  core::micros longest{0};
  for (const auto& s : listed) longest = std::max(longest, s.duration);

  // The first listed segment's discontinuity count is its Discontinuity Sequence Number; an
  // EXT-X-DISCONTINUITY in front of it would add one more, so the tag is written only in front
  // of later segments (a player joining here has nothing to be discontinuous with).
  std::string out;
  out += "#EXTM3U\n";
  out += "#EXT-X-VERSION:3\n";
  out += "#EXT-X-TARGETDURATION:" + std::to_string(ceil_seconds(longest)) + "\n";
  out += "#EXT-X-MEDIA-SEQUENCE:" + std::to_string(listed.front().number.value()) + "\n";
  out += "#EXT-X-DISCONTINUITY-SEQUENCE:" + std::to_string(listed.front().discontinuity) + "\n";
  for (std::size_t i = 0; i < listed.size(); ++i) {
    const auto& s = listed[i];
    // A count that moved without the flag means the discontinuous segment itself is missing
    // here (a gap at an edge); the player still has to reset its decoder.
    if (i > 0 && (s.discontinuity_start || s.discontinuity != listed[i - 1].discontinuity)) {
      out += "#EXT-X-DISCONTINUITY\n";
    }
    out += "#EXT-X-PROGRAM-DATE-TIME:" + iso8601_ms(s.source_time) + "\n";
    out += "#EXTINF:" + seconds_3dp(s.duration) + ",\n";
    out += std::string(rendition) + "/" + std::to_string(s.number.value()) + ".ts\n";
  }
  return out;
}

core::result<std::string> master_playlist(const live_stream& stream) {
  if (stream.renditions().empty()) {
    return core::make_error(hls_error::no_rendition,
                            "stream " + stream.name() + " has no rendition yet");
  }
  const std::string name(short_stream_name(stream.name()));
  std::string out = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  for (const auto& r : stream.renditions()) {
    const rendition_info& info = r->info();
    double peak = 0;
    for (const auto& s : r->log().complete_segments()) {
      if (s.duration.count() > 0) {
        peak = std::max(
            peak, static_cast<double>(s.bytes) * 8e6 / static_cast<double>(s.duration.count()));
      }
    }
    const double bandwidth = std::max({r->rate().bits_per_second(), peak, k_min_bandwidth_bps});
    out += "#EXT-X-STREAM-INF:BANDWIDTH=" +
           std::to_string(static_cast<std::uint64_t>(std::ceil(bandwidth)));
    if (!info.codecs.empty()) out += ",CODECS=\"" + info.codecs + "\"";
    if (info.width > 0 && info.height > 0) {
      out += ",RESOLUTION=" + std::to_string(info.width) + "x" + std::to_string(info.height);
    }
    if (info.frame_rate > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, ",FRAME-RATE=%.3f", info.frame_rate);
      out += buf;
    }
    out += "\n" + name + "/" + info.name + ".m3u8\n";
  }
  return out;
}

}  // namespace meshcast::media
