// Prometheus text exposition (format 0.0.4) written into a string, for /metrics. Each component
// appends its own families through a prometheus_writer; the HTTP server concatenates them (see
// http_server::add_metrics). No registry object and no globals: a scrape asks the owners.
// Plain helper; use it on the thread that owns the values being written.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace meshcast::net {

using metric_labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class prometheus_writer {
 public:
  explicit prometheus_writer(std::string& out) : out_(out) {}

  /// Starts a family: "# HELP name help" and "# TYPE name type" (counter, gauge, untyped).
  /// Counter names end in _total, by convention and by Prometheus's.
  void family(std::string_view name, std::string_view type, std::string_view help);
  /// One sample line: name{k="v",...} value. Label values are escaped (\\, \", \n).
  void sample(std::string_view name, metric_labels labels, double value);
  void sample(std::string_view name, metric_labels labels, std::uint64_t value);
  void sample(std::string_view name, metric_labels labels, std::int64_t value);

 private:
  void start_sample(std::string_view name, metric_labels labels);
  std::string& out_;
};

/// A label value escaped for the text format.
std::string escape_label_value(std::string_view v);

}  // namespace meshcast::net
