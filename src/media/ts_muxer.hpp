// ts_muxer: one instance of libavformat's mpegts muxer writing into memory through a custom AVIO
// write callback, one frame in → that frame's TS packets out, nothing held back. Private to the
// packager (one per publishing session, so continuity counters restart with each session).
// Deterministic: fixed PIDs and service ids, bit-exact mode, timestamps copied as given.
// Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <memory>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "media/frame.hpp"

struct AVFormatContext;
struct AVIOContext;
struct AVPacket;

namespace meshcast::media {

inline constexpr int k_pat_pid = 0x0000;
inline constexpr int k_sdt_pid = 0x0011;
inline constexpr int k_pmt_pid = 0x1000;
inline constexpr int k_video_pid = 0x0100;
inline constexpr int k_audio_pid = 0x0101;

enum class ts_muxer_error { setup = 1, no_track, write };

class ts_muxer {
 public:
  /// Opens a muxer for the tracks of `config` (H.264 on PID 0x100, AAC on PID 0x101, PMT 0x1000).
  static core::result<std::unique_ptr<ts_muxer>> open(const media_config& config);
  ~ts_muxer();
  ts_muxer(const ts_muxer&) = delete;
  ts_muxer& operator=(const ts_muxer&) = delete;

  /// Muxes one frame in the normal form (timestamps 90 kHz, dts strictly increasing per track:
  /// the caller checks, libavformat rejects otherwise) and appends every TS packet it produced to
  /// `out`, a whole number of 188-byte packets. With `tables_first`, those packets begin with PAT
  /// then PMT (a segment start). The DVB SDT (PID 0x11) is dropped: no HLS or TS player needs it
  /// and FFmpeg would write it before the PAT.
  core::result<void> write(const frame& f, bool tables_first, core::bytes& out);

  /// Writes the trailer; appends whatever the muxer still held (normally nothing).
  core::result<void> finish(core::bytes& out);

 private:
  struct av_state;
  explicit ts_muxer(std::unique_ptr<av_state> state);
  static int on_write(void* opaque, std::uint8_t* buf, int size);
  void drain(core::bytes& out);

  std::unique_ptr<av_state> av_;
  core::bytes pending_;  // muxer output not yet handed out
  bool finished_ = false;
};

}  // namespace meshcast::media
