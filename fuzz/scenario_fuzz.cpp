// Fuzz target: the scenario file (TOML) and the distribution text form. A scenario comes from a
// file or a command-line flag: parse() must never throw, crash or loop on any bytes. What parses
// must also serialise to JSON and, when it is small enough to be quick, expand into a plan; a
// distribution's canonical text must read back as the same kind with the same text.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string_view>

#include "scenario/scenario.hpp"

using namespace meshcast::scenario;

namespace {

// Plans of more nodes than this are skipped: correct but slow, and the fuzzer wants many inputs.
constexpr double k_max_fuzz_nodes = 20'000;

double planned_nodes(const scenario& s) {
  double n = 0;
  for (const node_group& g : s.groups) n += static_cast<double>(g.count);
  for (const event& e : s.events) {
    if (e.k == event::kind::join) n += static_cast<double>(e.count);
    if (e.k == event::kind::churn) n += e.rate * s.duration_s;
  }
  return n;
}

void check_distribution(std::string_view text) {
  auto d = distribution::parse(text);
  if (!d) return;
  const std::string canonical = d->text();
  auto again = distribution::parse(canonical);
  if (!again || again->k != d->k) std::abort();
  std::mt19937_64 rng(1);
  for (int i = 0; i < 4; ++i) {
    const double v = d->sample(rng);
    if (!std::isfinite(v) || v < 0) std::abort();
  }
  if (d->assign(7, rng).size() != 7) std::abort();
  if (!std::isfinite(d->mean())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_distribution(text.substr(0, text.find('\n')));
  auto s = parse(text, "fuzz.toml");
  if (!s) {
    if (s.error().message.empty()) std::abort();
    return 0;
  }
  if (to_json_text(*s).empty()) std::abort();
  if (planned_nodes(*s) <= k_max_fuzz_nodes) {
    auto p = make_plan(*s);
    if (p) {
      if (p->nodes.empty() || p->nodes[0].kind != node_kind::origin) std::abort();
      for (const planned_node& n : p->nodes) {
        if (n.leave_at && *n.leave_at < n.join_at) std::abort();
        (void)p->one_way(0, n.index);
      }
    }
  }
  return 0;
}
