#include "media/ts_muxer.hpp"

#include <cstring>
#include <string>

#include "chunk/chunk.hpp"
#include "media/av_ptr.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

namespace meshcast::media {
namespace {

using chunk::k_ts_packet_bytes;

// 32 TS packets: the AVIO buffer is a multiple of 188 so callbacks mostly carry whole packets;
// pending_ copes with any split anyway.
constexpr int k_avio_buffer_bytes = static_cast<int>(32 * k_ts_packet_bytes);

core::error fail(ts_muxer_error code, const std::string& what, int averr) {
  return core::make_error(code, "mpegts muxer: " + what + ": " + av::error_string(averr));
}

int packet_pid(const std::uint8_t* p) { return ((p[1] & 0x1f) << 8) | p[2]; }

}  // namespace

struct ts_muxer::av_state {
  av::avio_ptr io;  // declared first: destroyed after the context that writes into it
  av::output_context_ptr ctx;
  av::packet_ptr pkt;
  int video_index = -1;
  int audio_index = -1;
};

ts_muxer::ts_muxer(std::unique_ptr<av_state> state) : av_(std::move(state)) {}

ts_muxer::~ts_muxer() = default;

core::result<std::unique_ptr<ts_muxer>> ts_muxer::open(const media_config& config) {
  if (!config.video && !config.audio) {
    return core::make_error(ts_muxer_error::no_track, "mpegts muxer: config has no track");
  }
  auto state = std::make_unique<av_state>();
  AVFormatContext* raw = nullptr;
  int rc = avformat_alloc_output_context2(&raw, nullptr, "mpegts", nullptr);
  if (rc < 0 || raw == nullptr) return fail(ts_muxer_error::setup, "allocating the context", rc);
  state->ctx.reset(raw);
  AVFormatContext* ctx = raw;
  // Bit-exact: no encoder/version strings or other varying values in the output.
  ctx->flags |= AVFMT_FLAG_BITEXACT;
  // The ffmpeg CLI's -muxdelay/-muxpreload: no extra delay added to timestamps or PCR, so the
  // output carries the frames' own timestamps and nothing waits for a mux window.
  ctx->max_delay = 0;
  ctx->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
  av_dict_set(&ctx->metadata, "service_provider", "meshcast", 0);
  av_dict_set(&ctx->metadata, "service_name", "meshcast", 0);

  if (config.video) {
    AVStream* st = avformat_new_stream(ctx, nullptr);
    if (st == nullptr)
      return fail(ts_muxer_error::setup, "adding the video stream", AVERROR(ENOMEM));
    st->id = k_video_pid;
    st->time_base = AVRational{1, static_cast<int>(k_ts_clock_hz)};
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_H264;
    st->codecpar->width = config.video->width;
    st->codecpar->height = config.video->height;
    state->video_index = st->index;
  }
  if (config.audio) {
    const auto& a = *config.audio;
    AVStream* st = avformat_new_stream(ctx, nullptr);
    if (st == nullptr)
      return fail(ts_muxer_error::setup, "adding the audio stream", AVERROR(ENOMEM));
    st->id = k_audio_pid;
    st->time_base = AVRational{1, static_cast<int>(k_ts_clock_hz)};
    st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    st->codecpar->codec_id = AV_CODEC_ID_AAC;
    st->codecpar->sample_rate = a.sample_rate;
    av_channel_layout_default(&st->codecpar->ch_layout, a.channels);
    st->codecpar->frame_size = 1024;
    // With the AudioSpecificConfig as extradata the muxer wraps each raw AU in ADTS itself.
    const auto n = a.audio_specific_config.size();
    st->codecpar->extradata =
        static_cast<std::uint8_t*>(av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE));
    if (st->codecpar->extradata == nullptr) {
      return fail(ts_muxer_error::setup, "allocating extradata", AVERROR(ENOMEM));
    }
    std::memcpy(st->codecpar->extradata, a.audio_specific_config.data(), n);
    st->codecpar->extradata_size = static_cast<int>(n);
    state->audio_index = st->index;
  }

