// Pair damage on the standard network: a 784-200-200-10 MNIST model, N pairs per group
// (redundant, synergistic, random; default 100) in each hidden layer, selected by
// interaction_pairs from every pair of the layer with stand-in redundancy and synergy values
// (seeded uniform: the selection's cost, not its meaning, is measured here), zero ablation,
// the 10,000 test images.
// Run: build/tests/ioca_bench_pair_damage MODEL.h5 [MNIST_DIR] [N]
// Prints the selection time, the fast engine's wall time (median of 3) next to single-neuron
// damage, the naive engine's time per pair measured on a sample and extrapolated, their
// ratio, and on the sample whether the accuracies agree bit for bit and how far the losses
// differ.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "ioca/ablation.hpp"
#include "ioca/core.hpp"
#include "ioca/data.hpp"
#include "ioca/io.hpp"

using namespace ioca;
using namespace ioca::ablation;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  std::printf("cpu: %s\n", machine_description().c_str());
  if (argc < 2) {
    std::fprintf(stderr, "usage: ioca_bench_pair_damage MODEL.h5 [MNIST_DIR] [PAIRS_PER_GROUP]\n");
    return 2;
  }
  const auto model = io::load_model(argv[1]);
  const nn::Mlp& net = model.net;
  data::LoadOptions load;
  load.dataset = "mnist";
  load.data_dir = argc > 2 ? argv[2] : data::default_data_dir("mnist");
  const std::int64_t count = argc > 3 ? std::stoll(argv[3]) : 100;
  const auto splits = data::load(load);
  const data::Dataset& test = splits.test;

  // Every pair of each layer with stand-in values, then the selection.
  std::vector<NeuronPair> pairs;
  double select_seconds = 0.0;
  for (int l = 0; l < net.num_hidden(); ++l) {
    std::vector<std::int64_t> first, second;
    std::vector<double> redundancy, synergy;
    Rng rng(derive_seed(1, {hash_name("bench"), static_cast<std::uint64_t>(l)}));
    for (int i = 0; i < net.out_size(l); ++i)
      for (int j = i + 1; j < net.out_size(l); ++j) {
        first.push_back(i);
        second.push_back(j);
        redundancy.push_back(rng.uniform_double());
        synergy.push_back(rng.uniform_double());
      }
    const auto t0 = std::chrono::steady_clock::now();
    const PairSelection s = interaction_pairs(l, first, second, redundancy, synergy, count, 1);
    select_seconds += seconds_since(t0);
    pairs.insert(pairs.end(), s.pairs.begin(), s.pairs.end());
  }
  std::printf(
      "workload: %zu pairs (%lld per group and layer), %zu test samples, %d threads, "
      "kernels %s\n",
      pairs.size(), static_cast<long long>(count), test.samples, max_threads(),
      std::string(kernel_isa()).c_str());
  std::printf("selection: %.4f s for %d layers\n", select_seconds, net.num_hidden());

  const AblationValues values = zero_values(net);
  std::vector<double> fast_seconds, single_seconds;
  PairDamage fast;
  for (int trial = 0; trial < 3; ++trial) {
    auto t0 = std::chrono::steady_clock::now();
    fast = pair_damage(net, test, values, pairs, {});
    fast_seconds.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    single_neuron_damage(net, test, values, {});
    single_seconds.push_back(seconds_since(t0));
  }
  std::sort(fast_seconds.begin(), fast_seconds.end());
  std::sort(single_seconds.begin(), single_seconds.end());
  std::int64_t hidden = 0;
  for (int l = 0; l < net.num_hidden(); ++l) hidden += net.out_size(l);
  std::printf("fast engine: %.3f s for %zu pairs (median of 3: %.3f %.3f %.3f), %.2f ms per pair\n",
              fast_seconds[1], pairs.size(), fast_seconds[0], fast_seconds[1], fast_seconds[2],
              1e3 * fast_seconds[1] / static_cast<double>(pairs.size()));
  std::printf("single-neuron damage (fast): %.3f s for %lld neurons, %.2f ms per neuron\n",
              single_seconds[1], static_cast<long long>(hidden),
              1e3 * single_seconds[1] / static_cast<double>(hidden));

  // Naive: two full forward passes of the test set per pair (0 and 2 neurons ablated),
  // measured on every 50th pair.
  std::vector<NeuronPair> sample;
  std::vector<std::size_t> at;
  for (std::size_t p = 0; p < pairs.size(); p += 50) {
    sample.push_back(pairs[p]);
    at.push_back(p);
  }
  SweepOptions naive_options;
  naive_options.engine = Engine::naive;
  const auto t1 = std::chrono::steady_clock::now();
  const PairDamage naive = pair_damage(net, test, values, sample, naive_options);
  const double naive_per_pair = seconds_since(t1) / static_cast<double>(sample.size());
  bool identical = naive.intact_accuracy == fast.intact_accuracy;
  double loss_difference = std::abs(naive.intact_loss - fast.intact_loss);
  for (std::size_t k = 0; k < sample.size(); ++k) {
    identical = identical && naive.accuracy_drop[k] == fast.accuracy_drop[at[k]];
    loss_difference =
        std::max(loss_difference, std::abs(naive.loss_increase[k] - fast.loss_increase[at[k]]));
  }
  std::printf("naive engine: %.3f s per pair (measured on %zu pairs), %.1f s for the workload\n",
              naive_per_pair, sample.size(), naive_per_pair * static_cast<double>(pairs.size()));
  std::printf("speed-up fast vs naive: %.0fx\n",
              naive_per_pair * static_cast<double>(pairs.size()) / fast_seconds[1]);
  std::printf("sample: accuracies %s; largest |loss increase fast - naive| %.3g nats\n",
              identical ? "bit-identical" : "DIFFER", loss_difference);
  double mean_drop = 0.0;
  for (double d : fast.accuracy_drop) mean_drop += d;
  std::printf("mean pair accuracy drop %.5f (intact accuracy %.4f)\n",
              mean_drop / static_cast<double>(pairs.size()), fast.intact_accuracy);
  return identical ? 0 : 1;
}
