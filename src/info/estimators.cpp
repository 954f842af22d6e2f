// Entropy, mutual information and KL selectivity from (bin, class) counts, in bits.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

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

namespace {

// Scratch space of mutual_information_of.
struct MiScratch {
  std::vector<std::int64_t> marginal, column, class_total;
};

// I(T;Y) of a [bins, classes] table: H(T) - sum_y p(y) H(T|Y=y), each entropy term with
// the estimator. The one computation behind quantities() and the permutation null, so that
// equal tables give equal bits.
double mutual_information_of(const std::int64_t* counts, std::size_t bins, std::size_t classes,
                             Estimator estimator, MiScratch& s) {
  s.marginal.assign(bins, 0);
  s.column.resize(bins);
  s.class_total.assign(classes, 0);
  std::int64_t total = 0;
  for (std::size_t t = 0; t < bins; ++t)
    for (std::size_t y = 0; y < classes; ++y) {
      const auto c = counts[t * classes + y];
      s.marginal[t] += c;
      s.class_total[y] += c;
      total += c;
    }
  if (total == 0) return 0.0;
  double conditional = 0.0;
  for (std::size_t y = 0; y < classes; ++y) {
    if (s.class_total[y] == 0) continue;
    for (std::size_t t = 0; t < bins; ++t) s.column[t] = counts[t * classes + y];
    const double py = static_cast<double>(s.class_total[y]) / static_cast<double>(total);
    conditional += py * entropy_bits(s.column.data(), bins, estimator);
  }
  const double mi = entropy_bits(s.marginal.data(), bins, estimator) - conditional;
  // The plug-in MI is >= 0 exactly; clear the rounding residue of a zero.
  return estimator == Estimator::plugin && mi < 0.0 ? 0.0 : mi;
}

}  // namespace

double mutual_information_bits(const JointHistogram& h, Estimator estimator) {
  MiScratch s;
  return mutual_information_of(h.counts.data(), static_cast<std::size_t>(h.bins),
                               static_cast<std::size_t>(h.classes), estimator, s);
}

std::vector<ClassDivergence> class_divergences(const JointHistogram& h) {
  const auto bins = static_cast<std::size_t>(h.bins), classes = static_cast<std::size_t>(h.classes);
  std::vector<std::int64_t> marginal(bins, 0), column(bins), class_total(classes, 0);
  for (std::size_t t = 0; t < bins; ++t)
    for (std::size_t y = 0; y < classes; ++y) {
      const auto c = h.counts[t * classes + y];
      marginal[t] += c;
      class_total[y] += c;
    }
  // W_t = sum_y c_ty (1 - c_ty / n_y): N^2 times the variance of the plug-in P_T(t).
  std::vector<double> w(bins, 0.0);
  for (std::size_t t = 0; t < bins; ++t)
    for (std::size_t y = 0; y < classes; ++y) {
      const auto c = h.counts[t * classes + y];
      if (c > 0)
        w[t] += static_cast<double>(c) *
                (1.0 - static_cast<double>(c) / static_cast<double>(class_total[y]));
    }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<ClassDivergence> out(classes, ClassDivergence{nan, nan});
  for (std::size_t y = 0; y < classes; ++y) {
    if (class_total[y] == 0) continue;
    for (std::size_t t = 0; t < bins; ++t) column[t] = h.counts[t * classes + y];
    const double d = kl_divergence_bits(column.data(), marginal.data(), bins);
    const double ny = static_cast<double>(class_total[y]);
    std::int64_t occupied = 0;
    double covariance = 0.0, curvature = 0.0;
    for (std::size_t t = 0; t < bins; ++t) {
      if (column[t] == 0) continue;
      ++occupied;
      const double c = static_cast<double>(column[t]), ct = static_cast<double>(marginal[t]);
      covariance += c * (1.0 - c / ny) / (ny * ct);
      curvature += (c / ny) * w[t] / (2.0 * ct * ct);
    }
    const double bias = static_cast<double>(occupied - 1) / (2.0 * ny) - covariance + curvature;
    out[y] = {d, d - bias / std::numbers::ln2};
  }
  return out;
}

