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

/// "127.0.0.1:8080" or "[::1]:8080": an endpoint as logs and error messages show it.
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep);

/// Opens, binds (SO_REUSEADDR) and listens. On failure the acceptor is closed and the error
/// names the component and the address: "rtmp: cannot listen on 0.0.0.0:1935: Address already
/// in use". Every server of a node (HTTP, RTMP, swarm, TCP output) binds through this.
core::result<void> listen_on(boost::asio::ip::tcp::acceptor& acceptor,
                             const boost::asio::ip::tcp::endpoint& ep, std::string_view what);

/// A URL host part for an endpoint a user can paste: 0.0.0.0 and :: become 127.0.0.1.
std::string url_host(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace meshcast::net
