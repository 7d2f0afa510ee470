// packager: chunking policy over ts_muxer. The rules are in packager.hpp and docs/media.md; the
// choices this file makes on top of them:
//  - timestamps must rise within a track. A frame whose dts is not above the previous one of its
//    track is rejected (error, frame dropped, session goes on) when the step back is under 1 s;
//    a step back of 1 s or more means the publisher restarted its clock without reconnecting, so
//    the session is restarted in place (fresh muxer, discontinuity flagged) and the frame kept.
//  - a chunk's media time is measured on one clock track: video when the session has video, else
//    audio. Publishers interleave audio some tens of ms behind video; measuring over both tracks
//    would make consecutive chunks overlap and their durations add up to more than the segment.
//    Coverage = max(dts + frame duration) - first dts over the chunk's clock-track frames, the
//    frame duration being the track's last dts step (or 1/frame_rate, or 1024 samples for AAC).
//    A chunk's duration is the clock-track time it covers, so a segment's chunks add up to its
//    keyframe interval; a chunk holding only audio frames of a video stream (audio trailing the
//    last chunk before a keyframe, or single-frame chunks) has duration 0. Should the clock track
//    stall (video paused, audio going on), a chunk still closes once all its frames span
//    chunk_duration + 1 s.
//  - single-frame chunks: when chunk_duration is below one frame of the clock track, every frame
//    (audio too) is closed into its own chunk at once: the lowest delay the settings allow.
#include "media/packager.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "media/ts_muxer.hpp"

namespace meshcast::media {
namespace {

enum class packager_error { not_active = 1, bad_config, bad_frame, non_monotonic_dts, mux };

// A step back of this much (1 s) is a clock restart rather than jitter or a reordering bug.
constexpr std::int64_t k_clock_restart_90k = k_ts_clock_hz;
// Extra span after which a chunk closes even though its clock track did not advance.
constexpr std::int64_t k_stalled_clock_90k = k_ts_clock_hz;
// Used when a video track has no frame rate and no dts step has been seen yet (30 fps).
constexpr std::int64_t k_default_video_frame_90k = 3000;
constexpr std::int64_t k_aac_frame_samples = 1024;

std::int64_t to_90k(core::micros d) { return d.count() * 9 / 100; }
core::micros from_90k(std::int64_t ticks) {
  return core::micros{ticks <= 0 ? 0 : (ticks * 200 + 9) / 18};  // rounded to the nearest µs
}

const char* kind_name(track_kind k) { return k == track_kind::video ? "video" : "audio"; }

core::error make_err(packager_error code, std::string message) {
  return core::make_error(code, "packager: " + std::move(message));
}

core::result<void> check_config(const media_config& c) {
  if (!c.video && !c.audio) return make_err(packager_error::bad_config, "config has no track");
  if (c.video) {
    if (c.video->sps.empty() || (c.video->sps[0] & 0x1f) != 7) {
      return make_err(packager_error::bad_config, "video config has no SPS (" +
                                                      std::to_string(c.video->sps.size()) +
                                                      " bytes, expected a NAL unit of type 7)");
    }
    if (c.video->pps.empty() || (c.video->pps[0] & 0x1f) != 8) {
      return make_err(packager_error::bad_config, "video config has no PPS (" +
                                                      std::to_string(c.video->pps.size()) +
                                                      " bytes, expected a NAL unit of type 8)");
    }
  }
  if (c.audio) {
    if (c.audio->audio_specific_config.size() < 2 || c.audio->sample_rate <= 0 ||
        c.audio->channels <= 0) {
      return make_err(packager_error::bad_config,
                      "audio config needs an AudioSpecificConfig (got " +
                          std::to_string(c.audio->audio_specific_config.size()) +
                          " bytes), a sample rate (" + std::to_string(c.audio->sample_rate) +
                          ") and channels (" + std::to_string(c.audio->channels) + ")");
    }
  }
  return core::ok();
}

struct open_chunk {
  chunk::chunk_header header;
  core::bytes payload;
  std::int64_t first_dts = 0;
  std::int64_t end_dts = 0;                 // max(dts + frame duration) over the chunk's frames
  std::optional<std::int64_t> clock_first;  // first dts of the clock track in the chunk
  std::int64_t clock_end = 0;               // max(dts + frame duration) on the clock track
};
struct track_state {
  std::optional<std::int64_t> last_dts;
  std::int64_t frame_90k = 0;  // duration estimate of one frame
};

}  // namespace

struct packager::impl {
  impl(packager_settings s, sink o) : settings(s), out(std::move(o)) {}

  packager_settings settings;
  sink out;

  // Numbering, continued across sessions.
  chunk::chunk_seq next_seq{0};
  std::uint64_t segments_started = 0;
  std::uint32_t discontinuities = 0;
  bool emitted_any = false;

  // The current session.
  bool active = false;
  media_config config;
  std::unique_ptr<ts_muxer> mux;
  bool waiting_for_keyframe = true;
  bool discontinuity_pending = false;
  std::optional<std::int64_t> segment_first_dts;  // audio-only segmenting
  track_state tracks[2];
  std::optional<open_chunk> open;

  track_state& track(track_kind k) { return tracks[k == track_kind::video ? 0 : 1]; }
  track_kind clock_kind() const { return config.video ? track_kind::video : track_kind::audio; }

