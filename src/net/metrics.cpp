#include "net/metrics.hpp"

#include <charconv>
#include <cmath>

namespace meshcast::net {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void prometheus_writer::family(std::string_view name, std::string_view type,
                               std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  for (const char c : help) out_ += c == '\n' ? ' ' : c;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void prometheus_writer::start_sample(std::string_view name, metric_labels labels) {
  out_ += name;
  if (labels.size() > 0) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      out_ += escape_label_value(v);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
}

void prometheus_writer::sample(std::string_view name, metric_labels labels, double value) {
  start_sample(name, labels);
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, r.ptr);
  }
  out_ += '\n';
}

void prometheus_writer::sample(std::string_view name, metric_labels labels, std::uint64_t value) {
  start_sample(name, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

void prometheus_writer::sample(std::string_view name, metric_labels labels, std::int64_t value) {
  start_sample(name, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

}  // namespace meshcast::net
