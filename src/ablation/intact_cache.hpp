#pragma once
// The intact network's activations and pre-activations on the test set, in the engines'
// arithmetic: the starting state of every fast sweep.
#include <vector>

#include "ablation/exact_forward.hpp"

namespace ioca::ablation::detail {

// Rows [first_row, first_row + rows) of the test set; row r of the cache is sample
// first_row + r.
struct IntactCache {
  std::size_t first_row = 0;
  std::size_t rows = 0;
  std::vector<std::vector<float>> a;    // hidden layer l: [samples, width(l)]
  std::vector<std::vector<double>> z;   // layer l >= 1: [samples, width(l)]; z.back() = logits
  std::vector<double> loss;             // per sample
  std::vector<std::int32_t> predicted;  // per sample
};

IntactCache compute_intact(const ExactNet& en, const data::Dataset& test, std::size_t lo,
                           std::size_t hi, std::size_t chunk_rows);

// Bytes of cache per sample row.
std::size_t intact_bytes_per_row(const ExactNet& en);

}  // namespace ioca::ablation::detail
