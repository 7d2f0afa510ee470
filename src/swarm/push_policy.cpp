#include "swarm/push_policy.hpp"

#include <algorithm>

namespace meshcast::swarm {

std::vector<neighbour_id> choose_push_targets(std::span<const push_candidate> candidates, std::size_t fanout,
                                              core::splitmix64_engine& rng) {
  std::vector<const push_candidate*> eligible;
  for (const push_candidate& c : candidates) {
    if (!c.has_it && !c.is_origin) eligible.push_back(&c);
  }
  // Unknown upload counts as the median of the known ones, so saying nothing is not penalised.
  std::vector<std::uint32_t> known;
  for (const push_candidate* c : eligible) {
    if (c->upload_kbps != 0) known.push_back(c->upload_kbps);
  }
  double median = 1;
  if (!known.empty()) {
    std::nth_element(known.begin(), known.begin() + static_cast<std::ptrdiff_t>(known.size() / 2),
                     known.end());
    median = known[known.size() / 2];
  }
  // Weighted sampling without replacement: weight = behind² × relative upload / (1 + queued).
  // Random rather than best-first, so that the few nodes that get a chunk at the same moment
  // do not all pick the same target.
  std::vector<double> w;
  for (const push_candidate* c : eligible) {
    const double b = std::max(c->behind, 0.05);
    const double up = c->upload_kbps != 0 ? c->upload_kbps / median : 1.0;
    w.push_back(b * b * std::clamp(up, 0.25, 4.0) / (1.0 + static_cast<double>(c->queued)));
  }
  std::vector<neighbour_id> out;
  while (out.size() < fanout && !eligible.empty()) {
    double total = 0;
    for (double x : w) total += x;
    double r = std::uniform_real_distribution<double>(0, total)(rng);
    std::size_t k = 0;
    while (k + 1 < w.size() && r >= w[k]) r -= w[k++];
    out.push_back(eligible[k]->id);
    eligible.erase(eligible.begin() + static_cast<std::ptrdiff_t>(k));
    w.erase(w.begin() + static_cast<std::ptrdiff_t>(k));
  }
  return out;
}

}  // namespace meshcast::swarm
