// av_ptr: RAII owners for libav* objects (unique_ptr with the matching free function) and the
// libav error string. Private to src/media: nothing outside this folder includes libav* headers.
// Plain ownership types; the objects themselves are not thread-safe.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
}

#include <memory>
#include <string>

namespace meshcast::media::av {

struct packet_deleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct frame_deleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct codec_context_deleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
/// An input context opened with avformat_open_input.
struct input_context_deleter {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
/// An output context whose pb is owned elsewhere (custom AVIO): only the context is freed.
struct output_context_deleter {
  void operator()(AVFormatContext* c) const { avformat_free_context(c); }
};
/// A custom AVIOContext from avio_alloc_context: frees its (possibly reallocated) buffer too.
struct avio_deleter {
  void operator()(AVIOContext* io) const {
    if (io) av_freep(&io->buffer);
    avio_context_free(&io);
  }
};
struct dictionary_deleter {
  void operator()(AVDictionary* d) const { av_dict_free(&d); }
};

using packet_ptr = std::unique_ptr<AVPacket, packet_deleter>;
using frame_ptr = std::unique_ptr<AVFrame, frame_deleter>;
using codec_context_ptr = std::unique_ptr<AVCodecContext, codec_context_deleter>;
using input_context_ptr = std::unique_ptr<AVFormatContext, input_context_deleter>;
using output_context_ptr = std::unique_ptr<AVFormatContext, output_context_deleter>;
using avio_ptr = std::unique_ptr<AVIOContext, avio_deleter>;

inline packet_ptr make_packet() { return packet_ptr(av_packet_alloc()); }
inline frame_ptr make_frame() { return frame_ptr(av_frame_alloc()); }

/// "Invalid data found when processing input (-1094995529)".
inline std::string error_string(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return std::string(buf) + " (" + std::to_string(code) + ")";
}

}  // namespace meshcast::media::av
