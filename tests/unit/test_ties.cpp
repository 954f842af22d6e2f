// Ties in quantity orders are broken by a seeded random permutation, not by neuron index.
// The main test builds a network whose neurons all measure alike but whose importance grows
// with the neuron index: breaking ties by index would give a curve far from random, a
// random permutation gives random's curve on average.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <numeric>

#include "io/layout.hpp"
#include "ioca/ablation.hpp"
#include "ioca/core.hpp"
#include "ioca/info.hpp"
#include "ioca/pipeline.hpp"
#include "test_helpers.hpp"

using namespace ioca;

namespace {

constexpr int tied_width = 8;  // hidden neurons
constexpr std::size_t samples = 400;

// One input x, evenly spread over (0, 1); a hidden layer of 8 ReLU neurons that all compute
// h_j = x (so every measured quantity of them is the same: all tied); two classes with
// logit0 = 0 and logit1 = sum_j (j + 1) h_j - 9, and label 1 exactly when x > 0.25. The
// intact network is right on every sample (36 x > 9 iff x > 0.25). Ablating (zeroing) neurons
// of total outgoing weight w leaves logit1 = (36 - w) x - 9, wrong on x in (0.25, 9/(36 - w)]:
// neuron j's importance grows with j.
pipeline::Prepared index_weighted_network() {
  pipeline::Prepared p;
  p.net = nn::Mlp({1, tied_width, 2}, {nn::Activation::relu, nn::Activation::identity});
  for (int j = 0; j < tied_width; ++j) {
    p.net.weight(0)[j] = 1.0f;
    p.net.bias(0)[j] = 0.0f;
    p.net.weight(1)[j] = 0.0f;                                     // class 0 row
    p.net.weight(1)[tied_width + j] = static_cast<float>(j + 1);  // class 1 row
  }
  p.net.bias(1)[0] = 0.0f;
  p.net.bias(1)[1] = -9.0f;
  p.values = ablation::zero_values(p.net);
  p.fingerprint = nn::fingerprint(p.net);
  return p;
}

data::Dataset evenly_spread_x() {
  data::Dataset d;
  d.name = "ramp";
  d.samples = samples;
  d.features = 1;
  d.classes = 2;
  for (std::size_t i = 0; i < samples; ++i) {
    const float x = (static_cast<float>(i) + 0.5f) / static_cast<float>(samples);  // never 0.25
    d.x.push_back(x);
    d.y.push_back(x > 0.25f ? 1 : 0);
  }
  return d;
}

ablation::Curve sweep_one(const pipeline::Prepared& p, const data::Dataset& d,
                          const std::vector<ablation::Neuron>& order) {
  return ablation::run_sweeps(p.net, d, p.values, {order}, {}).front();
}

// Mean accuracy at each point over curves recorded at every step.
std::vector<double> mean_accuracy(const std::vector<const ablation::Curve*>& curves) {
  std::vector<double> mean(tied_width + 1, 0.0);
  for (const auto* c : curves)
    for (int k = 0; k <= tied_width; ++k) mean[static_cast<std::size_t>(k)] += c->accuracy[static_cast<std::size_t>(k)];
  for (auto& m : mean) m /= static_cast<double>(curves.size());
  return mean;
}

}  // namespace

