// Test-only helpers for the media tests: fake H.264/AAC frames in the normal form, a minimal
// MPEG-TS packet inspector, and a libavformat demux of TS bytes held in memory.
// Header-only, included by *_test.cpp files only; single-threaded.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "chunk/chunk.hpp"
#include "core/bytes.hpp"
#include "media/av_ptr.hpp"
#include "media/frame.hpp"
#include "media/source.hpp"

namespace meshcast::media::test {

/// libav* logs only errors in the tests (x264 and the muxers are chatty at the default level).
inline const bool k_quiet_libav = (av_log_set_level(AV_LOG_ERROR), true);

/// A config with a (syntactically plausible) SPS/PPS and 48 kHz stereo AAC-LC.
inline media_config fake_config(bool video = true, bool audio = true) {
  media_config c;
  if (video) {
    c.video = video_config{{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8},
                           {0x68, 0xce, 0x3c, 0x80},
                           320,
                           240,
                           30.0};
  }
  if (audio) c.audio = audio_config{{0x11, 0x90}, 48000, 2, 2};
  return c;
}

inline constexpr std::int64_t k_video_step = 3000;  // 30 fps in 90 kHz
inline constexpr std::int64_t k_audio_step = 1920;  // 1024 samples at 48 kHz in 90 kHz

/// Video frame `index` (dts = index * 3000): an IDR with SPS/PPS when `key`, else a P slice.
/// The payload bytes depend only on `index` and `size`.
inline frame fake_video(int index, bool key, std::size_t size = 600) {
  frame f;
  f.kind = track_kind::video;
  f.dts = f.pts = index * k_video_step;
  f.keyframe = key;
  const auto cfg = fake_config(true, false);
  auto nal = [&](const core::bytes& n) {
    core::append(f.data, core::bytes{0, 0, 0, 1});
    core::append(f.data, n);
  };
  if (key) {
    nal(cfg.video->sps);
    nal(cfg.video->pps);
  }
  core::bytes slice{static_cast<std::uint8_t>(key ? 0x65 : 0x41), 0x88};
  for (std::size_t i = 0; i < size; ++i)
    slice.push_back(static_cast<std::uint8_t>((i * 7 + index) | 1));
  nal(slice);
  return f;
}

/// Raw AAC access unit `index` (dts = index * 1920), `size` bytes.
inline frame fake_audio(int index, std::size_t size = 300) {
  frame f;
  f.kind = track_kind::audio;
  f.dts = f.pts = index * k_audio_step;
  f.data.resize(size);
  f.data[0] = 0x21;  // channel_pair_element, as a real AU starts
  for (std::size_t i = 1; i < size; ++i) f.data[i] = static_cast<std::uint8_t>(i * 13 + index);
  return f;
}

/// Video at 30 fps with a keyframe every `gop` frames and AAC at 48 kHz, in dts order, covering
/// `seconds` of media.
inline std::vector<frame> av_frames(double seconds, int gop = 30, bool video = true,
                                    bool audio = true) {
  std::vector<frame> out;
  const auto end = static_cast<std::int64_t>(seconds * k_ts_clock_hz);
  int v = 0, a = 0;
  while (true) {
    const std::int64_t vd = video ? v * k_video_step : INT64_MAX;
    const std::int64_t ad = audio ? a * k_audio_step : INT64_MAX;
    if (std::min(vd, ad) >= end) break;
    if (vd <= ad) {
      out.push_back(fake_video(v, v % gop == 0));
      ++v;
    } else {
      out.push_back(fake_audio(a));
      ++a;
    }
  }
  return out;
}

struct ts_packet_info {
  int pid = -1;
  bool payload_start = false;
  bool random_access = false;
  std::optional<std::int64_t> pts;  ///< from the PES header when payload_start
  std::size_t offset = 0;
};

/// Parses 188-byte packets (the caller checks the size is a multiple of 188).
inline std::vector<ts_packet_info> parse_ts(core::byte_view data) {
  std::vector<ts_packet_info> out;
  for (std::size_t off = 0; off + chunk::k_ts_packet_bytes <= data.size();
       off += chunk::k_ts_packet_bytes) {
    const std::uint8_t* p = data.data() + off;
    ts_packet_info info;
    info.offset = off;
    if (p[0] != 0x47) {
      out.push_back(info);
      continue;
    }
    info.pid = ((p[1] & 0x1f) << 8) | p[2];
    info.payload_start = (p[1] & 0x40) != 0;
    const int afc = (p[3] >> 4) & 0x3;
    std::size_t pos = 4;
    if (afc & 0x2) {
      const std::size_t len = p[4];
      if (len > 0) info.random_access = (p[5] & 0x40) != 0;
      pos = 5 + len;
    }
    if ((afc & 0x1) && info.payload_start && info.pid >= 0x100 && info.pid < 0x1000 &&
        pos + 14 <= 188 && p[pos] == 0 && p[pos + 1] == 0 && p[pos + 2] == 1 &&
        (p[pos + 7] & 0x80)) {
      const std::uint8_t* t = p + pos + 9;
      info.pts = (std::int64_t{(t[0] >> 1) & 0x07} << 30) | (std::int64_t{t[1]} << 22) |
                 (std::int64_t{t[2] >> 1} << 15) | (std::int64_t{t[3]} << 7) | (t[4] >> 1);
    }
    out.push_back(info);
  }
  return out;
}

struct demuxed_packet {
  track_kind kind = track_kind::video;
  std::int64_t pts = 0;  ///< 90 kHz
  std::int64_t dts = 0;
  bool keyframe = false;
  std::size_t size = 0;
};

/// Demuxes MPEG-TS bytes with libavformat from memory, parsers off so each PES is one packet.
inline std::vector<demuxed_packet> demux_ts(core::byte_view ts) {
  struct reader {
    core::byte_view data;
    std::size_t pos = 0;
    static int read(void* opaque, std::uint8_t* buf, int size) {
      auto* r = static_cast<reader*>(opaque);
      const std::size_t n =
          std::min<std::size_t>(static_cast<std::size_t>(size), r->data.size() - r->pos);
      if (n == 0) return AVERROR_EOF;
      std::memcpy(buf, r->data.data() + r->pos, n);
      r->pos += n;
      return static_cast<int>(n);
    }
  } rd{ts};
  std::vector<demuxed_packet> out;
  constexpr int k_buf = 4096;
  auto* buf = static_cast<unsigned char*>(av_malloc(k_buf));
  av::avio_ptr io(avio_alloc_context(buf, k_buf, 0, &rd, &reader::read, nullptr, nullptr));
  AVFormatContext* raw = avformat_alloc_context();
  raw->pb = io.get();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_NOPARSE | AVFMT_FLAG_NOFILLIN;
  if (avformat_open_input(&raw, nullptr, av_find_input_format("mpegts"), nullptr) < 0) return out;
  av::input_context_ptr ctx(raw);
  auto pkt = av::make_packet();
  for (int guard = 0; guard < 1'000'000 && av_read_frame(ctx.get(), pkt.get()) >= 0; ++guard) {
    const AVStream* st = ctx->streams[pkt->stream_index];
    demuxed_packet d;
    d.kind = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO ? track_kind::video : track_kind::audio;
    d.pts = av_rescale_q(pkt->pts, st->time_base, AVRational{1, 90000});
    d.dts = pkt->dts == AV_NOPTS_VALUE
                ? d.pts
                : av_rescale_q(pkt->dts, st->time_base, AVRational{1, 90000});
    d.keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    d.size = static_cast<std::size_t>(pkt->size);
    out.push_back(d);
    av_packet_unref(pkt.get());
  }
  return out;
}

/// Collects what a source delivers (from the source's thread) for assertions on the test thread.
struct collector {
  std::mutex m;
  std::condition_variable cv;
  std::optional<media_config> config;
  std::vector<frame> frames;
  std::optional<core::result<void>> end;
  bool frame_before_config = false;

