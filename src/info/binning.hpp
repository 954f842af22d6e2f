#pragma once
// Binning arithmetic shared by the reference (bin_values) and the histogram pass.
#include <cmath>
#include <vector>

#include "ioca/info.hpp"

namespace ioca::info {

// bin = min(B-1, floor((a-low)/(high-low)*B)); a constant neuron (high == low) -> bin 0.
// Computed in double so that the rule is exact as written for float activations.
inline int uniform_bin(float a, float low, float high, int bins) {
  if (!(high > low)) return 0;
  const double x = (static_cast<double>(a) - low) / (static_cast<double>(high) - low) * bins;
  const int b = static_cast<int>(std::floor(x));
  return b < 0 ? 0 : (b >= bins ? bins - 1 : b);
}

float default_threshold(nn::Activation activation);
int value_bins(const BinningOptions& o);  // bins of the rule itself
int total_bins(const BinningOptions& o);  // plus the zero bin, if any
std::vector<float> quantile_edges(std::vector<float> values, int bins);

}  // namespace ioca::info
