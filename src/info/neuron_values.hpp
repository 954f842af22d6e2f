#pragma once
// Passes over a split that need a neuron's values all at once, within a memory budget.
#include <cstddef>
#include <vector>

#include "ioca/data.hpp"
#include "ioca/info.hpp"
#include "ioca/nn.hpp"

namespace ioca::info {

// The quantile edges of every hidden neuron (numbered layer by layer; layer l holds neurons
// offset[l] to offset[l+1]) over the values the rule sees (zeros left out under zero_bin).
// The values of as many neurons as budget_bytes holds (at least one) are gathered per
// forward pass over the split, in chunks of chunk_rows samples; the edges do not depend on
// the budget, the chunk size or the thread count.
std::vector<std::vector<float>> quantile_edges_within(
    const nn::Mlp& net, const data::Dataset& split, const std::vector<std::size_t>& offset,
    const BinningOptions& binning, std::size_t chunk_rows, std::size_t budget_bytes);

}  // namespace ioca::info
