#include "lab/sansio/record.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace meshcast::lab {
namespace {

constexpr std::string_view k_magic = "meshcast-record";
constexpr std::string_view k_version = "1";

using kind = record_event::kind;

struct kind_name {
  kind k;
  std::string_view name;
  std::size_t fields;  // including the name
};
constexpr kind_name k_kinds[] = {
    {kind::produced, "produced", 5}, {kind::join, "join", 2},           {kind::join_point, "join_point", 2},
    {kind::arrival, "arrival", 7},   {kind::duplicate, "duplicate", 3}, {kind::sent, "sent", 4},
    {kind::left, "left", 2},
};

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = line.find(',', start);
    out.push_back(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

bool is_node_id(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// Reads the fields of one line after its kind; the first bad field names itself.
class field_reader {
 public:
  field_reader(const std::vector<std::string_view>& f, std::string& err) : f_(f), err_(err) {}

  template <class T>
  T number(std::size_t i, std::string_view what) {
    T v{};
    const auto s = f_[i];
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) fail(what, "a number", s);
    return v;
  }
  bool flag(std::size_t i, std::string_view what) {
    if (f_[i] == "0") return false;
    if (f_[i] == "1") return true;
    fail(what, "0 or 1", f_[i]);
    return false;
  }
  std::string node(std::size_t i, std::string_view what) {
    if (f_[i] == "-") return {};
    if (!is_node_id(f_[i])) fail(what, "a node id (32 hex digits) or '-'", f_[i]);
    return lower(f_[i]);
  }

 private:
  void fail(std::string_view what, std::string_view expected, std::string_view got) {
    if (!err_.empty()) return;
    err_ = std::string(what) + ": expected " + std::string(expected) + ", got '" + std::string(got.substr(0, 40)) + "'";
  }
  const std::vector<std::string_view>& f_;
  std::string& err_;
};

core::error malformed(std::string_view name, std::size_t line, const std::string& what) {
  return core::make_error(record_errc::malformed, std::string(name) + ":" + std::to_string(line) + ": " + what);
}

}  // namespace

std::string format_event(const record_event& e) {
  const auto n = [](auto v) { return std::to_string(v); };
  switch (e.k) {
    case kind::produced:
      return "produced," + n(e.seq) + "," + n(e.source_us) + "," + (e.keyframe ? "1" : "0") + "," + n(e.bytes);
    case kind::join:
      return "join," + n(e.t_us);
    case kind::join_point:
      return "join_point," + n(e.seq);
    case kind::arrival:
      return "arrival," + n(e.seq) + "," + n(e.source_us) + "," + n(e.t_us) + "," + (e.from.empty() ? "-" : e.from) +
             "," + n(e.bytes) + "," + (e.pushed ? "1" : "0");
    case kind::duplicate:
      return "duplicate," + n(e.t_us) + "," + n(e.bytes);
    case kind::sent:
      return "sent," + n(e.t_us) + "," + n(e.bytes) + "," + n(e.payload);
    case kind::left:
      return "left," + n(e.t_us);
  }
  return {};
}

core::result<record_file> parse_record(std::string_view text, std::string_view name) {
  record_file out;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      // The writer only writes whole lines; a tail without its newline was cut by a kill.
      out.truncated_tail = true;
      break;
    }
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto f = split(line);
    if (line_no == 1) {
      if (f.size() != 4 || f[0] != k_magic || f[1] != k_version || !is_node_id(f[2]) ||
          (f[3] != "origin" && f[3] != "edge" && f[3] != "peer")) {
        return malformed(
            name, 1, "expected header 'meshcast-record,1,NODE_ID,ROLE', got '" + std::string(line.substr(0, 80)) + "'");
      }
      out.node_id = lower(f[2]);
      out.role = std::string(f[3]);
      continue;
    }
    if (line.empty()) continue;
    const kind_name* kn = nullptr;
    for (const auto& k : k_kinds) {
      if (k.name == f[0]) kn = &k;
    }
    if (kn == nullptr) return malformed(name, line_no, "unknown line kind '" + std::string(f[0].substr(0, 40)) + "'");
    if (f.size() != kn->fields) {
      return malformed(name, line_no,
                       std::string(kn->name) + ": expected " + std::to_string(kn->fields) + " fields, got " +
                           std::to_string(f.size()));
    }
    record_event e;
    e.k = kn->k;
    std::string err;
    field_reader r(f, err);
    switch (e.k) {
      case kind::produced:
        e.seq = r.number<std::uint64_t>(1, "seq");
        e.source_us = r.number<std::int64_t>(2, "source_us");
        e.keyframe = r.flag(3, "keyframe");
        e.bytes = r.number<std::uint64_t>(4, "bytes");
        break;
      case kind::join:
      case kind::left:
        e.t_us = r.number<std::int64_t>(1, "t_us");
        break;
      case kind::join_point:
        e.seq = r.number<std::uint64_t>(1, "seq");
        break;
      case kind::arrival:
        e.seq = r.number<std::uint64_t>(1, "seq");
        e.source_us = r.number<std::int64_t>(2, "source_us");
        e.t_us = r.number<std::int64_t>(3, "arrival_us");
        e.from = r.node(4, "from");
        e.bytes = r.number<std::uint64_t>(5, "bytes");
        e.pushed = r.flag(6, "pushed");
        break;
      case kind::duplicate:
        e.t_us = r.number<std::int64_t>(1, "t_us");
        e.bytes = r.number<std::uint64_t>(2, "bytes");
        break;
      case kind::sent:
        e.t_us = r.number<std::int64_t>(1, "t_us");
        e.bytes = r.number<std::uint64_t>(2, "wire");
        e.payload = r.number<std::uint64_t>(3, "payload");
        break;
    }
    if (!err.empty()) return malformed(name, line_no, std::string(kn->name) + ": " + err);
    out.events.push_back(std::move(e));
  }
  if (line_no == 0) {
    return core::make_error(record_errc::malformed, std::string(name) + ": empty record (no header line)");
  }
  return out;
}

