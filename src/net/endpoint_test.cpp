#include "net/endpoint.hpp"

#include <gtest/gtest.h>

namespace meshcast::net {
namespace {

TEST(parse_endpoint, accepts_ipv4_ipv6_and_localhost) {
  EXPECT_EQ(parse_endpoint("127.0.0.1:8080")->port(), 8080);
  EXPECT_TRUE(parse_endpoint("[::1]:1935")->address().is_v6());
  EXPECT_EQ(parse_endpoint("localhost:0")->address().to_string(), "127.0.0.1");
  EXPECT_TRUE(parse_endpoint(":7070")->address().is_unspecified());
}

TEST(parse_endpoint, rejects_with_a_message_that_names_the_input) {
  const auto r = parse_endpoint("127.0.0.1:http");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("127.0.0.1:http"), std::string::npos);
  EXPECT_FALSE(parse_endpoint("127.0.0.1"));
  EXPECT_FALSE(parse_endpoint("1.2.3.4:70000"));
  EXPECT_FALSE(parse_endpoint("not-an-ip:80"));
}

TEST(url_host, unspecified_address_becomes_loopback) {
  EXPECT_EQ(url_host(*parse_endpoint("0.0.0.0:1")), "127.0.0.1");
  EXPECT_EQ(url_host(*parse_endpoint("10.1.2.3:1")), "10.1.2.3");
}

}  // namespace
}  // namespace meshcast::net
