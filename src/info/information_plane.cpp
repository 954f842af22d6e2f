// The information-plane view of a layer: the hidden layer's whole output vector T is binned
// neuron by neuron (the same rule as the per-neuron measures) and each distinct pattern of
// bins is one symbol. H(T) of these symbols equals I(X;T) for a deterministic network, and
// I(T;Y) comes from the joint (pattern, class) histogram.
#include <algorithm>
#include <map>
#include <string>

#include "ioca/core.hpp"
#include "ioca/info.hpp"

namespace ioca::info {

InformationPlane information_plane(const nn::Mlp& net, const data::Dataset& split,
                                   const MeasureOptions& options) {
  const int H = net.num_hidden();
  const std::size_t N = split.samples;
  InformationPlane out;
  out.entropy.assign(static_cast<std::size_t>(H), 0.0);
  out.mutual_information.assign(static_cast<std::size_t>(H), 0.0);
  if (N == 0 || H == 0) return out;

  // Every hidden activation of the split, column-major per layer: values[l][j * N + i].
  std::vector<std::vector<float>> values(static_cast<std::size_t>(H));
  for (int l = 0; l < H; ++l)
    values[static_cast<std::size_t>(l)].resize(N * static_cast<std::size_t>(net.out_size(l)));
  const std::size_t chunk = std::max<std::size_t>(1, options.chunk_rows);
  nn::Activations acts;
  for (std::size_t start = 0; start < N; start += chunk) {
    const int rows = static_cast<int>(std::min(chunk, N - start));
    nn::forward(net, split.row(start), rows, acts);
    for (int l = 0; l < H; ++l) {
      const auto width = static_cast<std::size_t>(net.out_size(l));
      const auto& a = acts.outputs[static_cast<std::size_t>(l)];
      auto& v = values[static_cast<std::size_t>(l)];
      for (int r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < width; ++j)
          v[j * N + start + static_cast<std::size_t>(r)] = a[static_cast<std::size_t>(r) * width + j];
    }
  }

  for (int l = 0; l < H; ++l) {
    const auto width = static_cast<std::size_t>(net.out_size(l));
    const auto& v = values[static_cast<std::size_t>(l)];
    // uniform-layer binning uses one range for the layer (over the values the rule sees).
    float low = 0.0f, high = 0.0f;
    bool any = false;
    for (float x : v)
      if (!options.binning.zero_bin || x != 0.0f) {
        low = any ? std::min(low, x) : x;
        high = any ? std::max(high, x) : x;
        any = true;
      }
    // Each sample's pattern of bins, built neuron by neuron .
    std::vector<std::u32string> pattern(N, std::u32string(width, U'\0'));
    std::vector<float> column(N);
    for (std::size_t j = 0; j < width; ++j) {
      std::copy(v.begin() + static_cast<std::ptrdiff_t>(j * N),
                v.begin() + static_cast<std::ptrdiff_t>((j + 1) * N), column.begin());
      const auto bins = bin_values(column, options.binning, net.activation(l), low, high);
      for (std::size_t i = 0; i < N; ++i) pattern[i][j] = static_cast<char32_t>(bins[i]);
    }
    // Distinct patterns in sorted order, so the histogram does not depend on sample order.
    std::map<std::u32string, std::size_t> symbol;
    for (const auto& p : pattern) symbol.emplace(p, 0);
    std::size_t next = 0;
    for (auto& [p, s] : symbol) s = next++;
    JointHistogram h;
    h.bins = static_cast<int>(symbol.size());
    h.classes = split.classes;
    h.counts.assign(symbol.size() * static_cast<std::size_t>(split.classes), 0);
    for (std::size_t i = 0; i < N; ++i)
      ++h.counts[symbol.at(pattern[i]) * static_cast<std::size_t>(split.classes) +
                 static_cast<std::size_t>(split.y[i])];
    const HistogramQuantities q = quantities(h, options.estimator);
    out.entropy[static_cast<std::size_t>(l)] = q.entropy;
    out.mutual_information[static_cast<std::size_t>(l)] = q.mutual_information;
  }
  return out;
}

}  // namespace ioca::info
