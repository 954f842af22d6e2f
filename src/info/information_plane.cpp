// The information-plane view of a layer: the hidden layer's whole output vector T is binned
// neuron by neuron (the same rule as the per-neuron measures) and each distinct pattern of
// bins is one symbol. H(T) of these symbols equals I(X;T) for a deterministic network, and
// I(T;Y) comes from the joint (pattern, class) histogram.
//
// Memory stays bounded for any split: the split is forwarded in chunks, and a sample's
// pattern is kept as a 128-bit hash (two independent 64-bit lanes), not as its values.
// Two different patterns share a hash with probability about 2^-128 per pair, far below
// anything a histogram of at most a few million samples can show. tests/unit/test_study.cpp
// keeps the exact implementation (every pattern compared in full) as the reference.
#include <omp.h>

#include <algorithm>
#include <array>
#include <limits>

#include "info/binning.hpp"
#include "info/neuron_values.hpp"
#include "ioca/core.hpp"
#include "ioca/info.hpp"

namespace ioca::info {
namespace {

// The SplitMix64 finaliser: a bijection of 64-bit words with full avalanche. A lane's state
// goes through it after each bin is mixed in, so patterns that differ anywhere keep
// different states until a later bin collides them by chance.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct PatternHash {
  std::uint64_t a = 0x243f6a8885a308d3ULL, b = 0x13198a2e03707344ULL;  // digits of pi
  void add(std::uint32_t bin) {
    a = mix(a ^ bin);
    b = mix(b + (static_cast<std::uint64_t>(bin) + 1) * 0x9e3779b97f4a7c15ULL);
  }
};

struct Sample {
  std::uint64_t a, b;
  std::int32_t cls;
  bool operator<(const Sample& o) const {
    return a != o.a ? a < o.a : (b != o.b ? b < o.b : cls < o.cls);
  }
};

}  // namespace

