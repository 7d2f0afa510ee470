// json: the scenario as JSON text, in the file's terms (report.json embeds it). Keys in a fixed
// order, distributions in their canonical text form.
#include <nlohmann/json.hpp>

#include "scenario/scenario.hpp"

namespace meshcast::scenario {

namespace {

std::string_view event_kind_name(event::kind k) {
  switch (k) {
    case event::kind::join:
      return "join";
    case event::kind::leave:
      return "leave";
    case event::kind::churn:
      return "churn";
    case event::kind::kill:
      return "kill";
    case event::kind::tracker_stop:
      return "tracker_stop";
    case event::kind::tracker_start:
      return "tracker_start";
  }
  return "join";
}

}  // namespace

std::string to_json_text(const scenario& s) {
  using json = nlohmann::ordered_json;
  json j;
  j["name"] = s.name;
  j["description"] = s.description;
  j["duration"] = s.duration_s;
  j["seed"] = s.seed;
  j["tracker_interval"] = s.tracker_interval_s;
  json src;
  src["kind"] = s.source.kind;
  if (!s.source.path.empty()) src["path"] = s.source.path;
  src["bitrate"] = s.source.bitrate_kbps;
  src["gop"] = s.source.gop_ms;
  src["chunk"] = s.source.chunk_ms;
  src["width"] = s.source.width;
  src["height"] = s.source.height;
  src["fps"] = s.source.fps;
  j["source"] = src;
  json origin;
  origin["upload"] = s.origin.upload;
  origin["region"] = s.origin.region;
  origin["max_neighbours"] = s.origin.max_neighbours;
  origin["delay"] = s.origin.delay_ms.text();
  j["origin"] = origin;
  json peers = json::array();
  for (const node_group& g : s.groups) {
    json p;
    p["name"] = g.name;
    p["kind"] = g.kind == node_kind::edge ? "edge" : "peer";
    p["count"] = g.count;
    p["upload"] = g.upload.text();
    p["download"] = g.download.text();
    p["region"] = g.region;
    if (g.delay_ms) p["delay"] = g.delay_ms->text();
    p["join_at"] = g.join_at_s;
    p["join_over"] = g.join_over_s;
    peers.push_back(std::move(p));
  }
  j["peers"] = std::move(peers);
  json links;
  links["delay"] = s.links.node_delay_ms.text();
  links["loss"] = s.links.loss;
  json regions = json::array();
  for (const region_delay& r : s.links.region_delays) {
    regions.push_back(json{{"a", r.a}, {"b", r.b}, {"delay", r.delay_ms.text()}});
  }
  links["regions"] = std::move(regions);
  j["links"] = std::move(links);
  json swarm;
  swarm["playout_delay"] = s.swarm.playout_delay_ms;
  swarm["min_neighbours"] = s.swarm.min_neighbours;
  swarm["max_neighbours"] = s.swarm.max_neighbours;
  swarm["mode"] = s.swarm.mode;
  j["swarm"] = std::move(swarm);
  json events = json::array();
  for (const event& e : s.events) {
    json x;
    x["at"] = e.at_s;
    x["kind"] = event_kind_name(e.k);
    switch (e.k) {
      case event::kind::join:
        x["group"] = e.group;
        x["count"] = e.count;
        x["over"] = e.over_s;
        break;
      case event::kind::leave:
        x["group"] = e.group;
        if (e.fraction > 0) {
          x["fraction"] = e.fraction;
        } else {
          x["count"] = e.count;
        }
        x["over"] = e.over_s;
        break;
      case event::kind::churn:
        x["group"] = e.group;
        x["rate"] = e.rate;
        x["until"] = e.until_s > 0 ? e.until_s : s.duration_s;
        break;
      case event::kind::kill:
        x["target"] = e.target;
        break;
      case event::kind::tracker_stop:
      case event::kind::tracker_start:
        break;
    }
    if (!e.label.empty()) x["label"] = e.label;
    events.push_back(std::move(x));
  }
  j["events"] = std::move(events);
  return j.dump(2);
}

}  // namespace meshcast::scenario
