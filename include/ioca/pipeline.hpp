#pragma once
// One network's pipeline, shared by the single commands (`train`, `measure`, `ablate`) and
// the study runner (`ioca run`): train or load, evaluate, measure, order, sweep. A command
// is parse -> pipeline -> write a file; a study task is pipeline -> record. Both write
// through the same layouts (io), so a study of model files equals standalone
// `ioca measure` + `ioca ablate` bit for bit.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ioca/ablation.hpp"
#include "ioca/data.hpp"
#include "ioca/info.hpp"
#include "ioca/io.hpp"
#include "ioca/nn.hpp"

namespace ioca::pipeline {

// A new network trained as `ioca train` trains it: initialised from
// derive_seed(options.seed, {hash_name("init")}), then trained on the train split.
nn::Mlp train(const data::Splits& splits, const std::vector<int>& hidden, nn::Activation activation,
              const nn::TrainOptions& options,
              const std::function<void(const nn::EpochStats&)>& on_epoch = {});
// The information plane over training (docs/study.md, "Information plane over training"):
// snapshots after the given epochs (0 = before training), each on the same samples of the
// estimation split: all of it, or max_samples of it chosen by info::sample_subset with the
// seed derive_seed(options.seed, {hash_name("snapshot_samples")}).
struct Snapshots {
  std::vector<int> epochs;  // increasing, distinct, in [0, epochs]; empty: no snapshots
  std::string split = "validation";
  std::size_t max_samples = 0;  // 0: the whole split
  info::SnapshotOptions options;
};
struct Trained {
  nn::Mlp net;
  std::optional<info::TrainingPlane> plane;  // with snapshots
  double snapshot_seconds = 0;               // spent measuring them (not training)
};
// train() with snapshots. Measuring reads the network between epochs and draws nothing from
// the training's random streams: the trained network is the same bits with or without
// snapshots. on_epoch runs before an epoch's snapshot (it may stop the run by throwing);
// on_snapshot after it.
Trained train_with_snapshots(
    const data::Splits& splits, const std::vector<int>& hidden, nn::Activation activation,
    const nn::TrainOptions& options, const Snapshots& snapshots,
    const std::function<void(const nn::EpochStats&)>& on_epoch = {},
    const std::function<void(std::int64_t epoch, const info::SnapshotLayers&)>& on_snapshot = {});

// Its model-file attributes: data set and split, training settings, test_accuracy,
// test_loss, and validation_accuracy when there is a validation split.
io::Attributes trained_attributes(const data::LoadOptions& load, const data::Splits& splits,
                                  const std::vector<int>& hidden, nn::Activation activation,
                                  const nn::TrainOptions& options, const nn::Mlp& net,
                                  const nn::Evaluation& test);

// The split named test, validation or train.
const data::Dataset& split_named(const data::Splits& splits, const std::string& name);

// How many images of the named split are among `trained_on` (a model's sorted, distinct
// /training_indices into the official training set; the test split shares none). Throws
// FileError naming model_path for an index beyond the training set.
std::size_t training_overlap(const std::vector<std::int64_t>& trained_on,
                             const data::LoadOptions& load, const data::Splits& splits,
                             const std::string& split, const std::string& model_path);
// One line "warning: <model>: K of the N images of the <split> split are among ...", or ""
// when the split shares no image with the model's training images.
std::string training_overlap_warning(const io::Model& model, const data::LoadOptions& load,
                                     const data::Splits& splits, const std::string& split,
                                     const std::string& model_path);
// The split "unseen" of `evaluate` and `measure`: the images of the official training set
// that are not among the model's /training_indices, in index order. Throws FileError naming
// model_path when the model records no training indices, or was trained on every image.
data::Dataset unseen_split(const io::Model& model, const data::LoadOptions& load,
                           const data::Splits& splits, const std::string& model_path);

// What prepare computes besides the network.
struct Settings {
  std::string measure_split = "validation";
  info::MeasureOptions measure;
  ablation::AblateTo ablate_to = ablation::AblateTo::zero;
  bool single = false;           // single-neuron damage
  ablation::SweepOptions sweep;  // engine, chunk rows and memory budget of the test passes
};

// What the sweeps of a network need (a study rebuilds it from the prepare record).
struct Prepared {
  nn::Mlp net;
  info::Measures measures;  // empty when there are none (ioca ablate without --measures)
  std::vector<std::vector<double>> single_accuracy_drop;  // empty without single damage
  ablation::AblationValues values;
  std::string fingerprint;
};

// Everything prepare computes.
struct Preparation {
  Prepared prepared;
  nn::Evaluation test;
  std::size_t measure_samples = 0;
  info::InformationPlane plane;
  std::optional<ablation::SingleDamage> single;
  double evaluate_seconds = 0, measure_seconds = 0, single_seconds = 0;
};
// Test evaluation; measures and information plane on the estimation split; ablation
// values; single-neuron damage when asked. `source` names the network in errors.
Preparation prepare(nn::Mlp net, const data::Splits& splits, const Settings& settings,
                    const std::string& source);

// Throws ioca::FileError(source, "<what> neuron j is not finite") for the first value that
// is not (a neuron cannot be set to it, nor ordered by it).
void check_finite(const std::vector<double>& values, const std::string& source,
                  const std::string& what);
// The constant each neuron is set to when ablated: 0, or its mean activation from
// `measures` (checked finite; `source` names them in errors).
ablation::AblationValues ablation_values(const nn::Mlp& net, const info::Measures& measures,
                                         ablation::AblateTo to, const std::string& source);

// The seed of random order r of a scope: derive_seed(seed, {hash_name(fingerprint),
// hash_name(scope), r}) (README.md, "Orders").
std::uint64_t random_order_seed(std::uint64_t seed, const std::string& fingerprint,
                                const std::string& scope, std::uint64_t r);

// The seed of the tie-breaking permutation of the orders of a scope by a quantity (the same
// for both directions): derive_seed(seed, {hash_name("ties"), hash_name(fingerprint),
// hash_name(scope), hash_name(quantity)}) (README.md, "Orders"). `seed` is the one random
// orders use, so ties, like random orders, follow from the ablation seed and the network.
std::uint64_t tie_seed(std::uint64_t seed, const std::string& fingerprint,
                       const std::string& scope, const std::string& quantity);

// The quantity that orders by single-neuron damage (accuracy_drop).
inline constexpr std::string_view single_damage = "single_damage";

// Ablation results of a network with no orders yet (its hidden widths and classes).
io::AblationResults no_orders(const nn::Mlp& net);
// Orders of a scope by a quantity (a measured one, or "single_damage"), one per direction,
// ties broken by the permutation of tie_seed(seed, p.fingerprint, scope, quantity), each
// with its count of tied neurons; a NaN value is an error naming `source` (where the
// measures come from).
void add_quantity_orders(io::AblationResults& r, const Prepared& p, const ablation::Scope& scope,
                         const std::string& quantity,
                         const std::vector<ablation::Direction>& directions, std::uint64_t seed,
                         const std::string& source);
// `count` random orders of a scope (none for 0), seeded by random_order_seed.
void add_random_orders(io::AblationResults& r, const ablation::Scope& scope, std::uint64_t seed,
                       const std::string& fingerprint, int count);
// Runs every order of `r` on the test split and fills in its curve, recorded at every
// step (steps = 0) or at even_points(n, steps). Orders with the same recording points run
// together, so the threads share the work; the curves do not depend on the grouping.
void sweep(const Prepared& p, const data::Dataset& test, io::AblationResults& r,
           const ablation::SweepOptions& options, std::int64_t steps);

}  // namespace ioca::pipeline
