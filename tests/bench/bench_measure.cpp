// Throughput of the measure pass: (sample x neuron) histogram updates per second and the
// wall time of the whole measure step (median of 7 runs), the cost of the MI permutation
// null, and of one information-plane snapshot (binning and the KDE bound, whose Gram-matrix
// path is also timed against the plain double loop over pairs).
// Run: build/tests/ioca_bench_measure [model.h5 [mnist-data-dir]]
// Without arguments: a 784-200-200-10 ReLU network with random weights on 10,000
// synthetic samples of 784 features (the measure pass does not care what the weights are).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "ioca/core.hpp"
#include "ioca/data.hpp"
#include "ioca/info.hpp"
#include "ioca/io.hpp"

using namespace ioca;

int main(int argc, char** argv) {
  std::printf("cpu: %s\n", machine_description().c_str());
  nn::Mlp net;
  data::Dataset split;
  if (argc > 1) {
    net = io::load_model(argv[1]).net;
    data::LoadOptions o;
    o.dataset = "mnist";
    o.data_dir = argc > 2 ? argv[2] : data::default_data_dir("mnist");
    split = data::load(o).validation;
  } else {
    net = nn::make_mlp(784, {200, 200}, nn::Activation::relu, 10, 1);
    data::SyntheticSpec spec;
    spec.train_samples = 10000;
    spec.test_samples = 10;
    spec.features = 784;
    split = data::make_synthetic(spec).train;
  }
  std::size_t neurons = 0;
  for (int l = 0; l < net.num_hidden(); ++l) neurons += static_cast<std::size_t>(net.out_size(l));
  for (auto rule : {info::Binning::uniform, info::Binning::quantile}) {
    info::MeasureOptions options;
    options.binning.rule = rule;
    std::vector<double> seconds, histogram_seconds;
    for (int trial = 0; trial < 7; ++trial) {
      info::MeasureTimings timings;
      const auto t0 = std::chrono::steady_clock::now();
      const auto m = info::measure(net, split, options, &timings);
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      histogram_seconds.push_back(timings.histogram_seconds);
      if (m.layers.empty()) return 1;
    }
    std::sort(seconds.begin(), seconds.end());
    std::sort(histogram_seconds.begin(), histogram_seconds.end());
    const double updates = static_cast<double>(split.samples * neurons);
    std::printf(
        "%-8s %zu samples x %zu neurons: measure step %.4f s (median of 7), histogram pass %.4f s "
        "= %.0f million updates/s\n",
        std::string(info::to_string(rule)).c_str(), split.samples, neurons, seconds[3],
        histogram_seconds[3], updates / histogram_seconds[3] / 1e6);
  }
  // The MI permutation null (--mi-null K) on top of the uniform measure step.
  for (int K : {100, 1000}) {
    info::MeasureOptions options;
    options.mi_null_permutations = K;
    std::vector<double> null_seconds;
    for (int trial = 0; trial < 3; ++trial) {
      info::MeasureTimings timings;
      const auto m = info::measure(net, split, options, &timings);
      null_seconds.push_back(timings.null_seconds);
      if (m.layers.empty()) return 1;
    }
    std::sort(null_seconds.begin(), null_seconds.end());
    std::printf("mi-null  K = %d permutations of %zu samples x %zu neurons (30 bins): %.4f s "
                "(median of 3), %.1f us per permutation and layer of 200\n",
                K, split.samples, neurons, null_seconds[1],
                null_seconds[1] / K * 1e6 * 200.0 / static_cast<double>(neurons));
  }
  // Snapshots of the information plane over training (train --snapshots): one snapshot of
  // every hidden layer at N samples, and the KDE bound of the first layer alone.
  const auto seconds_of = [](auto&& f, int trials) {
    std::vector<double> t;
    for (int trial = 0; trial < trials; ++trial) {
      const auto t0 = std::chrono::steady_clock::now();
      f();
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  for (const std::size_t n :
       {std::size_t{1000}, std::size_t{2000}, std::size_t{5000}, std::size_t{10000}}) {
    if (n > split.samples) break;
    std::vector<std::size_t> rows(n);
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    const data::Dataset samples = split.subset(rows);
    nn::Activations acts;
    nn::forward(net, samples.x.data(), static_cast<int>(n), acts);
    const auto width = static_cast<std::size_t>(net.out_size(0));
    const int trials = n <= 2000 ? 5 : 3;
    const double kde = seconds_of(
        [&] {
          info::kde_upper_bounds(acts.outputs[0].data(), n, width, samples.y.data(),
                                 samples.classes, 0.1);
        },
        trials);
    const double snapshot = seconds_of([&] { info::plane_snapshot(net, samples, {}); }, trials);
    std::printf(
        "snapshot N = %5zu: one snapshot of %d layers %.3f s; KDE bound of one layer of "
        "%zu %.3f s (%.2f GFLOP/s in the Gram matrix and exponentials counted as 1)\n",
        n, net.num_hidden(), snapshot, width, kde,
        (2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(width) +
         static_cast<double>(n) * static_cast<double>(n)) /
            kde / 1e9);
    if (n == 2000) {  // the plain double loop over pairs, for comparison
      const float* h = acts.outputs[0].data();
      const double naive = seconds_of(
          [&] {
            double sum = 0;
            for (std::size_t i = 0; i < n; ++i) {
              double all = 0;
              for (std::size_t j = 0; j < n; ++j) {
                double d2 = 0;
                for (std::size_t k = 0; k < width; ++k) {
                  const double d = static_cast<double>(h[i * width + k]) - h[j * width + k];
                  d2 += d * d;
                }
                all += std::exp(-d2 / 0.2);
              }
              sum -= std::log(all / static_cast<double>(n));
            }
            if (!(sum >= 0)) std::printf("?");
          },
          3);
      std::printf(
          "snapshot N = %5zu: plain double loop over pairs (I(X;T) only) %.3f s, %.1fx "
          "the Gram-matrix path\n",
          n, naive, naive / kde);
    }
  }
  std::printf("threads %d, kernels %s\n", max_threads(), std::string(kernel_isa()).c_str());
}