HistogramQuantities quantities(const JointHistogram& h, Estimator estimator) {
  const auto bins = static_cast<std::size_t>(h.bins), classes = static_cast<std::size_t>(h.classes);
  std::vector<std::int64_t> marginal(bins, 0);
  std::int64_t total = 0;
  for (std::size_t t = 0; t < bins; ++t)
    for (std::size_t y = 0; y < classes; ++y) {
      marginal[t] += h.counts[t * classes + y];
      total += h.counts[t * classes + y];
    }
  HistogramQuantities q;
  if (total == 0) return q;
  q.entropy = entropy_bits(marginal.data(), bins, estimator);
  q.mutual_information = mutual_information_bits(h, estimator);
  q.kl_selectivity = -1.0;
  bool any = false;
  const auto divergences = class_divergences(h);
  for (std::size_t y = 0; y < classes; ++y) {
    const ClassDivergence& d = divergences[y];
    if (std::isnan(d.plugin)) continue;  // absent class: no conditional distribution
    if (d.plugin > q.kl_selectivity) {
      q.kl_selectivity = d.plugin;
      q.kl_selectivity_class = static_cast<std::int64_t>(y);
    }
    if (!any || d.corrected > q.kl_selectivity_corrected) q.kl_selectivity_corrected = d.corrected;
    any = true;
  }
  return q;
}

