// HLS playlists (RFC 8216) written from what a node holds: pure functions, no I/O, no clock.
// A media playlist is a function of the chunks in one chunk log only, so two nodes (origin, edge,
// peer) holding the same chunks serve byte-identical playlists and any of them can answer a
// player that switches between them. See docs/http.md.
// Plain functions; call them on the thread that owns the stream (they read its chunk logs).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "chunk/chunk_log.hpp"
#include "core/result.hpp"
#include "core/time.hpp"

namespace meshcast::media {

class live_stream;

enum class hls_error { no_rendition = 1, no_complete_segment };

/// Lowest BANDWIDTH advertised in a master playlist, bits per second: a stream that has not been
/// measured yet (or a silent audio track) must not be advertised as free.
inline constexpr double k_min_bandwidth_bps = 64'000;

/// Master playlist of `stream`: one EXT-X-STREAM-INF per rendition, in the stream's order, with
/// URI "<NAME>/<RENDITION>.m3u8" relative to the master ("/live/NAME.m3u8"). BANDWIDTH is the
/// larger of the measured rate and the peak rate of the complete segments held, at least
/// k_min_bandwidth_bps. Fails with no_rendition when the stream has none yet.
core::result<std::string> master_playlist(const live_stream& stream);

/// Live media playlist of one rendition: the newest `max_segments` complete segments of `log`
/// that form an unbroken run of segment numbers (HLS numbers segments implicitly from
/// EXT-X-MEDIA-SEQUENCE). Segment URIs are "<rendition>/<segment>.ts", relative to
/// "/live/NAME/<rendition>.m3u8". Fails with no_complete_segment when there is none: the caller
/// waits or answers 404, never serves an empty playlist.
core::result<std::string> media_playlist(const chunk::chunk_log& log, std::string_view rendition,
                                         std::size_t max_segments = 6);

/// "2024-05-01T12:00:03.250Z": ISO 8601, UTC, millisecond precision (EXT-X-PROGRAM-DATE-TIME).
std::string iso8601_ms(core::time_point t);

/// The stream part of a full stream name: "live/cam" -> "cam".
std::string_view short_stream_name(std::string_view full_name);

}  // namespace meshcast::media
