#pragma once
// Files: the model file format of DESIGN.md (HDF5). Writes go to a temporary file that is
// renamed into place only when complete, so a crash never leaves a file that looks valid.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <variant>

#include "ioca/info.hpp"
#include "ioca/nn.hpp"

namespace ioca::io {

// Root attributes beyond the network itself: data set, seed, accuracy, training settings,
// ioca version... Written as HDF5 attributes of the matching type.
using AttributeValue = std::variant<std::string, double, std::int64_t>;
using Attributes = std::map<std::string, AttributeValue>;

struct Model {
  nn::Mlp net;
  Attributes attributes;  // without input_mean / input_std (those live in net)
};

// Version of the model-file layout, stored as root attribute "ioca_model_format".
inline constexpr std::int64_t model_format_version = 1;

void save_model(const std::string& path, const nn::Mlp& net, const Attributes& attributes);

// Reads /layers/0.. in order; checks shapes (weight [out, in], bias [out], consecutive
// layers chain), activation names, and that every weight is finite. Throws
// ioca::FileError naming the file and the problem.
Model load_model(const std::string& path);

// The measures file of DESIGN.md: /layers/K/<quantity> float64 [n_K] per hidden layer K,
// kl_selectivity_class int64; binning, estimator, split and the model's fingerprint as
// root attributes (passed in `attributes`).
inline constexpr std::int64_t measures_format_version = 1;
void save_measures(const std::string& path, const info::Measures& measures, const Attributes& attributes);
struct MeasuresFile {
  info::Measures measures;
  Attributes attributes;
};
// Reads every quantity of every layer; checks the shapes agree within each layer.
MeasuresFile load_measures(const std::string& path);

// Convenience lookups in attributes, with a fallback.
std::string attribute_string(const Attributes& a, const std::string& key,
                             const std::string& fallback);
std::int64_t attribute_int(const Attributes& a, const std::string& key, std::int64_t fallback);

// Fails early (before any computing) unless a file can be created at path: its folder
// must exist and be writable, and path must not be a folder.
void check_writable(const std::string& path);

// Writes to "<path>.tmp.<pid>" through `write`, then renames over path. On any exception
// the temporary file is removed and the exception passes on.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write);

}  // namespace ioca::io
