// The binning rules of docs/definitions.md, applied to one neuron's values (the plain reference; the
// histogram pass in measure.cpp inlines the same arithmetic).
#include "info/binning.hpp"

#include <algorithm>
#include <cmath>

#include "ioca/core.hpp"
#include "ioca/info.hpp"

namespace ioca::info {

Binning parse_binning(std::string_view name) {
  if (name == "uniform") return Binning::uniform;
  if (name == "uniform-layer") return Binning::uniform_layer;
  if (name == "quantile") return Binning::quantile;
  if (name == "binary") return Binning::binary;
  throw Error("unknown binning '" + std::string(name) +
              "' (expected uniform, uniform-layer, quantile or binary)");
}

std::string_view to_string(Binning b) {
  switch (b) {
    case Binning::uniform:
      return "uniform";
    case Binning::uniform_layer:
      return "uniform-layer";
    case Binning::quantile:
      return "quantile";
    case Binning::binary:
      return "binary";
  }
  throw std::logic_error("bad Binning value");
}

float default_threshold(nn::Activation activation) {
  return activation == nn::Activation::sigmoid ? 0.5f : 0.0f;
}

int value_bins(const BinningOptions& o) {
  return o.rule == Binning::binary ? 2 : o.bins;
}

int total_bins(const BinningOptions& o) {
  return value_bins(o) + (o.zero_bin ? 1 : 0);
}

std::vector<float> quantile_edges(std::vector<float> values, int bins) {
  std::sort(values.begin(), values.end());
  std::vector<float> edges;
  if (values.empty()) return edges;
  const std::size_t n = values.size();
  for (int k = 1; k < bins; ++k)
    edges.push_back(values[static_cast<std::size_t>(k) * n / static_cast<std::size_t>(bins)]);
  return edges;
}

std::vector<int> bin_values(const std::vector<float>& values, const BinningOptions& o,
                            nn::Activation activation, float layer_low, float layer_high) {
  const bool zero_bin = o.zero_bin;
  const int zero_index = value_bins(o);
  std::vector<float> binned;  // the values the rule sees (non-zero ones under zero_bin)
  for (float v : values)
    if (!zero_bin || v != 0.0f) binned.push_back(v);
  float low = layer_low, high = layer_high;
  if (o.rule == Binning::uniform && !binned.empty()) {
    low = *std::min_element(binned.begin(), binned.end());
    high = *std::max_element(binned.begin(), binned.end());
  }
  const std::vector<float> edges =
      o.rule == Binning::quantile ? quantile_edges(binned, o.bins) : std::vector<float>{};
  const float threshold = o.threshold ? *o.threshold : default_threshold(activation);
  std::vector<int> out;
  out.reserve(values.size());
  for (float v : values) {
    if (zero_bin && v == 0.0f) {
      out.push_back(zero_index);
      continue;
    }
    switch (o.rule) {
      case Binning::uniform:
      case Binning::uniform_layer:
        out.push_back(uniform_bin(v, low, high, o.bins));
        break;
      case Binning::quantile:
        out.push_back(
            static_cast<int>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin()));
        break;
      case Binning::binary:
        out.push_back(v > threshold ? 1 : 0);
        break;
    }
  }
  return out;
}

}  // namespace ioca::info