InformationPlane information_plane(const nn::Mlp& net, const data::Dataset& split,
                                   const MeasureOptions& options) {
  const int H = net.num_hidden();
  const std::size_t N = split.samples;
  InformationPlane out;
  out.entropy.assign(static_cast<std::size_t>(H), 0.0);
  out.mutual_information.assign(static_cast<std::size_t>(H), 0.0);
  if (N == 0 || H == 0) return out;
  const BinningOptions& b = options.binning;
  const std::size_t chunk = std::max<std::size_t>(1, options.chunk_rows);
  const std::size_t chunks = (N + chunk - 1) / chunk;
  std::vector<std::size_t> offset(static_cast<std::size_t>(H) + 1, 0);  // first neuron of layer
  for (int l = 0; l < H; ++l)
    offset[static_cast<std::size_t>(l) + 1] =
        offset[static_cast<std::size_t>(l)] + static_cast<std::size_t>(net.out_size(l));
  const std::size_t neurons = offset.back();

  // Pass 1 (uniform rules): each neuron's range over the values the rule sees; minima and
  // maxima do not depend on the order they are taken in.
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> low(neurons, inf), high(neurons, -inf);
  if (b.rule == Binning::uniform || b.rule == Binning::uniform_layer) {
    const int threads = max_threads();
    std::vector<std::vector<float>> lows(static_cast<std::size_t>(threads)),
        highs(static_cast<std::size_t>(threads));
    ExceptionCollector errors;
#pragma omp parallel num_threads(threads)
    {
      const auto t = static_cast<std::size_t>(omp_get_thread_num());
      errors.run([&] {
        lows[t].assign(neurons, inf);
        highs[t].assign(neurons, -inf);
      });
      nn::Activations acts;
#pragma omp for schedule(dynamic, 1)
      for (std::ptrdiff_t ci = 0; ci < static_cast<std::ptrdiff_t>(chunks); ++ci)
        errors.run([&] {
          const std::size_t lo = static_cast<std::size_t>(ci) * chunk,
                            rows = std::min(chunk, N - lo);
          nn::forward(net, split.row(lo), static_cast<int>(rows), acts);
          for (int l = 0; l < H; ++l) {
            const auto width = static_cast<std::size_t>(net.out_size(l));
            const float* a = acts.outputs[static_cast<std::size_t>(l)].data();
            float* lw = lows[t].data() + offset[static_cast<std::size_t>(l)];
            float* hg = highs[t].data() + offset[static_cast<std::size_t>(l)];
            for (std::size_t r = 0; r < rows; ++r)
              for (std::size_t j = 0; j < width; ++j) {
                const float v = a[r * width + j];
                if (b.zero_bin && v == 0.0f) continue;
                lw[j] = std::min(lw[j], v);
                hg[j] = std::max(hg[j], v);
              }
          }
        });
    }
    errors.rethrow_if_any();
    for (std::size_t t = 0; t < lows.size(); ++t)
      for (std::size_t k = 0; k < lows[t].size(); ++k) {  // empty: a thread the team lacked
        low[k] = std::min(low[k], lows[t][k]);
        high[k] = std::max(high[k], highs[t][k]);
      }
    if (b.rule == Binning::uniform_layer)
      for (int l = 0; l < H; ++l) {
        const auto first = low.begin() +
                           static_cast<std::ptrdiff_t>(offset[static_cast<std::size_t>(l)]),
                   last = low.begin() +
                          static_cast<std::ptrdiff_t>(offset[static_cast<std::size_t>(l) + 1]);
        const float layer_low = *std::min_element(first, last);
        const float layer_high = *std::max_element(high.begin() + (first - low.begin()),
                                                   high.begin() + (last - low.begin()));
        std::fill(first, last, layer_low);
        std::fill(high.begin() + (first - low.begin()), high.begin() + (last - low.begin()),
                  layer_high);
      }
  }
  const std::vector<std::vector<float>> edges =
      b.rule == Binning::quantile
          ? quantile_edges_within(net, split, offset, b, chunk, options.activation_cache_bytes)
          : std::vector<std::vector<float>>{};
  const int zero_index = value_bins(b);

  // Pass 2: each sample's pattern of bins in each layer, hashed.
  std::vector<std::vector<Sample>> samples(static_cast<std::size_t>(H), std::vector<Sample>(N));
  parallel_for(static_cast<std::ptrdiff_t>(chunks), [&](std::ptrdiff_t ci) {
    const std::size_t lo = static_cast<std::size_t>(ci) * chunk, rows = std::min(chunk, N - lo);
    nn::Activations acts;
    nn::forward(net, split.row(lo), static_cast<int>(rows), acts);
    for (int l = 0; l < H; ++l) {
      const auto width = static_cast<std::size_t>(net.out_size(l));
      const std::size_t base = offset[static_cast<std::size_t>(l)];
      const float* a = acts.outputs[static_cast<std::size_t>(l)].data();
      const float threshold = b.threshold ? *b.threshold : default_threshold(net.activation(l));
      for (std::size_t r = 0; r < rows; ++r) {
        PatternHash h;
        for (std::size_t j = 0; j < width; ++j) {
          const float v = a[r * width + j];
          const std::size_t k = base + j;
          int bin = 0;
          if (b.zero_bin && v == 0.0f)
            bin = zero_index;
          else if (b.rule == Binning::binary)
            bin = v > threshold ? 1 : 0;
          else if (b.rule == Binning::quantile)
            bin = static_cast<int>(std::upper_bound(edges[k].begin(), edges[k].end(), v) -
                                   edges[k].begin());
          else
            bin = uniform_bin(v, low[k], high[k], b.bins);
          h.add(static_cast<std::uint32_t>(bin));
        }
        samples[static_cast<std::size_t>(l)][lo + r] = {h.a, h.b, split.y[lo + r]};
      }
    }
  });

  // Per layer: symbols are the distinct hashes in sorted order, so the histogram does not
  // depend on the order of the samples.
  for (int l = 0; l < H; ++l) {
    std::vector<Sample>& s = samples[static_cast<std::size_t>(l)];
    std::sort(s.begin(), s.end());
    JointHistogram h;
    h.classes = split.classes;
    const auto C = static_cast<std::size_t>(split.classes);
    for (std::size_t i = 0; i < N; ++i) {
      if (i == 0 || s[i].a != s[i - 1].a || s[i].b != s[i - 1].b) {
        ++h.bins;
        h.counts.resize(h.counts.size() + C, 0);
      }
      ++h.counts[(static_cast<std::size_t>(h.bins) - 1) * C + static_cast<std::size_t>(s[i].cls)];
    }
    const HistogramQuantities q = quantities(h, options.estimator);
    out.entropy[static_cast<std::size_t>(l)] = q.entropy;
    out.mutual_information[static_cast<std::size_t>(l)] = q.mutual_information;
    std::vector<Sample>().swap(s);
  }
  return out;
}

}  // namespace ioca::info
