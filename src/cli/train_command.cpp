#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/options.hpp"
#include "ioca/core.hpp"
#include "ioca/pipeline.hpp"
#include "ioca/version.hpp"

namespace ioca::cli {

TrainArgs parse_train_args(const std::vector<std::string>& args, std::string* help_text) {
  po::options_description desc("ioca train: train a fully-connected network and save it");
  desc.add(data_options());
  po::options_description net("Network and training");
  net.add_options()("hidden", po::value<std::string>()->default_value("200x200"),
                    "hidden-layer widths of the network, joined by x or commas: 200x200 or 200,200")(
      "activation", po::value<std::string>()->default_value("relu"),
      "hidden activation: relu | tanh | sigmoid")("epochs", po::value<int>()->default_value(10),
                                                  "passes over the train split")(
      "batch-size", po::value<int>()->default_value(32), "mini-batch size")(
      "lr", real_value(1e-3), "learning rate")(
      "optimizer", po::value<std::string>()->default_value("adam"), "adam | sgd (with momentum)")(
      "momentum", real_value(0.9), "SGD momentum")(
      "weight-decay", real_value(0.0),
      "L2 coefficient added to the gradient")("seed", po::value<long long>()->default_value(1),
                                              "seed of initialisation and shuffling")(
      "out", po::value<std::string>(), "model file to write (HDF5)")("quiet", po::bool_switch(),
                                                                     "no progress on stderr");
  desc.add(net);
  po::options_description plane("Information plane over training (docs/study.md)");
  plane.add_options()("snapshots", po::value<std::string>()->default_value(""),
                      "epochs to measure the information plane after, e.g. 0,1,2,5,10 (0: "
                      "before training); stored under /training/information_plane")(
      "snapshot-split", po::value<std::string>()->default_value("validation"),
      "the split the snapshots measure: validation | train | test")(
      "snapshot-binning", po::value<std::string>()->default_value("uniform"),
      "binning of the binned estimate: uniform | uniform-layer | quantile | binary")(
      "snapshot-bins", po::value<int>()->default_value(30),
      "bins per neuron of the binned estimate")("kde-noise-variance",
                                                real_value(0.1),
                                                "noise variance s2 of the KDE upper bound")(
      "snapshot-samples", po::value<long long>()->default_value(0),
      "at most this many samples of the split, a seeded subset (0: all; the KDE costs N^2)");
  desc.add(plane);
  po::variables_map vm;
  TrainArgs a;
  if (!parse("train", args, desc, vm, help_text)) return a;
  a.data = read_data_args(vm);
  try {
    a.hidden = nn::parse_widths(vm["hidden"].as<std::string>());
  } catch (const Error& e) {
    throw UsageError(std::string("--hidden: ") + e.what());
  }
  double between_hidden = 0.0;  // the input layer is checked once the data is known
  for (std::size_t l = 1; l < a.hidden.size(); ++l)
    between_hidden += (a.hidden[l - 1] + 1.0) * a.hidden[l];
  if (between_hidden > 1e9)
    throw UsageError("--hidden " + vm["hidden"].as<std::string>() +
                     " gives a network of more than 1e9 parameters");
  a.activation = nn::parse_activation(vm["activation"].as<std::string>());
  if (a.activation == nn::Activation::identity)
    throw UsageError("--activation must be relu, tanh or sigmoid");
  a.train.epochs = vm["epochs"].as<int>();
  if (a.train.epochs < 1 || a.train.epochs > 100000)
    throw UsageError("--epochs must be between 1 and 100000");
  a.train.batch_size = vm["batch-size"].as<int>();
  if (a.train.batch_size < 1 || a.train.batch_size > 1 << 20)
    throw UsageError("--batch-size must be between 1 and 1048576");
  a.train.learning_rate = vm["lr"].as<double>();
  if (!(a.train.learning_rate > 0.0 && a.train.learning_rate < 100.0))
    throw UsageError("--lr must be in (0, 100)");
  a.train.optimizer = nn::parse_optimizer(vm["optimizer"].as<std::string>());
  a.train.momentum = vm["momentum"].as<double>();
  if (!(a.train.momentum >= 0.0 && a.train.momentum < 1.0))
    throw UsageError("--momentum must be in [0, 1)");
  a.train.weight_decay = vm["weight-decay"].as<double>();
  if (!(a.train.weight_decay >= 0.0 && a.train.weight_decay < 100.0))
    throw UsageError("--weight-decay must be in [0, 100)");
  const long long seed = vm["seed"].as<long long>();
  if (seed < 0) throw UsageError("--seed must be >= 0");
  a.train.seed = static_cast<std::uint64_t>(seed);
  a.snapshots.epochs = parse_snapshot_epochs(vm["snapshots"].as<std::string>(), a.train.epochs,
                                             "snapshots", "epochs");
  if (a.snapshots.epochs.empty()) {
    for (const char* key : {"snapshot-split", "snapshot-binning", "snapshot-bins",
                            "kde-noise-variance", "snapshot-samples"})
      if (!vm[key].defaulted())
        throw UsageError(std::string("--") + key + " needs --snapshots (the epochs to measure)");
  }
  a.snapshots.split = vm["snapshot-split"].as<std::string>();
  if (a.snapshots.split != "test" && a.snapshots.split != "validation" &&
      a.snapshots.split != "train")
    throw UsageError("--snapshot-split must be test, validation or train, not '" +
                     a.snapshots.split + "'");
  try {
    a.snapshots.options.binning.rule =
        info::parse_binning(vm["snapshot-binning"].as<std::string>());
  } catch (const Error& e) {
    throw UsageError(std::string("--snapshot-binning: ") + e.what());
  }
  a.snapshots.options.binning.bins = vm["snapshot-bins"].as<int>();
  if (a.snapshots.options.binning.bins < 2 || a.snapshots.options.binning.bins > 100000)
    throw UsageError("--snapshot-bins must be between 2 and 100000");
  a.snapshots.options.noise_variance = vm["kde-noise-variance"].as<double>();
  if (!(a.snapshots.options.noise_variance > 0.0 && a.snapshots.options.noise_variance <= 1e6))
    throw UsageError("--kde-noise-variance must be in (0, 1e6]");
  const long long cap = vm["snapshot-samples"].as<long long>();
  if (cap < 0 || cap > 1'000'000'000)
    throw UsageError("--snapshot-samples must be between 0 and 1000000000");
  a.snapshots.max_samples = static_cast<std::size_t>(cap);
  if (!vm.count("out")) throw UsageError("--out is required");
  a.out = vm["out"].as<std::string>();
  a.quiet = vm["quiet"].as<bool>();
  return a;
}

int run_train(const TrainArgs& a) {
  io::check_writable(a.out);
  const data::LoadOptions load = resolve_data(a.data, nullptr);
  const data::Splits splits = data::load(load);
  // An absurd network is bad input, not an "out of memory" internal error.
  double parameters = 0.0;
  double width = static_cast<double>(splits.train.features);
  std::string widths;
  for (const int next : a.hidden) {
    parameters += (width + 1.0) * next;
    width = next;
    widths += (widths.empty() ? "" : ",") + std::to_string(next);
  }
  if (parameters > 1e9)
    throw UsageError("--hidden " + widths + " gives a network of more than 1e9 parameters");
  if (!a.snapshots.epochs.empty() && pipeline::split_named(splits, a.snapshots.split).samples == 0)
    throw UsageError("--snapshot-split " + a.snapshots.split + ": that split of '" + load.dataset +
                     "' is empty (see --validation-size)");
  if (!a.quiet)
    std::fprintf(
        stderr,
        "ioca train: %s, %zu train / %zu validation / %zu test samples, kernels %s, %s\n",
        load.dataset.c_str(), splits.train.samples, splits.validation.samples, splits.test.samples,
        std::string(kernel_isa()).c_str(), count_of(max_threads(), "thread").c_str());
  double train_seconds = 0.0;
  const pipeline::Trained trained = pipeline::train_with_snapshots(
      splits, a.hidden, a.activation, a.train, a.snapshots,
      [&](const nn::EpochStats& s) {
        train_seconds += s.seconds;
        if (!a.quiet)
          std::fprintf(stderr,
                       "epoch %3d  loss %.4f  train accuracy %.4f  %.2f s  %.0f samples/s\n",
                       s.epoch, s.loss, s.accuracy, s.seconds, s.samples_per_second);
      },
      [&](std::int64_t epoch, const info::SnapshotLayers& p) {
        if (a.quiet) return;
        for (std::size_t l = 0; l < p.binned_entropy.size(); ++l)
          std::fprintf(stderr,
                       "snapshot epoch %3lld  layer %zu  binned I(X;T) %.3f%s I(T;Y) %.3f  KDE "
                       "I(X;T) <= %.3f I(T;Y) %.3f bits\n",
                       static_cast<long long>(epoch), l, p.binned_entropy[l],
                       p.saturated[l] ? " (saturated)" : "", p.binned_mutual_information[l],
                       p.kde_upper_xt[l], p.kde_upper_ty[l]);
      });
  const nn::Mlp& net = trained.net;
  const nn::Evaluation test = nn::evaluate(net, splits.test);
  io::Attributes attrs =
      pipeline::trained_attributes(load, splits, a.hidden, a.activation, a.train, net, test);
  attrs["training_seconds"] = train_seconds;
  attrs["git_commit"] = std::string(git_commit);
  if (trained.plane) attrs["snapshot_seconds"] = trained.snapshot_seconds;
  io::save_model(a.out, net, attrs, trained.plane ? &*trained.plane : nullptr);
  std::printf("test accuracy %.4f  loss %.4f  (%s, %zu samples)  saved %s\n", test.accuracy,
              test.loss, load.dataset.c_str(), test.samples, a.out.c_str());
  return exit_ok;
}

}  // namespace ioca::cli
