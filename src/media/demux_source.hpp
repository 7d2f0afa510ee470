// demux_source: a source read with libavformat — a file of any container it reads (paced in real
// time by DTS, optionally looped with timestamps continuing), or a live MPEG-TS/FLV byte stream
// over tcp:// or http:// (probed, delivered as it arrives). Frames are converted at this edge to
// the normal form: AVCC → Annex B with SPS/PPS before each IDR, ADTS → raw AAC +
// AudioSpecificConfig. Runs on its own thread (see source.hpp); stop() interrupts blocking I/O via
// interrupt_callback.
#pragma once

#include <stop_token>
#include <string>

#include "media/source.hpp"

namespace meshcast::media {

struct demux_settings {
  enum class input { file, network };
  std::string url;  ///< a path for files, the URL otherwise
  input kind = input::file;
  bool loop = false;  ///< files: start again at the end, timestamps continuing
  /// Files only: deliver frames at their DTS pace (off in tests: as fast as they are read).
  bool paced = true;
  /// Paced: wall seconds per second of media (a lab dilating time by 3 takes 3 s per second).
  double pace = 1;
  /// Network only: a read that waits longer than this fails the source (on_end with the error).
  int read_timeout_ms = 10'000;
};

class demux_source final : public source {
 public:
  explicit demux_source(demux_settings settings);
  ~demux_source() override;

  [[nodiscard]] std::string describe() const override;

 protected:
  core::result<void> run(const source_callbacks& callbacks, std::stop_token stop) override;

 private:
  struct pass_state;
  core::result<void> run_pass(const source_callbacks& callbacks, const std::stop_token& stop,
                              pass_state& pass);

  demux_settings settings_;
};

}  // namespace meshcast::media
