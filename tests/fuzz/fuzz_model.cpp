// libFuzzer target: the model-file reader, ioca::io::load_model. The input is the bytes of
// an HDF5 file, written to a scratch file first (the reader takes a path).
#include "fuzz_common.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 22)) return 0;
  const std::string path = ioca_fuzz::write_file("model.h5", data, size);
  try {
    ioca_fuzz::check_model(ioca::io::load_model(path).net);
  } catch (const ioca::Error&) {
  }
  return 0;
}
