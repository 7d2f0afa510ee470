#include "proto/swarm/messages.hpp"

namespace meshcast::proto::swarm {

const char* to_string(close_reason r) {
  switch (r) {
    case close_reason::normal:
      return "normal";
    case close_reason::wrong_stream:
      return "wrong_stream";
    case close_reason::bad_version:
      return "bad_version";
    case close_reason::malformed:
      return "malformed";
    case close_reason::bad_signature:
      return "bad_signature";
    case close_reason::flood:
      return "flood";
    case close_reason::timeout:
      return "timeout";
    case close_reason::replaced:
      return "replaced";
    case close_reason::banned:
      return "banned";
    case close_reason::duplicate:
      return "duplicate";
    case close_reason::shutdown:
      return "shutdown";
  }
  return "unknown";
}

const char* to_string(node_role r) {
  switch (r) {
    case node_role::origin:
      return "origin";
    case node_role::edge:
      return "edge";
    case node_role::peer:
      return "peer";
  }
  return "unknown";
}

const char* to_string(frame_type t) {
  switch (t) {
    case frame_type::hello:
      return "hello";
    case frame_type::have:
      return "have";
    case frame_type::bitmap:
      return "bitmap";
    case frame_type::request:
      return "request";
    case frame_type::cancel:
      return "cancel";
    case frame_type::chunk:
      return "chunk";
    case frame_type::reject:
      return "reject";
    case frame_type::pex:
      return "pex";
    case frame_type::ping:
      return "ping";
    case frame_type::pong:
      return "pong";
    case frame_type::close:
      return "close";
  }
  return "unknown";
}

}  // namespace meshcast::proto::swarm
