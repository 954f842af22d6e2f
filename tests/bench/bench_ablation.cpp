// The standard ablation workload of issue 4: a 784-200-200-10 ReLU MNIST network;
// entropy, mutual information and KL selectivity x ascending/descending x scopes layer0,
// layer1, network, plus 10 random orders per scope: 48 sweeps, 12,800 steps over the 10,000
// test images, zero ablation, every step recorded.
// Run: build/tests/ioca_bench_ablation MODEL.h5 [MNIST_DIR]
// Prints the fast engine's wall time (median of 3), the naive engine's time per recorded
// point measured on a sample of points in the same run and extrapolated to the workload,
// their ratio, the fast engine's arithmetic and the accuracy after 25/50/75% ablated.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ioca/ablation.hpp"
#include "ioca/core.hpp"
#include "ioca/data.hpp"
#include "ioca/info.hpp"
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
    std::fprintf(stderr, "usage: ioca_bench_ablation MODEL.h5 [MNIST_DIR]\n");
    return 2;
  }
  const auto model = io::load_model(argv[1]);
  const nn::Mlp& net = model.net;
  data::LoadOptions load;
  load.dataset = "mnist";
  load.data_dir = argc > 2 ? argv[2] : data::default_data_dir("mnist");
  const auto splits = data::load(load);
  const auto measures = info::measure(net, splits.validation, {});

  std::vector<std::vector<Neuron>> orders;
  std::vector<std::string> labels;
  std::int64_t steps = 0;
  for (const auto& scope_name : all_scope_names(net)) {
    const Scope scope = make_scope(net, scope_name);
    for (const char* q : {"entropy", "mutual_information", "kl_selectivity"}) {
      std::vector<double> values;
      for (const auto& n : scope.neurons)
        values.push_back(info::quantity(measures.layers[static_cast<std::size_t>(n.layer)],
                                        q)[static_cast<std::size_t>(n.index)]);
      for (auto dir : {Direction::ascending, Direction::descending}) {
        orders.push_back(order_by_value(
            scope, values, dir, derive_seed(1, {hash_name("ties"), hash_name(scope_name), hash_name(q)})));
        labels.push_back(scope_name + " " + q + " " + std::string(to_string(dir)));
      }
    }
    for (std::uint64_t r = 0; r < 10; ++r) {
      orders.push_back(random_order(scope, derive_seed(1, {hash_name(scope_name), r})));
      labels.push_back(scope_name + " random");
    }
  }
  for (const auto& o : orders) steps += static_cast<std::int64_t>(o.size());
  std::printf("workload: %zu sweeps, %lld steps, %zu test samples, %d threads, kernels %s\n",
              orders.size(), static_cast<long long>(steps), splits.test.samples, max_threads(),
              std::string(kernel_isa()).c_str());

  const AblationValues values = zero_values(net);
  std::vector<double> fast_seconds;
  std::vector<Curve> curves;
  SweepCounters counters;
  for (int trial = 0; trial < 3; ++trial) {
    SweepOptions options;
    options.counters = &counters;
    if (const char* rows = std::getenv("IOCA_BENCH_CHUNK_ROWS"))
      options.chunk_rows = std::stoul(rows);
    const auto t0 = std::chrono::steady_clock::now();
    curves = run_sweeps(net, splits.test, values, orders, options);
    fast_seconds.push_back(seconds_since(t0));
  }
  std::sort(fast_seconds.begin(), fast_seconds.end());
  const double fast = fast_seconds[1];

  // Naive: every recorded point costs one full masked forward pass of the test set.
  // Measured on 3 sweeps (one per scope) at 8 points each, then scaled to the workload's
  // 12,800 + 48 points.
  std::vector<std::vector<Neuron>> sample_orders{orders[0], orders[16], orders[32]};
  SweepOptions naive;
  naive.engine = Engine::naive;
  naive.record_at = {0, 25, 50, 75, 100, 125, 150, 175};
  const auto t1 = std::chrono::steady_clock::now();
  const auto naive_curves = run_sweeps(net, splits.test, values, sample_orders, naive);
  const double naive_points = 3.0 * 8.0;
  const double naive_per_point = seconds_since(t1) / naive_points;
  const double naive_total =
      naive_per_point * static_cast<double>(steps + static_cast<std::int64_t>(orders.size()));
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t p = 0; p < naive_curves[i].ablated.size(); ++p)
      if (naive_curves[i].accuracy[p] !=
          curves[i * 16].accuracy[static_cast<std::size_t>(naive_curves[i].ablated[p])]) {
        std::printf("MISMATCH between engines at sweep %zu point %zu\n", i, p);
        return 1;
      }

  // Arithmetic of the fast engine: per updated row of an ablated layer-0 neuron, the
  // rank-1 update (200 multiply-adds) and the downstream recompute of layer 1's activation
  // and the logits (200 x 10 multiply-adds at most); per updated row of a layer-1 neuron,
  // the rank-1 update of the logits (10). Loss and arg-max: 10 exp per updated row.
  const double rows0 = static_cast<double>(counters.rows_updated[0]);
  const double rows1 = static_cast<double>(counters.rows_updated[1]);
  const double flops = rows0 * 2.0 * (200 + 200 * 10) + rows1 * 2.0 * 10;
  std::printf("fast engine: %.3f s (median of 3: %.3f %.3f %.3f)\n", fast, fast_seconds[0],
              fast_seconds[1], fast_seconds[2]);
  std::printf(
      "naive engine: %.4f s per recorded point (measured on %.0f points), %.1f s for the "
      "workload\n",
      naive_per_point, naive_points, naive_total);
  std::printf("speed-up fast vs naive: %.0fx\n", naive_total / fast);
  std::printf(
      "rows updated: layer0 %.0f, layer1 %.0f (of %lld step-rows); fast-engine arithmetic <= %.1f "
      "GFLOP (double) -> %.1f GFLOP/s achieved\n",
      rows0, rows1, static_cast<long long>(steps) * static_cast<long long>(splits.test.samples),
      flops / 1e9, flops / 1e9 / fast);
  std::printf("\n%-40s %8s %8s %8s %8s %8s\n", "order", "0%", "25%", "50%", "75%", "100%");
  for (std::size_t i = 0; i < curves.size(); ++i) {
    if (labels[i].find("random") != std::string::npos && labels[i] == labels[i > 0 ? i - 1 : i] &&
        i > 0)
      continue;
    const auto& c = curves[i];
    const auto n = c.accuracy.size() - 1;
    std::printf("%-40s %8.4f %8.4f %8.4f %8.4f %8.4f\n", labels[i].c_str(), c.accuracy[0],
                c.accuracy[n / 4], c.accuracy[n / 2], c.accuracy[3 * n / 4], c.accuracy[n]);
  }
}
