// lab: runs a scenario's plan as real meshcast nodes on this machine and feeds what they observe
// into a report::collector. Two modes, same plan, same report:
//  - run_in_process: every node on one Asio event loop over real loopback TCP; upload/download
//    caps, link delays and loss applied in the swarm transport (net/link_shaper.hpp);
//  - run_netns: every node its own `meshcast` process in its own network namespace, joined through
//    one TUN device each by the lab's user-space wire (delay/rate/loss, lab/sansio/netns_wire.hpp: this
//    kernel has no tc netem); the lab creates and removes the namespaces itself.
// Both call collector::finish() and return its result. docs/lab.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/result.hpp"
#include "report/collector.hpp"
#include "scenario/scenario.hpp"

namespace meshcast::lab {

/// The test source's video bitrate that makes its MPEG-TS stream run at `stream_kbps`: the
/// 128 kb/s AAC track, one PES per audio frame and TS packetisation add ~225 kb/s to the video
/// (measured at 640x360@25, 100 ms chunks: video 200/500/800 kb/s gave a stream of
/// 424/720/1022 kb/s). A stream under ~330 kb/s cannot be made (the video's floor is 100 kb/s).
inline int test_video_kbps(std::uint32_t stream_kbps) { return std::max(100, static_cast<int>(stream_kbps) - 225); }

enum class lab_errc { setup = 1, unsupported, node_failed };

struct lab_settings {
  std::string meshcast_binary;  ///< netns mode: the meshcast executable each node runs
  std::string work_dir;         ///< netns mode: per-node logs and record files go here
  bool keep_going_on_node_failure = true;
  /// In-process mode: event loops (threads) the nodes are spread over; 0 = one per hardware core.
  std::size_t threads = 0;
  /// In-process mode: time dilation — every node's clock, link, timer and the source run this
  /// many times slower than real time (1 = real time), so that a run too big for this machine's
  /// cores in real time fits; the report is in the nodes' (dilated) time. docs/lab.md.
  double dilation = 1;
};

core::result<report::run_result> run_in_process(const scenario::scenario& s, const scenario::plan& p,
                                                report::collector& c, const lab_settings& settings);

core::result<report::run_result> run_netns(const scenario::scenario& s, const scenario::plan& p,
                                           report::collector& c, const lab_settings& settings);

}  // namespace meshcast::lab
