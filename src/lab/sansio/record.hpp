// record: the per-node record file of a lab run in network namespaces. `meshcast origin|peer
// --record FILE` writes one while it runs: a header line naming the node, then one line per
// observation (chunk produced, join, join point, chunk arrival, duplicate bytes, bytes sent,
// left). Lines are appended to a buffer and written out whole at least once a second, so a killed
// process leaves a valid prefix (at worst an unfinished last line, which the reader drops). The
// lab parses every node's file after the run and feeds report::collector (lab/netns_feed.hpp).
// record_writer: one owner, one thread. parse_record: a pure function of the text. docs/lab.md.
//
//   meshcast-record,1,<node id: 32 hex>,<origin|edge|peer>
//   produced,<seq>,<source_us>,<keyframe 0|1>,<bytes>
//   join,<t_us>
//   join_point,<seq>
//   arrival,<seq>,<source_us>,<arrival_us>,<from node id hex | ->,<bytes>,<pushed 0|1>
//   duplicate,<t_us>,<bytes>
//   sent,<t_us>,<wire bytes>,<payload bytes>
//   left,<t_us>
//
// Times are microseconds since the Unix epoch (CLOCK_REALTIME: every node on the machine shares it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"

namespace meshcast::lab {

enum class record_errc { io = 1, malformed };

struct record_event {
  enum class kind : std::uint8_t { produced, join, join_point, arrival, duplicate, sent, left };
  kind k = kind::join;
  std::uint64_t seq = 0;       ///< produced, join_point, arrival
  std::int64_t t_us = 0;       ///< join, duplicate, sent, left; arrival: the arrival time
  std::int64_t source_us = 0;  ///< produced, arrival
  std::string from{};          ///< arrival: the sender's node id (hex); empty = unknown
  std::uint64_t bytes = 0;     ///< produced, arrival, duplicate; sent: wire bytes
  std::uint64_t payload = 0;   ///< sent: chunk payload bytes among them
  bool keyframe = false;       ///< produced: a player can start here (segment start)
  bool pushed = false;         ///< arrival: came unrequested

  friend bool operator==(const record_event&, const record_event&) = default;
};

struct record_file {
  std::string node_id;               ///< 32 lowercase hex digits
  std::string role;                  ///< "origin", "edge" or "peer"
  std::vector<record_event> events;  ///< in file order
  bool truncated_tail = false;       ///< the last line had no newline (writer killed mid-write): dropped
};

/// Parses a record's text. `name` prefixes errors: "node-3.rec:12: arrival: expected 7 fields,
/// got 5". A missing or malformed header, an unknown line kind, a wrong field count, a field that
/// is not a number (or 0|1, or a node id) are errors; an unfinished last line is not.
core::result<record_file> parse_record(std::string_view text, std::string_view name = "record");
/// Reads and parses a file; the error names the path.
core::result<record_file> read_record(const std::string& path);

/// Writes one node's record. Lines accumulate in memory until flush(), which writes only whole
/// lines with write(2); the owner calls it at least once a second and the destructor calls it.
class record_writer {
 public:
  /// Creates (truncates) `path` and buffers the header. Error: "record FILE: cannot open: ...".
  static core::result<record_writer> open(const std::string& path, std::string_view node_id_hex, std::string_view role);
  record_writer(record_writer&& o) noexcept;
  record_writer& operator=(record_writer&& o) noexcept;
  record_writer(const record_writer&) = delete;
  record_writer& operator=(const record_writer&) = delete;
  ~record_writer();

  void produced(std::uint64_t seq, core::time_point source_time, bool keyframe, std::size_t bytes);
  void join(core::time_point t);
  void join_point(std::uint64_t seq);
  /// `from_hex` empty = sender unknown.
  void arrival(std::uint64_t seq, core::time_point source_time, core::time_point arrival, std::string_view from_hex,
               std::size_t bytes, bool pushed);
  void duplicate(core::time_point t, std::size_t bytes);
  void sent(core::time_point t, std::uint64_t wire, std::uint64_t payload);
  void left(core::time_point t);

  /// Writes what is buffered. An error (disk full) is returned once and the buffer kept.
  core::result<void> flush();
  [[nodiscard]] std::size_t buffered() const { return buf_.size(); }

 private:
  explicit record_writer(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string buf_;
};

/// The text of a record line (without the newline), for tests and the writer.
std::string format_event(const record_event& e);

}  // namespace meshcast::lab
