#include "net/endpoint.hpp"

#include <charconv>

namespace meshcast::net {

core::result<boost::asio::ip::tcp::endpoint> parse_endpoint(std::string_view text) {
  const auto bad = [&](std::string why) {
    return core::error{1, why + " in '" + std::string(text) + "' (expected ADDR:PORT)"};
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("missing port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535) {
    return bad("bad port '" + std::string(port_text) + "'");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code addr_ec;
  const auto addr = boost::asio::ip::make_address(std::string(host), addr_ec);
  if (addr_ec) return bad("bad address '" + std::string(host) + "'");
  return boost::asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(port));
}

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep) {
  const std::string host = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
}

core::result<void> listen_on(boost::asio::ip::tcp::acceptor& acceptor,
                             const boost::asio::ip::tcp::endpoint& ep, std::string_view what) {
  boost::system::error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (!ec) return core::ok();
  boost::system::error_code ignored;
  acceptor.close(ignored);
  return core::error{ec.value(), std::string(what) + ": cannot listen on " + endpoint_text(ep) + ": " + ec.message()};
}

std::string url_host(const boost::asio::ip::tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_unspecified()) return addr.is_v6() ? "[::1]" : "127.0.0.1";
  if (addr.is_v6()) return "[" + addr.to_string() + "]";
  return addr.to_string();
}

}  // namespace meshcast::net
