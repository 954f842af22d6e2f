// Getting a network and what its sweeps need: training, evaluation, measures, ablation
// values, single-neuron damage.
#include <chrono>
#include <cmath>

#include "ioca/core.hpp"
#include "ioca/pipeline.hpp"

namespace ioca::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

nn::Mlp train(const data::Splits& splits, const std::vector<int>& hidden, nn::Activation activation,
              const nn::TrainOptions& options,
              const std::function<void(const nn::EpochStats&)>& on_epoch) {
  return train_with_snapshots(splits, hidden, activation, options, Snapshots{}, on_epoch).net;
}

Trained train_with_snapshots(
    const data::Splits& splits, const std::vector<int>& hidden, nn::Activation activation,
    const nn::TrainOptions& options, const Snapshots& snapshots,
    const std::function<void(const nn::EpochStats&)>& on_epoch,
    const std::function<void(std::int64_t, const info::SnapshotLayers&)>& on_snapshot) {
  Trained out;
  out.net = nn::make_mlp(static_cast<int>(splits.train.features), hidden, activation,
                         splits.train.classes, derive_seed(options.seed, {hash_name("init")}));
  if (snapshots.epochs.empty()) {
    nn::train(out.net, splits.train, options, on_epoch);
    return out;
  }
  for (std::size_t k = 0; k < snapshots.epochs.size(); ++k)
    if (snapshots.epochs[k] < 0 || snapshots.epochs[k] > options.epochs ||
        (k > 0 && snapshots.epochs[k] <= snapshots.epochs[k - 1]))
      throw std::logic_error("train_with_snapshots: unchecked snapshot epochs");
  const data::Dataset& split = split_named(splits, snapshots.split);
  if (split.samples == 0)
    throw Error("the " + snapshots.split + " split of '" + split.name +
                "' is empty: the information-plane snapshots need samples");
  const data::Dataset samples = info::sample_subset(
      split, snapshots.max_samples, derive_seed(options.seed, {hash_name("snapshot_samples")}));
  info::TrainingPlane& plane = out.plane.emplace();
  plane.options = snapshots.options;
  plane.split = snapshots.split;
  plane.samples = samples.samples;
  auto next = snapshots.epochs.begin();
  const auto snapshot_if_due = [&](int epoch) {
    if (next == snapshots.epochs.end() || *next != epoch) return;
    ++next;
    const auto t = Clock::now();
    plane.epochs.push_back(epoch);
    plane.points.push_back(info::plane_snapshot(out.net, samples, snapshots.options));
    out.snapshot_seconds += seconds_since(t);
    if (on_snapshot) on_snapshot(epoch, plane.points.back());
  };
  snapshot_if_due(0);
  nn::train(out.net, splits.train, options, [&](const nn::EpochStats& s) {
    if (on_epoch) on_epoch(s);
    snapshot_if_due(s.epoch);
  });
  return out;
}

io::Attributes trained_attributes(const data::LoadOptions& load, const data::Splits& splits,
                                  const std::vector<int>& hidden, nn::Activation activation,
                                  const nn::TrainOptions& options, const nn::Mlp& net,
                                  const nn::Evaluation& test) {
  io::Attributes a;
  io::add_data_attributes(load, a);
  io::add_training_attributes(hidden, activation, options, a);
  a["test_accuracy"] = test.accuracy;
  a["test_loss"] = test.loss;
  if (splits.validation.samples)
    a["validation_accuracy"] = nn::evaluate(net, splits.validation).accuracy;
  return a;
}

const data::Dataset& split_named(const data::Splits& splits, const std::string& name) {
  if (name == "test") return splits.test;
  if (name == "validation") return splits.validation;
  if (name == "train") return splits.train;
  throw std::logic_error("split_named: unchecked split name " + name);
}

Preparation prepare(nn::Mlp net, const data::Splits& splits, const Settings& settings,
                    const std::string& source) {
  Preparation out;
  auto t = Clock::now();
  out.test = nn::evaluate(net, splits.test);
  out.evaluate_seconds = seconds_since(t);

  t = Clock::now();
  const data::Dataset& estimation = split_named(splits, settings.measure_split);
  out.measure_samples = estimation.samples;
  Prepared& p = out.prepared;
  p.measures = info::measure(net, estimation, settings.measure);
  out.plane = info::information_plane(net, estimation, settings.measure);
  out.measure_seconds = seconds_since(t);

  p.values = ablation_values(net, p.measures, settings.ablate_to, source);
  if (settings.single) {
    t = Clock::now();
    out.single = ablation::single_neuron_damage(net, splits.test, p.values, settings.sweep);
    p.single_accuracy_drop = out.single->accuracy_drop;
    out.single_seconds = seconds_since(t);
  }
  p.fingerprint = nn::fingerprint(net);
  p.net = std::move(net);
  return out;
}

void check_finite(const std::vector<double>& values, const std::string& source,
                  const std::string& what) {
  for (std::size_t j = 0; j < values.size(); ++j)
    if (!std::isfinite(values[j]))
      throw FileError(source, what + " neuron " + std::to_string(j) + " is not finite");
}

ablation::AblationValues ablation_values(const nn::Mlp& net, const info::Measures& measures,
                                         ablation::AblateTo to, const std::string& source) {
  ablation::AblationValues values = ablation::zero_values(net);
  if (to != ablation::AblateTo::mean) return values;
  for (std::size_t l = 0; l < values.size(); ++l) {
    const auto& mean = measures.layers.at(l).mean_activation;
    check_finite(mean, source, "mean_activation of layer " + std::to_string(l));
    for (std::size_t j = 0; j < values[l].size(); ++j) values[l][j] = static_cast<float>(mean[j]);
  }
  return values;
}

}  // namespace ioca::pipeline
