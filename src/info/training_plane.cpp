// One snapshot of the information plane during training: each hidden layer by binning
// (information_plane) and by the KDE upper bound (kde_upper_bounds), on the same samples.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ioca/core.hpp"
#include "ioca/info.hpp"

namespace ioca::info {

data::Dataset sample_subset(const data::Dataset& d, std::size_t max_samples, std::uint64_t seed) {
  if (max_samples == 0 || max_samples >= d.samples) return d;
  std::vector<std::size_t> order(d.samples);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng rng(seed);
  shuffle(order, rng);
  order.resize(max_samples);
  std::sort(order.begin(), order.end());  // the split's own order, for chunked passes
  return d.subset(order);
}

SnapshotLayers plane_snapshot(const nn::Mlp& net, const data::Dataset& samples,
                              const SnapshotOptions& options) {
  const int H = net.num_hidden();
  const std::size_t N = samples.samples;
  if (N == 0) throw Error("the information plane needs at least one sample");
  SnapshotLayers out;

  MeasureOptions binned;
  binned.binning = options.binning;
  binned.estimator = Estimator::plugin;
  binned.chunk_rows = options.chunk_rows;
  binned.activation_cache_bytes = options.activation_cache_bytes;
  const InformationPlane plane = information_plane(net, samples, binned);
  out.binned_entropy = plane.entropy;
  out.binned_mutual_information = plane.mutual_information;
  const double saturation = 0.99 * std::log2(static_cast<double>(N));
  for (const double h : plane.entropy) out.saturated.push_back(h >= saturation ? 1 : 0);

  // Every hidden layer's activations of the samples, [N, width] each; chunks are forwarded
  // independently (each writes its own rows).
  std::vector<std::vector<float>> values(static_cast<std::size_t>(H));
  for (int l = 0; l < H; ++l)
    values[static_cast<std::size_t>(l)].resize(N * static_cast<std::size_t>(net.out_size(l)));
  const std::size_t chunk = std::max<std::size_t>(1, options.chunk_rows);
  parallel_for(static_cast<std::ptrdiff_t>((N + chunk - 1) / chunk), [&](std::ptrdiff_t ci) {
    const std::size_t lo = static_cast<std::size_t>(ci) * chunk, rows = std::min(chunk, N - lo);
    nn::Activations acts;
    nn::forward(net, samples.row(lo), static_cast<int>(rows), acts);
    for (int l = 0; l < H; ++l) {
      const auto width = static_cast<std::size_t>(net.out_size(l));
      const auto& a = acts.outputs[static_cast<std::size_t>(l)];
      std::copy(
          a.begin(), a.begin() + static_cast<std::ptrdiff_t>(rows * width),
          values[static_cast<std::size_t>(l)].begin() + static_cast<std::ptrdiff_t>(lo * width));
    }
  });
  for (int l = 0; l < H; ++l) {
    const KdeBounds k = kde_upper_bounds(values[static_cast<std::size_t>(l)].data(), N,
                                         static_cast<std::size_t>(net.out_size(l)),
                                         samples.y.data(), samples.classes, options.noise_variance);
    out.kde_upper_xt.push_back(k.xt);
    out.kde_upper_ty.push_back(k.ty);
    std::vector<float>().swap(values[static_cast<std::size_t>(l)]);
  }
  return out;
}

}  // namespace ioca::info
