#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/options.hpp"
#include "ioca/core.hpp"
#include "ioca/info.hpp"
#include "ioca/pipeline.hpp"

namespace ioca::cli {

MeasureArgs parse_measure_args(const std::vector<std::string>& args, std::string* help_text) {
  po::options_description desc(
      "ioca measure: per-neuron information measures of a model's hidden layers");
  desc.add_options()("model", po::value<std::string>(), "model file (HDF5)")(
      "split", po::value<std::string>()->default_value("validation"),
      "estimation split: validation | train | test | unseen (the training images a converted "
      "model was not trained on: its /training_indices)")(
      "binning", po::value<std::string>()->default_value("uniform"),
      "uniform | uniform-layer | quantile | binary")(
      "bins", po::value<int>()->default_value(30),
      "bins per neuron (uniform, uniform-layer, quantile)")(
      "threshold", po::value<double>(),
      "binary binning threshold (default 0 for relu/tanh, 0.5 for sigmoid)")(
      "zero-bin", po::bool_switch(), "give exact zeros a bin of their own (the ReLU spike)")(
      "estimator", po::value<std::string>()->default_value("plugin"), "plugin | miller-madow")(
      "mi-null", po::value<int>()->default_value(0),
      "K label permutations: each neuron's MI against chance (null mean, 95th percentile, "
      "p-value); 0 for none")(
      "mi-null-seed", po::value<long long>()->default_value(0), "seed of those permutations")(
      "pairs", po::bool_switch(),
      "also decompose the information of every pair of neurons of a layer about the class "
      "(redundancy, unique, synergy; plug-in), /layers/K/pairs/")(
      "out", po::value<std::string>(), "measures file to write (HDF5)")(
      "save-histograms", po::bool_switch(),
      "also store each neuron's (bin, class) counts, /layers/K/histogram [n, bins, classes]")(
      "print", po::bool_switch(),
      "print a per-layer summary (min / median / max of each quantity)")(
      "quiet", po::bool_switch(), "no progress on stderr")(
      "memory-budget", po::value<long long>()->default_value(1024),
      "MiB for activations kept between the passes (more is recomputed; results do not "
      "change)");
  desc.add(data_options());
  po::variables_map vm;
  MeasureArgs a;
  if (!parse("measure", args, desc, vm, help_text)) return a;
  a.data = read_data_args(vm);
  if (!vm.count("model")) throw UsageError("--model is required");
  a.model = vm["model"].as<std::string>();
  a.split = vm["split"].as<std::string>();
  if (a.split != "unseen") check_split_name(a.split);  // unseen: images the model was not trained on
  a.options.binning.rule = info::parse_binning(vm["binning"].as<std::string>());
  a.options.binning.bins = vm["bins"].as<int>();
  if (a.options.binning.bins < 2 || a.options.binning.bins > 100000)
    throw UsageError("--bins must be between 2 and 100000");
  if (vm.count("threshold")) {
    const double t = vm["threshold"].as<double>();
    if (!std::isfinite(t)) throw UsageError("--threshold must be a finite number");
    a.options.binning.threshold = static_cast<float>(t);
  }
  a.options.binning.zero_bin = vm["zero-bin"].as<bool>();
  a.options.estimator = info::parse_estimator(vm["estimator"].as<std::string>());
  a.options.mi_null_permutations = vm["mi-null"].as<int>();
  if (a.options.mi_null_permutations < 0 || a.options.mi_null_permutations > 100000)
    throw UsageError("--mi-null must be between 0 and 100000");
  const long long null_seed = vm["mi-null-seed"].as<long long>();
  if (null_seed < 0) throw UsageError("--mi-null-seed must be >= 0");
  a.options.mi_null_seed = static_cast<std::uint64_t>(null_seed);
  if (vm.count("out")) a.out = vm["out"].as<std::string>();
  a.print = vm["print"].as<bool>();
  a.quiet = vm["quiet"].as<bool>();
  a.options.keep_histograms = vm["save-histograms"].as<bool>();
  a.options.pairs = vm["pairs"].as<bool>();
  a.options.activation_cache_bytes = memory_budget_bytes(vm);
  if (a.out.empty() && !a.print) throw UsageError("give --out FILE, --print, or both");
  return a;
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// One line per layer: medians of the decomposition and the pairs with the most redundancy
// and the most synergy (the first such pair in pair order).
void print_pairs(const info::Measures& m) {
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    if (!m.layers[l].pairs) continue;
    const info::LayerPairs& p = *m.layers[l].pairs;
    if (p.size() == 0) {
      std::printf("%-6zu pairs: none (one neuron)\n", l);
      continue;
    }
    const auto top = [&](const std::vector<double>& v) {
      return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
    };
    const std::size_t r = top(p.redundancy), s = top(p.synergy);
    std::printf(
        "%-6zu pairs: %zu, median bits: joint MI %.4g, redundancy %.4g, unique %.4g, synergy "
        "%.4g; most redundant (%lld, %lld) %.4g, most synergistic (%lld, %lld) %.4g\n",
        l, p.size(), median(p.joint_mutual_information), median(p.redundancy),
        median([&] {
          std::vector<double> u = p.unique_first;
          u.insert(u.end(), p.unique_second.begin(), p.unique_second.end());
          return u;
        }()),
        median(p.synergy), static_cast<long long>(p.first[r]), static_cast<long long>(p.second[r]),
        p.redundancy[r], static_cast<long long>(p.first[s]), static_cast<long long>(p.second[s]),
        p.synergy[s]);
  }
}

void print_summary(const info::Measures& m) {
  std::printf("%-6s %-28s %12s %12s %12s\n", "layer", "quantity", "min", "median", "max");
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    for (const auto& name : info::quantity_names()) {
      const std::vector<double>& v = info::quantity(m.layers[l], name);
      if (v.empty()) continue;  // an optional quantity not measured
      std::printf("%-6zu %-28s %12.5g %12.5g %12.5g\n", l, name.c_str(),
                  *std::min_element(v.begin(), v.end()), median(v),
                  *std::max_element(v.begin(), v.end()));
    }
    const auto& cls = m.layers[l].kl_selectivity_class;
    std::vector<int> per_class(static_cast<std::size_t>(m.classes), 0);
    for (auto c : cls)
      if (c >= 0) ++per_class[static_cast<std::size_t>(c)];
    std::printf("%-6zu %-28s", l, "kl_selectivity_class");
    for (int c : per_class) std::printf(" %d", c);
    std::printf("  (neurons per most-selective class)\n");
  }
  print_pairs(m);
}

}  // namespace

