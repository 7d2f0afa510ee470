// Fuzz target: a node's lab record file (lab/sansio/record.hpp). The lab reads one per node
// process after a --netns run; a node killed mid-write, a full disk or a stray file put anything
// there. parse_record must never crash or loop; what it accepts must format back, line by line,
// into a record that parses to the same node, role and events.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lab/sansio/record.hpp"

using namespace meshcast::lab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = parse_record(text, "fuzz.rec");
  if (!r) {
    if (r.error().message.empty()) std::abort();
    return 0;
  }
  if (r->node_id.size() != 32 || (r->role != "origin" && r->role != "edge" && r->role != "peer")) std::abort();
  std::string again = "meshcast-record,1," + r->node_id + "," + r->role + "\n";
  for (const record_event& e : r->events) again += format_event(e) + "\n";
  auto r2 = parse_record(again, "again.rec");
  if (!r2 || r2->truncated_tail || r2->node_id != r->node_id || r2->role != r->role || r2->events != r->events) {
    std::abort();
  }
  return 0;
}
