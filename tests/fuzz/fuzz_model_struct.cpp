// libFuzzer target: the model-file reader, ioca::io::load_model, on well-formed HDF5 files
// whose content is drawn from the input: layer count and names, shapes, element types,
// values (NaN, infinities), activation attributes of any type, input_mean / input_std.
// fuzz_model mutates raw HDF5 bytes, which mostly exercises libhdf5's own parser; this one
// reaches every check of ioca's reader.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>

#include "fuzz_common.hpp"
#include "io/hdf5.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"

namespace h5 = ioca::io::h5;

namespace {

// An attribute of a type and value chosen by the input (or none).
void attribute(FuzzedDataProvider& in, const h5::File& f, hid_t loc, const char* name,
               const std::string& usual) {
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      return;  // missing
    case 1:
      h5::write_attribute(f, loc, name, in.ConsumeRandomLengthString(12));
      return;
    case 2:
      h5::write_attribute(f, loc, name, in.ConsumeFloatingPoint<double>());
      return;
    case 3:
      h5::write_attribute(f, loc, name, in.ConsumeIntegral<std::int64_t>());
      return;
    default:
      if (!usual.empty()) h5::write_attribute(f, loc, name, usual);
      return;
  }
}

// A dataset of a rank, shape, type and values chosen by the input (or none).
void dataset(FuzzedDataProvider& in, const h5::File& f, hid_t loc, const char* name,
             std::vector<hsize_t> dims) {
  const int kind = in.ConsumeIntegralInRange<int>(0, 9);
  if (kind == 0) return;                                                    // missing
  if (kind == 1) dims.push_back(in.ConsumeIntegralInRange<hsize_t>(0, 3));  // rank + 1
  if (kind == 2 && !dims.empty()) dims.pop_back();                          // rank - 1
  if (kind == 3) dims[0] = in.ConsumeIntegralInRange<hsize_t>(0, 40);       // other shape
  hsize_t count = 1;
  for (const auto d : dims) count *= d;
  if (count > 4096) return;
  // A few special values, the rest plain.
  std::vector<double> values(count, 0.25);
  for (std::size_t i = 0; i < values.size() && in.ConsumeBool(); ++i)
    values[in.ConsumeIntegralInRange<std::size_t>(0, values.size() - 1)] =
        in.ConsumeFloatingPoint<double>();
  if (kind == 4) {
    std::vector<std::int64_t> ints(values.size(), 1);
    h5::write_dataset(f, loc, name, ints.data(), dims);
  } else if (kind == 5) {
    h5::write_dataset(f, loc, name, values.data(), dims);
  } else {
    std::vector<float> floats(values.begin(), values.end());
    h5::write_dataset(f, loc, name, floats.data(), dims);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string path = (ioca_fuzz::scratch() / "struct.h5").string();
  try {  // the file, as the input describes it
    h5::File f = h5::create_file(path);
    const hid_t root = f.handle.id();
    attribute(in, f, root, "input_mean", "");
    attribute(in, f, root, "input_std", "");
    attribute(in, f, root, "dataset", "synthetic");
    if (in.ConsumeIntegralInRange<int>(0, 15) != 0) {
      h5::Handle layers = h5::create_group(f, root, "layers");
      const int count = in.ConsumeIntegralInRange<int>(0, 4);
      hsize_t width = in.ConsumeIntegralInRange<hsize_t>(1, 12);
      for (int k = 0; k < count; ++k) {
        std::string name = std::to_string(k);
        if (in.ConsumeIntegralInRange<int>(0, 15) == 0) name = in.ConsumeRandomLengthString(4);
        if (name.empty() || name.find_first_of("/.") != std::string::npos ||
            h5::exists(layers.id(), name))
          continue;
        h5::Handle g = h5::create_group(f, layers.id(), name);
        const hsize_t out = in.ConsumeIntegralInRange<hsize_t>(0, 12);
        dataset(in, f, g.id(), "weight", {out, width});
        dataset(in, f, g.id(), "bias", {out});
        const bool last = k + 1 == count;
        attribute(in, f, g.id(), "activation",
                  last ? "identity" : (in.ConsumeBool() ? "relu" : "tanh"));
        if (in.ConsumeIntegralInRange<int>(0, 7) != 0) width = out;
      }
    }
    h5::close_file(f);
  } catch (const ioca::Error&) {
    return 0;  // a name HDF5 refuses: not a model file to test
  }
  try {
    ioca_fuzz::check_model(ioca::io::load_model(path).net);
  } catch (const ioca::Error&) {
  }
  return 0;
}
