// Fuzz target: the tracker's JSON bodies (announce request, leave request, announce response).
// They come from any HTTP client (tracker side) or any tracker (node side): hostile by default.
// A decoded value must encode and decode back to the same encoding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proto/tracker/messages.hpp"

using namespace meshcast::proto::tracker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (auto r = decode_announce_request(body)) {
    const std::string again = encode(*r);
    auto r2 = decode_announce_request(again);
    if (!r2 || encode(*r2) != again) std::abort();
  }
  if (auto r = decode_leave_request(body)) {
    const std::string again = encode(*r);
    if (!decode_leave_request(again)) std::abort();
  }
  if (auto r = decode_announce_response(body)) {
    const std::string again = encode(*r);
    auto r2 = decode_announce_response(again);
    if (!r2 || encode(*r2) != again) std::abort();
  }
  return 0;
}
