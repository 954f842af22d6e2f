// libFuzzer target: the CIFAR-10 batch reader, ioca::data::read_cifar10. The input is one
// batch file (gzipped or not: the reader tells by the content).
#include "fuzz_common.hpp"
#include "ioca/core.hpp"
#include "ioca/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 22)) return 0;
  const std::string path = ioca_fuzz::write_file("data_batch.bin", data, size);
  try {
    const ioca::data::Dataset d = ioca::data::read_cifar10({path});
    if (d.features != 3072 || d.classes != 10) std::abort();
    ioca_fuzz::check_dataset(d, 10);
  } catch (const ioca::Error&) {
  }
  return 0;
}
