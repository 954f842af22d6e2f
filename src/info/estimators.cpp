// Entropy, mutual information and KL selectivity from (bin, class) counts, in bits.
#include <cmath>
#include <limits>
#include <numbers>

#include "ioca/core.hpp"
#include "ioca/info.hpp"

namespace ioca::info {

Estimator parse_estimator(std::string_view name) {
  if (name == "plugin") return Estimator::plugin;
  if (name == "miller-madow") return Estimator::miller_madow;
  throw Error("unknown estimator '" + std::string(name) + "' (expected plugin or miller-madow)");
}

std::string_view to_string(Estimator e) {
  return e == Estimator::plugin ? "plugin" : "miller-madow";
}

double entropy_bits(const std::int64_t* counts, std::size_t n, Estimator estimator) {
  std::int64_t total = 0, occupied = 0;
  for (std::size_t i = 0; i < n; ++i) {
    total += counts[i];
    occupied += counts[i] > 0;
  }
  if (total == 0) return 0.0;
  const double N = static_cast<double>(total);
  double h = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    if (counts[i] > 0) {
      const double p = static_cast<double>(counts[i]) / N;
      h -= p * std::log2(p);
    }
  if (estimator == Estimator::miller_madow)
    h += static_cast<double>(occupied - 1) / (2.0 * N * std::numbers::ln2);
  return h;
}

double kl_divergence_bits(const std::int64_t* p, const std::int64_t* q, std::size_t n) {
  std::int64_t np = 0, nq = 0;
  for (std::size_t i = 0; i < n; ++i) {
    np += p[i];
    nq += q[i];
  }
  if (np == 0) return 0.0;
  double d = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] == 0) continue;
    if (q[i] == 0) return std::numeric_limits<double>::infinity();
    const double pi = static_cast<double>(p[i]) / static_cast<double>(np);
    const double qi = static_cast<double>(q[i]) / static_cast<double>(nq);
    d += pi * std::log2(pi / qi);
  }
  return d > 0.0 ? d : 0.0;  // D >= 0; only rounding can make it negative
}

HistogramQuantities quantities(const JointHistogram& h, Estimator estimator) {
  const auto bins = static_cast<std::size_t>(h.bins), classes = static_cast<std::size_t>(h.classes);
  std::vector<std::int64_t> marginal(bins, 0), column(bins);
  std::vector<std::int64_t> class_total(classes, 0);
  std::int64_t total = 0;
  for (std::size_t t = 0; t < bins; ++t)
    for (std::size_t y = 0; y < classes; ++y) {
      const auto c = h.counts[t * classes + y];
      marginal[t] += c;
      class_total[y] += c;
      total += c;
    }
  HistogramQuantities q;
  if (total == 0) return q;
  q.entropy = entropy_bits(marginal.data(), bins, estimator);
  double conditional = 0.0;
  q.kl_selectivity = -1.0;
  for (std::size_t y = 0; y < classes; ++y) {
    if (class_total[y] == 0) continue;  // absent class: no conditional distribution
    for (std::size_t t = 0; t < bins; ++t) column[t] = h.counts[t * classes + y];
    const double py = static_cast<double>(class_total[y]) / static_cast<double>(total);
    conditional += py * entropy_bits(column.data(), bins, estimator);
    const double d = kl_divergence_bits(column.data(), marginal.data(), bins);
    if (d > q.kl_selectivity) {
      q.kl_selectivity = d;
      q.kl_selectivity_class = static_cast<std::int64_t>(y);
    }
  }
  q.mutual_information = q.entropy - conditional;
  // The plug-in MI is >= 0 exactly; clear the rounding residue of a zero.
  if (estimator == Estimator::plugin && q.mutual_information < 0.0) q.mutual_information = 0.0;
  return q;
}

double selectivity_index(const std::vector<double>& class_means, const std::vector<bool>& present) {
  int best = -1, n = 0;
  for (std::size_t y = 0; y < class_means.size(); ++y) {
    if (!present[y]) continue;
    ++n;
    if (best < 0 || class_means[y] > class_means[static_cast<std::size_t>(best)])
      best = static_cast<int>(y);
  }
  if (n < 2) return 0.0;
  const double mu_max = class_means[static_cast<std::size_t>(best)];
  double rest = 0.0;
  for (std::size_t y = 0; y < class_means.size(); ++y)
    if (present[y] && static_cast<int>(y) != best) rest += class_means[y];
  rest /= n - 1;
  const double denominator = mu_max + rest;
  return denominator > 0.0 ? (mu_max - rest) / denominator : 0.0;
}

}  // namespace ioca::info
