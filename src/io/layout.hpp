#pragma once
// One description of each file layout (README.md "File formats", docs/study.md): the model,
// measures and ablation layouts as records, every path under `prefix` ("" puts the layout
// at a file's root, as the standalone files have it; the study puts it in a network's
// group). The serial files and the study's results file are both written from these.
#include <string>
#include <vector>

#include "io/record.hpp"
#include "ioca/io.hpp"

namespace ioca::io {

// <prefix>/layers/K/{weight, bias} float32, @activation; on <prefix>: ioca_model_format,
// input_mean, input_std and `attributes`.
void add_model(Record& r, const std::string& prefix, const nn::Mlp& net,
               const Attributes& attributes);
nn::Mlp model_from_record(const Record& r, const std::string& prefix);

// <prefix>/layers/K/<quantity> float64 [n_K], kl_selectivity_class and bins_used int64,
// histogram int64 [n_K, bins, classes] when kept, with pairs <prefix>/layers/K/pairs/
// {first, second} int64 [P] and each pair quantity float64 [P]; on <prefix>:
// ioca_measures_format, samples, classes, units and `attributes` (measure_attributes and
// more).
void add_measures(Record& r, const std::string& prefix, const info::Measures& m,
                  const Attributes& attributes);
// Per-neuron quantities by name (only what ordering and ablation need; not the pairs).
info::Measures measures_from_record(const Record& r, const std::string& prefix, int hidden_layers);

// <prefix>/information_plane/{entropy, mutual_information} float64 [H], @units.
void add_information_plane(Record& r, const std::string& prefix, const info::InformationPlane& p);
// <prefix>/training/information_plane: epochs int64 [S]; per hidden layer K,
// layers/K/{binned_entropy, binned_mutual_information, kde_upper_xt, kde_upper_ty} float64
// [S] and saturated int64 [S] (0 or 1); attributes binning, bins, kde_noise_variance,
// samples, log2_samples, split, units.
void add_training_plane(Record& r, const std::string& prefix, const info::TrainingPlane& p);
// <prefix>/hidden_widths int64 [H].
void add_hidden_widths(Record& r, const std::string& prefix, const std::vector<int>& widths);
// <prefix>/ablation/<scope>/... for every curve of `results` and @neurons on each scope
// (not hidden_widths nor single-neuron damage). Throws ioca::Error for an order that names
// a neuron outside its scope.
void add_ablation_curves(Record& r, const std::string& prefix, const AblationResults& results);
// <prefix>/single_neuron/layers/K/{accuracy_drop, loss_increase}, @intact_accuracy and
// @intact_loss on <prefix>/single_neuron.
void add_single_damage(Record& r, const std::string& prefix, const ablation::SingleDamage& d);
// <prefix>/pair_interaction/layers/K/ for each selection (hidden layer K = its layer): int64
// [Q] first, second, group (0 redundant, 1 synergistic, 2 random); float64 [Q] accuracy_drop
// and loss_increase (of the pair), accuracy_interaction and loss_interaction
// (ablation::pair_interaction against `alone`), redundancy, synergy; attributes count (pairs
// per group) and groups ("redundant,synergistic,random"); nothing for a selection without
// pairs. `together` is the pair damage of the selections' pairs in order, one selection
// after another.
void add_pair_interaction(Record& r, const std::string& prefix,
                          const std::vector<ablation::PairSelection>& selections,
                          const ablation::PairDamage& together,
                          const ablation::SingleDamage& alone);

}  // namespace ioca::io