  core::result<void> begin(const media_config& c) {
    if (active) end();
    if (auto r = check_config(c); !r) return r;
    auto m = ts_muxer::open(c);
    if (!m) return m.error().with_context("packager");
    mux = std::move(*m);
    config = c;
    active = true;
    waiting_for_keyframe = true;
    discontinuity_pending = emitted_any;
    segment_first_dts.reset();
    open.reset();
    tracks[0] = {};
    tracks[1] = {};
    if (c.video) {
      tracks[0].frame_90k =
          c.video->frame_rate > 0
              ? static_cast<std::int64_t>(k_ts_clock_hz / c.video->frame_rate + 0.5)
              : k_default_video_frame_90k;
    }
    if (c.audio) tracks[1].frame_90k = k_aac_frame_samples * k_ts_clock_hz / c.audio->sample_rate;
    return core::ok();
  }

  void end() {
    if (!active) return;
    core::bytes tail;
    (void)mux->finish(tail);  // nothing is held back after each frame; a failure loses no frame
    if (open) {
      core::append(open->payload, tail);
      close(std::nullopt);
    }
    mux.reset();
    active = false;
  }

  core::result<void> push(const frame& f, core::time_point now) {
    if (!active) return make_err(packager_error::not_active, "push outside a publishing session");
    const bool is_video = f.kind == track_kind::video;
    if ((is_video && !config.video) || (!is_video && !config.audio)) {
      return make_err(packager_error::bad_frame,
                      std::string(kind_name(f.kind)) + " frame but the session has no such track");
    }
    if (f.data.empty()) {
      return make_err(packager_error::bad_frame,
                      std::string("empty ") + kind_name(f.kind) + " frame");
    }
    if (f.pts < f.dts) {
      return make_err(packager_error::bad_frame, std::string(kind_name(f.kind)) + " frame pts " +
                                                     std::to_string(f.pts) + " is before its dts " +
                                                     std::to_string(f.dts));
    }
    if (const auto last = track(f.kind).last_dts; last && f.dts <= *last) {
      if (*last - f.dts < k_clock_restart_90k) {
        return make_err(packager_error::non_monotonic_dts,
                        std::string(kind_name(f.kind)) + " dts " + std::to_string(f.dts) +
                            " does not follow " + std::to_string(*last) + "; frame dropped");
      }
      const media_config c = config;  // the publisher's clock restarted: a new session
      end();
      if (auto r = begin(c); !r) return r;
    }
    if (waiting_for_keyframe) {
      if (config.video && !(is_video && f.keyframe)) return core::ok();  // dropped, see header
      waiting_for_keyframe = false;
    }

    bool segment_start = false;
    if (config.video) {
      segment_start = is_video && f.keyframe;
    } else {
      segment_start =
          !segment_first_dts || f.dts - *segment_first_dts >= to_90k(settings.audio_segment);
    }
    if (segment_start && open) close(f.dts);
    if (!open) start_chunk(f, now, segment_start);

    auto& t = track(f.kind);
    if (t.last_dts && f.dts - *t.last_dts <= k_ts_clock_hz) t.frame_90k = f.dts - *t.last_dts;
    t.last_dts = f.dts;

    if (auto r = mux->write(f, segment_start, open->payload); !r) {
      if (open->payload.empty()) open.reset();
      return r.error().with_context("packager");
    }
    auto& o = *open;
    o.end_dts = std::max(o.end_dts, f.dts + t.frame_90k);
    if (f.kind == clock_kind()) {
      if (!o.clock_first) o.clock_first = f.dts;
      o.clock_end = std::max(o.clock_end, f.dts + t.frame_90k);
    }
    const std::int64_t target = to_90k(settings.chunk_duration);
    const bool single_frame = target < track(clock_kind()).frame_90k;
    if (single_frame || (o.clock_first && o.clock_end - *o.clock_first >= target) ||
        o.end_dts - o.first_dts >= target + k_stalled_clock_90k) {
      close(std::nullopt);
    }
    return core::ok();
  }

  void start_chunk(const frame& f, core::time_point now, bool segment_start) {
    open.emplace();
    open->header.source_time = now;
    open->header.pts_90k = f.pts;
    open->first_dts = f.dts;
    open->end_dts = f.dts;
    if (segment_start) {
      open->header.flags |= chunk::flag_segment_start;
      if (f.kind == track_kind::video) open->header.flags |= chunk::flag_keyframe;
      segment_first_dts = f.dts;
    }
  }

  // Emits the open chunk. `next_dts`: dts of the clock-track frame that follows it, when known.
  void close(std::optional<std::int64_t> next_dts) {
    open_chunk c = std::move(*open);
    open.reset();
    if (c.payload.empty()) return;  // its only frame failed to mux: nothing to number
    auto& h = c.header;
    if (h.segment_start() || segments_started == 0) ++segments_started;
    if (discontinuity_pending) {
      ++discontinuities;
      h.flags |= chunk::flag_discontinuity;
      discontinuity_pending = false;
    }
    std::int64_t covered = 0;  // no clock-track frame: no clock time covered
    if (c.clock_first) {
      covered = next_dts && *next_dts > *c.clock_first ? *next_dts - *c.clock_first
                                                       : c.clock_end - *c.clock_first;
    }
    h.duration = from_90k(covered);
    h.seq = next_seq++;
    h.segment = chunk::segment_seq(segments_started - 1);
    h.discontinuity = discontinuities;
    emitted_any = true;
    out(chunk::make_chunk(h, std::move(c.payload)));
  }
};

packager::packager(packager_settings settings, sink out)
    : impl_(std::make_unique<impl>(settings, std::move(out))) {}

packager::~packager() = default;

core::result<void> packager::begin(const media_config& config) { return impl_->begin(config); }

core::result<void> packager::push(const frame& f, core::time_point now) {
  return impl_->push(f, now);
}

void packager::end() { impl_->end(); }

bool packager::active() const { return impl_->active; }

}  // namespace meshcast::media
