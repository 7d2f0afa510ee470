#include "media/live_stream.hpp"

#include <algorithm>

namespace meshcast::media {

void rate_meter::add(std::size_t bytes, core::time_point now) {
  // One-second windows folded into an EWMA (weight 0.5 for the newest second): quick enough to
  // follow a bitrate change within a few seconds, smooth enough to ignore GOP-sized bursts.
  if (!window_start_) window_start_ = now;
  window_bytes_ += bytes;
  const auto elapsed = now - *window_start_;
  if (elapsed >= core::micros{1'000'000}) {
    const double sample = static_cast<double>(window_bytes_) * 8.0 * 1e6 /
                          static_cast<double>(elapsed.count());
    bps_ = bps_ == 0 ? sample : 0.5 * bps_ + 0.5 * sample;
    window_start_ = now;
    window_bytes_ = 0;
  }
}

rendition::rendition(rendition_info info, core::micros window)
    : info_(std::move(info)), log_(window) {}

chunk::insert_result rendition::add(const chunk::chunk_ptr& c) {
  const auto r = log_.insert(c);
  if (r == chunk::insert_result::inserted) rate_.add(c->size(), c->header().source_time);
  return r;
}

live_stream::live_stream(std::string name, stream_settings settings)
    : name_(std::move(name)), settings_(settings) {}

rendition* live_stream::find_rendition(std::string_view name) const {
  for (const auto& r : renditions_) {
    if (r->info().name == name) return r.get();
  }
  return nullptr;
}

rendition& live_stream::source() {
  if (rendition* r = find_rendition("source")) return *r;
  renditions_.push_back(std::make_unique<rendition>(rendition_info{}, settings_.window));
  return *renditions_.back();
}

core::result<void> live_stream::begin_publish(const media_config& config, std::string who) {
  if (state_ == publisher_state::live) {
    return core::error{1, "stream " + name_ + " already has a live publisher (" + publisher_ + ")"};
  }
  if (!config.video && !config.audio) {
    return core::error{2, "stream " + name_ + ": publisher has neither video nor audio"};
  }
  rendition& src = source();
  rendition_info info = src.info();
  info.has_video = config.video.has_value();
  info.has_audio = config.audio.has_value();
  info.codecs.clear();
  if (config.video) {
    info.codecs = codec_string(*config.video);
    info.width = config.video->width;
    info.height = config.video->height;
    info.frame_rate = config.video->frame_rate;
  }
  if (config.audio) {
    if (!info.codecs.empty()) info.codecs += ",";
    info.codecs += codec_string(*config.audio);
  }
  src.set_info(info);

  if (!packager_) {
    packager_ = std::make_unique<packager>(settings_.packaging, [this, &src](chunk::chunk_ptr c) {
      src.add(settings_.finish ? settings_.finish(*this, src, std::move(c)) : c);
    });
  }
  if (auto r = packager_->begin(config); !r) {
    return r.error().with_context("stream " + name_);
  }
  state_ = publisher_state::live;
  publisher_ = std::move(who);
  ++publish_sessions_;
  return core::ok();
}

core::result<void> live_stream::push(const frame& f, core::time_point now) {
  if (state_ != publisher_state::live || !packager_) {
    return core::error{3, "stream " + name_ + " has no live publisher"};
  }
  return packager_->push(f, now);
}

void live_stream::end_publish() {
  if (state_ != publisher_state::live) return;
  if (packager_) packager_->end();
  state_ = publisher_state::idle;
  publisher_.clear();
}

live_stream* stream_registry::find(std::string_view name) const {
  const auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

live_stream& stream_registry::get_or_create(const std::string& name) {
  auto& slot = streams_[name];
  if (!slot) slot = std::make_unique<live_stream>(name, defaults_);
  return *slot;
}

std::vector<live_stream*> stream_registry::all() const {
  std::vector<live_stream*> out;
  out.reserve(streams_.size());
  for (const auto& [_, s] : streams_) out.push_back(s.get());
  return out;
}

}  // namespace meshcast::media
