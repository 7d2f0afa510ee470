#include "media/demux_source.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <deque>

#include "media/aac.hpp"
#include "media/av_ptr.hpp"
#include "media/h264.hpp"

namespace meshcast::media {
namespace {

using namespace std::chrono_literals;

// Frames held back while the codec config is still unknown (an MPEG-TS stream tells its SPS/PPS
// with the first keyframe and its AudioSpecificConfig with the first ADTS frame): ~10 s at 60 fps.
// Past it, the tracks still unknown are left out of the config.
constexpr std::size_t k_max_pending_frames = 600;
// Pacing: when delivery falls behind the DTS clock by more than this (a slow disk, a stall),
// pacing restarts from now instead of bursting to catch up.
constexpr auto k_max_lag = 1s;
constexpr AVRational k_tb90{1, static_cast<int>(k_ts_clock_hz)};

int interrupt_cb(void* opaque) {
  return static_cast<const std::stop_token*>(opaque)->stop_requested() ? 1 : 0;
}

const char* codec_name(AVCodecID id) {
  const char* n = avcodec_get_name(id);
  return n != nullptr ? n : "unknown";
}

}  // namespace

struct demux_source::pass_state {
  // Kept across loop passes.
  std::int64_t loop_offset = 0;  // added to this pass's timestamps (90 kHz)
  std::int64_t max_end = 0;      // max(pts, dts) + duration over delivered frames
  bool announced = false;        // on_config was called
  media_config config;           // what was (or will be) announced
  std::int64_t last_dts[2] = {LLONG_MIN, LLONG_MIN};
  bool clock_started = false;
  std::chrono::steady_clock::time_point t0;
  std::int64_t d0 = 0;
  std::uint64_t frames_this_pass = 0;
  std::deque<frame> pending;  // before the config is known
};

demux_source::demux_source(demux_settings settings) : settings_(std::move(settings)) {
  if (settings_.kind == demux_settings::input::network) avformat_network_init();
}

demux_source::~demux_source() {
  stop();
  if (settings_.kind == demux_settings::input::network) avformat_network_deinit();
}

std::string demux_source::describe() const {
  if (settings_.kind == demux_settings::input::network) return settings_.url;
  return "file " + settings_.url + (settings_.loop ? " (loop)" : "");
}

core::result<void> demux_source::run(const source_callbacks& cb, std::stop_token stop) {
  pass_state st;
  // Bounded by stop and by "a pass must deliver frames": a file that yields none ends the loop.
  while (!stop.stop_requested()) {
    st.frames_this_pass = 0;
    auto r = run_pass(cb, stop, st);
    if (!r || stop.stop_requested() || !settings_.loop) return r;
    if (st.frames_this_pass == 0) {
      return core::make_error(source_error::read_failed, describe() + ": no frame to loop over");
    }
    st.loop_offset = st.max_end;  // the next pass starts where this one ended
  }
  return core::ok();
}

core::result<void> demux_source::run_pass(const source_callbacks& cb, const std::stop_token& stop,
                                          pass_state& st) {
  const bool network = settings_.kind == demux_settings::input::network;
  auto error = [&](source_error code, const std::string& what) {
    return core::make_error(code, describe() + ": " + what);
  };

  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) return error(source_error::open_failed, "out of memory");
  raw->interrupt_callback = AVIOInterruptCB{&interrupt_cb, const_cast<std::stop_token*>(&stop)};
  AVDictionary* opts = nullptr;
  if (network) {
    av_dict_set(&opts, "rw_timeout", std::to_string(settings_.read_timeout_ms * 1000LL).c_str(), 0);
  }
  int rc = avformat_open_input(&raw, settings_.url.c_str(), nullptr, &opts);
  av_dict_free(&opts);
  if (rc < 0) return error(source_error::open_failed, "open: " + av::error_string(rc));
  av::input_context_ptr ctx(raw);
  rc = avformat_find_stream_info(ctx.get(), nullptr);
  if (rc < 0) return error(source_error::open_failed, "probing streams: " + av::error_string(rc));

