#include <cmath>
#include <cstdio>
#include <fstream>

#include "cli/options.hpp"
#include "ioca/core.hpp"
#include "ioca/pipeline.hpp"

namespace ioca::cli {

EvaluateArgs parse_evaluate_args(const std::vector<std::string>& args, std::string* help_text) {
  po::options_description desc("ioca evaluate: accuracy and loss of a model file on a split");
  desc.add_options()("model", po::value<std::string>(), "model file (HDF5)")(
      "split", po::value<std::string>()->default_value("test"), "test | validation | train")(
      "json", po::bool_switch(), "print one JSON object")(
      "predictions", po::value<std::string>(), "write each sample's predicted class, one per line");
  desc.add(data_options());
  po::variables_map vm;
  EvaluateArgs a;
  if (!parse("evaluate", args, desc, vm, help_text)) return a;
  a.data = read_data_args(vm);
  if (!vm.count("model")) throw UsageError("--model is required");
  a.model = vm["model"].as<std::string>();
  a.split = check_split_name(vm["split"].as<std::string>());
  a.json = vm["json"].as<bool>();
  if (vm.count("predictions")) a.predictions = vm["predictions"].as<std::string>();
  return a;
}

int run_evaluate(const EvaluateArgs& a) {
  if (!a.predictions.empty()) io::check_writable(a.predictions);
  const io::Model model = io::load_model(a.model);
  const data::LoadOptions load = resolve_data(a.data, &model.attributes, a.model);
  const data::Splits splits = data::load(load);
  const data::Dataset& d = pipeline::split_named(splits, a.split);
  nn::check_compatible(model.net, d, a.model);
  std::vector<std::int32_t> predictions;
  const nn::Evaluation e =
      nn::evaluate(model.net, d, a.predictions.empty() ? nullptr : &predictions);
  if (!a.predictions.empty()) {
    io::write_atomically(a.predictions, [&](const std::string& tmp) {
      std::ofstream out(tmp);
      for (auto p : predictions) out << p << '\n';
      out.close();
      if (!out) throw FileError(a.predictions, "cannot write predictions");
    });
  }
  if (a.json) {
    std::printf(
        "{\"model\": %s, \"dataset\": %s, \"split\": %s, \"samples\": %zu, "
        "\"accuracy\": %.17g, \"loss\": %.17g, \"per_class_accuracy\": [",
        json_string(a.model).c_str(), json_string(load.dataset).c_str(),
        json_string(a.split).c_str(), e.samples, e.accuracy, e.loss);
    for (std::size_t c = 0; c < e.per_class_accuracy.size(); ++c) {
      const double v = e.per_class_accuracy[c];
      if (std::isnan(v))
        std::printf("%snull", c ? ", " : "");
      else
        std::printf("%s%.17g", c ? ", " : "", v);
    }
    std::printf("]}\n");
  } else {
    std::printf("accuracy %.4f  loss %.4f  samples %zu  (%s %s split)\n", e.accuracy, e.loss,
                e.samples, load.dataset.c_str(), a.split.c_str());
  }
  return exit_ok;
}

}  // namespace ioca::cli