  source_callbacks callbacks() {
    return {[this](media_config c) {
              std::lock_guard lock(m);
              config = std::move(c);
              cv.notify_all();
            },
            [this](frame f) {
              std::lock_guard lock(m);
              if (!config) frame_before_config = true;
              frames.push_back(std::move(f));
              cv.notify_all();
            },
            [this](core::result<void> r) {
              std::lock_guard lock(m);
              end = std::move(r);
              cv.notify_all();
            }};
  }
  /// Waits (bounded) until the source ended; false on timeout.
  bool wait_end(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, timeout, [&] { return end.has_value(); });
  }
  /// Waits (bounded) until `n` frames of `kind` arrived; false on timeout or end.
  bool wait_frames(std::size_t n, track_kind kind,
                   std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, timeout, [&] { return count(kind) >= n || end.has_value(); }) &&
           count(kind) >= n;
  }
  std::size_t count(track_kind kind) const {
    return static_cast<std::size_t>(std::count_if(frames.begin(), frames.end(),
                                                  [&](const frame& f) { return f.kind == kind; }));
  }
  std::vector<const frame*> of(track_kind kind) const {
    std::vector<const frame*> out;
    for (const auto& f : frames) {
      if (f.kind == kind) out.push_back(&f);
    }
    return out;
  }
};

/// All payloads concatenated.
inline core::bytes concat(const std::vector<chunk::chunk_ptr>& chunks) {
  core::bytes out;
  for (const auto& c : chunks) core::append(out, c->payload());
  return out;
}

}  // namespace meshcast::media::test
