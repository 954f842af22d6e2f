#pragma once
// The intact network's activations and pre-activations on the test set, in the engines'
// arithmetic: the starting state of every fast sweep.
#include <vector>

#include "ablation/exact_forward.hpp"

namespace ioca::ablation::detail {

struct IntactCache {
  std::vector<std::vector<float>> a;    // hidden layer l: [samples, width(l)]
  std::vector<std::vector<double>> z;   // layer l >= 1: [samples, width(l)]; z.back() = logits
  std::vector<double> loss;             // per sample
  std::vector<std::int32_t> predicted;  // per sample
};

IntactCache compute_intact(const ExactNet& en, const data::Dataset& test, std::size_t chunk_rows);

}  // namespace ioca::ablation::detail
