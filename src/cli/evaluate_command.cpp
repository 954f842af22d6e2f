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
      "split", po::value<std::string>()->default_value("test"),
      "test | validation | train | unseen (the training images a converted model was not "
      "trained on: its /training_indices)")(
      "json", po::bool_switch(), "print one JSON object")(
      "predictions", po::value<std::string>(), "write each sample's predicted class, one per line");
  desc.add(data_options());
  po::variables_map vm;
  EvaluateArgs a;
  if (!parse("evaluate", args, desc, vm, help_text)) return a;
  a.data = read_data_args(vm);
  if (!vm.count("model")) throw UsageError("--model is required");
  a.model = vm["model"].as<std::string>();
  a.split = vm["split"].as<std::string>();
  if (a.split != "unseen") check_split_name(a.split);  // unseen: images the model was not trained on
  a.json = vm["json"].as<bool>();
  if (vm.count("predictions")) a.predictions = vm["predictions"].as<std::string>();
  return a;
}

int run_evaluate(const EvaluateArgs& a) {
  if (!a.predictions.empty()) io::check_writable(a.predictions);
  const io::Model model = io::load_model(a.model);
  const data::LoadOptions load = resolve_data(a.data, &model.attributes, a.model);
  const data::Splits splits = data::load(load);
  data::Dataset unseen;  // built only for --split unseen
  if (a.split == "unseen") unseen = pipeline::unseen_split(model, load, splits, a.model);
  const data::Dataset& d = a.split == "unseen" ? unseen : pipeline::split_named(splits, a.split);
  nn::check_compatible(model.net, d, a.model);
  const std::string overlap =
      pipeline::training_overlap_warning(model, load, splits, a.split, a.model);
  if (!overlap.empty()) std::fprintf(stderr, "ioca evaluate: %s\n", overlap.c_str());
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
        "\"accuracy\": %.17g, \"loss\": %.17g, ",
        json_string(a.model).c_str(), json_string(load.dataset).c_str(),
        json_string(a.split).c_str(), e.samples, e.accuracy, e.loss);
    if (!model.training_indices.empty())  // a converted model that records its training images
      std::printf("\"training_overlap\": %zu, ",
                  pipeline::training_overlap(model.training_indices, load, splits, a.split, a.model));
    std::printf("\"per_class_accuracy\": [");
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
