// `ioca run`: the study config (INI sections = option prefixes, e.g. [train] epochs = 5 is
// --train.epochs 5) into a StudyConfig, then the MPI study runner.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/options.hpp"
#include "ioca/core.hpp"
#include "ioca/study.hpp"
#include "study/dry_run.hpp"

namespace ioca::cli {
namespace {

// A whole decimal integer, or -1 when the text is not one (or is negative): the list items
// of a study config that are counts or seeds.
long long whole_number(const std::string& text) {
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  return used == text.size() ? v : -1;
}

// "a, b ,c" into its items; empty text gives no items.
std::vector<std::string> items(const std::string& text, const std::string& option) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b == std::string::npos) {
      if (text.find_first_not_of(" \t") == std::string::npos) return {};
      throw UsageError("--" + option + " has an empty item: '" + text + "'");
    }
    out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// network.hidden: architectures separated by ',' (or ';'), each its widths joined by 'x'.
// `ioca train --hidden 64,32` is one network of two layers; the same text here would be two
// networks of one layer. So a ','-list of two or more bare widths is refused: 64x32 is the
// one network, 64;32 the several one-layer networks (';' can mean nothing else).
std::vector<std::vector<int>> architectures(const std::string& text) {
  const bool by_semicolon = text.find(';') != std::string::npos;
  std::vector<std::string> list;
  if (by_semicolon) {
    if (text.find(',') != std::string::npos)
      throw UsageError("--network.hidden: '" + text +
                       "' mixes ',' and ';' between architectures (use one of them; widths "
                       "are joined by x, e.g. 64x32; 128)");
    std::string commas = text;
    std::replace(commas.begin(), commas.end(), ';', ',');
    list = items(commas, "network.hidden");
  } else {
    list = items(text, "network.hidden");
  }
  const bool all_bare = std::all_of(list.begin(), list.end(), [](const std::string& a) {
    return a.find('x') == std::string::npos;
  });
  if (!by_semicolon && list.size() >= 2 && all_bare) {
    std::string x_joined, semi_joined;
    for (const auto& a : list) {
      x_joined += (x_joined.empty() ? "" : "x") + a;
      semi_joined += (semi_joined.empty() ? "" : "; ") + a;
    }
    throw UsageError("--network.hidden: '" + text + "' is ambiguous: in a study ',' separates "
                     "architectures (networks of one hidden layer each), but ioca train reads "
                     "it as one network's widths. Write " + x_joined +
                     " for one network with these hidden layers, or " + semi_joined +
                     " for networks of one hidden layer each (docs/study.md)");
  }
  std::vector<std::vector<int>> out;
  for (const auto& a : list) {
    try {
      out.push_back(nn::parse_widths(a));
    } catch (const Error& e) {
      throw UsageError("--network.hidden: '" + a + "' is not an architecture like 200x200 (" +
                       e.what() + ")");
    }
  }
  return out;
}

template <class T>
T bounded(const po::variables_map& vm, const std::string& key, T low, T high) {
  const T v = vm[key].as<T>();
  if (!(v >= low && v <= high)) {
    std::ostringstream os;
    os << "--" << key << " must be between " << low << " and " << high << ", not " << v;
    throw UsageError(os.str());
  }
  return v;
}

bool yes(const po::variables_map& vm, const std::string& key) {
  const std::string v = vm[key].as<std::string>();
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  throw UsageError("--" + key + " must be true or false, not '" + v + "'");
}

po::options_description study_options() {
  po::options_description d("Study (INI sections are the prefixes: [train] epochs = 5)");
  const auto s = [](const char* v) { return po::value<std::string>()->default_value(v); };
  d.add_options()("name", s("study"), "study name (recorded in the results file)")
      // data
      ("data.datasets", s("mnist"), "data sets: mnist, fashion-mnist, cifar10, synthetic")(
          "data.data_dir", s(""),
          "data folder (default $IOCA_DATA/<data set>, else data/<data set>)")(
          "data.validation_size", po::value<long long>(),
          "validation samples held out of the training set (default 10000; synthetic 1000)")(
          "data.split_seed", po::value<long long>()->default_value(0), "seed of the split")(
          "data.split_seeds", s(""),
          "split seed of each network seed (a list parallel to network.seeds), or 'seed': the "
          "network's seed; empty: data.split_seed for all")(
          "data.synthetic_samples", po::value<long long>()->default_value(6000),
          "synthetic: training samples")("data.synthetic_test_samples",
                                         po::value<long long>()->default_value(2000),
                                         "synthetic: test samples")(
          "data.synthetic_features", po::value<long long>()->default_value(64),
          "synthetic: features")("data.synthetic_classes", po::value<int>()->default_value(10),
                                 "synthetic: classes")(
          "data.synthetic_noise", real_value(0.35), "synthetic: noise")(
          "data.synthetic_seed", po::value<long long>()->default_value(7), "synthetic: seed")
      // network grid
      ("network.hidden", s("200x200"),
       "architectures: widths joined by x, architectures by ',' (64x32, 128); several of one "
       "layer each by ';' (64; 128)")(
          "network.activations", s("relu"), "relu, tanh, sigmoid")(
          "network.seeds", s("1"), "training seeds (one network per seed)")(
          "network.models", s(""), "model files to study instead of training (comma-separated)")
      // training
      ("train.epochs", po::value<int>()->default_value(10), "passes over the train split")(
          "train.batch_size", po::value<int>()->default_value(32), "mini-batch size")(
          "train.lr", real_value(1e-3), "learning rate")(
          "train.optimizer", s("adam"), "adam | sgd")(
          "train.momentum", real_value(0.9), "SGD momentum")(
          "train.weight_decay", real_value(0.0), "L2 coefficient")(
          "train.snapshots", s(""),
          "epochs of the information-plane snapshots, e.g. 0, 1, 2, 5, 10 (0: before training; "
          "empty: none)")("train.snapshot_binning", s("uniform"),
                          "binning of the snapshots' binned estimate")(
          "train.snapshot_bins", po::value<int>()->default_value(30),
          "bins per neuron of the snapshots' binned estimate")(
          "train.kde_noise_variance", real_value(0.1),
          "noise variance of the snapshots' KDE upper bound")(
          "train.snapshot_samples", po::value<long long>()->default_value(0),
          "samples of measure.split the snapshots use, a seeded subset (0: all)")
      // measures
      ("measure.split", s("validation"), "estimation split: validation | train | test")(
          "measure.binning", s("uniform"),
          "uniform | uniform-layer | quantile | binary; a list measures under each")(
          "measure.bins", s("30"), "bins per neuron; a list measures under each")(
          "measure.zero_bin", s("false"), "exact zeros get their own bin")(
          "measure.threshold", po::value<double>(), "binary binning threshold")(
          "measure.estimator", s("plugin"), "plugin | miller-madow; a list measures under each")(
          "measure.mi_null", po::value<int>()->default_value(0),
          "label permutations for each neuron's MI null (0: none)")(
          "measure.pairs", s("false"),
          "decompose the information of every pair of neurons of a layer (redundancy, unique, "
          "synergy), under every measure setting")
      // ablation
      ("ablation.quantities", s("entropy, mutual_information, kl_selectivity"),
       "quantities to order by (any measure, or single_damage)")(
          "ablation.directions", s("ascending, descending"), "ascending, descending")(
          "ablation.scopes", s("all"), "all, or layer0, layer1, ..., network")(
          "ablation.random", po::value<int>()->default_value(10), "random orders per scope")(
          "ablation.ablate_to", s("zero"), "zero | mean")(
          "ablation.steps", po::value<long long>()->default_value(0),
          "record at this many evenly spaced points (0: every step)")("ablation.single", s("true"),
                                                                      "single-neuron damage")(
          "ablation.pair_interactions", po::value<long long>()->default_value(0),
          "pairs per group (most redundant, most synergistic, random) and hidden layer ablated "
          "together, against their single-neuron damage (0: none; needs measure.pairs)")(
          "ablation.chunk_rows", po::value<long long>()->default_value(256),
          "test samples per task")
      // run
      ("run.checkpoint_interval", real_value(60.0),
       "seconds between checkpoints")(
          "run.checkpoint_segments", po::value<long long>()->default_value(256),
          "checkpoint files after the base before the chain is compacted into a new base")(
          "run.memory_budget", po::value<long long>()->default_value(512),
          "MiB of cached activations and ablation blocks per running task (a rank runs one "
          "task per OpenMP thread; results do not change)");
  return d;
}

// The options of `ioca run` itself; the rest are study keys.
po::options_description run_options() {
  po::options_description d("Run");
  d.add_options()("out", po::value<std::string>(), "results file to write (HDF5)")(
      "resume", po::bool_switch(), "continue from <out>.checkpoint when it exists")(
      "force", po::bool_switch(),
      "overwrite <out> and discard a checkpoint, even of a different config")(
      "quiet", po::bool_switch(), "no progress on stderr")(
      "dry-run", po::bool_switch(),
      "only list the networks and tasks and estimate file size, time per phase and a SLURM "
      "request from a short calibration (rank 0; writes nothing; --out optional)");
  return d;
}

study::StudyConfig read_study(const po::variables_map& vm) {
  study::StudyConfig c;
  c.name = vm["name"].as<std::string>();
  if (c.name.empty()) throw UsageError("--name must not be empty");
  c.datasets = items(vm["data.datasets"].as<std::string>(), "data.datasets");
  for (const auto& d : c.datasets) data::check_dataset_name(d);
  c.data_dir = vm["data.data_dir"].as<std::string>();
  if (vm.count("data.validation_size"))
    c.validation_size =
        static_cast<std::size_t>(bounded<long long>(vm, "data.validation_size", 0, 1'000'000'000));
  c.split_seed =
      static_cast<std::uint64_t>(bounded<long long>(vm, "data.split_seed", 0, INT64_MAX));
  c.synthetic.train_samples =
      static_cast<std::size_t>(bounded<long long>(vm, "data.synthetic_samples", 1, 100'000'000));
  c.synthetic.test_samples = static_cast<std::size_t>(
      bounded<long long>(vm, "data.synthetic_test_samples", 1, 100'000'000));
  c.synthetic.features =
      static_cast<std::size_t>(bounded<long long>(vm, "data.synthetic_features", 1, 1'000'000));
  c.synthetic.classes = bounded<int>(vm, "data.synthetic_classes", 2, 100000);
  c.synthetic.noise = bounded<double>(vm, "data.synthetic_noise", 0.0, 1e6);
  c.synthetic.seed =
      static_cast<std::uint64_t>(bounded<long long>(vm, "data.synthetic_seed", 0, INT64_MAX));

  c.architectures = architectures(vm["network.hidden"].as<std::string>());
  c.activations.clear();
  for (const auto& a : items(vm["network.activations"].as<std::string>(), "network.activations")) {
    const auto act = nn::parse_activation(a);
    if (act == nn::Activation::identity)
      throw UsageError("--network.activations: use relu, tanh or sigmoid");
    c.activations.push_back(act);
  }
  c.seeds.clear();
  for (const auto& s : items(vm["network.seeds"].as<std::string>(), "network.seeds")) {
    const long long v = whole_number(s);
    if (v < 0)
      throw UsageError("--network.seeds: '" + s + "' is not a seed >= 0");
    c.seeds.push_back(static_cast<std::uint64_t>(v));
  }
  c.model_files = items(vm["network.models"].as<std::string>(), "network.models");
  c.split_seeds_text = join(items(vm["data.split_seeds"].as<std::string>(), "data.split_seeds"));
  if (!c.split_seeds_text.empty()) {
    if (!c.model_files.empty())
      throw UsageError("--data.split_seeds is for trained networks (model files bring their split)");
    if (!vm["data.split_seed"].defaulted())
      throw UsageError("give --data.split_seed or --data.split_seeds, not both");
    if (c.split_seeds_text == "seed") {
      c.split_seeds = c.seeds;
    } else {
      for (const auto& s : items(c.split_seeds_text, "data.split_seeds")) {
        const long long v = whole_number(s);
        if (v < 0)
          throw UsageError("--data.split_seeds: '" + s + "' is not a seed >= 0 (or give 'seed')");
        c.split_seeds.push_back(static_cast<std::uint64_t>(v));
      }
      if (c.split_seeds.size() != c.seeds.size())
        throw UsageError("--data.split_seeds has " + std::to_string(c.split_seeds.size()) +
                         " seeds for " + std::to_string(c.seeds.size()) +
                         " network seeds (give one per network seed, or 'seed')");
    }
  }
  if (c.model_files.empty() &&
      (c.datasets.empty() || c.architectures.empty() || c.activations.empty() || c.seeds.empty()))
    throw UsageError(
        "the study has no networks: give data.datasets, network.hidden, "
        "network.activations and network.seeds, or network.models");

  c.train.epochs = bounded<int>(vm, "train.epochs", 1, 100000);
  c.train.batch_size = bounded<int>(vm, "train.batch_size", 1, 1 << 20);
  c.train.learning_rate = vm["train.lr"].as<double>();
  if (!(c.train.learning_rate > 0.0 && c.train.learning_rate < 100.0))
    throw UsageError("--train.lr must be in (0, 100)");
  c.train.optimizer = nn::parse_optimizer(vm["train.optimizer"].as<std::string>());
  c.train.momentum = vm["train.momentum"].as<double>();
  if (!(c.train.momentum >= 0.0 && c.train.momentum < 1.0))
    throw UsageError("--train.momentum must be in [0, 1)");
  c.train.weight_decay = bounded<double>(vm, "train.weight_decay", 0.0, 99.0);

  c.snapshots = parse_snapshot_epochs(vm["train.snapshots"].as<std::string>(), c.train.epochs,
                                      "train.snapshots", "train.epochs");
  if (c.snapshots.empty()) {
    for (const char* key : {"train.snapshot_binning", "train.snapshot_bins",
                            "train.kde_noise_variance", "train.snapshot_samples"})
      if (!vm[key].defaulted())
        throw UsageError(std::string("--") + key +
                         " needs --train.snapshots (the epochs to measure)");
  } else if (!c.model_files.empty()) {
    throw UsageError(
        "--train.snapshots is for trained networks (model files are not trained here)");
  }
  try {
    c.snapshot.binning.rule = info::parse_binning(vm["train.snapshot_binning"].as<std::string>());
  } catch (const Error& e) {
    throw UsageError(std::string("--train.snapshot_binning: ") + e.what());
  }
  c.snapshot.binning.bins = bounded<int>(vm, "train.snapshot_bins", 2, 100000);
  c.snapshot.noise_variance = vm["train.kde_noise_variance"].as<double>();
  if (!(c.snapshot.noise_variance > 0.0 && c.snapshot.noise_variance <= 1e6))
    throw UsageError("--train.kde_noise_variance must be in (0, 1e6]");
  c.snapshot_samples =
      static_cast<std::size_t>(bounded<long long>(vm, "train.snapshot_samples", 0, 1'000'000'000));

  c.measure_split = check_split_name(vm["measure.split"].as<std::string>());
  // Every [measure] list: the settings are their cross product (binary binning once per
  // estimator, whatever the bins), binning rule first, then bins, then estimator.
  const auto binnings = items(vm["measure.binning"].as<std::string>(), "measure.binning");
  const auto bins = items(vm["measure.bins"].as<std::string>(), "measure.bins");
  const auto estimators = items(vm["measure.estimator"].as<std::string>(), "measure.estimator");
  for (const auto* list : {&binnings, &bins, &estimators})
    for (const auto& v : *list)
      if (std::count(list->begin(), list->end(), v) > 1)
        throw UsageError("--measure." +
                         std::string(list == &binnings ? "binning" : list == &bins ? "bins" : "estimator") +
                         " names '" + v + "' twice");
  if (binnings.empty()) throw UsageError("--measure.binning is empty");
  if (bins.empty()) throw UsageError("--measure.bins is empty");
  if (estimators.empty()) throw UsageError("--measure.estimator is empty");
  std::vector<int> bin_counts;
  for (const auto& b : bins) {
    const long long v = whole_number(b);
    if (v < 2 || v > 100'000)  // as ioca measure --bins
      throw UsageError("--measure.bins must be between 2 and 100000, not " + b);
    bin_counts.push_back(static_cast<int>(v));
  }
  info::BinningOptions binning;
  binning.zero_bin = yes(vm, "measure.zero_bin");
  if (vm.count("measure.threshold"))
    binning.threshold = static_cast<float>(vm["measure.threshold"].as<double>());
  const int mi_null = bounded<int>(vm, "measure.mi_null", 0, 100'000);
  const bool pairs = yes(vm, "measure.pairs");
  for (const auto& rule_name : binnings) {
    const auto rule = info::parse_binning(rule_name);
    const bool binary = rule == info::Binning::binary;
    for (std::size_t b = 0; b < (binary ? 1 : bin_counts.size()); ++b)
      for (const auto& e : estimators) {
        study::MeasureSetting setting;
        setting.options.binning = binning;
        setting.options.binning.rule = rule;
        setting.options.binning.bins = bin_counts[b];
        setting.options.estimator = info::parse_estimator(e);
        setting.options.mi_null_permutations = mi_null;
        setting.options.pairs = pairs;
        if (pairs && setting.options.binning.rule != info::Binning::binary &&
            setting.options.binning.bins + (binning.zero_bin ? 1 : 0) > 65536)
          throw UsageError("--measure.pairs works with at most 65536 bins (zero bin included)");
        setting.name = study::setting_name(setting.options);
        for (const auto& other : c.measure_settings)
          if (other.name == setting.name)  // "uniform" and "uniform" spelt differently
            throw UsageError("--measure.binning names '" + rule_name + "' twice");
        c.measure_settings.push_back(std::move(setting));
      }
  }
  c.measure = c.measure_settings.front().options;

  c.quantities = items(vm["ablation.quantities"].as<std::string>(), "ablation.quantities");
  for (const auto& q : c.quantities) {
    const auto& names = info::quantity_names();
    if (q != "single_damage" && std::find(names.begin(), names.end(), q) == names.end())
      throw UsageError("unknown quantity '" + q +
                       "' in --ablation.quantities (valid: " + join(names) + ", single_damage)");
    if (q.rfind("mutual_information_null", 0) == 0 && c.measure.mi_null_permutations == 0)
      throw UsageError("--ablation.quantities names '" + q + "' but measure.mi_null is 0");
    if (std::count(c.quantities.begin(), c.quantities.end(), q) > 1)
      throw UsageError("--ablation.quantities names '" + q + "' twice");
  }
  c.directions.clear();
  for (const auto& d : items(vm["ablation.directions"].as<std::string>(), "ablation.directions")) {
    const auto dir = ablation::parse_direction(d);
    if (std::find(c.directions.begin(), c.directions.end(), dir) != c.directions.end())
      throw UsageError("--ablation.directions names '" + d + "' twice");
    c.directions.push_back(dir);
  }
  if (!c.quantities.empty() && c.directions.empty())
    throw UsageError("--ablation.directions is empty");
  c.scopes = items(vm["ablation.scopes"].as<std::string>(), "ablation.scopes");
  if (std::find(c.scopes.begin(), c.scopes.end(), "all") != c.scopes.end()) c.scopes.clear();
  c.random = bounded<int>(vm, "ablation.random", 0, 1'000'000);
  c.ablate_to = ablation::parse_ablate_to(vm["ablation.ablate_to"].as<std::string>());
  c.steps = bounded<long long>(vm, "ablation.steps", 0, INT64_MAX);
  c.single = yes(vm, "ablation.single");
  c.pair_interactions = bounded<long long>(vm, "ablation.pair_interactions", 0, 1'000'000);
  if (c.pair_interactions > 0 && !c.measure.pairs)
    throw UsageError("--ablation.pair_interactions selects pairs by their redundancy and synergy: "
                     "it needs measure.pairs = true");
  if (c.pair_interactions > 0 && !c.single)
    throw UsageError("--ablation.pair_interactions subtracts single-neuron damage: it needs "
                     "ablation.single = true");
  c.chunk_rows =
      static_cast<std::size_t>(bounded<long long>(vm, "ablation.chunk_rows", 1, 1 << 24));
  c.checkpoint_interval_seconds = bounded<double>(vm, "run.checkpoint_interval", 0.0, 1e9);
  c.checkpoint_segments = static_cast<int>(bounded<long long>(vm, "run.checkpoint_segments", 1, 100000));
  c.memory_budget_bytes =
      static_cast<std::size_t>(bounded<long long>(vm, "run.memory_budget", 0, 1 << 24)) << 20;
  c.measure.activation_cache_bytes = c.memory_budget_bytes;
  c.snapshot.activation_cache_bytes = c.memory_budget_bytes;
  for (auto& setting : c.measure_settings)
    setting.options.activation_cache_bytes = c.memory_budget_bytes;

  // The canonical config: every key that shapes the results, resolved (run.* does not).
  std::vector<std::string> resolved_binnings, resolved_bins, resolved_estimators;
  for (const auto& b : binnings) resolved_binnings.emplace_back(info::to_string(info::parse_binning(b)));
  for (const int b : bin_counts) resolved_bins.push_back(std::to_string(b));
  for (const auto& e : estimators)
    resolved_estimators.emplace_back(info::to_string(info::parse_estimator(e)));
  std::ostringstream t;
  // A valid INI file (Python's configparser reads it): every key under a section.
  t << "[study]\nname = " << c.name << "\n[data]\ndatasets = " << join(c.datasets)
    << "\ndata_dir = " << c.data_dir << "\nvalidation_size = "
    << (c.validation_size ? std::to_string(*c.validation_size) : std::string("default"))
    << "\nsplit_seed = " << c.split_seed;
  // Only when given, so that the config of a study without it stays as it always was; as
  // given ("seed" stays "seed", so that the parts of an array job merge).
  if (!c.split_seeds_text.empty()) t << "\nsplit_seeds = " << c.split_seeds_text;
  if (std::find(c.datasets.begin(), c.datasets.end(), "synthetic") != c.datasets.end())
    t << "\nsynthetic_samples = " << c.synthetic.train_samples
      << "\nsynthetic_test_samples = " << c.synthetic.test_samples
      << "\nsynthetic_features = " << c.synthetic.features
      << "\nsynthetic_classes = " << c.synthetic.classes
      << "\nsynthetic_noise = " << shortest(c.synthetic.noise) << "\nsynthetic_seed = " << c.synthetic.seed;
  std::vector<std::string> archs, acts, seeds;
  bool one_layer_each = c.architectures.size() >= 2;
  for (const auto& a : c.architectures) {
    std::string s;
    for (int w : a) s += (s.empty() ? "" : "x") + std::to_string(w);
    archs.push_back(s);
    one_layer_each = one_layer_each && a.size() == 1;
  }
  // Several one-layer architectures as ioca run reads them back (64; 32, not 64, 32).
  std::string hidden_text = join(archs);
  if (one_layer_each) std::replace(hidden_text.begin(), hidden_text.end(), ',', ';');
  for (auto a : c.activations) acts.emplace_back(nn::to_string(a));
  for (auto s : c.seeds) seeds.push_back(std::to_string(s));
  t << "\n[network]\nhidden = " << hidden_text << "\nactivations = " << join(acts)
    << "\nseeds = " << join(seeds) << "\nmodels = " << join(c.model_files)
    << "\n[train]\nepochs = " << c.train.epochs << "\nbatch_size = " << c.train.batch_size
    << "\nlr = " << shortest(c.train.learning_rate) << "\noptimizer = " << nn::to_string(c.train.optimizer)
    << "\nmomentum = " << shortest(c.train.momentum)
    << "\nweight_decay = " << shortest(c.train.weight_decay);
  // Only with snapshots, so that the config of a study without them stays as it always was.
  if (!c.snapshots.empty()) {
    std::vector<std::string> epochs;
    for (const int e : c.snapshots) epochs.push_back(std::to_string(e));
    t << "\nsnapshots = " << join(epochs)
      << "\nsnapshot_binning = " << info::to_string(c.snapshot.binning.rule)
      << "\nsnapshot_bins = " << c.snapshot.binning.bins
      << "\nkde_noise_variance = " << shortest(c.snapshot.noise_variance)
      << "\nsnapshot_samples = " << c.snapshot_samples;
  }
  t << "\n[measure]\nsplit = " << c.measure_split << "\nbinning = " << join(resolved_binnings)
    << "\nbins = " << join(resolved_bins)
    << "\nzero_bin = " << (c.measure.binning.zero_bin ? "true" : "false");
  if (c.measure.binning.threshold) t << "\nthreshold = " << shortest(*c.measure.binning.threshold);
  std::vector<std::string> dirs;
  for (auto d : c.directions) dirs.emplace_back(ablation::to_string(d));
  t << "\nestimator = " << join(resolved_estimators);
  // Only when set, so that the configs (and hashes) of earlier studies stay as they were.
  if (c.measure.mi_null_permutations > 0) t << "\nmi_null = " << c.measure.mi_null_permutations;
  if (c.measure.pairs) t << "\npairs = true";
  t
    << "\n[ablation]\nquantities = " << join(c.quantities) << "\ndirections = " << join(dirs)
    << "\nscopes = " << (c.scopes.empty() ? std::string("all") : join(c.scopes))
    << "\nrandom = " << c.random << "\nablate_to = " << ablation::to_string(c.ablate_to)
    << "\nsteps = " << c.steps << "\nsingle = " << (c.single ? "true" : "false")
    << "\nchunk_rows = " << c.chunk_rows << "\n";
  // Only when set, as mi_null and pairs above.
  if (c.pair_interactions > 0) t << "pair_interactions = " << c.pair_interactions << "\n";
  c.canonical_text = t.str();
  return c;
}

}  // namespace

int run_study_command(const std::vector<std::string>& args) {
  study::catch_stop_signals();
  // MPI first: only rank 0 speaks, also about a bad config.
  study::MpiSession mpi;
  const auto say = [&](const std::string& line) {
    if (mpi.rank() == 0) std::fprintf(stderr, "%s\n", line.c_str());
  };
  study::StudyConfig config;
  study::RunOptions options;
  bool dry_run = false;
  study::DryRunOptions dry_options;
  try {
    po::options_description desc(
        "ioca run: a whole study (networks x measures x ablation sweeps) on MPI ranks,\n"
        "into one results file; see docs/study.md");
    desc.add(run_options());
    desc.add(study_options());
    po::variables_map vm;
    std::string help;
    if (!parse("run", args, desc, vm, &help)) {
      if (mpi.rank() == 0) std::fputs(help.c_str(), stdout);
      return exit_ok;
    }
    try {
      config = read_study(vm);
    } catch (const FileError&) {
      throw;
    } catch (const std::exception& e) {
      // A bad value from the config file names the file: checked by reading the command
      // line alone (without --config), which must then not give the same error.
      if (!vm.count("config")) throw;
      const std::string message = e.what();
      bool command_line = false;
      try {
        std::vector<std::string> rest;
        for (std::size_t i = 0; i < args.size(); ++i)
          if (args[i] == "--config")
            ++i;
          else if (args[i].rfind("--config=", 0) != 0)
            rest.push_back(args[i]);
        po::options_description alone;
        alone.add(run_options());
        alone.add(study_options());
        po::variables_map cl;
        po::store(po::command_line_parser(rest).options(alone).run(), cl);
        po::notify(cl);
        read_study(cl);
      } catch (const std::exception& again) {
        command_line = message == again.what();
      }
      if (command_line) throw;
      throw FileError(vm["config"].as<std::string>(), message);
    }
    dry_run = vm["dry-run"].as<bool>();
    if (dry_run) {
      dry_options.config_file = vm.count("config") ? vm["config"].as<std::string>() : "";
      dry_options.out = vm.count("out") ? vm["out"].as<std::string>() : "";
    } else if (!vm.count("out")) {
      throw UsageError("--out is required");
    } else {
      options.out = vm["out"].as<std::string>();
    }
    options.resume = vm["resume"].as<bool>();
    options.force = vm["force"].as<bool>();
    options.quiet = vm["quiet"].as<bool>();
  } catch (const UsageError& e) {
    say(std::string("ioca run: ") + e.what() + " (see ioca run --help)");
    return exit_bad_input;
  } catch (const Error& e) {
    say(std::string("ioca run: error: ") + e.what());
    return exit_bad_input;
  }
  if (dry_run) return study::dry_run(mpi, config, dry_options);
  return study::run(mpi, config, options);
}

}  // namespace ioca::cli

namespace ioca::cli {

int run_merge_command(const std::vector<std::string>& args) {
  study::MpiSession mpi;  // parallel HDF5 writes through MPI-IO, here on one process
  po::options_description desc(
      "ioca merge OUT PART1 PART2 ...: the results files of an array job (slices of the seeds\n"
      "of one study) into the file one job over all those seeds would have written");
  desc.add_options()("files", po::value<std::vector<std::string>>()->multitoken(),
                     "output file, then the files to merge")("quiet", po::bool_switch(),
                                                             "no summary on stderr");
  po::positional_options_description positional;
  positional.add("files", -1);
  po::variables_map vm;
  try {
    std::vector<std::string> a = args;
    if (std::find(a.begin(), a.end(), "--help") != a.end() ||
        std::find(a.begin(), a.end(), "-h") != a.end()) {
      if (mpi.rank() == 0)
        std::cout << "usage: ioca merge OUT PART1 PART2 ... [--quiet]\n\n" << desc;
      return exit_ok;
    }
    po::store(po::command_line_parser(a).options(desc).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  const auto files =
      vm.count("files") ? vm["files"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (files.size() < 2) throw UsageError("give the output file and at least one file to merge");
  study::merge(files.front(), std::vector<std::string>(files.begin() + 1, files.end()),
               vm["quiet"].as<bool>());
  return exit_ok;
}

int run_convert_command(const std::vector<std::string>& args) {
  study::MpiSession mpi;  // parallel HDF5 writes through MPI-IO, here on one process
  po::options_description desc(
      "ioca convert IN OUT: a results file (either format) into format 2 (packed, as ioca run\n"
      "writes it) or 1 (one HDF5 dataset per array under /networks/<net>/), optionally only\n"
      "some networks");
  desc.add_options()("files", po::value<std::vector<std::string>>()->multitoken(),
                     "input file, then output file")(
      "format", po::value<int>()->default_value(2), "results format to write: 2 or 1")(
      "networks", po::value<std::string>()->default_value(""),
      "comma-separated network names to keep (default: all)")(
      "quiet", po::bool_switch(), "no summary on stderr");
  po::positional_options_description positional;
  positional.add("files", -1);
  po::variables_map vm;
  try {
    if (std::find(args.begin(), args.end(), "--help") != args.end() ||
        std::find(args.begin(), args.end(), "-h") != args.end()) {
      if (mpi.rank() == 0)
        std::cout << "usage: ioca convert IN OUT [--format 2|1] [--networks a,b] [--quiet]\n\n" << desc;
      return exit_ok;
    }
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  const auto files =
      vm.count("files") ? vm["files"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (files.size() != 2) throw UsageError("give the input file and the output file");
  const int format = vm["format"].as<int>();
  if (format != 1 && format != 2) throw UsageError("--format must be 1 or 2");
  std::vector<std::string> networks;
  std::string item;
  for (std::istringstream in(vm["networks"].as<std::string>()); std::getline(in, item, ',');) {
    const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b != std::string::npos) networks.push_back(item.substr(b, e - b + 1));
  }
  study::convert(files[0], files[1], format, networks, vm["quiet"].as<bool>());
  return exit_ok;
}

}  // namespace ioca::cli