NullDistribution mutual_information_null(const std::int64_t* counts, std::size_t neurons,
                                         int bins_, int classes_, Estimator estimator,
                                         int permutations, std::uint64_t seed) {
  if (permutations < 1) throw std::logic_error("mutual_information_null: permutations < 1");
  const auto bins = static_cast<std::size_t>(bins_), classes = static_cast<std::size_t>(classes_);
  const std::size_t cells = bins * classes;
  const auto K = static_cast<std::size_t>(permutations);
  NullDistribution out;
  out.mean.assign(neurons, 0.0);
  out.q95.assign(neurons, 0.0);
  out.p.assign(neurons, 1.0);
  if (neurons == 0) return out;
  // The class counts (the same for every neuron) and each neuron's bin boundaries among
  // its samples sorted by bin.
  std::vector<std::int64_t> class_total(classes, 0);
  std::int64_t total = 0;
  for (std::size_t i = 0; i < cells; ++i) {
    class_total[i % classes] += counts[i];
    total += counts[i];
  }
  if (total == 0) return out;
  const auto n = static_cast<std::size_t>(total);
  // With counts c_ty, margins c_t and n_y and x log2 x tabulated,
  //   I = (N log2 N - sum_t c_t log2 c_t - sum_y n_y log2 n_y + sum_ty c_ty log2 c_ty) / N,
  // and Miller–Madow adds ((m - 1) - sum_y (m_y - 1)) / (2 N ln 2), m_y the occupied cells
  // of class y. Per neuron everything but the last sum is fixed under permutation.
  std::vector<double> xlogx(n + 1, 0.0);
  for (std::size_t c = 1; c <= n; ++c) xlogx[c] = static_cast<double>(c) * std::log2(static_cast<double>(c));
  double s_y = 0.0;
  std::int64_t present = 0;
  for (std::size_t y = 0; y < classes; ++y) {
    s_y += xlogx[static_cast<std::size_t>(class_total[y])];
    present += class_total[y] > 0;
  }
  const double N = static_cast<double>(n);
  const bool mm = estimator == Estimator::miller_madow;
  std::vector<std::int64_t> boundary(neurons * (bins + 1), 0);
  std::vector<double> base(neurons);       // N log2 N - sum_t c_t log2 c_t - sum_y n_y log2 n_y
  std::vector<std::int64_t> occupied(neurons);  // m: occupied bins
  for (std::size_t k = 0; k < neurons; ++k) {
    std::vector<std::int64_t> ct(classes, 0);
    std::int64_t* e = boundary.data() + k * (bins + 1);
    double s_t = 0.0;
    occupied[k] = 0;
    for (std::size_t t = 0; t < bins; ++t) {
      std::int64_t c = 0;
      for (std::size_t y = 0; y < classes; ++y) {
        c += counts[k * cells + t * classes + y];
        ct[y] += counts[k * cells + t * classes + y];
      }
      e[t + 1] = e[t] + c;
      s_t += xlogx[static_cast<std::size_t>(c)];
      occupied[k] += c > 0;
    }
    if (ct != class_total)
      throw std::logic_error("mutual_information_null: neurons with different class counts");
    base[k] = xlogx[n] - s_t - s_y;
  }
  // I of neuron k's table, given sum_ty c_ty log2 c_ty and the occupied cells.
  const auto mi = [&](std::size_t k, double s_joint, std::int64_t cells_occupied) {
    double v = (base[k] + s_joint) / N;
    if (mm)
      v += static_cast<double>((occupied[k] - 1) - (cells_occupied - present)) /
           (2.0 * N * std::numbers::ln2);
    return !mm && v < 0.0 ? 0.0 : v;  // the plug-in I >= 0: clear the rounding residue
  };
  std::vector<double> observed(neurons);
  for (std::size_t k = 0; k < neurons; ++k) {
    double s = 0.0;
    std::int64_t occ = 0;
    for (std::size_t i = 0; i < cells; ++i) {
      const auto c = counts[k * cells + i];
      s += xlogx[static_cast<std::size_t>(c)];
      occ += c > 0;
    }
    observed[k] = mi(k, s, occ);
  }
  // null[r * neurons + k]: neuron k's I under permutation r.
  std::vector<double> null(K * neurons);
  std::vector<std::int32_t> sorted_labels;
  sorted_labels.reserve(n);
  for (std::size_t y = 0; y < classes; ++y)
    sorted_labels.insert(sorted_labels.end(), static_cast<std::size_t>(class_total[y]),
                         static_cast<std::int32_t>(y));
  ExceptionCollector errors;
#pragma omp parallel num_threads(max_threads()) if (K > 1)
  {
    std::vector<std::int32_t> z;
    std::vector<std::int64_t> prefix;
#pragma omp for schedule(dynamic, 1)
    for (std::ptrdiff_t rr = 0; rr < static_cast<std::ptrdiff_t>(K); ++rr)
      errors.run([&] {
        const auto r = static_cast<std::size_t>(rr);
        z = sorted_labels;
        Rng rng(derive_seed(seed, {static_cast<std::uint64_t>(r)}));
        shuffle(z, rng);
        // prefix[i * classes + y]: labels y among positions [0, i).
        prefix.resize((n + 1) * classes);
        std::fill(prefix.begin(), prefix.begin() + static_cast<std::ptrdiff_t>(classes), 0);
        for (std::size_t i = 0; i < n; ++i) {
          const std::int64_t* from = prefix.data() + i * classes;
          std::int64_t* to = prefix.data() + (i + 1) * classes;
          for (std::size_t y = 0; y < classes; ++y) to[y] = from[y];
          ++to[static_cast<std::size_t>(z[i])];
        }
        for (std::size_t k = 0; k < neurons; ++k) {
          const std::int64_t* e = boundary.data() + k * (bins + 1);
          double s = 0.0;
          std::int64_t occ = 0;
          for (std::size_t t = 0; t < bins; ++t) {
            if (e[t + 1] == e[t]) continue;  // an empty bin: no samples, no cells
            const std::int64_t* lo = prefix.data() + static_cast<std::size_t>(e[t]) * classes;
            const std::int64_t* hi = prefix.data() + static_cast<std::size_t>(e[t + 1]) * classes;
            for (std::size_t y = 0; y < classes; ++y) {
              const auto c = static_cast<std::size_t>(hi[y] - lo[y]);
              s += xlogx[c];
              occ += c > 0;
            }
          }
          null[r * neurons + k] = mi(k, s, occ);
        }
      });
  }
  errors.rethrow_if_any();
  // Per neuron, in permutation order: the same bits for any thread count.
  const std::size_t rank95 = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(K))) - 1;
  std::vector<double> column(K);
  for (std::size_t k = 0; k < neurons; ++k) {
    double sum = 0.0;
    std::size_t at_least = 0;
    for (std::size_t r = 0; r < K; ++r) {
      const double v = null[r * neurons + k];
      column[r] = v;
      sum += v;
      at_least += v >= observed[k] - 1e-12;
    }
    out.mean[k] = sum / static_cast<double>(K);
    std::nth_element(column.begin(), column.begin() + static_cast<std::ptrdiff_t>(rank95),
                     column.end());
    out.q95[k] = column[rank95];
    out.p[k] = static_cast<double>(1 + at_least) / static_cast<double>(K + 1);
  }
  return out;
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
