#pragma once
// Data for the unit tests: class-dependent Gaussian blobs, seeded.
#include <cstdint>

#include "ioca/core.hpp"
#include "ioca/data.hpp"

namespace ioca::testing {

// n samples of `features` features: class centres uniform in [0, 1), x = centre + noise * N(0, 1).
// Labels are round-robin (every class present, equal counts) or drawn at random.
inline data::Dataset gaussian_blobs(std::size_t n, std::size_t features, int classes,
                                    std::uint64_t seed, float noise, bool round_robin = false) {
  data::Dataset d;
  d.name = "blobs";
  d.samples = n;
  d.features = features;
  d.classes = classes;
  Rng rng(seed);
  std::vector<float> centres(static_cast<std::size_t>(classes) * features);
  for (auto& c : centres) c = rng.uniform_float();
  for (std::size_t i = 0; i < n; ++i) {
    const int y = round_robin ? static_cast<int>(i % static_cast<std::size_t>(classes))
                              : static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
    d.y.push_back(y);
    for (std::size_t f = 0; f < features; ++f)
      d.x.push_back(centres[static_cast<std::size_t>(y) * features + f] +
                    noise * static_cast<float>(rng.normal()));
  }
  return d;
}

}  // namespace ioca::testing
