// Fuzzes the AMF0 decoder: any bytes must decode or fail cleanly, and whatever decodes must
// survive encode -> decode unchanged (the encoder writes what the decoder reads).
#include <cstddef>
#include <cstdint>

#include "proto/rtmp/amf0.hpp"

using namespace meshcast;
using namespace meshcast::proto::rtmp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const core::byte_view in(data, size);
  auto values = amf0::decode_all(in);
  if (!values) return 0;
  for (const auto& v : *values) (void)amf0::to_string(v);
  core::bytes again;
  amf0::encode_all(again, *values);
  auto back = amf0::decode_all(again);
  if (!back || *back != *values) __builtin_trap();
  return 0;
}
