// The naive engine: kept as the reference the fast engine is tested against.
#include <algorithm>

#include "ablation/exact_forward.hpp"
#include "ioca/core.hpp"

namespace ioca::ablation::detail {

std::vector<Curve> run_naive(const nn::Mlp& net, const data::Dataset& test,
                             const AblationValues& values,
                             const std::vector<std::vector<Neuron>>& orders,
                             const SweepOptions& options) {
  check_sweep_inputs(net, test, values, orders);
  const ExactNet en(net, values);
  const std::size_t chunk = options.chunk_rows;
  const int classes = en.classes();
  const auto C = static_cast<std::size_t>(classes);
  const RecordingPlan plan = plan_recording(orders, options, classes);
  const auto& points = plan.points;
  const std::size_t bytes_per_row = plan.totals_bytes_per_row;
  CurveSums sums(points, classes);

  for (const RowBlock& block :
       row_blocks(test.samples, chunk, bytes_per_row, options.memory_budget_bytes)) {
    const std::size_t chunks = (block.hi - block.lo + chunk - 1) / chunk;
    std::vector<PointTotals> totals(orders.size() * chunks);
    parallel_for(static_cast<std::ptrdiff_t>(orders.size() * chunks), [&](std::ptrdiff_t task) {
      const std::size_t o = static_cast<std::size_t>(task) / chunks,
                        ch = static_cast<std::size_t>(task) % chunks;
      const std::size_t lo = block.lo + ch * chunk, rows = std::min(chunk, block.hi - lo);
      PointTotals& t = totals[static_cast<std::size_t>(task)];
      t.loss_sum.assign(points[o].size(), 0.0);
      t.correct_by_class.assign(points[o].size() * C, 0);
      std::vector<std::vector<std::uint8_t>> ablated(static_cast<std::size_t>(en.hidden()));
      for (int l = 0; l < en.hidden(); ++l)
        ablated[static_cast<std::size_t>(l)].assign(en.width(l), 0);
      ForwardRows scratch(en);
      std::size_t applied = 0;
      for (std::size_t p = 0; p < points[o].size(); ++p) {
        for (; applied < static_cast<std::size_t>(points[o][p]); ++applied) {
          const Neuron& nr = orders[o][applied];
          ablated[static_cast<std::size_t>(nr.layer)][static_cast<std::size_t>(nr.index)] = 1;
        }
        // A full masked forward pass of every sample of the chunk.
        double loss = 0.0;
        for (std::size_t r = 0; r < rows; ++r) {
          int predicted = 0;
          const int label = test.y[lo + r];
          loss += masked_forward(en, test.row(lo + r), ablated, label, scratch, predicted);
          if (predicted == label) ++t.correct_by_class[p * C + static_cast<std::size_t>(label)];
        }
        t.loss_sum[p] = loss;
      }
    });
    for (std::size_t o = 0; o < orders.size(); ++o)
      for (std::size_t ch = 0; ch < chunks; ++ch) sums.add(o, totals[o * chunks + ch]);
  }
  return sums.curves(test);
}

}  // namespace ioca::ablation::detail
