#include "media/test_source.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <numbers>

#include "media/aac.hpp"
#include "media/av_ptr.hpp"
#include "media/h264.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

namespace meshcast::media {
namespace {

constexpr int k_sample_rate = 48'000;
constexpr int k_audio_bit_rate = 128'000;
constexpr int k_aac_frame_samples = 1024;
// When encoding falls behind by more than this, pacing restarts from now instead of rushing
// frames out to catch up: lag never accumulates beyond it.
constexpr auto k_max_lag = std::chrono::milliseconds(200);

core::error fail(const std::string& what, int averr) {
  return core::make_error(source_error::encoder,
                          "test source: " + what + ": " + av::error_string(averr));
}

// --- drawing ------------------------------------------------------------------------------------

struct canvas {
  AVFrame* f;
  int w, h;

  void fill(int x, int y, int rw, int rh, std::uint8_t luma, std::uint8_t cb = 128,
            std::uint8_t cr = 128) {
    const int x0 = std::max(0, x), y0 = std::max(0, y);
    const int x1 = std::min(w, x + rw), y1 = std::min(h, y + rh);
    if (x0 >= x1 || y0 >= y1) return;
    for (int r = y0; r < y1; ++r)
      std::memset(f->data[0] + r * f->linesize[0] + x0, luma, static_cast<std::size_t>(x1 - x0));
    for (int r = y0 / 2; r < (y1 + 1) / 2; ++r) {
      std::memset(f->data[1] + r * f->linesize[1] + x0 / 2, cb,
                  static_cast<std::size_t>((x1 + 1) / 2 - x0 / 2));
      std::memset(f->data[2] + r * f->linesize[2] + x0 / 2, cr,
                  static_cast<std::size_t>((x1 + 1) / 2 - x0 / 2));
    }
  }
};

// Seven-segment glyphs, bit 0..6 = segments a (top), b, c, d (bottom), e, f, g (middle).
constexpr std::array<std::uint8_t, 10> k_segments = {0x3f, 0x06, 0x5b, 0x4f, 0x66,
                                                     0x6d, 0x7d, 0x07, 0x7f, 0x6f};

// Draws `text` (digits, ':' and '.') at (x, y) with digits `dh` pixels high; returns the width.
int draw_text(canvas& c, int x, int y, int dh, std::string_view text, std::uint8_t luma) {
  const int dw = dh / 2, t = std::max(2, dh / 8), half = dh / 2, seg = half - t - t / 2;
  const int start = x;
  for (const char ch : text) {
    if (ch >= '0' && ch <= '9') {
      const auto s = k_segments[static_cast<std::size_t>(ch - '0')];
      if (s & 0x01) c.fill(x + t, y, dw - 2 * t, t, luma);
      if (s & 0x02) c.fill(x + dw - t, y + t, t, seg, luma);
      if (s & 0x04) c.fill(x + dw - t, y + half + t / 2, t, seg, luma);
      if (s & 0x08) c.fill(x + t, y + dh - t, dw - 2 * t, t, luma);
      if (s & 0x10) c.fill(x, y + half + t / 2, t, seg, luma);
      if (s & 0x20) c.fill(x, y + t, t, seg, luma);
      if (s & 0x40) c.fill(x + t, y + half - t / 2, dw - 2 * t, t, luma);
      x += dw + 2 * t;
    } else if (ch == ':') {
      c.fill(x, y + dh / 3 - t / 2, t, t, luma);
      c.fill(x, y + 2 * dh / 3 - t / 2, t, t, luma);
      x += 3 * t;
    } else if (ch == '.') {
      c.fill(x, y + dh - t, t, t, luma);
      x += 3 * t;
    } else {
      x += dw + 2 * t;
    }
  }
  return x - start;
}

// Colour bars (white, yellow, cyan, green, magenta, red, blue, black) as Cb/Cr per bar.
constexpr std::array<std::array<std::uint8_t, 2>, 8> k_bars = {
    {{128, 128}, {16, 146}, {166, 16}, {54, 34}, {202, 222}, {90, 240}, {240, 110}, {128, 128}}};

void draw_pattern(AVFrame* f, int w, int h, std::int64_t index, std::string_view clock_text) {
  canvas c{f, w, h};
  // Luma: a horizontal gradient scrolling 4 px per frame; chroma: eight colour bars.
  auto* row = f->data[0];
  for (int x = 0; x < w; ++x) {
    row[x] = static_cast<std::uint8_t>(16 + ((x + index * 4) % w) * 219 / w);
  }
  for (int y = 1; y < h; ++y)
    std::memcpy(f->data[0] + y * f->linesize[0], row, static_cast<std::size_t>(w));
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  for (int x = 0; x < cw; ++x) {
    const auto& bar = k_bars[static_cast<std::size_t>(x * 8 / cw)];
    f->data[1][x] = bar[0];
    f->data[2][x] = bar[1];
  }
  for (int y = 1; y < ch; ++y) {
    std::memcpy(f->data[1] + y * f->linesize[1], f->data[1], static_cast<std::size_t>(cw));
    std::memcpy(f->data[2] + y * f->linesize[2], f->data[2], static_cast<std::size_t>(cw));
  }
  // A box bouncing left and right, one sweep per 4 s at 30 fps.
  const int box = h / 4, span = w - box;
  const std::int64_t pos = index % 240;
  const int bx = static_cast<int>((pos < 120 ? pos : 240 - pos) * span / 120);
  c.fill(bx, h / 2 - box / 2, box, box, 235);
  // Clock and frame counter on a black panel.
  const int dh = std::max(12, h / 12), margin = dh / 3;
  char counter[16];
  std::snprintf(counter, sizeof counter, "%08lld", static_cast<long long>(index % 100'000'000));
  const int tw = draw_text(c, -10'000, 0, dh, clock_text, 0);  // measure only
  c.fill(0, 0, tw + 2 * margin, 2 * dh + 3 * margin, 16);
  draw_text(c, margin, margin, dh, clock_text, 235);
  draw_text(c, margin, 2 * margin + dh, dh, counter, 235);
}

std::string utc_clock_text(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// 440 Hz at -14 dBFS, replaced by a 1 kHz beep at -6 dBFS for the first 100 ms of each second.
void fill_tone(AVFrame* f, std::int64_t first_sample) {
  for (int i = 0; i < f->nb_samples; ++i) {
    const std::int64_t n = (first_sample + i) % k_sample_rate;
    const bool beep = n < k_sample_rate / 10;
    const double freq = beep ? 1000.0 : 440.0, amp = beep ? 0.5 : 0.2;
    const auto v = static_cast<float>(
        amp * std::sin(2 * std::numbers::pi * freq * static_cast<double>(n) / k_sample_rate));
    for (int ch = 0; ch < f->ch_layout.nb_channels; ++ch)
      reinterpret_cast<float*>(f->data[ch])[i] = v;
  }
}

bool parse_int(std::string_view s, int& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

}  // namespace

core::result<test_source_settings> parse_test_spec(std::string_view spec) {
  test_source_settings s;
  auto bad = [&](const std::string& why) {
    return core::make_error(source_error::bad_spec,
                            "source spec \"" + std::string(spec) + "\": " + why);
  };
  if (spec == "test") return s;
  if (!spec.starts_with("test:")) return bad("expected test[:WxH@FPS[:KBPS]]");
  std::string_view rest = spec.substr(5);
  std::string_view rate;
  if (const auto c = rest.find(':'); c != std::string_view::npos) {
    rate = rest.substr(c + 1);
    rest = rest.substr(0, c);
  }
  const auto x = rest.find('x'), at = rest.find('@');
  if (x == std::string_view::npos || at == std::string_view::npos || at < x ||
      !parse_int(rest.substr(0, x), s.width) ||
      !parse_int(rest.substr(x + 1, at - x - 1), s.height) ||
      !parse_int(rest.substr(at + 1), s.fps)) {
    return bad("expected WxH@FPS, e.g. 1280x720@30");
  }
  if (!rate.empty() && !parse_int(rate, s.kbps))
    return bad("expected a bitrate in kb/s after the second ':'");
  if (s.width < 64 || s.width > 3840 || s.height < 64 || s.height > 2160 || s.width % 2 ||
      s.height % 2) {
    return bad("size " + std::to_string(s.width) + "x" + std::to_string(s.height) +
               " must be even and within 64x64..3840x2160");
  }
  if (s.fps < 1 || s.fps > 120)
    return bad("frame rate " + std::to_string(s.fps) + " must be 1..120");
  if (s.kbps < 100 || s.kbps > 50'000)
    return bad("bitrate " + std::to_string(s.kbps) + " kb/s must be 100..50000");
  return s;
}

test_source::test_source(test_source_settings settings) : settings_(settings) {}

test_source::~test_source() { stop(); }

std::string test_source::describe() const {
  return "test " + std::to_string(settings_.width) + "x" + std::to_string(settings_.height) + "@" +
         std::to_string(settings_.fps) + " " + std::to_string(settings_.kbps) + " kb/s";
}

core::result<void> test_source::run(const source_callbacks& cb, std::stop_token stop) {
  const auto& s = settings_;
  // Video encoder: no global header, so every IDR carries SPS/PPS in band (x264 repeat-headers).
  const AVCodec* vcodec = avcodec_find_encoder_by_name("libx264");
  if (vcodec == nullptr) {
    return core::make_error(source_error::encoder,
                            "test source: libavcodec has no libx264 encoder");
  }
  av::codec_context_ptr venc(avcodec_alloc_context3(vcodec));
  venc->width = s.width;
  venc->height = s.height;
  venc->pix_fmt = AV_PIX_FMT_YUV420P;
  venc->time_base = AVRational{1, s.fps};
  venc->framerate = AVRational{s.fps, 1};
  venc->gop_size = std::max(1, static_cast<int>((static_cast<std::int64_t>(s.gop_ms) * s.fps + 500) / 1000));
  venc->keyint_min = venc->gop_size;
  venc->max_b_frames = 0;
  venc->bit_rate = s.kbps * 1000LL;
  venc->rc_max_rate = venc->bit_rate;
  venc->rc_buffer_size = static_cast<int>(venc->bit_rate / 2);  // 0.5 s VBV: CBR-ish, low delay
  venc->thread_count = 1;
  av_opt_set(venc->priv_data, "preset", s.x264_preset.c_str(), 0);
  av_opt_set(venc->priv_data, "tune", "zerolatency", 0);
  // Keyframes exactly every 2 s (no scene cuts), and true CBR with filler data: the test pattern
  // is easy to code and would otherwise use a fifth of KBPS, while a predictable rate is what
  // load tests of the swarm want.
  av_opt_set(venc->priv_data, "x264-params", "scenecut=0:nal-hrd=cbr", 0);
  if (int rc = avcodec_open2(venc.get(), vcodec, nullptr); rc < 0)
    return fail("opening libx264", rc);

  const AVCodec* acodec = avcodec_find_encoder_by_name("aac");
  if (acodec == nullptr)
    return core::make_error(source_error::encoder, "test source: no aac encoder");
  av::codec_context_ptr aenc(avcodec_alloc_context3(acodec));
  aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
  aenc->sample_rate = k_sample_rate;
  av_channel_layout_default(&aenc->ch_layout, 2);
  aenc->bit_rate = k_audio_bit_rate;
  aenc->time_base = AVRational{1, k_sample_rate};
  if (int rc = avcodec_open2(aenc.get(), acodec, nullptr); rc < 0) return fail("opening aac", rc);
  auto audio_cfg = aac::parse_audio_specific_config(
      core::byte_view(aenc->extradata, static_cast<std::size_t>(aenc->extradata_size)));
  if (!audio_cfg) return audio_cfg.error().with_context("test source: aac encoder");

  auto picture = av::make_frame();
  picture->format = AV_PIX_FMT_YUV420P;
  picture->width = s.width;
  picture->height = s.height;
  if (int rc = av_frame_get_buffer(picture.get(), 0); rc < 0)
    return fail("allocating a picture", rc);
  auto samples = av::make_frame();
  samples->format = AV_SAMPLE_FMT_FLTP;
  samples->sample_rate = k_sample_rate;
  samples->nb_samples = aenc->frame_size > 0 ? aenc->frame_size : k_aac_frame_samples;
  av_channel_layout_copy(&samples->ch_layout, &aenc->ch_layout);
  if (int rc = av_frame_get_buffer(samples.get(), 0); rc < 0) return fail("allocating samples", rc);
  auto pkt = av::make_packet();

  bool configured = false;
  std::int64_t audio_samples_in = 0, audio_frames_out = 0;
  const std::int64_t audio_step_90k =
      std::int64_t{samples->nb_samples} * k_ts_clock_hz / k_sample_rate;
  auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; s.max_frames == 0 || i < s.max_frames; ++i) {
    if (stop.stop_requested()) return core::ok();
    if (s.paced) {
      auto due = t0 + std::chrono::nanoseconds(
                          static_cast<std::int64_t>(static_cast<double>(i) * 1e9 * s.pace / s.fps));
      const auto now = std::chrono::steady_clock::now();
      if (now > due + k_max_lag) {
        t0 += now - due;
      } else if (!sleep_until(stop, due)) {
        return core::ok();
      }
    }
    if (int rc = av_frame_make_writable(picture.get()); rc < 0)
      return fail("reusing a picture", rc);
    draw_pattern(picture.get(), s.width, s.height, i,
                 utc_clock_text(std::chrono::system_clock::now()));
    picture->pts = i;
    picture->pict_type = AV_PICTURE_TYPE_NONE;
    if (int rc = avcodec_send_frame(venc.get(), picture.get()); rc < 0)
      return fail("encoding video", rc);
    while (avcodec_receive_packet(venc.get(), pkt.get()) == 0) {
      frame f;
      f.kind = track_kind::video;
      f.pts =
          av_rescale_q(pkt->pts, venc->time_base, AVRational{1, static_cast<int>(k_ts_clock_hz)});
      f.dts =
          av_rescale_q(pkt->dts, venc->time_base, AVRational{1, static_cast<int>(k_ts_clock_hz)});
      f.keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
      f.data.assign(pkt->data, pkt->data + pkt->size);
      av_packet_unref(pkt.get());
      if (!configured) {
        video_config v;
        h264::find_parameter_sets(f.data, v.sps, v.pps);
        if (!f.keyframe || v.sps.empty() || v.pps.empty()) {
          return core::make_error(source_error::encoder,
                                  "test source: libx264's first frame is not an IDR with SPS/PPS");
        }
        v.width = s.width;
        v.height = s.height;
        v.frame_rate = s.fps;
        if (cb.on_config) cb.on_config(media_config{std::move(v), *audio_cfg});
        configured = true;
      }
      if (cb.on_frame) cb.on_frame(std::move(f));
    }
    // Audio up to the end of this video frame's interval.
    const std::int64_t audio_until = (i + 1) * k_sample_rate / s.fps;
    while (audio_samples_in < audio_until) {
      if (int rc = av_frame_make_writable(samples.get()); rc < 0)
        return fail("reusing samples", rc);
      fill_tone(samples.get(), audio_samples_in);
      samples->pts = audio_samples_in;
      audio_samples_in += samples->nb_samples;
      if (int rc = avcodec_send_frame(aenc.get(), samples.get()); rc < 0)
        return fail("encoding audio", rc);
      while (avcodec_receive_packet(aenc.get(), pkt.get()) == 0) {
        // Numbered in output order: the encoder's 1024-sample priming delay becomes a 21 ms
        // audio offset instead of a negative first timestamp.
        frame f;
        f.kind = track_kind::audio;
        f.pts = f.dts = audio_frames_out++ * audio_step_90k;
        f.data.assign(pkt->data, pkt->data + pkt->size);
        av_packet_unref(pkt.get());
        if (configured && cb.on_frame) cb.on_frame(std::move(f));  // never before on_config
      }
    }
  }
  return core::ok();
}

}  // namespace meshcast::media
