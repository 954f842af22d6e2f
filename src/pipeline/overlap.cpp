// Converted models may carry the images they were trained on (/training_indices); a split
// ioca measures or evaluates on that shares images with them is not held out.
#include <algorithm>

#include "ioca/core.hpp"
#include "ioca/pipeline.hpp"

namespace ioca::pipeline {

std::size_t training_overlap(const std::vector<std::int64_t>& trained_on,
                             const data::LoadOptions& load, const data::Splits& splits,
                             const std::string& split, const std::string& model_path) {
  if (trained_on.empty()) return 0;
  // The official training set is train + validation; rebuild which of its images each holds.
  const std::size_t n = splits.train.samples + splits.validation.samples;
  if (static_cast<std::uint64_t>(trained_on.back()) >= n)
    throw FileError(model_path, "/training_indices holds " + std::to_string(trained_on.back()) +
                                    ", but the training set of " + load.dataset + " has " +
                                    std::to_string(n) + " images (0.." + std::to_string(n - 1) +
                                    "): converted for another data set?");
  if (split == "test" || split == "unseen") return 0;  // test: indices are into the training set
  std::vector<std::size_t> train, validation;
  data::split_indices(n, load.validation_size, load.split_seed, train, validation);
  const std::vector<std::size_t>& used = split == "validation" ? validation : train;
  std::size_t shared = 0;  // both sorted: one merge pass
  auto t = trained_on.begin();
  for (const std::size_t i : used) {
    while (t != trained_on.end() && static_cast<std::uint64_t>(*t) < i) ++t;
    if (t != trained_on.end() && static_cast<std::uint64_t>(*t) == i) ++shared;
  }
  return shared;
}

std::string training_overlap_warning(const io::Model& model, const data::LoadOptions& load,
                                     const data::Splits& splits, const std::string& split,
                                     const std::string& model_path) {
  const std::size_t shared =
      training_overlap(model.training_indices, load, splits, split, model_path);
  if (shared == 0) return "";
  return "warning: " + model_path + ": " + std::to_string(shared) + " of the " +
         std::to_string(split_named(splits, split).samples) + " images of the " + split +
         " split are among the " + std::to_string(model.training_indices.size()) +
         " images the model was trained on (/training_indices), so results on this split are "
         "not on held-out data (the test split shares none; evaluate and measure also offer "
         "--split unseen)";
}

data::Dataset unseen_split(const io::Model& model, const data::LoadOptions& load,
                           const data::Splits& splits, const std::string& model_path) {
  if (model.training_indices.empty())
    throw FileError(model_path, "--split unseen needs the images the model was trained on "
                                "(/training_indices, written by export_torch.py --train-indices)");
  training_overlap(model.training_indices, load, splits, "test", model_path);  // range check
  const std::size_t n = splits.train.samples + splits.validation.samples;
  std::vector<std::size_t> train, validation;
  data::split_indices(n, load.validation_size, load.split_seed, train, validation);
  // Row of each training-set image: in the validation split or in the train split.
  std::vector<const float*> row(n);
  std::vector<std::int32_t> label(n);
  for (std::size_t k = 0; k < validation.size(); ++k) {
    row[validation[k]] = splits.validation.row(k);
    label[validation[k]] = splits.validation.y[k];
  }
  for (std::size_t k = 0; k < train.size(); ++k) {
    row[train[k]] = splits.train.row(k);
    label[train[k]] = splits.train.y[k];
  }
  data::Dataset d;
  d.name = splits.train.name;
  d.features = splits.train.features;
  d.classes = splits.train.classes;
  auto t = model.training_indices.begin();
  for (std::size_t i = 0; i < n; ++i) {
    while (t != model.training_indices.end() && static_cast<std::uint64_t>(*t) < i) ++t;
    if (t != model.training_indices.end() && static_cast<std::uint64_t>(*t) == i) continue;
    d.x.insert(d.x.end(), row[i], row[i] + d.features);
    d.y.push_back(label[i]);
  }
  d.samples = d.y.size();
  if (d.samples == 0)
    throw FileError(model_path, "the model was trained on all " + std::to_string(n) +
                                    " training images of " + load.dataset +
                                    ": --split unseen is empty (use --split test)");
  return d;
}

}  // namespace ioca::pipeline