int run_measure(const MeasureArgs& a) {
  if (!a.out.empty()) io::check_writable(a.out);
  const io::Model model = io::load_model(a.model);
  const data::LoadOptions load = resolve_data(a.data, &model.attributes, a.model);
  const data::Splits splits = data::load(load);
  data::Dataset unseen;  // built only for --split unseen
  if (a.split == "unseen") unseen = pipeline::unseen_split(model, load, splits, a.model);
  const data::Dataset& d = a.split == "unseen" ? unseen : pipeline::split_named(splits, a.split);
  nn::check_compatible(model.net, d, a.model);
  const std::string overlap =
      pipeline::training_overlap_warning(model, load, splits, a.split, a.model);
  if (!overlap.empty()) std::fprintf(stderr, "ioca measure: %s\n", overlap.c_str());
  const info::Measures m = info::measure(model.net, d, a.options);
  if (!a.out.empty()) {
    io::Attributes attrs = io::measure_attributes(a.options, a.split, nn::fingerprint(model.net));
    io::add_data_attributes(load, attrs);
    attrs["model"] = a.model;
    // Images of the split the model was trained on (known only for converted models).
    if (!model.training_indices.empty())
      attrs["training_overlap"] = static_cast<std::int64_t>(
          pipeline::training_overlap(model.training_indices, load, splits, a.split, a.model));
    io::save_measures(a.out, m, attrs);
  }
  if (a.print) print_summary(m);
  std::fflush(stdout);
  if (!a.quiet)
    std::fprintf(stderr, "ioca measure: %s, %zu samples of the %s split%s%s\n",
                 count_of(static_cast<long long>(m.layers.size()), "hidden layer").c_str(),
                 m.samples, a.split.c_str(), a.out.empty() ? "" : ", saved ", a.out.c_str());
  return exit_ok;
}

}  // namespace ioca::cli
