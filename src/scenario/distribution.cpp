// distribution: parsing, moments, sampling and exact assignment of the scenario's random
// quantities (scenario.hpp). Parsing never throws; the text is hostile (a scenario file or a
// command-line flag).
#include <algorithm>
#include <charconv>
#include <cmath>

#include "scenario/detail.hpp"
#include "scenario/scenario.hpp"

namespace meshcast::scenario {

namespace {

// A choice of more entries than this is surely a mistake (and would make assign() slow to read).
constexpr std::size_t k_max_choices = 64;
// Weights must sum to 100 % within this many percentage points ("33%:1, 33%:2, 34%:3" is exact;
// "33.3%:1, 33.3%:2, 33.3%:3" sums to 99.9 and is accepted).
constexpr double k_weight_tolerance_pct = 0.5;
constexpr double k_pi = 3.14159265358979323846;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

core::error bad(std::string_view text, std::string why) {
  return core::make_error(scenario_errc::invalid,
                          "bad distribution '" + std::string(text) + "': " + std::move(why));
}

// A finite, non-negative number that is the whole of `s`; `expected` says what else would have
// been right when it is no number at all.
core::result<double> number(std::string_view whole, std::string_view s,
                            std::string_view expected = "expected a number") {
  s = trim(s);
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size()) {
    return bad(whole, std::string(expected) + ", got '" + std::string(s) + "'");
  }
  if (!std::isfinite(v)) return bad(whole, "'" + std::string(s) + "' is not a finite number");
  if (v < 0) return bad(whole, "values must be >= 0, got " + std::string(s));
  return v + 0.0;
}

double standard_normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double standard_normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * k_pi); }

}  // namespace

core::result<distribution> distribution::parse(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) return bad(text, "empty");
  if (t.size() > 4096) return bad(t.substr(0, 32), "longer than 4096 characters");

  if (t.find(':') != std::string_view::npos || t.find('%') != std::string_view::npos) {
    distribution d;
    d.k = kind::choice;
    double total_pct = 0;
    std::string_view rest = t;
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = trim(rest.substr(0, comma));
      const std::size_t colon = item.find(':');
      if (colon == std::string_view::npos || colon == 0 || item[colon - 1] != '%') {
        return bad(t,
                   "expected 'WEIGHT%:VALUE' entries separated by commas, got '" + std::string(item) + "'");
      }
      auto w = number(t, item.substr(0, colon - 1));
      if (!w) return w.error();
      auto v = number(t, item.substr(colon + 1));
      if (!v) return v.error();
      if (d.choices.size() == k_max_choices) {
        return bad(t, "more than " + std::to_string(k_max_choices) + " entries");
      }
      total_pct += *w;
      d.choices.emplace_back(*w / 100.0, *v);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (std::abs(total_pct - 100.0) > k_weight_tolerance_pct) {
      return bad(t, "weights sum to " + detail::number_text(total_pct) + "%, expected 100%");
    }
    return d;
  }

  if (t.substr(0, 7) == "normal(") {
    if (t.back() != ')') return bad(t, "expected 'normal(MEAN,STDDEV)'");
    const std::string_view args = t.substr(7, t.size() - 8);
    const std::size_t comma = args.find(',');
    if (comma == std::string_view::npos) return bad(t, "expected 'normal(MEAN,STDDEV)'");
    auto mean = number(t, args.substr(0, comma));
    if (!mean) return mean.error();
    auto sd = number(t, args.substr(comma + 1));
    if (!sd) return sd.error();
    return distribution{kind::normal, *mean, *sd, {}};
  }

  if (const std::size_t dots = t.find(".."); dots != std::string_view::npos) {
    auto lo = number(t, t.substr(0, dots));
    if (!lo) return lo.error();
    auto hi = number(t, t.substr(dots + 2));
    if (!hi) return hi.error();
    if (*hi < *lo) return bad(t, "low end above high end");
    return distribution{kind::uniform, *lo, *hi, {}};
  }

  auto v = number(t, t, "expected a number, 'LOW..HIGH', 'normal(MEAN,STDDEV)' or 'W%:V, W%:V, ...'");
  if (!v) return v.error();
  return constant(*v);
}

double distribution::mean() const {
  switch (k) {
    case kind::constant:
      return a;
    case kind::uniform:
      return (a + b) / 2;
    case kind::normal: {
      // Mean of max(0, X) for X ~ N(a, b²): a·Φ(a/b) + b·φ(a/b).
      if (b <= 0) return std::max(a, 0.0);
      const double z = a / b;
      return a * standard_normal_cdf(z) + b * standard_normal_pdf(z);
    }
    case kind::choice: {
      double w = 0, s = 0;
      for (const auto& [weight, value] : choices) {
        w += weight;
        s += weight * value;
      }
      return w > 0 ? s / w : 0;
    }
  }
  return a;
}

double distribution::sample(std::mt19937_64& rng) const {
  switch (k) {
    case kind::constant:
      return a;
    case kind::uniform:
      return a + (b - a) * detail::unit(rng);
    case kind::normal: {
      // Box–Muller; 1 - unit() is in (0, 1], so the logarithm is finite.
      const double u1 = 1.0 - detail::unit(rng);
      const double u2 = detail::unit(rng);
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * k_pi * u2);
      return std::max(0.0, a + b * z);
    }
    case kind::choice: {
      double total = 0;
      for (const auto& c : choices) total += c.first;
      double x = detail::unit(rng) * total;
      for (const auto& [weight, value] : choices) {
        if (x < weight) return value;
        x -= weight;
      }
      return choices.empty() ? 0 : choices.back().second;
    }
  }
  return a;
}

std::vector<double> distribution::assign(std::size_t n, std::mt19937_64& rng) const {
  std::vector<double> out;
  out.reserve(n);
  if (k != kind::choice || choices.empty()) {
    for (std::size_t i = 0; i < n; ++i) out.push_back(sample(rng));
    return out;
  }
  // Largest remainder: each entry gets floor(n·w/W) values, the leftovers go to the entries with
  // the largest fractional parts (ties to the earlier entry).
  double total = 0;
  for (const auto& c : choices) total += c.first;
  std::vector<std::size_t> counts(choices.size());
  std::vector<std::pair<double, std::size_t>> remainders;  // (fraction, entry)
  std::size_t given = 0;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const double exact = total > 0 ? static_cast<double>(n) * choices[i].first / total : 0;
    counts[i] = std::min(n - given, static_cast<std::size_t>(std::floor(exact)));
    given += counts[i];
    remainders.emplace_back(exact - std::floor(exact), i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& x, const auto& y) { return x.first > y.first; });
  for (std::size_t r = 0; given < n; ++r, ++given) ++counts[remainders[r % remainders.size()].second];
  for (std::size_t i = 0; i < choices.size(); ++i) out.insert(out.end(), counts[i], choices[i].second);
  detail::shuffle(out, rng);
  return out;
}

std::string distribution::text() const {
  switch (k) {
    case kind::constant:
      return detail::number_text(a);
    case kind::uniform:
      return detail::number_text(a) + ".." + detail::number_text(b);
    case kind::normal:
      return "normal(" + detail::number_text(a) + "," + detail::number_text(b) + ")";
    case kind::choice: {
      std::string s;
      for (const auto& [weight, value] : choices) {
        if (!s.empty()) s += ", ";
        s += detail::number_text(weight * 100.0) + "%:" + detail::number_text(value);
      }
      return s;
    }
  }
  return detail::number_text(a);
}

}  // namespace meshcast::scenario
