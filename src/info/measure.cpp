// The measure pass: forward the estimation split in chunks, gather per-neuron statistics,
// bin, histogram (bin, class) and turn the histograms into quantities.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "info/binning.hpp"
#include "info/neuron_values.hpp"
#include "ioca/core.hpp"
#include "ioca/info.hpp"

namespace ioca::info {
namespace {

// Statistics of one chunk, for all hidden neurons laid end to end (layer by layer).
struct ChunkStats {
  std::vector<float> low, high, low_nonzero, high_nonzero;
  std::vector<double> sum, sum_abs, class_sum;      // class_sum: [neuron, class]
  std::vector<double> shifted_sum, shifted_square;  // of (a - shift), for the variance
  std::vector<std::uint8_t> has_nonzero;
};

void check_options(const nn::Mlp& net, const data::Dataset& split, const MeasureOptions& o) {
  if (net.num_hidden() < 1) throw Error("the network has no hidden layer to measure");
  if (split.samples == 0) throw Error("the estimation split of '" + split.name + "' is empty");
  if (o.binning.rule != Binning::binary && (o.binning.bins < 2 || o.binning.bins > 100000))
    throw Error("--bins must be between 2 and 100000, not " + std::to_string(o.binning.bins));
  if (o.binning.threshold && !std::isfinite(*o.binning.threshold))
    throw Error("--threshold must be a finite number");
  if (o.chunk_rows == 0) throw std::logic_error("chunk_rows must be > 0");
  if (o.mi_null_permutations < 0 || o.mi_null_permutations > 100000)
    throw Error("--mi-null must be between 0 and 100000, not " +
                std::to_string(o.mi_null_permutations));
  if (o.pairs && total_bins(o.binning) > 65536)  // each sample's bin is kept in 16 bits
    throw Error("--pairs works with at most 65536 bins (zero bin included), not " +
                std::to_string(total_bins(o.binning)));
}

}  // namespace

const std::vector<std::string>& quantity_names() {
  static const std::vector<std::string> names{
      "entropy",         "mutual_information",  "kl_selectivity",      "selectivity_index",
      "mean_activation", "mean_abs_activation", "activation_variance", "outgoing_l1",
      "outgoing_l2",     "kl_selectivity_corrected", "mutual_information_null_mean",
      "mutual_information_null_q95", "mutual_information_null_p"};
  return names;
}

bool optional_quantity(std::string_view name) {
  return name == "kl_selectivity_corrected" || name == "mutual_information_null_mean" ||
         name == "mutual_information_null_q95" || name == "mutual_information_null_p";
}

std::vector<double>& quantity(LayerMeasures& m, std::string_view name) {
  return const_cast<std::vector<double>&>(quantity(static_cast<const LayerMeasures&>(m), name));
}

const std::vector<double>& quantity(const LayerMeasures& m, std::string_view name) {
  if (name == "entropy") return m.entropy;
  if (name == "mutual_information") return m.mutual_information;
  if (name == "kl_selectivity") return m.kl_selectivity;
  if (name == "selectivity_index") return m.selectivity_index;
  if (name == "mean_activation") return m.mean_activation;
  if (name == "mean_abs_activation") return m.mean_abs_activation;
  if (name == "activation_variance") return m.activation_variance;
  if (name == "outgoing_l1") return m.outgoing_l1;
  if (name == "outgoing_l2") return m.outgoing_l2;
  if (name == "kl_selectivity_corrected") return m.kl_selectivity_corrected;
  if (name == "mutual_information_null_mean") return m.mutual_information_null_mean;
  if (name == "mutual_information_null_q95") return m.mutual_information_null_q95;
  if (name == "mutual_information_null_p") return m.mutual_information_null_p;
  throw Error("unknown quantity '" + std::string(name) + "'");
}

namespace {

// Counts (bin, class) for the rows of one chunk of one layer into h, with bin_of(k, a) the
// bin of value a of neuron k. Sample-major order: consecutive updates hit other neurons.
// With codes (the layer's LayerBins::codes, samples per neuron, the chunk's first row at
// first_row), each bin is kept too.
template <class BinOf>
void histogram_rows(const float* a, std::size_t rows, std::size_t width, const std::int32_t* y,
                    std::size_t base, std::size_t bins, std::size_t classes, BinOf bin_of,
                    std::int64_t* h, std::uint16_t* codes, std::size_t samples,
                    std::size_t first_row) {
  for (std::size_t r = 0; r < rows; ++r) {
    const auto cls = static_cast<std::size_t>(y[r]);
    const float* row = a + r * width;
    for (std::size_t j = 0; j < width; ++j) {
      const std::size_t k = base + j;
      const auto bin = static_cast<std::size_t>(bin_of(k, row[j]));
      ++h[(k * bins + bin) * classes + cls];
      if (codes) codes[j * samples + first_row + r] = static_cast<std::uint16_t>(bin);
    }
  }
}

}  // namespace

Measures measure(const nn::Mlp& net, const data::Dataset& split, const MeasureOptions& o,
                 MeasureTimings* timings) {
  check_options(net, split, o);
  const auto start = std::chrono::steady_clock::now();
  const int hidden = net.num_hidden();
  const auto classes = static_cast<std::size_t>(net.output_size());
  std::vector<std::size_t> offset(static_cast<std::size_t>(hidden) + 1,
                                  0);  // first neuron of each layer
  for (int l = 0; l < hidden; ++l)
    offset[static_cast<std::size_t>(l) + 1] =
        offset[static_cast<std::size_t>(l)] + static_cast<std::size_t>(net.out_size(l));
  const std::size_t neurons = offset.back();
  const std::size_t n = split.samples, chunk = o.chunk_rows;
  const std::size_t chunks = (n + chunk - 1) / chunk;
  const bool quantile = o.binning.rule == Binning::quantile;
  const float inf = std::numeric_limits<float>::infinity();
  // Keep the activations between the passes when they fit the budget; otherwise the
  // histogram pass (and the quantile edges) forward the chunks again.
  const bool cache = n * neurons * sizeof(float) <= o.activation_cache_bytes;
  std::vector<std::vector<float>> cached(cache ? chunks
                                               : 0);  // per chunk: layer blocks [rows, width]

  // Shift for the variance sums: any constant per neuron works; the first sample's values
  // keep the sums small and so the result accurate.
  std::vector<double> shift(neurons);
  {
    nn::Activations first;
    nn::forward(net, split.row(0), 1, first);
    for (int l = 0; l < hidden; ++l)
      for (std::size_t j = 0; j < static_cast<std::size_t>(net.out_size(l)); ++j)
        shift[offset[static_cast<std::size_t>(l)] + j] =
            first.outputs[static_cast<std::size_t>(l)][j];
  }

  // Pass 1: ranges, sums, class sums.
  std::vector<ChunkStats> stats(chunks);
  parallel_for(static_cast<std::ptrdiff_t>(chunks), [&](std::ptrdiff_t ci) {
    const std::size_t lo = static_cast<std::size_t>(ci) * chunk, rows = std::min(chunk, n - lo);
    nn::Activations acts;
    nn::forward(net, split.row(lo), static_cast<int>(rows), acts);
    ChunkStats& s = stats[static_cast<std::size_t>(ci)];
    s.low.assign(neurons, inf);
    s.high.assign(neurons, -inf);
    s.low_nonzero.assign(neurons, inf);
    s.high_nonzero.assign(neurons, -inf);
    s.has_nonzero.assign(neurons, 0);
    s.sum.assign(neurons, 0.0);
    s.sum_abs.assign(neurons, 0.0);
    s.shifted_sum.assign(neurons, 0.0);
    s.shifted_square.assign(neurons, 0.0);
    s.class_sum.assign(neurons * classes, 0.0);
    if (cache) cached[static_cast<std::size_t>(ci)].resize(rows * neurons);
    for (int l = 0; l < hidden; ++l) {
      const auto width = static_cast<std::size_t>(net.out_size(l));
      const float* a = acts.outputs[static_cast<std::size_t>(l)].data();
      const std::size_t base = offset[static_cast<std::size_t>(l)];
      if (cache)
        std::copy(a, a + rows * width,
                  cached[static_cast<std::size_t>(ci)].begin() +
                      static_cast<std::ptrdiff_t>(rows * base));
      for (std::size_t r = 0; r < rows; ++r) {
        const auto y = static_cast<std::size_t>(split.y[lo + r]);
        const float* row = a + r * width;
        for (std::size_t j = 0; j < width; ++j) {
          const float v = row[j];
          const std::size_t k = base + j;
          s.low[k] = std::min(s.low[k], v);
          s.high[k] = std::max(s.high[k], v);
          if (v != 0.0f) {
            s.low_nonzero[k] = std::min(s.low_nonzero[k], v);
            s.high_nonzero[k] = std::max(s.high_nonzero[k], v);
            s.has_nonzero[k] = 1;
          }
          const double d = v - shift[k];
          s.sum[k] += v;
          s.sum_abs[k] += std::abs(v);
          s.shifted_sum[k] += d;
          s.shifted_square[k] += d * d;
          s.class_sum[k * classes + y] += v;
        }
      }
    }
  });

  // Reduce in chunk order, so the sums never depend on the thread count.
  ChunkStats total = stats[0];
  for (std::size_t ci = 1; ci < chunks; ++ci) {
    const ChunkStats& s = stats[ci];
    for (std::size_t k = 0; k < neurons; ++k) {
      total.low[k] = std::min(total.low[k], s.low[k]);
      total.high[k] = std::max(total.high[k], s.high[k]);
      total.low_nonzero[k] = std::min(total.low_nonzero[k], s.low_nonzero[k]);
      total.high_nonzero[k] = std::max(total.high_nonzero[k], s.high_nonzero[k]);
      total.has_nonzero[k] |= s.has_nonzero[k];
      total.sum[k] += s.sum[k];
      total.sum_abs[k] += s.sum_abs[k];
      total.shifted_sum[k] += s.shifted_sum[k];
      total.shifted_square[k] += s.shifted_square[k];
    }
    for (std::size_t k = 0; k < neurons * classes; ++k) total.class_sum[k] += s.class_sum[k];
  }
  stats.clear();
  std::vector<std::int64_t> class_count(classes, 0);
  for (std::size_t i = 0; i < n; ++i) ++class_count[static_cast<std::size_t>(split.y[i])];
  std::vector<double> mean(neurons), variance(neurons);
  for (std::size_t k = 0; k < neurons; ++k) {
    const double N = static_cast<double>(n);
    mean[k] = total.sum[k] / N;
    variance[k] = std::max(
        0.0, (total.shifted_square[k] - total.shifted_sum[k] * total.shifted_sum[k] / N) / N);
  }

  // The range each neuron is binned over.
  const BinningOptions& b = o.binning;
  std::vector<float> bin_low(neurons, 0.0f), bin_high(neurons, 0.0f);
  for (int l = 0; l < hidden; ++l) {
    const std::size_t first = offset[static_cast<std::size_t>(l)],
                      last = offset[static_cast<std::size_t>(l) + 1];
    float layer_low = inf, layer_high = -inf;
    for (std::size_t k = first; k < last; ++k) {
      if (b.zero_bin && !total.has_nonzero[k]) continue;  // all zeros: nothing to bin by range
      const float lo_k = b.zero_bin ? total.low_nonzero[k] : total.low[k];
      const float hi_k = b.zero_bin ? total.high_nonzero[k] : total.high[k];
      bin_low[k] = lo_k;
      bin_high[k] = hi_k;
      layer_low = std::min(layer_low, lo_k);
      layer_high = std::max(layer_high, hi_k);
    }
    if (b.rule == Binning::uniform_layer)
      for (std::size_t k = first; k < last; ++k) {
        bin_low[k] = layer_low;
        bin_high[k] = layer_high;
      }
  }
  const int value_bin_count = value_bins(b), bins = total_bins(b), zero_index = value_bin_count;
  std::vector<std::vector<float>> edges(quantile ? neurons : 0);
  // A neuron's quantile edges need all its values at once: from the cache, or else gathered
  // within the budget (several forward passes). Both give the same edges.
  if (quantile && !cache) {
    edges = quantile_edges_within(net, split, offset, b, chunk, o.activation_cache_bytes);
  } else if (quantile) {
    parallel_for(static_cast<std::ptrdiff_t>(neurons), [&](std::ptrdiff_t kk) {
      const auto k = static_cast<std::size_t>(kk);
      const auto l = static_cast<std::size_t>(std::upper_bound(offset.begin(), offset.end(), k) -
                                              offset.begin() - 1);
      const std::size_t width = offset[l + 1] - offset[l], j = k - offset[l];
      std::vector<float> column;
      column.reserve(n);
      for (std::size_t ci = 0; ci < chunks; ++ci) {
        const std::size_t rows = std::min(chunk, n - ci * chunk);
        const float* block = cached[ci].data() + rows * offset[l];
        for (std::size_t r = 0; r < rows; ++r) {
          const float v = block[r * width + j];
          if (!b.zero_bin || v != 0.0f) column.push_back(v);
        }
      }
      edges[k] = quantile_edges(std::move(column), b.bins);
    });
  }
  std::vector<float> threshold(static_cast<std::size_t>(hidden));
  for (int l = 0; l < hidden; ++l)
    threshold[static_cast<std::size_t>(l)] =
        b.threshold ? *b.threshold : default_threshold(net.activation(l));
  const auto after_stats = std::chrono::steady_clock::now();

  // Pass 2: histograms of (bin, class). Integer counts add up the same in any order, so
  // per-thread histograms summed at the end are deterministic.
  const int threads = max_threads();
  const std::size_t hist_size = neurons * static_cast<std::size_t>(bins) * classes;
  // With pairs, every sample's bin of every neuron, layer by layer (chunks write their own
  // samples, so the codes do not depend on the threads either).
  std::vector<LayerBins> layer_bins(o.pairs ? static_cast<std::size_t>(hidden) : 0);
  for (std::size_t l = 0; l < layer_bins.size(); ++l) {
    LayerBins& lb = layer_bins[l];
    lb.neurons = offset[l + 1] - offset[l];
    lb.samples = n;
    lb.bins = bins;
    reserve_large(lb.codes, lb.neurons * n);
    lb.codes.resize(lb.neurons * n);
  }
  std::vector<std::vector<std::int64_t>> hist(static_cast<std::size_t>(threads));
  ExceptionCollector errors;
#pragma omp parallel num_threads(threads)
  {
    auto& h = hist[static_cast<std::size_t>(omp_get_thread_num())];
    errors.run([&] { h.assign(hist_size, 0); });
    nn::Activations acts;
    std::vector<std::int32_t> row_bins;
#pragma omp for schedule(dynamic, 1)
    for (std::ptrdiff_t ci = 0; ci < static_cast<std::ptrdiff_t>(chunks); ++ci)
      errors.run([&] {
        const std::size_t lo = static_cast<std::size_t>(ci) * chunk, rows = std::min(chunk, n - lo);
        if (!cache) nn::forward(net, split.row(lo), static_cast<int>(rows), acts);
        for (int l = 0; l < hidden; ++l) {
          const auto width = static_cast<std::size_t>(net.out_size(l));
          const std::size_t base = offset[static_cast<std::size_t>(l)];
          const float* a = cache ? cached[static_cast<std::size_t>(ci)].data() + rows * base
                                 : acts.outputs[static_cast<std::size_t>(l)].data();
          const std::int32_t* y = split.y.data() + lo;
          const auto B = static_cast<std::size_t>(bins);
          const float t = threshold[static_cast<std::size_t>(l)];
          const bool zb = b.zero_bin;
          std::uint16_t* codes =
              o.pairs ? layer_bins[static_cast<std::size_t>(l)].codes.data() : nullptr;
          if (b.rule == Binning::binary) {
            histogram_rows(
                a, rows, width, y, base, B, classes,
                [&](std::size_t, float v) {
                  return zb && v == 0.0f ? zero_index : (v > t ? 1 : 0);
                },
                h.data(), codes, n, lo);
          } else if (quantile) {
            histogram_rows(
                a, rows, width, y, base, B, classes,
                [&](std::size_t k, float v) {
                  return zb && v == 0.0f ? zero_index
                                         : static_cast<int>(std::upper_bound(edges[k].begin(),
                                                                             edges[k].end(), v) -
                                                            edges[k].begin());
                },
                h.data(), codes, n, lo);
          } else {
            // Bins of a whole row at once (vectorised), then the counting.
            row_bins.resize(width);
            for (std::size_t r = 0; r < rows; ++r) {
              uniform_bins(a + r * width, bin_low.data() + base, bin_high.data() + base, width,
                           value_bin_count, zb, row_bins.data());
              std::int64_t* hk = h.data() + base * B * classes + static_cast<std::size_t>(y[r]);
              for (std::size_t j = 0; j < width; ++j)
                ++hk[(j * B + static_cast<std::size_t>(row_bins[j])) * classes];
              if (codes)
                for (std::size_t j = 0; j < width; ++j)
                  codes[j * n + lo + r] = static_cast<std::uint16_t>(row_bins[j]);
            }
          }
        }
      });
  }
  errors.rethrow_if_any();
  // A team smaller than asked for (OMP_THREAD_LIMIT) leaves some histograms unused.
  std::vector<std::int64_t>& counts = hist[0];
  for (std::size_t t = 1; t < hist.size(); ++t)
    if (!hist[t].empty())
      for (std::size_t i = 0; i < hist_size; ++i) counts[i] += hist[t][i];
  if (timings) {
    const auto now = std::chrono::steady_clock::now();
    timings->statistics_seconds = std::chrono::duration<double>(after_stats - start).count();
    timings->histogram_seconds = std::chrono::duration<double>(now - after_stats).count();
    timings->activations_cached = cache;
  }

  // Quantities per neuron.
  Measures m;
  m.samples = n;
  m.classes = static_cast<int>(classes);
  m.layers.resize(static_cast<std::size_t>(hidden));
  std::vector<bool> present(classes);
  for (std::size_t y = 0; y < classes; ++y) present[y] = class_count[y] > 0;
  for (int l = 0; l < hidden; ++l) {
    LayerMeasures& L = m.layers[static_cast<std::size_t>(l)];
    const auto width = static_cast<std::size_t>(net.out_size(l));
    const std::size_t base = offset[static_cast<std::size_t>(l)];
    for (auto* v : {&L.entropy, &L.mutual_information, &L.kl_selectivity, &L.selectivity_index,
                    &L.mean_activation, &L.mean_abs_activation, &L.activation_variance,
                    &L.outgoing_l1, &L.outgoing_l2, &L.bin_low, &L.bin_high,
                    &L.kl_selectivity_corrected})
      v->assign(width, 0.0);
    L.kl_selectivity_class.assign(width, -1);
    L.bins_used.assign(width, 0);
    L.histogram_bins = bins;
    if (o.keep_histograms) {
      const auto first = counts.begin() + static_cast<std::ptrdiff_t>(
                                              base * static_cast<std::size_t>(bins) * classes);
      L.histograms.assign(first, first + static_cast<std::ptrdiff_t>(
                                             width * static_cast<std::size_t>(bins) * classes));
    }
    const float* next_weight = net.weight(l + 1);
    const auto next_out = static_cast<std::size_t>(net.out_size(l + 1));
    for (std::size_t j = 0; j < width; ++j) {
      const std::size_t k = base + j;
      JointHistogram jh;
      jh.bins = bins;
      jh.classes = static_cast<int>(classes);
      const auto first = counts.begin() +
                         static_cast<std::ptrdiff_t>(k * static_cast<std::size_t>(bins) * classes);
      jh.counts.assign(
          first, first + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(bins) * classes));
      const HistogramQuantities q = quantities(jh, o.estimator);
      L.entropy[j] = q.entropy;
      L.mutual_information[j] = q.mutual_information;
      L.kl_selectivity[j] = q.kl_selectivity;
      L.kl_selectivity_class[j] = q.kl_selectivity_class;
      L.kl_selectivity_corrected[j] = q.kl_selectivity_corrected;
      for (int t = 0; t < bins; ++t) {
        std::int64_t occupied = 0;
        for (std::size_t y = 0; y < classes; ++y) occupied += jh.at(t, static_cast<int>(y));
        L.bins_used[j] += occupied > 0;
      }
      // Selectivity index on activations shifted to be non-negative (see info.hpp).
      double offset_si = 0.0;
      if (net.activation(l) == nn::Activation::tanh) offset_si = 1.0;
      if (net.activation(l) == nn::Activation::identity)
        offset_si = -static_cast<double>(total.low[k]);
      std::vector<double> class_mean(classes, 0.0);
      for (std::size_t y = 0; y < classes; ++y)
        if (class_count[y] > 0)
          class_mean[y] =
              total.class_sum[k * classes + y] / static_cast<double>(class_count[y]) + offset_si;
      L.selectivity_index[j] = selectivity_index(class_mean, present);
      L.mean_activation[j] = mean[k];
      L.mean_abs_activation[j] = total.sum_abs[k] / static_cast<double>(n);
      L.activation_variance[j] = variance[k];
      double l1 = 0.0, l2 = 0.0;
      for (std::size_t i = 0; i < next_out; ++i) {
        const double w = next_weight[i * width + j];
        l1 += std::abs(w);
        l2 += w * w;
      }
      L.outgoing_l1[j] = l1;
      L.outgoing_l2[j] = std::sqrt(l2);
      L.bin_low[j] = bin_low[k];
      L.bin_high[j] = bin_high[k];
    }
    if (o.mi_null_permutations > 0) {
      const auto null_start = std::chrono::steady_clock::now();
      // Every layer with the same permutations (the seed does not depend on the layer).
      NullDistribution null = mutual_information_null(
          counts.data() + base * static_cast<std::size_t>(bins) * classes, width, bins,
          static_cast<int>(classes), o.estimator, o.mi_null_permutations, o.mi_null_seed);
      L.mutual_information_null_mean = std::move(null.mean);
      L.mutual_information_null_q95 = std::move(null.q95);
      L.mutual_information_null_p = std::move(null.p);
      if (timings)
        timings->null_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - null_start).count();
    }
    if (o.pairs) {
      const auto pairs_start = std::chrono::steady_clock::now();
      LayerBins& lb = layer_bins[static_cast<std::size_t>(l)];
      L.pairs = pair_decomposition(lb, split.y, static_cast<int>(classes));
      std::vector<std::uint16_t>().swap(lb.codes);  // done with this layer's bins
      if (timings)
        timings->pairs_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - pairs_start).count();
    }
  }
  return m;
}

}  // namespace ioca::info
