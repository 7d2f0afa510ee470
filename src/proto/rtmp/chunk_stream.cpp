#include "proto/rtmp/chunk_stream.hpp"

#include <algorithm>
#include <string>

namespace meshcast::proto::rtmp {
namespace {

constexpr std::size_t k_message_header_bytes[4] = {11, 7, 3, 0};
constexpr std::uint32_t k_extended_marker = 0xff'ffff;

std::size_t basic_header_bytes(std::uint8_t b0) {
  const std::uint8_t low = b0 & 0x3f;
  return low == 0 ? 2 : low == 1 ? 3 : 1;
}

std::uint32_t get_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

void put_le32(core::bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::string cs(std::uint32_t csid) { return "rtmp chunk stream " + std::to_string(csid); }

}  // namespace

void write_basic_header(core::bytes& out, int fmt, std::uint32_t csid) {
  const auto f = static_cast<std::uint8_t>(fmt << 6);
  if (csid >= 2 && csid <= 63) {
    out.push_back(static_cast<std::uint8_t>(f | csid));
  } else if (csid >= 64 && csid <= 319) {
    out.push_back(f);
    out.push_back(static_cast<std::uint8_t>(csid - 64));
  } else {
    out.push_back(static_cast<std::uint8_t>(f | 1));
    out.push_back(static_cast<std::uint8_t>((csid - 64) & 0xff));
    out.push_back(static_cast<std::uint8_t>((csid - 64) >> 8));
  }
}

// ---------------------------------------------------------------------------------------------
// chunk_reader

core::result<void> chunk_reader::fail(core::error e) {
  error_ = e;
  return e;
}

std::size_t chunk_reader::header_bytes_needed() const {
  if (hdr_len_ == 0) return 1;
  const std::size_t basic = basic_header_bytes(hdr_[0]);
  const int fmt = hdr_[0] >> 6;
  const std::size_t base = basic + k_message_header_bytes[fmt];
  if (hdr_len_ < base) return base;
  bool extended = false;
  if (fmt <= 2) {
    extended = core::get_be24(hdr_ + basic) == k_extended_marker;
  } else {
    std::uint32_t csid = hdr_[0] & 0x3f;
    if (basic == 2) csid = 64 + hdr_[1];
    if (basic == 3) csid = 64 + hdr_[1] + 256u * hdr_[2];
    const auto it = streams_.find(csid);
    extended = it != streams_.end() && it->second.extended;
  }
  return base + (extended ? 4 : 0);
}

core::result<void> chunk_reader::on_bytes(core::byte_view data) {
  if (error_) return *error_;
  std::size_t off = 0;
  while (off < data.size()) {
    if (in_payload_) {
      stream_state& st = streams_[payload_csid_];
      const std::size_t n = std::min(chunk_left_, data.size() - off);
      if (buffered_ + n > limits_.max_buffered_bytes) {
        return fail(core::make_error(chunk_errc::buffered_too_much,
                                     "rtmp partially received messages hold more than " +
                                         std::to_string(limits_.max_buffered_bytes) + " bytes"));
      }
      st.payload.insert(st.payload.end(), data.begin() + static_cast<std::ptrdiff_t>(off),
                        data.begin() + static_cast<std::ptrdiff_t>(off + n));
      buffered_ += n;
      off += n;
      consumed_ += n;
      chunk_left_ -= n;
      if (chunk_left_ == 0) {
        in_payload_ = false;
        if (st.payload.size() == st.length) {
          if (auto r = finish_message(st, payload_csid_); !r) return r;
        }
      }
      continue;
    }
    std::size_t need = header_bytes_needed();
    while (hdr_len_ < need && off < data.size()) {
      hdr_[hdr_len_++] = data[off++];
      ++consumed_;
      need = header_bytes_needed();
    }
    if (hdr_len_ < need) break;  // the rest of the header is still in flight
    if (auto r = parse_header(); !r) return r;
    hdr_len_ = 0;
  }
  return core::ok();
}

core::result<void> chunk_reader::parse_header() {
  const std::size_t basic = basic_header_bytes(hdr_[0]);
  const int fmt = hdr_[0] >> 6;
  std::uint32_t csid = hdr_[0] & 0x3f;
  if (basic == 2) csid = 64 + hdr_[1];
  if (basic == 3) csid = 64 + hdr_[1] + 256u * hdr_[2];

  auto it = streams_.find(csid);
  if (it == streams_.end()) {
    if (fmt != 0) {
      return fail(core::make_error(chunk_errc::no_previous_header,
                                   cs(csid) + ": fmt " + std::to_string(fmt) +
                                       " header without a previous fmt 0 header"));
    }
    if (streams_.size() >= limits_.max_chunk_streams) {
      return fail(core::make_error(chunk_errc::too_many_chunk_streams,
                                   "rtmp chunk stream count exceeds limit " +
                                       std::to_string(limits_.max_chunk_streams)));
    }
    it = streams_.emplace(csid, stream_state{}).first;
  }
  stream_state& st = it->second;
  const std::uint8_t* p = hdr_ + basic;
  const bool new_message = !st.in_message;

  if (fmt <= 2) {
    if (st.in_message) {
      return fail(core::make_error(
          chunk_errc::interrupted_message,
          cs(csid) + ": fmt " + std::to_string(fmt) + " header while the previous message of " +
              std::to_string(st.length) + " bytes is " +
              std::to_string(st.length - st.payload.size()) + " bytes short"));
    }
    const std::uint32_t field = core::get_be24(p);
    const bool extended = field == k_extended_marker;
    const std::uint32_t value =
        extended ? core::get_be32(p + k_message_header_bytes[fmt]) : field;
    if (fmt <= 1) {
      st.length = core::get_be24(p + 3);
      st.type_id = p[6];
    }
    if (fmt == 0) {
      st.stream_id = get_le32(p + 7);
      st.timestamp = value;
    } else {
      st.timestamp += value;  // 32-bit wrap is the wire's own arithmetic
    }
    st.ts_field = value;
    st.extended = extended;
    st.has_header = true;
  } else if (new_message) {
    // A fmt 3 header starting a new message repeats the previous timestamp field (FFmpeg, SRS).
    const std::uint32_t delta = st.extended ? core::get_be32(p) : st.ts_field;
    st.timestamp += delta;
  }
  // (fmt 3 continuation: the repeated extended timestamp, if any, carries nothing new.)

  if (new_message) {
    if (st.length > limits_.max_message_bytes) {
      return fail(core::make_error(chunk_errc::message_too_large,
                                   "rtmp message size " + std::to_string(st.length) +
                                       " exceeds limit " +
                                       std::to_string(limits_.max_message_bytes)));
    }
    st.in_message = true;
    st.payload.clear();
    st.payload.reserve(std::min<std::size_t>(st.length, 64u << 10));
    if (st.length == 0) return finish_message(st, csid);
  }
  payload_csid_ = csid;
  chunk_left_ = std::min<std::size_t>(chunk_size_, st.length - st.payload.size());
  in_payload_ = true;
  return core::ok();
}

core::result<void> chunk_reader::finish_message(stream_state& st, std::uint32_t csid) {
  message m;
  m.csid = csid;
  m.type_id = st.type_id;
  m.stream_id = st.stream_id;
  m.timestamp = st.timestamp;
  m.payload = std::move(st.payload);
  st.payload = {};
  st.in_message = false;
  buffered_ -= m.payload.size();

  const auto type = static_cast<message_type>(m.type_id);
  if (type == message_type::set_chunk_size || type == message_type::abort) {
    if (m.payload.size() < 4) {
      return fail(core::make_error(chunk_errc::bad_control_message,
                                   std::string("rtmp ") +
                                       (type == message_type::abort ? "abort" : "set chunk size") +
                                       " message of " + std::to_string(m.payload.size()) +
                                       " bytes (expected 4)"));
    }
    const std::uint32_t v = core::get_be32(m.payload.data());
    if (type == message_type::set_chunk_size) {
      if (v == 0 || v > k_max_chunk_size) {
        return fail(core::make_error(chunk_errc::bad_chunk_size,
                                     "rtmp set chunk size " + std::to_string(v) +
                                         " out of range 1.." + std::to_string(k_max_chunk_size)));
      }
      chunk_size_ = v;
    } else if (auto a = streams_.find(v); a != streams_.end() && a->second.in_message) {
      buffered_ -= a->second.payload.size();
      a->second.payload = {};
      a->second.in_message = false;
    }
  }
  ready_.push_back(std::move(m));
  return core::ok();
}

std::optional<message> chunk_reader::poll_message() {
  if (ready_.empty()) return std::nullopt;
  message m = std::move(ready_.front());
  ready_.pop_front();
  return m;
}

// ---------------------------------------------------------------------------------------------
// chunk_writer

std::vector<core::bytes> chunk_writer::write_chunks(const message_header& h,
                                                    core::byte_view payload) {
  const auto length = static_cast<std::uint32_t>(payload.size());
  stream_state& st = streams_[h.csid];
  const bool use_delta =
      compress_ && st.valid && st.stream_id == h.stream_id && h.timestamp >= st.timestamp;
  const std::uint32_t ts_value = use_delta ? h.timestamp - st.timestamp : h.timestamp;
  int fmt = 0;
  if (use_delta) {
    fmt = (h.type_id == st.type_id && length == st.length) ? (ts_value == st.ts_field ? 3 : 2) : 1;
  }
  const bool extended = ts_value >= k_extended_marker;
  st = stream_state{true, h.timestamp, ts_value, length, h.type_id, h.stream_id};

  std::vector<core::bytes> chunks;
  std::size_t off = 0;
  do {
    core::bytes c;
    const std::size_t n = std::min<std::size_t>(chunk_size_, payload.size() - off);
    c.reserve(18 + n);
    if (off == 0) {
      write_basic_header(c, fmt, h.csid);
      if (fmt <= 2) core::put_be24(c, extended ? k_extended_marker : ts_value);
      if (fmt <= 1) {
        core::put_be24(c, length);
        c.push_back(h.type_id);
      }
      if (fmt == 0) put_le32(c, h.stream_id);
    } else {
      write_basic_header(c, 3, h.csid);
    }
    if (extended) core::put_be32(c, ts_value);
    core::append(c, payload.subspan(off, n));
    off += n;
    chunks.push_back(std::move(c));
  } while (off < payload.size());
  return chunks;
}

void chunk_writer::write(core::bytes& out, const message_header& h, core::byte_view payload) {
  for (const auto& c : write_chunks(h, payload)) core::append(out, c);
}

}  // namespace meshcast::proto::rtmp