core::result<record_file> read_record(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::make_error(record_errc::io, "record " + path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_record(ss.str(), path);
}

core::result<record_writer> record_writer::open(const std::string& path, std::string_view node_id_hex,
                                                std::string_view role) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return core::make_error(record_errc::io, "record " + path + ": cannot open: " + std::strerror(errno));
  record_writer w(fd);
  w.buf_ =
      std::string(k_magic) + "," + std::string(k_version) + "," + lower(node_id_hex) + "," + std::string(role) + "\n";
  return w;
}

record_writer::record_writer(record_writer&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}

record_writer& record_writer::operator=(record_writer&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) {
      (void)flush();
      ::close(fd_);
    }
    fd_ = std::exchange(o.fd_, -1);
    buf_ = std::move(o.buf_);
  }
  return *this;
}

record_writer::~record_writer() {
  if (fd_ < 0) return;
  (void)flush();
  ::close(fd_);
}

void record_writer::produced(std::uint64_t seq, core::time_point source_time, bool keyframe, std::size_t bytes) {
  record_event e{
      .k = kind::produced, .seq = seq, .source_us = core::to_us(source_time), .bytes = bytes, .keyframe = keyframe};
  buf_ += format_event(e) + "\n";
}

void record_writer::join(core::time_point t) { buf_ += format_event({.k = kind::join, .t_us = core::to_us(t)}) + "\n"; }

void record_writer::join_point(std::uint64_t seq) { buf_ += format_event({.k = kind::join_point, .seq = seq}) + "\n"; }

void record_writer::arrival(std::uint64_t seq, core::time_point source_time, core::time_point arrival,
                            std::string_view from_hex, std::size_t bytes, bool pushed) {
  record_event e{.k = kind::arrival,
                 .seq = seq,
                 .t_us = core::to_us(arrival),
                 .source_us = core::to_us(source_time),
                 .from = std::string(from_hex),
                 .bytes = bytes,
                 .pushed = pushed};
  buf_ += format_event(e) + "\n";
}

void record_writer::duplicate(core::time_point t, std::size_t bytes) {
  buf_ += format_event({.k = kind::duplicate, .t_us = core::to_us(t), .bytes = bytes}) + "\n";
}

void record_writer::sent(core::time_point t, std::uint64_t wire, std::uint64_t payload) {
  buf_ += format_event({.k = kind::sent, .t_us = core::to_us(t), .bytes = wire, .payload = payload}) + "\n";
}

void record_writer::left(core::time_point t) { buf_ += format_event({.k = kind::left, .t_us = core::to_us(t)}) + "\n"; }

core::result<void> record_writer::flush() {
  std::size_t done = 0;
  while (done < buf_.size()) {
    const auto n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      buf_.erase(0, done);
      return core::make_error(record_errc::io, std::string("record: write failed: ") + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  buf_.clear();
  return core::ok();
}

}  // namespace meshcast::lab