TEST_CASE("all-tied neurons: random tie-breaking gives random's expected curve, index order "
          "does not",
          "[ablation][ties]") {
  const pipeline::Prepared measured_net = [] {
    pipeline::Prepared p = index_weighted_network();
    p.measures = info::measure(p.net, evenly_spread_x(), {});
    return p;
  }();
  const pipeline::Prepared& p = measured_net;
  const data::Dataset d = evenly_spread_x();
  const ablation::Scope scope = ablation::make_scope(p.net, "layer0");
  const auto& entropy = p.measures.layers[0].entropy;
  REQUIRE(ablation::count_tied(entropy) == tied_width);  // the construction: every neuron tied
  REQUIRE(ablation::count_tied(p.measures.layers[0].mutual_information) == tied_width);

  // The exact expectation over uniformly random orders: after k ablations the ablated set is
  // a uniformly random k-subset, so E_k and the spread sd_k of one curve's value follow from
  // all 2^8 subsets.
  std::vector<double> expected(tied_width + 1, 0.0), sd(tied_width + 1, 0.0);
  {
    std::vector<std::vector<double>> by_size(tied_width + 1);
    for (unsigned mask = 0; mask < (1u << tied_width); ++mask) {
      std::vector<ablation::Neuron> subset;
      for (int j = 0; j < tied_width; ++j)
        if (mask & (1u << j)) subset.push_back({0, j});
      const double acc = subset.empty() ? sweep_one(p, d, {{0, 0}}).accuracy[0]
                                        : sweep_one(p, d, subset).accuracy.back();
      by_size[subset.size()].push_back(acc);
    }
    for (int k = 0; k <= tied_width; ++k) {
      const auto& a = by_size[static_cast<std::size_t>(k)];
      const double m = std::accumulate(a.begin(), a.end(), 0.0) / static_cast<double>(a.size());
      double v = 0;
      for (double x : a) v += (x - m) * (x - m);
      expected[static_cast<std::size_t>(k)] = m;
      sd[static_cast<std::size_t>(k)] = std::sqrt(v / static_cast<double>(a.size()));
    }
  }

  // M entropy orders, one per ablation seed (each seed gives its own tie permutation), and M
  // random orders, all through the code `ioca ablate` and `ioca run` use.
  constexpr int M = 500;
  io::AblationResults r = pipeline::no_orders(p.net);
  for (std::uint64_t seed = 0; seed < M; ++seed)
    pipeline::add_quantity_orders(r, p, scope, "entropy",
                                  {ablation::Direction::ascending, ablation::Direction::descending},
                                  seed, "test");
  pipeline::add_random_orders(r, scope, 1, p.fingerprint, M);
  pipeline::sweep(p, d, r, {}, 0);
  std::vector<const ablation::Curve*> ascending, descending, random;
  for (const auto& o : r.ordered) {
    REQUIRE(o.tied == tied_width);
    (o.direction == ablation::Direction::ascending ? ascending : descending).push_back(&o.curve);
  }
  for (const auto& c : r.random.front().curves) random.push_back(&c);
  const auto mean_ascending = mean_accuracy(ascending), mean_descending = mean_accuracy(descending),
             mean_random = mean_accuracy(random);

  // What breaking ties by neuron index did: a stable sort of equal values keeps index order
  // (ascending), and descending was its reverse.
  std::vector<ablation::Neuron> index_ascending = scope.neurons;
  std::stable_sort(index_ascending.begin(), index_ascending.end(),
                   [&](ablation::Neuron a, ablation::Neuron b) {
                     return entropy[static_cast<std::size_t>(a.index)] <
                            entropy[static_cast<std::size_t>(b.index)];
                   });
  REQUIRE(index_ascending == scope.neurons);
  std::vector<ablation::Neuron> index_descending(index_ascending.rbegin(), index_ascending.rend());
  const auto old_ascending = sweep_one(p, d, index_ascending).accuracy;
  const auto old_descending = sweep_one(p, d, index_descending).accuracy;

  // Each mean is of M independent curves with spread sd_k, so two such means differ by
  // sd_k sqrt(2/M) (one standard error) by chance; 4 standard errors allow that with
  // probability ~1e-4 per point. The seeds are fixed, so the test cannot flake either way.
  double largest_old_gap = 0, largest_new_gap = 0;
  for (int k = 0; k <= tied_width; ++k) {
    const auto i = static_cast<std::size_t>(k);
    const double tolerance = 4 * sd[i] * std::sqrt(2.0 / M) + 1e-12;
    INFO("k = " << k << ": exact " << expected[i] << ", random " << mean_random[i]
                << ", ascending " << mean_ascending[i] << ", descending " << mean_descending[i]
                << ", index order " << old_ascending[i] << " / " << old_descending[i]
                << ", tolerance " << tolerance);
    CHECK(std::abs(mean_random[i] - expected[i]) <= tolerance);  // the reference is right
    CHECK(std::abs(mean_ascending[i] - mean_random[i]) <= tolerance);
    CHECK(std::abs(mean_descending[i] - mean_random[i]) <= tolerance);
    // Gaps in units of the tolerance (points with tolerance ~0 are equal for every order).
    if (sd[i] > 0) {
      largest_new_gap =
          std::max({largest_new_gap, std::abs(mean_ascending[i] - mean_random[i]) / tolerance,
                    std::abs(mean_descending[i] - mean_random[i]) / tolerance});
      largest_old_gap =
          std::max({largest_old_gap, std::abs(old_ascending[i] - mean_random[i]) / tolerance,
                    std::abs(old_descending[i] - mean_random[i]) / tolerance});
    }
  }
  // The same check fails for index order, by far: the test can tell the two apart.
  const auto mid = static_cast<std::size_t>(tied_width / 2);
  INFO("half ablated: random " << mean_random[mid] << ", random ties ascending "
                               << mean_ascending[mid] << " / descending " << mean_descending[mid]
                               << ", index order ascending " << old_ascending[mid]
                               << " / descending " << old_descending[mid]
                               << "; largest gap to random in tolerances: random ties "
                               << largest_new_gap << ", index order " << largest_old_gap);
  CHECK(largest_new_gap <= 1);
  CHECK(largest_old_gap > 10);
  CHECK(old_ascending[mid] - mean_random[mid] > 0.1);   // least important neurons first
  CHECK(mean_random[mid] - old_descending[mid] > 0.1);  // most important first
}

