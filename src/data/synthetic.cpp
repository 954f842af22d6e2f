// Seeded synthetic data: isotropic Gaussian blobs around one centre per class, clipped to
// [0, 1]. Small and fast, for tests and smoke runs; every value follows from spec.seed alone.
//
// Recipe (bit-for-bit, since ioca::Rng is fully specified):
// - centres: Rng(derive_seed(seed, {1})); for class c = 0.., feature j = 0..:
//   centre[c][j] = 0.2 + 0.6 * uniform_double()
// - training set from Rng(derive_seed(seed, {2})), test set from Rng(derive_seed(seed, {3})):
//   for each sample in order, label = below(classes) (independent uniform labels, so class
//   counts vary a little, as in real data), then for each feature
//   x = clip(centre[label][j] + noise * normal(), 0, 1), rounded to float.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ioca/core.hpp"
#include "ioca/data.hpp"

namespace ioca::data {
namespace {

Dataset make_blobs(const SyntheticSpec& spec, const std::vector<double>& centres,
                   std::size_t samples, std::uint64_t seed) {
  Dataset d;
  d.name = "synthetic";
  d.samples = samples;
  d.features = spec.features;
  d.classes = spec.classes;
  reserve_large(d.x, samples * spec.features);
  d.x.resize(samples * spec.features);
  d.y.resize(samples);
  Rng rng(seed);
  const auto classes = static_cast<std::uint64_t>(spec.classes);
  for (std::size_t i = 0; i < samples; ++i) {
    const auto label = static_cast<std::size_t>(rng.below(classes));
    d.y[i] = static_cast<std::int32_t>(label);
    const double* centre = centres.data() + label * spec.features;
    float* row = d.x.data() + i * spec.features;
    for (std::size_t j = 0; j < spec.features; ++j) {
      const double v = centre[j] + spec.noise * rng.normal();
      row[j] = static_cast<float>(std::clamp(v, 0.0, 1.0));
    }
  }
  return d;
}

}  // namespace

Splits make_synthetic(const SyntheticSpec& spec) {
  if (spec.classes < 2) throw Error("synthetic data: classes must be at least 2");
  if (spec.features == 0) throw Error("synthetic data: features must be at least 1");
  if (spec.train_samples == 0 || spec.test_samples == 0) {
    throw Error("synthetic data: train and test sample counts must be at least 1");
  }
  if (!std::isfinite(spec.noise) || spec.noise < 0.0) {
    throw Error("synthetic data: noise must be a finite number >= 0");
  }
  constexpr std::size_t max_values = std::numeric_limits<std::size_t>::max() / sizeof(float);
  const std::size_t most = std::max(spec.train_samples, spec.test_samples);
  if (most > max_values / spec.features) throw Error("synthetic data: too large");

  const auto classes = static_cast<std::size_t>(spec.classes);
  std::vector<double> centres(classes * spec.features);
  Rng centre_rng(derive_seed(spec.seed, {1}));
  for (double& c : centres) c = 0.2 + 0.6 * centre_rng.uniform_double();

  Splits s;
  s.train = make_blobs(spec, centres, spec.train_samples, derive_seed(spec.seed, {2}));
  s.test = make_blobs(spec, centres, spec.test_samples, derive_seed(spec.seed, {3}));
  // No validation split here: load() cuts it from the training set.
  s.validation.name = "synthetic";
  s.validation.features = spec.features;
  s.validation.classes = spec.classes;
  return s;
}

}  // namespace ioca::data