  auto mux = std::unique_ptr<ts_muxer>(new ts_muxer(std::move(state)));
  auto* buffer = static_cast<unsigned char*>(av_malloc(k_avio_buffer_bytes));
  if (buffer == nullptr)
    return fail(ts_muxer_error::setup, "allocating the AVIO buffer", AVERROR(ENOMEM));
  AVIOContext* io = avio_alloc_context(buffer, k_avio_buffer_bytes, 1, mux.get(), nullptr,
                                       &ts_muxer::on_write, nullptr);
  if (io == nullptr) {
    av_free(buffer);
    return fail(ts_muxer_error::setup, "allocating the AVIO context", AVERROR(ENOMEM));
  }
  mux->av_->io.reset(io);
  ctx->pb = io;

  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "mpegts_transport_stream_id", "1", 0);
  av_dict_set(&opts, "mpegts_original_network_id", "1", 0);
  av_dict_set(&opts, "mpegts_service_id", "1", 0);
  av_dict_set(&opts, "mpegts_pmt_start_pid", std::to_string(k_pmt_pid).c_str(), 0);
  av_dict_set(&opts, "mpegts_start_pid", std::to_string(k_video_pid).c_str(), 0);
  // Timestamps are written as given (no shift to 0 and no mux delay): same frames, same bytes.
  av_dict_set(&opts, "mpegts_copyts", "1", 0);
  // Smallest PES payload: an audio frame is written out by itself instead of being collected
  // with the next ones (the default gathers ~2.9 kB, i.e. ~180 ms of 128 kb/s AAC).
  av_dict_set(&opts, "pes_payload_size", "0", 0);
  // PCR at most every 100 ms on an audio-only stream (set explicitly: the muxer's own guess
  // needs an audio frame size it cannot get from codec parameters and warns about it).
  if (!config.video) av_dict_set(&opts, "pcr_period", "100", 0);
  rc = avformat_write_header(ctx, &opts);
  std::unique_ptr<AVDictionary, av::dictionary_deleter> left(opts);
  if (rc < 0) return fail(ts_muxer_error::setup, "writing the header", rc);
  if (left) {
    const AVDictionaryEntry* e = av_dict_get(left.get(), "", nullptr, AV_DICT_IGNORE_SUFFIX);
    return core::make_error(ts_muxer_error::setup,
                            std::string("mpegts muxer: option not recognised: ") + e->key);
  }
  mux->av_->pkt = av::make_packet();
  if (!mux->av_->pkt) return fail(ts_muxer_error::setup, "allocating a packet", AVERROR(ENOMEM));
  return mux;
}

int ts_muxer::on_write(void* opaque, std::uint8_t* buf, int size) {
  auto* self = static_cast<ts_muxer*>(opaque);
  self->pending_.insert(self->pending_.end(), buf, buf + size);
  return size;
}

void ts_muxer::drain(core::bytes& out) {
  const std::size_t whole = pending_.size() - pending_.size() % k_ts_packet_bytes;
  for (std::size_t off = 0; off < whole; off += k_ts_packet_bytes) {
    const std::uint8_t* p = pending_.data() + off;
    if (packet_pid(p) == k_sdt_pid) continue;
    out.insert(out.end(), p, p + k_ts_packet_bytes);
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(whole));
}

core::result<void> ts_muxer::write(const frame& f, bool tables_first, core::bytes& out) {
  if (finished_) return core::make_error(ts_muxer_error::write, "mpegts muxer: write after finish");
  const int index = f.kind == track_kind::video ? av_->video_index : av_->audio_index;
  if (index < 0) {
    return core::make_error(ts_muxer_error::no_track,
                            std::string("mpegts muxer: no ") +
                                (f.kind == track_kind::video ? "video" : "audio") + " track");
  }
  AVFormatContext* ctx = av_->ctx.get();
  AVStream* st = ctx->streams[index];
  AVPacket* pkt = av_->pkt.get();
  av_packet_unref(pkt);
  int rc = av_new_packet(pkt, static_cast<int>(f.data.size()));
  if (rc < 0) return fail(ts_muxer_error::write, "allocating a packet", rc);
  std::memcpy(pkt->data, f.data.data(), f.data.size());
  const AVRational tb90{1, static_cast<int>(k_ts_clock_hz)};
  pkt->pts = av_rescale_q(f.pts, tb90, st->time_base);
  pkt->dts = av_rescale_q(f.dts, tb90, st->time_base);
  pkt->stream_index = index;
  // Every AAC frame is a sync point; for video only IDR frames are.
  if (f.kind == track_kind::audio || f.keyframe) pkt->flags |= AV_PKT_FLAG_KEY;

  if (tables_first) {
    // Makes the muxer write PAT+PMT in front of this frame's PES (it also does so by itself
    // before a video keyframe that follows a non-key frame; the flag covers audio-only segments
    // and back-to-back keyframes). The muxer clears the flag once used.
    rc = av_opt_set(ctx->priv_data, "mpegts_flags", "+resend_headers", 0);
    if (rc < 0) return fail(ts_muxer_error::write, "setting resend_headers", rc);
  }
  const std::size_t before = out.size();
  rc = av_write_frame(ctx, pkt);
  av_packet_unref(pkt);
  if (rc < 0) return fail(ts_muxer_error::write, "writing a frame", rc);
  // A null packet flushes the muxer's queued audio PES (mpegts allows flushing), then the AVIO
  // buffer goes to on_write: every byte of this frame is out before the call returns.
  rc = av_write_frame(ctx, nullptr);
  if (rc < 0) return fail(ts_muxer_error::write, "flushing", rc);
  avio_flush(ctx->pb);
  drain(out);
  if (tables_first) {
    const bool pat_first = out.size() >= before + 2 * k_ts_packet_bytes &&
                           packet_pid(out.data() + before) == k_pat_pid &&
                           packet_pid(out.data() + before + k_ts_packet_bytes) == k_pmt_pid;
    if (!pat_first) {
      return core::make_error(ts_muxer_error::write,
                              "mpegts muxer: segment start was not written after PAT and PMT");
    }
  }
  return core::ok();
}

core::result<void> ts_muxer::finish(core::bytes& out) {
  if (finished_) return core::ok();
  finished_ = true;
  const int rc = av_write_trailer(av_->ctx.get());
  avio_flush(av_->ctx->pb);
  drain(out);
  if (rc < 0) return fail(ts_muxer_error::write, "writing the trailer", rc);
  return core::ok();
}

}  // namespace meshcast::media
