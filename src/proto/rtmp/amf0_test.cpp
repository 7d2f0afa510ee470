#include "proto/rtmp/amf0.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace meshcast::proto::rtmp::amf0 {
namespace {

core::bytes encoded(const value& v) {
  core::bytes out;
  encode(out, v);
  return out;
}

core::bytes hex(std::initializer_list<int> list) {
  core::bytes out;
  for (int b : list) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

value round_trip(const value& v) {
  auto out = encoded(v);
  auto all = decode_all(out);
  EXPECT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->size(), 1u);
  return all->front();
}

std::string decode_error(const core::bytes& data, const limits& lim = {}) {
  auto r = decode_all(data, lim);
  return r ? std::string("<no error>") : r.error().message;
}

TEST(amf0, number_is_a_big_endian_double) {
  EXPECT_EQ(encoded(value::make_number(1.0)), hex({0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(round_trip(value::make_number(-2.5)).number, -2.5);
}

TEST(amf0, every_scalar_kind_round_trips) {
  EXPECT_EQ(round_trip(value::make_boolean(true)), value::make_boolean(true));
  EXPECT_EQ(round_trip(value::make_string("live")), value::make_string("live"));
  EXPECT_EQ(round_trip(value::make_null()).kind, type::null);
  EXPECT_EQ(round_trip(value::make_undefined()).kind, type::undefined);
  EXPECT_EQ(round_trip(value::make_date(1.7e12, -60)), value::make_date(1.7e12, -60));
}

TEST(amf0, string_longer_than_65535_bytes_becomes_a_long_string) {
  const value v = value::make_string(std::string(70'000, 'x'));
  EXPECT_EQ(v.kind, type::long_string);
  const auto out = encoded(v);
  EXPECT_EQ(out[0], 0x0c);
  EXPECT_EQ(round_trip(v).string.size(), 70'000u);
}

TEST(amf0, connect_command_object_round_trips_in_order) {
  value obj = value::make_object();
  obj.set("app", value::make_string("live")).set("tcUrl", value::make_string("rtmp://h/live"));
  obj.set("fpad", value::make_boolean(false)).set("capabilities", value::make_number(15));
  const value back = round_trip(obj);
  EXPECT_EQ(back, obj);
  EXPECT_EQ(back.properties[1].key, "tcUrl");
  EXPECT_EQ(back.get_string("app"), "live");
  EXPECT_EQ(back.get_number("capabilities"), 15);
  EXPECT_FALSE(back.get_string("capabilities"));
  EXPECT_EQ(back.find("missing"), nullptr);
}

TEST(amf0, ecma_array_and_strict_array_nest) {
  value inner = value::make_strict_array({value::make_number(1), value::make_string("a")});
  value meta = value::make_ecma_array();
  meta.set("width", value::make_number(640)).set("list", inner);
  EXPECT_EQ(round_trip(meta), meta);
  EXPECT_EQ(to_string(meta), "ecma{width: 640, list: [1, \"a\"]}");
}

TEST(amf0, ecma_array_count_is_advisory) {
  // Count says 5, one property follows, then the end marker: decoders must read to the marker.
  const auto data = hex({0x08, 0, 0, 0, 5, 0, 1, 'w', 0x01, 1, 0, 0, 0x09});
  auto v = decode_all(data);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ((*v)[0].properties.size(), 1u);
}

TEST(amf0, ecma_array_without_end_marker_at_end_of_message_is_accepted) {
  const auto data = hex({0x08, 0, 0, 0, 1, 0, 1, 'w', 0x01, 1});
  ASSERT_TRUE(decode_all(data));
}

TEST(amf0, truncated_number_is_reported_with_offset) {
  EXPECT_EQ(decode_error(hex({0x05, 0x00, 0x3f, 0xf0})),
            "amf0: truncated number: expected 8 bytes at offset 1");
}

TEST(amf0, truncated_string_says_how_long_it_claimed_to_be) {
  EXPECT_EQ(decode_error(hex({0x02, 0x00, 0x10, 'a', 'b'})),
            "amf0: string of 16 bytes is truncated at offset 1");
}

TEST(amf0, object_without_end_marker_is_truncated) {
  EXPECT_EQ(decode_error(hex({0x03, 0, 1, 'a', 0x05})),
            "amf0: truncated property name length at offset 5");
}

TEST(amf0, unsupported_markers_are_named) {
  EXPECT_EQ(decode_error(hex({0x07, 0, 1})),
            "amf0: unsupported type marker 0x07 (reference) at offset 0");
  EXPECT_EQ(decode_error(hex({0x11})),
            "amf0: unsupported type marker 0x11 (AMF3 switch) at offset 0");
  EXPECT_EQ(decode_error(hex({0x09})), "amf0: object end marker outside an object at offset 0");
}

TEST(amf0, strict_array_count_beyond_the_message_is_refused_without_allocating) {
  EXPECT_EQ(decode_error(hex({0x0a, 0xff, 0xff, 0xff, 0xff, 0x05})),
            "amf0: strict array count 4294967295 exceeds the 1 bytes left at offset 0");
}

TEST(amf0, nesting_deeper_than_the_limit_is_refused) {
  core::bytes data;
  for (int i = 0; i < 40; ++i) {
    data.push_back(0x03);
    core::put_be16(data, 1);
    data.push_back('k');
  }
  data.push_back(0x05);
  EXPECT_EQ(decode_error(data), "amf0: nesting depth exceeds limit 16 at offset 64");
}

TEST(amf0, value_count_is_bounded) {
  core::bytes data(100, 0x05);  // 100 nulls
  EXPECT_EQ(decode_error(data, limits{.max_depth = 16, .max_values = 50}),
            "amf0: value count exceeds limit 50 at offset 50");
}

TEST(amf0, nan_numbers_compare_equal_after_round_trip) {
  EXPECT_TRUE(std::isnan(round_trip(value::make_number(NAN)).number));
}

}  // namespace
}  // namespace meshcast::proto::rtmp::amf0
