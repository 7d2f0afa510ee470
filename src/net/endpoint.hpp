// Parsing of listen/connect addresses given on the command line or in config: "ADDR:PORT",
// "[v6addr]:PORT", "localhost:PORT". Numeric addresses only, plus "localhost" (no DNS at startup).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace meshcast::net {

/// "127.0.0.1:8080" -> endpoint. Errors name what was expected: "expected ADDR:PORT, got 'x'".
core::result<boost::asio::ip::tcp::endpoint> parse_endpoint(std::string_view text);

/// A URL host part for an endpoint a user can paste: 0.0.0.0 and :: become 127.0.0.1.
std::string url_host(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace meshcast::net
