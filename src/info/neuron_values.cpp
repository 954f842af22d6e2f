#include "info/neuron_values.hpp"

#include <algorithm>

#include "info/binning.hpp"
#include "ioca/core.hpp"

namespace ioca::info {

std::vector<std::vector<float>> quantile_edges_within(
    const nn::Mlp& net, const data::Dataset& split, const std::vector<std::size_t>& offset,
    const BinningOptions& binning, std::size_t chunk_rows, std::size_t budget_bytes) {
  const std::size_t neurons = offset.back(), n = split.samples;
  const std::size_t chunks = (n + chunk_rows - 1) / chunk_rows;
  const auto layer_of = [&](std::size_t k) {
    return static_cast<std::size_t>(std::upper_bound(offset.begin(), offset.end(), k) -
                                    offset.begin() - 1);
  };
  const std::size_t group =
      std::clamp<std::size_t>(budget_bytes / (std::max<std::size_t>(n, 1) * sizeof(float)), 1,
                              std::max<std::size_t>(neurons, 1));
  std::vector<std::vector<float>> edges(neurons);
  std::vector<float> gathered;  // [neuron - first, sample]
  for (std::size_t first = 0; first < neurons; first += group) {
    const std::size_t last = std::min(neurons, first + group);
    gathered.assign((last - first) * n, 0.0f);
    parallel_for(static_cast<std::ptrdiff_t>(chunks), [&](std::ptrdiff_t ci) {
      const std::size_t lo = static_cast<std::size_t>(ci) * chunk_rows,
                        rows = std::min(chunk_rows, n - lo);
      nn::Activations acts;
      nn::forward(net, split.row(lo), static_cast<int>(rows), acts);
      for (std::size_t k = first; k < last; ++k) {
        const std::size_t l = layer_of(k), width = offset[l + 1] - offset[l];
        const float* a = acts.outputs[l].data() + (k - offset[l]);
        float* column = gathered.data() + (k - first) * n + lo;
        for (std::size_t r = 0; r < rows; ++r) column[r] = a[r * width];
      }
    });
    parallel_for(static_cast<std::ptrdiff_t>(last - first), [&](std::ptrdiff_t kk) {
      const float* values = gathered.data() + static_cast<std::size_t>(kk) * n;
      std::vector<float> column;
      column.reserve(n);
      for (std::size_t i = 0; i < n; ++i)
        if (!binning.zero_bin || values[i] != 0.0f) column.push_back(values[i]);
      edges[first + static_cast<std::size_t>(kk)] = quantile_edges(std::move(column), binning.bins);
    });
  }
  return edges;
}

}  // namespace ioca::info
