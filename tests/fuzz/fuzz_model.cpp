// libFuzzer target: the model-file reader, ioca::io::load_model. The input is the bytes of
// an HDF5 file, written to a scratch file first (the reader takes a path).
#include <cmath>

#include "fuzz_common.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 22)) return 0;
  const std::string path = ioca_fuzz::write_file("model.h5", data, size);
  try {
    const ioca::io::Model m = ioca::io::load_model(path);
    // What load_model promises about a model it returns.
    const ioca::nn::Mlp& net = m.net;
    if (net.num_layers() < 1 ||
        net.activation(net.num_layers() - 1) != ioca::nn::Activation::identity)
      std::abort();
    if (!std::isfinite(net.input_mean) || !(net.input_std > 0.0f) || !std::isfinite(net.input_std))
      std::abort();
    for (int l = 0; l < net.num_layers(); ++l) {
      if (l > 0 && net.in_size(l) != net.out_size(l - 1)) std::abort();
      const float* w = net.weight(l);
      for (std::size_t i = 0;
           i < static_cast<std::size_t>(net.out_size(l)) * static_cast<std::size_t>(net.in_size(l));
           ++i)
        if (!std::isfinite(w[i])) std::abort();
    }
  } catch (const ioca::Error&) {
  }
  return 0;
}
