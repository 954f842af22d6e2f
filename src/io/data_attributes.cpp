// The data a model was trained on, as model-file attributes, and back: evaluate, measure,
// ablate and studies rebuild exactly the split the model was trained with.
#include "ioca/io.hpp"

namespace ioca::io {

void add_data_attributes(const data::LoadOptions& o, Attributes& a) {
  a["dataset"] = o.dataset;
  a["validation_size"] = static_cast<std::int64_t>(o.validation_size);
  a["split_seed"] = static_cast<std::int64_t>(o.split_seed);
  if (o.dataset == "synthetic") {
    a["synthetic_samples"] = static_cast<std::int64_t>(o.synthetic.train_samples);
    a["synthetic_test_samples"] = static_cast<std::int64_t>(o.synthetic.test_samples);
    a["synthetic_features"] = static_cast<std::int64_t>(o.synthetic.features);
    a["synthetic_classes"] = static_cast<std::int64_t>(o.synthetic.classes);
    a["synthetic_noise"] = o.synthetic.noise;
    a["synthetic_seed"] = static_cast<std::int64_t>(o.synthetic.seed);
  }
}

void apply_data_attributes(const Attributes& a, data::LoadOptions& o) {
  o.dataset = attribute_string(a, "dataset", o.dataset);
  o.validation_size = static_cast<std::size_t>(
      attribute_int(a, "validation_size", static_cast<std::int64_t>(o.validation_size)));
  o.split_seed = static_cast<std::uint64_t>(
      attribute_int(a, "split_seed", static_cast<std::int64_t>(o.split_seed)));
  if (o.dataset == "synthetic" && a.count("synthetic_seed")) {
    o.synthetic.train_samples =
        static_cast<std::size_t>(attribute_int(a, "synthetic_samples", 6000));
    o.synthetic.test_samples =
        static_cast<std::size_t>(attribute_int(a, "synthetic_test_samples", 2000));
    o.synthetic.features = static_cast<std::size_t>(attribute_int(a, "synthetic_features", 64));
    o.synthetic.classes = static_cast<int>(attribute_int(a, "synthetic_classes", 10));
    o.synthetic.seed = static_cast<std::uint64_t>(attribute_int(a, "synthetic_seed", 7));
    if (const auto it = a.find("synthetic_noise"); it != a.end())
      if (const auto* d = std::get_if<double>(&it->second)) o.synthetic.noise = *d;
  }
}

void add_training_attributes(const std::vector<int>& hidden, nn::Activation activation,
                             const nn::TrainOptions& t, Attributes& a) {
  std::string widths;
  for (int w : hidden) widths += (widths.empty() ? "" : ",") + std::to_string(w);
  a["hidden"] = widths;
  a["activation"] = std::string(nn::to_string(activation));
  a["seed"] = static_cast<std::int64_t>(t.seed);
  a["epochs"] = static_cast<std::int64_t>(t.epochs);
  a["batch_size"] = static_cast<std::int64_t>(t.batch_size);
  a["learning_rate"] = t.learning_rate;
  a["optimizer"] = std::string(nn::to_string(t.optimizer));
  a["momentum"] = t.momentum;
  a["weight_decay"] = t.weight_decay;
}

}  // namespace ioca::io