TEST_CASE("tie-broken orders: fast and naive engines give the same curves", "[ablation][ties]") {
  // A tanh network measured with quantile bins: every neuron's entropy is log2(bins), all
  // tied, so the entropy orders are pure tie-breaking; single damage ties too (zero drops).
  const auto d = testing::gaussian_blobs(400, 6, 3, 5, 0.3f);
  pipeline::Prepared p;
  p.net = nn::make_mlp(6, {7, 5}, nn::Activation::tanh, 3, 2);
  nn::TrainOptions t;
  t.epochs = 2;
  nn::train(p.net, d, t);
  p.values = ablation::zero_values(p.net);
  p.fingerprint = nn::fingerprint(p.net);
  info::MeasureOptions m;
  m.binning.rule = info::Binning::quantile;
  m.binning.bins = 8;
  p.measures = info::measure(p.net, d, m);
  ablation::SweepOptions fast;
  fast.chunk_rows = 64;
  p.single_accuracy_drop = ablation::single_neuron_damage(p.net, d, p.values, fast).accuracy_drop;

  io::AblationResults r = pipeline::no_orders(p.net);
  for (const auto& s : ablation::all_scope_names(p.net))
    for (const char* q : {"entropy", "single_damage"})
      pipeline::add_quantity_orders(r, p, ablation::make_scope(p.net, s), q,
                                    {ablation::Direction::ascending, ablation::Direction::descending},
                                    3, "test");
  for (const auto& o : r.ordered)
    if (o.quantity == "entropy") {
      INFO(o.scope);
      REQUIRE(o.tied == static_cast<std::int64_t>(o.order.size()));  // all tied
      REQUIRE(o.order != ablation::make_scope(p.net, o.scope).neurons);  // not index order
    }
  io::AblationResults naive_r = r;
  ablation::SweepOptions naive = fast;
  naive.engine = ablation::Engine::naive;
  pipeline::sweep(p, d, r, fast, 0);
  pipeline::sweep(p, d, naive_r, naive, 0);
  for (std::size_t i = 0; i < r.ordered.size(); ++i) {
    INFO(r.ordered[i].scope << " " << r.ordered[i].quantity);
    REQUIRE(r.ordered[i].order == naive_r.ordered[i].order);
    REQUIRE(r.ordered[i].curve.accuracy == naive_r.ordered[i].curve.accuracy);
    REQUIRE(r.ordered[i].curve.per_class_accuracy == naive_r.ordered[i].curve.per_class_accuracy);
    for (std::size_t k = 0; k < r.ordered[i].curve.loss.size(); ++k)
      REQUIRE(r.ordered[i].curve.loss[k] == Approx(naive_r.ordered[i].curve.loss[k]).epsilon(1e-9));
  }
}

