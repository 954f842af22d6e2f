#pragma once
// Shared pieces of the libFuzzer targets: each input is written to a scratch file (the
// readers under test take paths), in a folder of this process's own under $TMPDIR.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "ioca/data.hpp"
#include "ioca/nn.hpp"

namespace ioca_fuzz {

// $TMPDIR/ioca-fuzz-<pid>, created on first use and removed at a normal exit. (Never
// destroyed: an atexit handler must still be able to read it.)
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path* dir = [] {
    auto* d = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                        ("ioca-fuzz-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch(), ignored);
    });
    return d;
  }();
  return *dir;
}

// Writes bytes to scratch()/name (replacing it) and returns the path.
inline std::string write_file(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const std::string path = (scratch() / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  if (std::fclose(f) != 0) std::abort();
  return path;
}

// What the readers promise about what they return; a broken promise aborts (a finding).
// A data set: consistent sizes, labels in [0, classes), pixels scaled to [0, 1].
inline void check_dataset(const ioca::data::Dataset& d, int classes) {
  if (d.samples == 0 || d.features == 0 || d.x.size() != d.samples * d.features ||
      d.y.size() != d.samples)
    std::abort();
  for (const auto y : d.y)
    if (y < 0 || y >= classes) std::abort();
  for (const float x : d.x)
    if (!(x >= 0.0f && x <= 1.0f)) std::abort();
}

// A network: layers that chain, an identity output layer, finite weights, biases and input
// normalisation.
inline void check_model(const ioca::nn::Mlp& net) {
  if (net.num_layers() < 1 ||
      net.activation(net.num_layers() - 1) != ioca::nn::Activation::identity)
    std::abort();
  if (!std::isfinite(net.input_mean) || !(net.input_std > 0.0f) || !std::isfinite(net.input_std))
    std::abort();
  for (int l = 0; l < net.num_layers(); ++l) {
    if (net.in_size(l) < 1 || net.out_size(l) < 1) std::abort();
    if (l > 0 && net.in_size(l) != net.out_size(l - 1)) std::abort();
    const std::size_t n =
        static_cast<std::size_t>(net.out_size(l)) * static_cast<std::size_t>(net.in_size(l));
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(net.weight(l)[i])) std::abort();
    for (int i = 0; i < net.out_size(l); ++i)
      if (!std::isfinite(net.bias(l)[i])) std::abort();
  }
}

}  // namespace ioca_fuzz
