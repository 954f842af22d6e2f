// The per-network pipeline and the layouts it writes through: what the commands and the
// study share must give the same thing whichever calls it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "io/layout.hpp"
#include "ioca/core.hpp"
#include "ioca/pipeline.hpp"
#include "test_helpers.hpp"

using namespace ioca;

namespace {

pipeline::Prepared prepared_blobs(const data::Dataset& d) {
  pipeline::Prepared p;
  p.net = nn::make_mlp(static_cast<int>(d.features), {6, 5}, nn::Activation::tanh, d.classes, 3);
  nn::TrainOptions o;
  o.epochs = 2;
  nn::train(p.net, d, o);
  p.values = ablation::zero_values(p.net);
  p.fingerprint = nn::fingerprint(p.net);
  return p;
}

}  // namespace

TEST_CASE("order indices and scopes from widths agree with the network's scopes", "[pipeline]") {
  const nn::Mlp net = nn::make_mlp(4, {3, 2}, nn::Activation::relu, 2, 1);
  REQUIRE(ablation::hidden_widths(net) == std::vector<int>{3, 2});
  for (const auto& name : ablation::all_scope_names(net))
    CHECK(ablation::make_scope(ablation::hidden_widths(net), name).neurons ==
          ablation::make_scope(net, name).neurons);
  const auto network = ablation::make_scope(net, "network");
  CHECK(ablation::order_indices(network, {{1, 1}, {0, 2}, {1, 0}}) ==
        std::vector<std::int64_t>{4, 2, 3});
  const auto layer1 = ablation::make_scope(net, "layer1");
  CHECK(ablation::order_indices(layer1, {{1, 1}, {1, 0}}) == std::vector<std::int64_t>{1, 0});
  CHECK_THROWS_AS(ablation::order_indices(layer1, {{0, 0}}), Error);
  CHECK_THROWS_AS(ablation::order_indices(layer1, {{1, 2}}), Error);
}

TEST_CASE("the random-order seed is the documented formula", "[pipeline]") {
  CHECK(pipeline::random_order_seed(7, "abc", "layer0", 2) ==
        derive_seed(7, {hash_name("abc"), hash_name("layer0"), 2}));
}

TEST_CASE("ablation values: zero, or the finite mean activations", "[pipeline]") {
  const nn::Mlp net = nn::make_mlp(4, {3}, nn::Activation::relu, 2, 1);
  info::Measures m;
  m.layers.resize(1);
  m.layers[0].mean_activation = {0.5, 1.5, 2.5};
  CHECK(pipeline::ablation_values(net, {}, ablation::AblateTo::zero, "x") ==
        ablation::zero_values(net));
  CHECK(pipeline::ablation_values(net, m, ablation::AblateTo::mean, "x")[0] ==
        std::vector<float>{0.5f, 1.5f, 2.5f});
  m.layers[0].mean_activation[1] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(pipeline::ablation_values(net, m, ablation::AblateTo::mean, "m.h5"),
                    "m.h5: mean_activation of layer 0 neuron 1 is not finite");
}

TEST_CASE("sweep: orders grouped by recording points give the curves run alone", "[pipeline]") {
  const auto d = testing::gaussian_blobs(300, 5, 3, 9, 0.3f);
  pipeline::Prepared p = prepared_blobs(d);
  io::AblationResults r = pipeline::no_orders(p.net);
  for (const auto& s : ablation::all_scope_names(p.net))
    pipeline::add_random_orders(r, ablation::make_scope(p.net, s), 1, p.fingerprint, 2);
  r.custom.push_back({"layer0", "short", {{0, 4}, {0, 1}}, {}});
  ablation::SweepOptions o;
  o.chunk_rows = 64;
  pipeline::sweep(p, d, r, o, 3);
  REQUIRE(r.random.size() == 3);
  for (const auto& rc : r.random)
    for (std::size_t i = 0; i < rc.orders.size(); ++i) {
      o.record_at = ablation::even_points(static_cast<std::int64_t>(rc.orders[i].size()), 3);
      const auto alone = ablation::run_sweeps(p.net, d, p.values, {rc.orders[i]}, o);
      CHECK(alone[0].accuracy == rc.curves[i].accuracy);
      CHECK(alone[0].loss == rc.curves[i].loss);
    }
  CHECK(r.custom[0].curve.ablated == std::vector<std::int64_t>{0, 1, 2});
}

