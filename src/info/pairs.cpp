// The partial information decomposition of every pair of neurons of a layer (info.hpp,
// LayerPairs). Only the joint entropy terms depend on the pair: I_spec(y;T) and I(T;Y) are
// the neuron's own, computed once, so a pair costs one pass over the samples into a table
// of (bin_i, bin_j, class) counts and one pass over that table with x log2 x looked up.
//
// With counts c_aby of the pair's cells, c_ab = sum_y c_aby, n_y the class counts and
// S(c) = sum c log2 c over a set of counts,
//   I(Ti,Tj;Y) = H(Ti,Tj) + H(Y) - H(Ti,Tj,Y) = log2 N + (S(c_aby) - S(c_ab) - S(n_y)) / N.
#include "info/pairs.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "ioca/core.hpp"

namespace ioca::info {
namespace {

void check_input(const LayerBins& layer, const std::vector<std::int32_t>& labels, int classes) {
  if (classes < 1) throw Error("pair decomposition: classes must be >= 1");
  if (layer.bins < 1 || layer.bins > 65536)
    throw Error("pair decomposition: bins must be between 1 and 65536 (16-bit codes), not " +
                std::to_string(layer.bins));
  if (layer.codes.size() != layer.neurons * layer.samples)
    throw Error("pair decomposition: " + std::to_string(layer.codes.size()) + " codes for " +
                std::to_string(layer.neurons) + " neurons x " + std::to_string(layer.samples) +
                " samples");
  if (labels.size() != layer.samples)
    throw Error("pair decomposition: " + std::to_string(labels.size()) + " labels for " +
                std::to_string(layer.samples) + " samples");
  for (const std::int32_t y : labels)
    if (y < 0 || y >= classes)
      throw Error("pair decomposition: label " + std::to_string(y) + " is not in [0, " +
                  std::to_string(classes) + ")");
  for (const std::uint16_t c : layer.codes)
    if (c >= layer.bins)
      throw Error("pair decomposition: bin " + std::to_string(c) + " is not in [0, " +
                  std::to_string(layer.bins) + ")");
}

// One neuron as the pairs need it.
struct Neuron {
  double mutual_information = 0.0;  // plug-in I(T;Y), bits
  std::vector<double> specific;     // I_spec(y;T) per class, bits (0 for an absent class)
  std::size_t used = 0;             // occupied bins m
};

// Per thread: the dense table and the keys of the sorting way.
struct Scratch {
  std::vector<std::int32_t> table;
  std::vector<std::uint64_t> keys;
};

}  // namespace

const std::vector<std::string>& pair_quantity_names() {
  static const std::vector<std::string> names{"joint_mutual_information",
                                              "redundancy",
                                              "unique_first",
                                              "unique_second",
                                              "synergy",
                                              "co_information"};
  return names;
}

const std::vector<double>& pair_quantity(const LayerPairs& p, std::string_view name) {
  if (name == "joint_mutual_information") return p.joint_mutual_information;
  if (name == "redundancy") return p.redundancy;
  if (name == "unique_first") return p.unique_first;
  if (name == "unique_second") return p.unique_second;
  if (name == "synergy") return p.synergy;
  if (name == "co_information") return p.co_information;
  throw Error("unknown pair quantity '" + std::string(name) + "'");
}

std::vector<double>& pair_quantity(LayerPairs& p, std::string_view name) {
  return const_cast<std::vector<double>&>(pair_quantity(static_cast<const LayerPairs&>(p), name));
}

std::size_t default_pair_table_cells(std::size_t samples) {
  // A table pass costs its cells, sorting about 16 N: beyond that, sort. Capped at 16 MiB
  // of int32 per thread.
  return std::clamp<std::size_t>(16 * samples, std::size_t{1} << 16, std::size_t{1} << 22);
}

LayerPairs pair_decomposition(const LayerBins& layer, const std::vector<std::int32_t>& labels,
                              int classes) {
  return pair_decomposition(layer, labels, classes, default_pair_table_cells(layer.samples));
}

LayerPairs pair_decomposition(const LayerBins& layer, const std::vector<std::int32_t>& labels,
                              int classes_, std::size_t max_table_cells) {
  check_input(layer, labels, classes_);
  const std::size_t n = layer.neurons, N = layer.samples;
  const auto B = static_cast<std::size_t>(layer.bins), C = static_cast<std::size_t>(classes_);
  LayerPairs out;
  const std::size_t P = n < 2 ? 0 : n * (n - 1) / 2;
  out.first.resize(P);
  out.second.resize(P);
  for (auto* v : {&out.joint_mutual_information, &out.redundancy, &out.unique_first,
                  &out.unique_second, &out.synergy, &out.co_information})
    v->assign(P, 0.0);
  for (std::size_t i = 0, p = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j, ++p) {
      out.first[p] = static_cast<std::int64_t>(i);
      out.second[p] = static_cast<std::int64_t>(j);
    }
  if (P == 0 || N == 0) return out;

  // x log2 x of every count a table can hold (0 log 0 = 0), and the class terms.
  std::vector<double> xlogx(N + 1, 0.0);
  for (std::size_t c = 2; c <= N; ++c)
    xlogx[c] = static_cast<double>(c) * std::log2(static_cast<double>(c));
  std::vector<std::int64_t> class_count(C, 0);
  for (const std::int32_t y : labels) ++class_count[static_cast<std::size_t>(y)];
  double class_terms = 0.0;  // S(n_y)
  for (std::size_t y = 0; y < C; ++y)
    class_terms += xlogx[static_cast<std::size_t>(class_count[y])];
  const double total = static_cast<double>(N), log2_total = std::log2(total);

  // Each neuron: its (bin, class) table gives I(T;Y) (the measures' own computation) and
  // I_spec(y;T) = sum_t (c_ty / n_y) log2(c_ty N / (c_t n_y)); its occupied bins are
  // renumbered 0..m-1 in bin order (entropies do not depend on the names of the bins, and
  // a pair's table shrinks to the bins used).
  std::vector<Neuron> neurons(n);
  std::vector<std::uint16_t> recoded(n * N);
  parallel_for(static_cast<std::ptrdiff_t>(n), [&](std::ptrdiff_t kk) {
    const auto k = static_cast<std::size_t>(kk);
    const std::uint16_t* code = layer.codes.data() + k * N;
    JointHistogram h;
    h.bins = layer.bins;
    h.classes = classes_;
    h.counts.assign(B * C, 0);
    for (std::size_t s = 0; s < N; ++s)
      ++h.counts[static_cast<std::size_t>(code[s]) * C + static_cast<std::size_t>(labels[s])];
    Neuron& u = neurons[k];
    u.mutual_information = mutual_information_bits(h, Estimator::plugin);
    std::vector<std::int64_t> marginal(B, 0);
    for (std::size_t t = 0; t < B; ++t)
      for (std::size_t y = 0; y < C; ++y) marginal[t] += h.counts[t * C + y];
    u.specific.assign(C, 0.0);
    for (std::size_t y = 0; y < C; ++y) {
      if (class_count[y] == 0) continue;
      const double ny = static_cast<double>(class_count[y]);
      double s = 0.0;
      for (std::size_t t = 0; t < B; ++t) {
        const std::int64_t c = h.counts[t * C + y];
        if (c == 0) continue;
        const double cty = static_cast<double>(c);
        s += cty / ny * std::log2(cty * total / (static_cast<double>(marginal[t]) * ny));
      }
      u.specific[y] = s;
    }
    std::vector<std::uint16_t> rank(B, 0);
    for (std::size_t t = 0; t < B; ++t)
      if (marginal[t] > 0) rank[t] = static_cast<std::uint16_t>(u.used++);
    std::uint16_t* r = recoded.data() + k * N;
    for (std::size_t s = 0; s < N; ++s) r[s] = rank[code[s]];
  });

  // The pairs: rows of the first neuron over the threads, each pair on one thread with its
  // cells summed in key order ((a, b, y) lexicographically, a and b the recoded bins), so the
  // bits do not depend on the number of threads or on which way the cells were counted.
  const int threads = max_threads();
  std::vector<Scratch> scratch(static_cast<std::size_t>(threads));
  ExceptionCollector errors;
#pragma omp parallel num_threads(threads)
  {
    Scratch& w = scratch[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (std::ptrdiff_t ii = 0; ii < static_cast<std::ptrdiff_t>(n) - 1; ++ii)
      errors.run([&] {
        const auto i = static_cast<std::size_t>(ii);
        const std::uint16_t* a = recoded.data() + i * N;
        const Neuron& first = neurons[i];
        for (std::size_t j = i + 1; j < n; ++j) {
          const std::uint16_t* b = recoded.data() + j * N;
          const Neuron& second = neurons[j];
          const std::size_t mj = second.used, cells = first.used * mj * C;
          double joint_terms = 0.0, pair_terms = 0.0;  // S(c_aby), S(c_ab)
          if (cells <= max_table_cells) {
            if (w.table.size() < cells) w.table.assign(cells, 0);  // kept zeroed after use
            std::int32_t* t = w.table.data();
            for (std::size_t s = 0; s < N; ++s)
              ++t[(std::size_t{a[s]} * mj + std::size_t{b[s]}) * C +
                  static_cast<std::size_t>(labels[s])];
            for (std::size_t ab = 0; ab < first.used * mj; ++ab) {
              std::int32_t* row = t + ab * C;
              std::size_t sum = 0;
              for (std::size_t y = 0; y < C; ++y) {
                const auto c = static_cast<std::size_t>(row[y]);
                joint_terms += xlogx[c];
                sum += c;
                row[y] = 0;
              }
              pair_terms += xlogx[sum];
            }
          } else {
            w.keys.resize(N);
            for (std::size_t s = 0; s < N; ++s)
              w.keys[s] = (std::uint64_t{a[s]} * mj + std::uint64_t{b[s]}) * C +
                          static_cast<std::uint64_t>(labels[s]);
            std::sort(w.keys.begin(), w.keys.end());
            std::size_t run = 0, pair_run = 0;
            for (std::size_t s = 0; s < N; ++s) {
              ++run;
              ++pair_run;
              const bool last = s + 1 == N;
              if (last || w.keys[s + 1] != w.keys[s]) {
                joint_terms += xlogx[run];
                run = 0;
              }
              if (last || w.keys[s + 1] / C != w.keys[s] / C) {
                pair_terms += xlogx[pair_run];
                pair_run = 0;
              }
            }
          }
          double joint = log2_total + (joint_terms - pair_terms - class_terms) / total;
          if (joint < 0.0) joint = 0.0;  // >= 0 exactly; clear the rounding residue of a zero
          double redundancy = 0.0;
          for (std::size_t y = 0; y < C; ++y)
            if (class_count[y] > 0)
              redundancy += static_cast<double>(class_count[y]) / total *
                            std::min(first.specific[y], second.specific[y]);
          const double Ii = first.mutual_information, Ij = second.mutual_information;
          const std::size_t p = i * (2 * n - i - 1) / 2 + (j - i - 1);
          out.joint_mutual_information[p] = joint;
          out.redundancy[p] = redundancy;
          out.unique_first[p] = Ii - redundancy;
          out.unique_second[p] = Ij - redundancy;
          out.synergy[p] = joint - Ii - Ij + redundancy;
          out.co_information[p] = Ii + Ij - joint;
        }
      });
  }
  errors.rethrow_if_any();
  return out;
}

}  // namespace ioca::info