  // The first video (not cover art) and the first audio stream; everything else is discarded.
  int vi = -1, ai = -1;
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    const AVStream* s = ctx->streams[i];
    const auto type = s->codecpar->codec_type;
    if (type == AVMEDIA_TYPE_VIDEO && vi < 0 && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
      vi = static_cast<int>(i);
    if (type == AVMEDIA_TYPE_AUDIO && ai < 0) ai = static_cast<int>(i);
  }
  if (vi < 0 && ai < 0) return error(source_error::unsupported_codec, "no video or audio stream");
  if (vi >= 0 && ctx->streams[vi]->codecpar->codec_id != AV_CODEC_ID_H264) {
    return error(source_error::unsupported_codec,
                 std::string("unsupported video codec ") +
                     codec_name(ctx->streams[vi]->codecpar->codec_id) +
                     " (meshcast carries H.264 video and AAC audio)");
  }
  if (ai >= 0 && ctx->streams[ai]->codecpar->codec_id != AV_CODEC_ID_AAC) {
    return error(source_error::unsupported_codec,
                 std::string("unsupported audio codec ") +
                     codec_name(ctx->streams[ai]->codecpar->codec_id) +
                     " (meshcast carries H.264 video and AAC audio)");
  }
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    if (static_cast<int>(i) != vi && static_cast<int>(i) != ai)
      ctx->streams[i]->discard = AVDISCARD_ALL;
  }

  // Codec configuration from the container, where it has one (avcC / AudioSpecificConfig).
  int nal_length_size = 0;  // 0: the packets are Annex B already
  video_config vcfg;
  audio_config acfg;
  bool asc_known = false;
  std::int64_t video_step = 3000, audio_step = 1920;
  if (vi >= 0) {
    const AVCodecParameters* p = ctx->streams[vi]->codecpar;
    const core::byte_view extra(p->extradata,
                                static_cast<std::size_t>(std::max(0, p->extradata_size)));
    if (!extra.empty() && extra[0] == 1) {
      auto rec = h264::parse_decoder_config(extra);
      if (!rec) return error(source_error::read_failed, "video extradata: " + rec.error().message);
      vcfg.sps = std::move(rec->sps.front());
      vcfg.pps = std::move(rec->pps.front());
      nal_length_size = rec->nal_length_size;
    } else {
      h264::find_parameter_sets(extra, vcfg.sps, vcfg.pps);
    }
    vcfg.width = p->width;
    vcfg.height = p->height;
    AVRational fr = ctx->streams[vi]->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = ctx->streams[vi]->r_frame_rate;
    if (fr.num > 0 && fr.den > 0) {
      vcfg.frame_rate = av_q2d(fr);
      video_step = av_rescale_q(1, av_inv_q(fr), k_tb90);
    }
  }
  if (ai >= 0) {
    const AVCodecParameters* p = ctx->streams[ai]->codecpar;
    if (p->extradata_size >= 2) {
      auto a = aac::parse_audio_specific_config(
          core::byte_view(p->extradata, static_cast<std::size_t>(p->extradata_size)));
      if (!a) return error(source_error::read_failed, "audio extradata: " + a.error().message);
      acfg = std::move(*a);
      asc_known = true;
      audio_step = 1024 * k_ts_clock_hz / acfg.sample_rate;
    }
  }

  // Announces the config once every selected track has one (or when waiting is over, with the
  // tracks that have one), then delivers the frames held meanwhile.
  auto deliver = [&](frame f) -> core::result<bool> {  // false: stop requested
    const auto k = f.kind == track_kind::video ? 0 : 1;
    if ((f.kind == track_kind::video && !st.config.video) ||
        (f.kind == track_kind::audio && !st.config.audio)) {
      return true;
    }
    if (f.dts <= st.last_dts[k]) return true;  // not rising: the packager would refuse it
    st.last_dts[k] = f.dts;
    if (!network && settings_.paced) {
      const auto now = std::chrono::steady_clock::now();
      if (!st.clock_started) {
        st.clock_started = true;
        st.t0 = now;
        st.d0 = f.dts;
      }
      const auto due = st.t0 + std::chrono::microseconds(static_cast<std::int64_t>(
                                   static_cast<double>((f.dts - st.d0) * 100 / 9) * settings_.pace));
      if (now > due + k_max_lag) {
        st.t0 += now - due;
      } else if (!sleep_until(stop, due)) {
        return false;
      }
    }
    ++st.frames_this_pass;
    if (cb.on_frame) cb.on_frame(std::move(f));
    return true;
  };
  auto announce = [&](bool force) -> core::result<bool> {
    if (st.announced) return true;
    const bool v_ok = vi < 0 || (!vcfg.sps.empty() && !vcfg.pps.empty());
    const bool a_ok = ai < 0 || asc_known;
    if (!force && !(v_ok && a_ok)) return true;
    if (vi >= 0 && v_ok) st.config.video = vcfg;
    if (ai >= 0 && a_ok) st.config.audio = acfg;
    if (!st.config.video && !st.config.audio) {
      return error(source_error::read_failed, "no SPS/PPS or AudioSpecificConfig in the first " +
                                                  std::to_string(st.pending.size()) + " frames");
    }
    st.announced = true;
    if (cb.on_config) cb.on_config(st.config);
    while (!st.pending.empty()) {
      auto r = deliver(std::move(st.pending.front()));
      st.pending.pop_front();
      if (!r || !*r) return r;
    }
    return true;
  };
  auto push = [&](frame f) -> core::result<bool> {
    if (st.announced) return deliver(std::move(f));
    st.pending.push_back(std::move(f));
    return announce(st.pending.size() >= k_max_pending_frames);
  };

  bool base_set = false;
  std::int64_t base = 0;
  auto pkt = av::make_packet();
  // Bounded by the input: each iteration consumes one packet; stop is checked every packet and
  // blocking reads are interrupted by interrupt_cb.
  while (true) {
    if (stop.stop_requested()) return core::ok();
    rc = av_read_frame(ctx.get(), pkt.get());
    if (rc == AVERROR_EXIT && stop.stop_requested()) return core::ok();
    if (rc == AVERROR_EOF) break;
    if (rc < 0) return error(source_error::read_failed, "read: " + av::error_string(rc));
    struct unref {
      AVPacket* p;
      ~unref() { av_packet_unref(p); }
    } guard{pkt.get()};
    const int si = pkt->stream_index;
    if (si != vi && si != ai) continue;
    const AVStream* s = ctx->streams[si];
    std::int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    if (dts == AV_NOPTS_VALUE) continue;  // no timestamp at all: cannot place it
    std::int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : dts;
    dts = av_rescale_q(dts, s->time_base, k_tb90);
    pts = av_rescale_q(pts, s->time_base, k_tb90);
    if (!base_set) {
      base = dts;
      if (ctx->start_time != AV_NOPTS_VALUE) {
        base = std::min(base, av_rescale_q(ctx->start_time, AVRational{1, AV_TIME_BASE}, k_tb90));
      }
      base_set = true;
    }
    dts = dts - base + st.loop_offset;
    pts = std::max(pts - base + st.loop_offset, dts);
    if (dts < st.loop_offset) continue;  // before the start of the stream
    const core::byte_view data(pkt->data, static_cast<std::size_t>(pkt->size));

    if (si == vi) {
      frame f;
      f.kind = track_kind::video;
      f.dts = dts;
      f.pts = pts;
      if (nal_length_size > 0) {
        auto annex_b = h264::length_prefixed_to_annex_b(data, nal_length_size);
        if (!annex_b) continue;  // a damaged sample is skipped; the next keyframe recovers
        f.data = std::move(*annex_b);
      } else {
        f.data.assign(data.begin(), data.end());
      }
      if (vcfg.sps.empty() || vcfg.pps.empty()) {
        h264::find_parameter_sets(f.data, vcfg.sps, vcfg.pps);
      }
      f.keyframe = h264::annex_b_has_nal(f.data, h264::k_nal_idr);
      if (f.keyframe) f.data = h264::ensure_parameter_sets(f.data, vcfg);
      const std::int64_t step =
          pkt->duration > 0 ? av_rescale_q(pkt->duration, s->time_base, k_tb90) : video_step;
      st.max_end = std::max(st.max_end, pts + step);
      auto r = push(std::move(f));
      if (!r) return r.error();
      if (!*r) return core::ok();
      continue;
    }

    // Audio: raw access units, or one or more ADTS frames (MPEG-TS input).
    core::byte_view rest = data;
    std::int64_t t = dts;
    while (!rest.empty()) {
      frame f;
      f.kind = track_kind::audio;
      f.dts = f.pts = t;
      if (aac::looks_like_adts(rest)) {
        auto h = aac::parse_adts(rest);
        if (!h || h->raw_blocks != 1) break;  // damaged or multi-block frame: skipped
        if (!asc_known) {
          acfg.audio_specific_config = aac::make_audio_specific_config(
              h->object_type, h->sample_rate_index, h->channel_config);
          acfg.object_type = h->object_type;
          acfg.sample_rate = h->sample_rate;
          acfg.channels = h->channel_config == 7 ? 8 : h->channel_config;
          asc_known = true;
          audio_step = 1024 * k_ts_clock_hz / acfg.sample_rate;
        }
        f.data.assign(rest.begin() + static_cast<std::ptrdiff_t>(h->header_bytes),
                      rest.begin() + static_cast<std::ptrdiff_t>(h->frame_bytes));
        rest = rest.subspan(h->frame_bytes);
      } else {
        f.data.assign(rest.begin(), rest.end());
        rest = {};
      }
      t += audio_step;
      st.max_end = std::max(st.max_end, t);
      if (f.data.empty()) continue;
      auto r = push(std::move(f));
      if (!r) return r.error();
      if (!*r) return core::ok();
    }
  }

  // End of input.
  if (auto r = announce(true); !r) return r.error();
  if (network) return error(source_error::read_failed, "the stream ended");
  return core::ok();
}

}  // namespace meshcast::media
