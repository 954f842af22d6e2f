#pragma once
// Shared helpers of the unit tests: class-dependent Gaussian blobs (seeded), trained
// networks, a scratch directory. Shared, not copied per file: the unit tests are compiled
// as a unity build, where two files' helpers of the same name would clash.
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "ioca/ablation.hpp"
#include "ioca/core.hpp"
#include "ioca/data.hpp"
#include "ioca/nn.hpp"

namespace ioca::testing {

// A fresh directory under the system temp dir, removed (with its contents) at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    for (;;) {
      path_ = std::filesystem::temp_directory_path() /
              ("ioca_unit_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Bit-for-bit equality of two vectors. Empty vectors may have null data(), which memcmp
// must not be given (UBSan reports it).
template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

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

// A network trained for 3 epochs on d, so that ablations matter and accuracies move.
inline nn::Mlp trained(nn::Activation act, const data::Dataset& d, std::vector<int> hidden) {
  auto net = nn::make_mlp(static_cast<int>(d.features), hidden, act, d.classes, 21);
  nn::TrainOptions o;
  o.epochs = 3;
  nn::train(net, d, o);
  return net;
}

// The mean activation of each hidden neuron on d (the values of mean ablation).
inline ablation::AblationValues mean_values(const nn::Mlp& net, const data::Dataset& d) {
  nn::Activations acts;
  nn::forward(net, d.x.data(), static_cast<int>(d.samples), acts);
  ablation::AblationValues v;
  for (int l = 0; l < net.num_hidden(); ++l) {
    const auto w = static_cast<std::size_t>(net.out_size(l));
    std::vector<float> m(w, 0.0f);
    for (std::size_t j = 0; j < w; ++j) {
      double s = 0;
      for (std::size_t r = 0; r < d.samples; ++r)
        s += acts.outputs[static_cast<std::size_t>(l)][r * w + j];
      m[j] = static_cast<float>(s / static_cast<double>(d.samples));
    }
    v.push_back(m);
  }
  return v;
}

}  // namespace ioca::testing
