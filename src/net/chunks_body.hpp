// chunks_body: a Beast HTTP body made of shared chunks, written with a gather write straight from
// the chunks' own payload buffers: serving an HLS segment copies no media bytes, however many
// clients fetch it. The message keeps the chunk_ptrs alive until it is written.
// Used on the event-loop thread with Beast's serializer (http::message_generator).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <utility>
#include <vector>

#include "chunk/chunk.hpp"

namespace meshcast::net {

struct chunks_body {
  using value_type = std::vector<chunk::chunk_ptr>;

  /// Content-Length: the sum of the payload sizes.
  static std::uint64_t size(const value_type& body) {
    std::uint64_t n = 0;
    for (const auto& c : body) n += c->size();
    return n;
  }

  class writer {
   public:
    using const_buffers_type = std::vector<boost::asio::const_buffer>;

    template <bool is_request, class Fields>
    writer(const boost::beast::http::header<is_request, Fields>& /*header*/, const value_type& body)
        : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    /// All payloads at once, as one buffer sequence; the serializer writes as much as the
    /// socket takes per call.
    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (done_) return boost::none;
      done_ = true;
      const_buffers_type buffers;
      buffers.reserve(body_.size());
      for (const auto& c : body_) buffers.emplace_back(c->payload().data(), c->size());
      return std::make_pair(std::move(buffers), false);
    }

   private:
    const value_type& body_;
    bool done_ = false;
  };
};

}  // namespace meshcast::net