TEST_CASE("tie counts and the tie seed", "[ablation][ties]") {
  using ablation::count_tied;
  CHECK(count_tied({}) == 0);
  CHECK(count_tied({1, 2, 3}) == 0);
  CHECK(count_tied({3, 1, 2, 1, 5}) == 2);
  CHECK(count_tied({2, 1, 2, 0, 1, 2, 0, 1}) == 8);
  CHECK(count_tied({0, 0, 0, 4, 5, 5}) == 5);
  CHECK(count_tied({0.0, -0.0, 1.0}) == 2);  // equal values, whatever their sign bit
  CHECK(count_tied({std::nan(""), std::nan(""), 1.0}) == 0);
  CHECK(pipeline::tie_seed(7, "abc", "layer0", "entropy") ==
        derive_seed(7, {hash_name("ties"), hash_name("abc"), hash_name("layer0"),
                        hash_name("entropy")}));
  CHECK(pipeline::tie_seed(7, "abc", "layer0", "entropy") !=
        pipeline::tie_seed(7, "abc", "layer0", "mutual_information"));
  CHECK(pipeline::tie_seed(7, "abc", "layer0", "entropy") !=
        pipeline::tie_seed(7, "abc", "layer1", "entropy"));
}

TEST_CASE("the tie count rides on each ordered curve's group", "[ablation][ties]") {
  // Hand-made values on a 5-neuron layer: 0.5 twice, 2 three times -> 5 tied; the other
  // layer has distinct values -> 0. Both directions carry the count.
  pipeline::Prepared p;
  p.net = nn::make_mlp(3, {5, 3}, nn::Activation::relu, 2, 1);
  p.fingerprint = nn::fingerprint(p.net);
  p.values = ablation::zero_values(p.net);
  p.measures.layers.resize(2);
  p.measures.layers[0].entropy = {2, 0.5, 2, 0.5, 2};
  p.measures.layers[1].entropy = {1, 2, 3};
  io::AblationResults r = pipeline::no_orders(p.net);
  for (const char* s : {"layer0", "layer1", "network"})
    pipeline::add_quantity_orders(r, p, ablation::make_scope(p.net, s), "entropy",
                                  {ablation::Direction::ascending, ablation::Direction::descending},
                                  1, "test");
  const auto d = testing::gaussian_blobs(50, 3, 2, 1, 0.3f);
  pipeline::sweep(p, d, r, {}, 0);
  io::Record record;
  io::add_ablation_curves(record, "/networks/n", r);
  std::map<std::string, std::int64_t> tied;
  for (const auto& a : record.attributes)
    if (a.name == "tied") tied[a.path] = std::get<std::int64_t>(a.value);
  const std::map<std::string, std::int64_t> want{
      {"/networks/n/ablation/layer0/entropy/ascending", 5},
      {"/networks/n/ablation/layer0/entropy/descending", 5},
      {"/networks/n/ablation/layer1/entropy/ascending", 0},
      {"/networks/n/ablation/layer1/entropy/descending", 0},
      {"/networks/n/ablation/network/entropy/ascending", 6},  // 0.5 x2, 2 x4 (layer 1's 2 too)
      {"/networks/n/ablation/network/entropy/descending", 6}};
  CHECK(tied == want);
}
