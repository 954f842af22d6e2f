#pragma once
// Files: the model, measures and ablation files of docs/file-formats.md (HDF5). Writes go
// to a temporary file that is renamed into place only when complete, so a crash never
// leaves a file that looks valid.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ioca/ablation.hpp"
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
  // /training_indices (optional, written by analysis/export_torch.py --train-indices): the
  // images of the official training set (0-based, file order) the model was trained on,
  // sorted and distinct. Empty when the file does not say.
  std::vector<std::int64_t> training_indices;
};

// Version of the model-file layout, stored as root attribute "ioca_model_format".
inline constexpr std::int64_t model_format_version = 1;

// With a training plane (ioca train --snapshots), also /training/information_plane
// (io/layout.hpp, add_training_plane).
void save_model(const std::string& path, const nn::Mlp& net, const Attributes& attributes,
                const info::TrainingPlane* plane = nullptr);

// Reads /layers/0.. in order; checks shapes (weight [out, in], bias [out], consecutive
// layers chain), activation names, and that every weight is finite; and /training_indices
// when present (1-D integers >= 0). Throws ioca::FileError naming the file and the problem.
Model load_model(const std::string& path);

// The measures file of docs/file-formats.md: /layers/K/<quantity> float64 [n_K] per hidden layer K,
// kl_selectivity_class int64; binning, estimator, split and the model's fingerprint as
// root attributes (passed in `attributes`).
inline constexpr std::int64_t measures_format_version = 1;
void save_measures(const std::string& path, const info::Measures& measures,
                   const Attributes& attributes);
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

// The data set and split a model was trained on, as root attributes of the model file
// (dataset, validation_size, split_seed, synthetic_*), and back: apply_data_attributes
// overrides the fields of `o` that the attributes give.
void add_data_attributes(const data::LoadOptions& o, Attributes& a);
void apply_data_attributes(const Attributes& a, data::LoadOptions& o);
// How a model was trained, as root attributes of the model file: hidden, activation, seed,
// epochs, batch_size, learning_rate, optimizer, momentum, weight_decay.
void add_training_attributes(const std::vector<int>& hidden, nn::Activation activation,
                             const nn::TrainOptions& t, Attributes& a);

// How measures were estimated, as attributes of a measures file or group: binning, bins,
// zero_bin, threshold (when given), estimator, split, model_fingerprint.
Attributes measure_attributes(const info::MeasureOptions& o, const std::string& split,
                              const std::string& model_fingerprint);

// Fails early (before any computing) unless a file can be created at path: its folder
// must exist and be writable, and path must not be a folder.
void check_writable(const std::string& path);

// Why writing `path` failed, as a user should read it ("no space left on device"): from
// `error_number` (errno of the failed call) when it is one that writes give (ENOSPC, EDQUOT,
// EROFS, EIO, EFBIG), else from the file's folder as it is now: a read-only file system, no
// free blocks, or the error of a small test write there. Empty when none of these shows a
// problem.
std::string write_failure_cause(const std::string& path, int error_number = 0);
// The problem for a FileError on `path`: "<what>: <cause>", or `what` alone when no cause
// shows; `error_number` as above.
std::string write_failure_message(const std::string& what, const std::string& path,
                                  int error_number = 0);

// Writes to "<path>.tmp.<pid>" through `write`, then renames over path. On any exception
// the temporary file is removed and the exception passes on.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write);

// The ablation file of docs/file-formats.md (`ioca ablate --out`), format version 1 (root attribute
// "ioca_ablation_format"). Curves hold the values at the recorded points (`ablated`);
// orders are stored as indices into the scope's enumeration (layer scopes: the neuron index;
// `network`: the pooled index, layer by layer), so the hidden widths are stored too
// (/hidden_widths int64 [H]) to turn them back into neurons.
inline constexpr std::int64_t ablation_format_version = 1;

struct OrderedCurve {  // /ablation/<scope>/<quantity>/<direction>
  std::string scope;
  std::string quantity;
  ablation::Direction direction = ablation::Direction::ascending;
  std::vector<ablation::Neuron> order;
  ablation::Curve curve;
  // Neurons of the scope whose value equals another's (attribute `tied` of the group);
  // unknown (absent) in files written before ties were broken at random.
  std::optional<std::int64_t> tied;
};
struct RandomCurves {  // /ablation/<scope>/random, R repeats on the same recorded points
  std::string scope;
  std::vector<std::vector<ablation::Neuron>> orders;
  std::vector<ablation::Curve> curves;
};
struct CustomCurve {  // /ablation/<scope>/custom/<name>
  std::string scope;
  std::string name;
  std::vector<ablation::Neuron> order;
  ablation::Curve curve;
};
struct AblationResults {
  std::vector<int> hidden_widths;  // neurons per hidden layer of the network ablated
  int classes = 0;
  std::vector<OrderedCurve> ordered;
  std::vector<RandomCurves> random;
  std::vector<CustomCurve> custom;
  std::optional<ablation::SingleDamage> single;  // /single_neuron
};

// Writes atomically. Root attributes: `attributes` plus ioca_ablation_format, ioca_version,
// classes, and (with single-neuron damage) intact_accuracy and intact_loss. Throws
// ioca::Error if a curve or order does not fit hidden_widths.
void save_ablation(const std::string& path, const AblationResults& results,
                   const Attributes& attributes);
struct AblationFile {
  AblationResults results;
  Attributes attributes;
};
// Reads everything back; checks every shape. Throws ioca::FileError naming the file.
AblationFile load_ablation(const std::string& path);

}  // namespace ioca::io
