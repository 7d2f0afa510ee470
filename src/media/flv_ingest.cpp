#include "media/flv_ingest.hpp"

#include <cstdlib>

#include "media/aac.hpp"
#include "media/h264.hpp"

namespace meshcast::media {
namespace {

// The h264/aac parsers have their own codes; for an RTMP session every one of them means one
// broken tag, skipped (only flv_errc::unsupported_codec closes the publisher).
core::error as_malformed_tag(const core::error& e) {
  return core::make_error(flv_errc::malformed_tag, e.message);
}

}  // namespace

void flv_ingest::on_metadata(const flv_metadata& m) {
  metadata_ = m;
  if (!started_ && config_.video) {
    if (config_.video->frame_rate == 0) config_.video->frame_rate = m.frame_rate;
    if (config_.video->width == 0) config_.video->width = m.width;
    if (config_.video->height == 0) config_.video->height = m.height;
  }
  maybe_start();
}

core::result<void> flv_ingest::on_video(std::uint32_t timestamp_ms, core::byte_view body) {
  auto tag = parse_video_tag(body);
  if (!tag) return tag.error();
  if (tag->frame_type == static_cast<int>(flv_frame_type::command)) return core::ok();

  switch (tag->avc_packet_type) {
    case 0: {
      auto record = h264::parse_decoder_config(tag->data);
      if (!record) return as_malformed_tag(record.error());
      video_config v;
      v.sps = record->sps.front();
      v.pps = record->pps.front();
      if (auto sps = h264::parse_sps(v.sps)) {
        v.width = sps->width;
        v.height = sps->height;
      } else if (metadata_) {  // an SPS we cannot read still plays; take the announced size
        v.width = metadata_->width;
        v.height = metadata_->height;
      }
      if (metadata_) v.frame_rate = metadata_->frame_rate;
      nal_length_size_ = record->nal_length_size;
      // Encoders resend the same sequence header (OBS on reconnect, FFmpeg with some muxers).
      if (config_.video && config_.video->sps == v.sps && config_.video->pps == v.pps) {
        return core::ok();
      }
      config_.video = std::move(v);
      config_updated();
      return core::ok();
    }
    case 1:
      break;
    case 2:
      return core::ok();  // end of sequence
    default:
      return core::make_error(flv_errc::malformed_tag,
                              "flv AVC packet type " + std::to_string(tag->avc_packet_type) +
                                  " (expected 0, 1 or 2)");
  }

  if (!config_.video) {
    ++dropped_;
    return core::ok();
  }
  auto nals = h264::split_length_prefixed(tag->data, nal_length_size_);
  if (!nals) return as_malformed_tag(nals.error());
  if (nals->empty()) {
    ++dropped_;
    return core::ok();
  }
  bool has_idr = false, has_sps = false;
  for (const auto nal : *nals) {
    has_idr = has_idr || h264::nal_type(nal) == h264::k_nal_idr;
    has_sps = has_sps || h264::nal_type(nal) == h264::k_nal_sps;
  }
  frame f;
  f.kind = track_kind::video;
  f.keyframe = has_idr || tag->frame_type == static_cast<int>(flv_frame_type::keyframe);
  f.dts = unwrap(timestamp_ms) * 90;
  f.pts = f.dts + std::int64_t{tag->composition_time} * 90;
  std::size_t total = 0;
  for (const auto nal : *nals) total += 4 + nal.size();
  f.data.reserve(total + 8 + config_.video->sps.size() + config_.video->pps.size());
  std::size_t first = 0;
  if (f.keyframe && !has_sps) {
    // Parameter sets go after an access unit delimiter, if any, and before everything else.
    if (h264::nal_type((*nals)[0]) == h264::k_nal_aud) h264::append_nal(f.data, (*nals)[first++]);
    h264::append_nal(f.data, config_.video->sps);
    h264::append_nal(f.data, config_.video->pps);
  }
  for (std::size_t i = first; i < nals->size(); ++i) h264::append_nal(f.data, (*nals)[i]);
  add_frame(std::move(f));
  return core::ok();
}

core::result<void> flv_ingest::on_audio(std::uint32_t timestamp_ms, core::byte_view body) {
  auto tag = parse_audio_tag(body);
  if (!tag) return tag.error();
  if (tag->aac_packet_type == 0) {
    auto a = aac::parse_audio_specific_config(tag->data);
    if (!a) return as_malformed_tag(a.error());
    if (a->channels == 0) a->channels = tag->sound_type == 1 ? 2 : 1;  // channels in a PCE
    if (config_.audio && config_.audio->audio_specific_config == a->audio_specific_config) {
      return core::ok();
    }
    config_.audio = std::move(*a);
    config_updated();
    return core::ok();
  }
  if (tag->aac_packet_type != 1) {
    return core::make_error(flv_errc::malformed_tag,
                            "flv AAC packet type " + std::to_string(tag->aac_packet_type) +
                                " (expected 0 or 1)");
  }
  if (!config_.audio || tag->data.empty()) {
    ++dropped_;
    return core::ok();
  }
  frame f;
  f.kind = track_kind::audio;
  f.dts = unwrap(timestamp_ms) * 90;
  f.pts = f.dts;
  f.data.assign(tag->data.begin(), tag->data.end());
  add_frame(std::move(f));
  return core::ok();
}

void flv_ingest::flush() {
  if (!started_ && (config_.video || config_.audio)) start();
}

std::optional<flv_ingest_event> flv_ingest::poll() {
  if (out_.empty()) return std::nullopt;
  flv_ingest_event e = std::move(out_.front());
  out_.pop_front();
  return e;
}

std::int64_t flv_ingest::unwrap(std::uint32_t ts_ms) {
  if (!last_ts_) {
    ts_ms_ = ts_ms;
  } else {
    ts_ms_ += static_cast<std::int32_t>(ts_ms - *last_ts_);
  }
  last_ts_ = ts_ms;
  return ts_ms_;
}

void flv_ingest::add_frame(frame f) {
  if (started_) {
    out_.emplace_back(std::move(f));
    return;
  }
  held_bytes_ += f.data.size();
  held_.push_back(std::move(f));
  maybe_start();
}

void flv_ingest::config_updated() {
  if (started_) {
    out_.emplace_back(flv_config_event{config_, true});
  } else {
    maybe_start();
  }
}

void flv_ingest::maybe_start() {
  if (started_ || (!config_.video && !config_.audio)) return;
  // onMetaData without any codec id says nothing about the tracks: expect both then.
  const bool announced = metadata_ && (metadata_->has_video || metadata_->has_audio);
  const bool want_video = announced ? metadata_->has_video : true;
  const bool want_audio = announced ? metadata_->has_audio : true;
  const bool complete = (!want_video || config_.video) && (!want_audio || config_.audio);
  const std::int64_t span =
      held_.empty() ? 0 : std::abs(held_.back().dts - held_.front().dts) / 90;
  const bool held_enough = span >= settings_.max_hold_ms ||
                           held_.size() >= settings_.max_hold_frames ||
                           held_bytes_ >= settings_.max_hold_bytes;
  if (complete || held_enough) start();
}

void flv_ingest::start() {
  started_ = true;
  out_.emplace_back(flv_config_event{config_, false});
  for (auto& f : held_) out_.emplace_back(std::move(f));
  held_.clear();
  held_bytes_ = 0;
}

}  // namespace meshcast::media
