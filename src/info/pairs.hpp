#pragma once
// The pair decomposition with its table size exposed, so that tests can force either way of
// counting a pair's (bin_i, bin_j, class) cells.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ioca/info.hpp"

namespace ioca::info {

// A pair whose table has at most this many cells (its occupied bins m_i x m_j x classes) is
// counted in a dense int32 table; a larger one by sorting its samples' cell keys. Both sum
// the cells in the same order and give the same bits.
std::size_t default_pair_table_cells(std::size_t samples);

LayerPairs pair_decomposition(const LayerBins& layer, const std::vector<std::int32_t>& labels,
                              int classes, std::size_t max_table_cells);

}  // namespace ioca::info