TEST_CASE("quantity orders refuse NaN, naming where the measures came from", "[pipeline]") {
  const auto d = testing::gaussian_blobs(100, 5, 3, 9, 0.3f);
  pipeline::Prepared p = prepared_blobs(d);
  p.measures = info::measure(p.net, d, {});
  const auto scope = ablation::make_scope(p.net, "layer1");
  io::AblationResults r = pipeline::no_orders(p.net);
  pipeline::add_quantity_orders(r, p, scope, "entropy",
                                {ablation::Direction::ascending, ablation::Direction::descending},
                                1, "ms.h5");
  REQUIRE(r.ordered.size() == 2);
  const auto ties = pipeline::tie_seed(1, p.fingerprint, "layer1", "entropy");
  CHECK(r.ordered[0].order == ablation::order_by_value(scope, p.measures.layers[1].entropy,
                                                       ablation::Direction::ascending, ties));
  CHECK(r.ordered[1].order == ablation::order_by_value(scope, p.measures.layers[1].entropy,
                                                       ablation::Direction::descending, ties));
  CHECK(r.ordered[0].tied == ablation::count_tied(p.measures.layers[1].entropy));
  CHECK(r.ordered[1].tied == r.ordered[0].tied);
  p.measures.layers[1].entropy[2] = std::nan("");
  CHECK_THROWS_WITH(pipeline::add_quantity_orders(r, p, scope, "entropy",
                                                  {ablation::Direction::ascending}, 1, "ms.h5"),
                    "ms.h5: /layers/1/entropy is NaN for neuron 2, so it cannot order the neurons");
}

TEST_CASE("the measures layout records the binary threshold when there is one", "[pipeline]") {
  info::MeasureOptions o;
  o.binning.rule = info::Binning::binary;
  CHECK_FALSE(io::measure_attributes(o, "validation", "f").count("threshold"));
  o.binning.threshold = 0.25f;
  const io::Attributes a = io::measure_attributes(o, "validation", "f");
  io::Record r;
  io::add_measures(r, "/networks/x/measures", info::Measures{}, a);
  bool found = false;
  for (const auto& e : r.attributes)
    if (e.path == "/networks/x/measures" && e.name == "threshold")
      found = std::get<double>(e.value) == 0.25;
  CHECK(found);
}

TEST_CASE("training_overlap counts the split's images among a model's training images",
          "[pipeline]") {
  data::LoadOptions load;
  load.dataset = "synthetic";
  load.synthetic.train_samples = 300;
  load.synthetic.test_samples = 40;
  load.synthetic.features = 6;
  load.validation_size = 90;
  load.split_seed = 11;
  const data::Splits sp = data::load(load);
  std::vector<std::size_t> train, validation;
  data::split_indices(300, 90, 11, train, validation);
  const auto as_int = [](const std::vector<std::size_t>& v) {
    return std::vector<std::int64_t>(v.begin(), v.end());
  };
  // Trained on exactly ioca's train split: no overlap with validation, all of train.
  CHECK(pipeline::training_overlap(as_int(train), load, sp, "validation", "m.h5") == 0);
  CHECK(pipeline::training_overlap(as_int(train), load, sp, "train", "m.h5") == 210);
  CHECK(pipeline::training_overlap(as_int(train), load, sp, "test", "m.h5") == 0);
  // Trained on the first 200 images: count by brute force.
  std::vector<std::int64_t> first(200);
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = static_cast<std::int64_t>(i);
  const auto expected = static_cast<std::size_t>(
      std::count_if(validation.begin(), validation.end(), [](std::size_t i) { return i < 200; }));
  REQUIRE(expected > 0);
  CHECK(pipeline::training_overlap(first, load, sp, "validation", "m.h5") == expected);
  io::Model model{nn::make_mlp(6, {4}, nn::Activation::relu, 10, 1), {}, first};
  const std::string warning =
      pipeline::training_overlap_warning(model, load, sp, "validation", "m.h5");
  CHECK(warning.find(std::to_string(expected) + " of the 90 images of the validation split") !=
        std::string::npos);
  CHECK(pipeline::training_overlap_warning(model, load, sp, "test", "m.h5").empty());
  // An index beyond the training set: the model was converted for another data set.
  CHECK_THROWS_AS(pipeline::training_overlap({5, 300}, load, sp, "test", "m.h5"), FileError);

  // --split unseen: images 200..299 of the training set, in order, wherever the split put them.
  const data::Dataset unseen = pipeline::unseen_split(model, load, sp, "m.h5");
  REQUIRE(unseen.samples == 100);
  const data::Splits whole = [&] {
    data::LoadOptions all = load;
    all.validation_size = 0;
    return data::load(all);  // the training set in file order
  }();
  REQUIRE(whole.train.samples == 300);
  for (std::size_t k = 0; k < unseen.samples; ++k) {
    CHECK(unseen.y[k] == whole.train.y[200 + k]);
    CHECK(std::equal(unseen.row(k), unseen.row(k) + unseen.features, whole.train.row(200 + k)));
  }
  CHECK(pipeline::training_overlap(first, load, sp, "unseen", "m.h5") == 0);
  io::Model untracked{model.net, {}, {}};
  CHECK_THROWS_AS(pipeline::unseen_split(untracked, load, sp, "m.h5"), FileError);
  io::Model everything{model.net, {}, as_int(train)};
  everything.training_indices.insert(everything.training_indices.end(), validation.begin(),
                                     validation.end());
  std::sort(everything.training_indices.begin(), everything.training_indices.end());
  CHECK_THROWS_AS(pipeline::unseen_split(everything, load, sp, "m.h5"), FileError);
}
