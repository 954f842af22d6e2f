// Speed of the pair decomposition (measure --pairs): all 19,900 pairs of a 200-neuron layer
// with 30 bins, 10,000 samples and 10 classes, median of 5 runs on 1 thread and on all
// threads; the naive reference (tests/unit/naive_pairs.hpp: std::map histograms, direct
// log2 formulas) timed on a subset of pairs and extrapolated, as a ratio; and the measure
// step of a 784-200-200-10 network on 10,000 samples with and without --pairs.
// Run: build/tests/ioca_bench_pairs
// The layer's bins are seeded: each neuron is a noisy, class-dependent value binned
// uniformly, so that the (bin_i, bin_j, class) tables are as occupied as a trained
// network's.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "../unit/naive_pairs.hpp"
#include "ioca/core.hpp"
#include "ioca/data.hpp"
#include "ioca/info.hpp"

using namespace ioca;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  std::printf("cpu: %s\n", machine_description().c_str());
  constexpr std::size_t neurons = 200, samples = 10000;
  constexpr int bins = 30, classes = 10;
  Rng rng(2024);
  std::vector<std::int32_t> labels(samples);
  for (auto& y : labels) y = static_cast<std::int32_t>(rng.below(classes));
  info::LayerBins layer;
  layer.neurons = neurons;
  layer.samples = samples;
  layer.bins = bins;
  layer.codes.resize(neurons * samples);
  std::vector<std::vector<int>> columns(neurons, std::vector<int>(samples));
  for (std::size_t k = 0; k < neurons; ++k) {
    std::vector<double> centre(classes);
    for (auto& c : centre) c = rng.uniform_double() * 2.0;
    std::vector<double> v(samples);
    for (std::size_t s = 0; s < samples; ++s)
      v[s] = centre[static_cast<std::size_t>(labels[s])] + rng.normal();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    for (std::size_t s = 0; s < samples; ++s) {
      const int b = std::min(bins - 1, static_cast<int>((v[s] - *lo) / (*hi - *lo) * bins));
      layer.codes[k * samples + s] = static_cast<std::uint16_t>(b);
      columns[k][s] = b;
    }
  }
  const std::size_t pairs = neurons * (neurons - 1) / 2;
  std::printf("layer: %zu neurons = %zu pairs, %zu samples, %d bins, %d classes\n", neurons, pairs,
              samples, bins, classes);

  const int all = omp_get_max_threads();
  info::LayerPairs fast;
  double fast_seconds = 0.0;
  for (int threads : {1, all}) {
    if (threads == 1 && all == 1) continue;
    omp_set_num_threads(threads);
    std::vector<double> seconds;
    for (int run = 0; run < 5; ++run) {
      const auto t = Clock::now();
      fast = info::pair_decomposition(layer, labels, classes);
      seconds.push_back(seconds_since(t));
    }
    fast_seconds = median(seconds);
    std::printf("fast:  %d thread%s, %.3f s (median of 5; min %.3f, max %.3f), %.2f us per pair\n",
                threads, threads == 1 ? "" : "s", fast_seconds,
                *std::min_element(seconds.begin(), seconds.end()),
                *std::max_element(seconds.begin(), seconds.end()), fast_seconds / pairs * 1e6);
  }
  omp_set_num_threads(all);

  // The naive reference on the first 60 pairs of neuron 0..: extrapolated to all pairs.
  constexpr std::size_t subset = 60;
  double worst = 0.0;
  const auto t = Clock::now();
  for (std::size_t p = 0; p < subset; ++p) {
    const auto i = static_cast<std::size_t>(fast.first[p]),
               j = static_cast<std::size_t>(fast.second[p]);
    const testing::NaivePair r = testing::naive_pair(columns[i], columns[j], labels);
    for (const auto& [x, y] : {std::pair{r.joint, fast.joint_mutual_information[p]},
                               {r.redundancy, fast.redundancy[p]},
                               {r.unique_first, fast.unique_first[p]},
                               {r.unique_second, fast.unique_second[p]},
                               {r.synergy, fast.synergy[p]}})
      worst = std::max(worst, std::abs(x - y));
  }
  const double naive_per_pair = seconds_since(t) / subset;
  std::printf(
      "naive: 1 thread, %.0f us per pair (%zu pairs), %.1f s extrapolated to %zu pairs = %.0f x "
      "the fast path on %d thread%s; largest difference %.1e bits\n",
      naive_per_pair * 1e6, subset, naive_per_pair * static_cast<double>(pairs), pairs,
      naive_per_pair * static_cast<double>(pairs) / fast_seconds, all, all == 1 ? "" : "s", worst);

  // In context: the whole measure step of a 784-200-200-10 ReLU network on 10,000 samples.
  const nn::Mlp net = nn::make_mlp(784, {200, 200}, nn::Activation::relu, 10, 1);
  data::SyntheticSpec spec;
  spec.train_samples = samples;
  spec.test_samples = 10;
  spec.features = 784;
  const data::Dataset split = data::make_synthetic(spec).train;
  for (bool with_pairs : {false, true}) {
    info::MeasureOptions o;
    o.pairs = with_pairs;
    std::vector<double> seconds, pair_seconds;
    for (int run = 0; run < 3; ++run) {
      info::MeasureTimings timings;
      const auto start = Clock::now();
      const auto m = info::measure(net, split, o, &timings);
      seconds.push_back(seconds_since(start));
      pair_seconds.push_back(timings.pairs_seconds);
      if (m.layers.empty()) return 1;
    }
    std::printf("measure step, 784-200-200-10 on %zu samples, %s: %.3f s (median of 3)%s\n",
                samples, with_pairs ? "--pairs" : "no pairs", median(seconds),
                with_pairs ? (", of which pairs " + std::to_string(median(pair_seconds)) +
                              " s for 2 x 19,900 pairs")
                                 .c_str()
                           : "");
  }
  std::printf("threads %d, kernels %s\n", all, std::string(kernel_isa()).c_str());
}
