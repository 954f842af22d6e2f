#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <numeric>

#include "ioca/ablation.hpp"
#include "ioca/core.hpp"
#include "test_helpers.hpp"

using namespace ioca;
using namespace ioca::ablation;
using ioca::testing::mean_values;
using ioca::testing::trained;

namespace {

std::vector<std::vector<Neuron>> some_orders(const nn::Mlp& net) {
  std::vector<std::vector<Neuron>> orders;
  std::uint64_t seed = 1;
  for (const auto& name : all_scope_names(net)) {
    const Scope s = make_scope(net, name);
    std::vector<double> values;
    for (const auto& n : s.neurons) values.push_back(std::sin(n.index * 1.3 + n.layer));
    orders.push_back(order_by_value(s, values, Direction::ascending, seed));
    orders.push_back(order_by_value(s, values, Direction::descending, seed));
    orders.push_back(random_order(s, seed++));
  }
  return orders;
}

void require_same(const std::vector<Curve>& a, const std::vector<Curve>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("curve " << i);
    REQUIRE(a[i].ablated == b[i].ablated);
    REQUIRE(a[i].accuracy == b[i].accuracy);  // identical, not approximately
    REQUIRE(a[i].per_class_accuracy.size() == b[i].per_class_accuracy.size());
    for (std::size_t p = 0; p < a[i].loss.size(); ++p)
      REQUIRE(a[i].loss[p] == Approx(b[i].loss[p]).epsilon(1e-9));
    for (std::size_t k = 0; k < a[i].per_class_accuracy.size(); ++k) {
      const double x = a[i].per_class_accuracy[k], y = b[i].per_class_accuracy[k];
      REQUIRE(((std::isnan(x) && std::isnan(y)) || x == y));
    }
  }
}

}  // namespace

TEST_CASE("orders: sorted by value, ties in the seeded permutation, seeded random", "[ablation]") {
  const auto net = nn::make_mlp(4, {5, 3}, nn::Activation::relu, 2, 1);
  const Scope s = make_scope(net, "network");
  REQUIRE(s.neurons.size() == 8);
  REQUIRE(s.neurons[5] == Neuron{1, 0});
  const std::vector<double> v{2, 1, 2, 0, 1, 2, 0, 1};
  const auto value_of = [&](const Neuron& n) {
    for (std::size_t i = 0; i < s.neurons.size(); ++i)
      if (s.neurons[i] == n) return v[i];
    throw std::logic_error("not in the scope");
  };
  // The documented rule: shuffle as random_order(scope, tie seed), then stable-sort by value.
  for (std::uint64_t tie_seed : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3}, std::uint64_t{99}}) {
    INFO("tie seed " << tie_seed);
    const auto asc = order_by_value(s, v, Direction::ascending, tie_seed);
    const auto desc = order_by_value(s, v, Direction::descending, tie_seed);
    std::vector<Neuron> expected_asc = random_order(s, tie_seed), expected_desc = expected_asc;
    std::stable_sort(expected_asc.begin(), expected_asc.end(),
                     [&](Neuron a, Neuron b) { return value_of(a) < value_of(b); });
    std::stable_sort(expected_desc.begin(), expected_desc.end(),
                     [&](Neuron a, Neuron b) { return value_of(a) > value_of(b); });
    REQUIRE(asc == expected_asc);
    REQUIRE(desc == expected_desc);
    // Both directions list each group of equal values in the same order.
    for (double tie : {0.0, 1.0, 2.0}) {
      std::vector<Neuron> in_asc, in_desc;
      for (const auto& n : asc)
        if (value_of(n) == tie) in_asc.push_back(n);
      for (const auto& n : desc)
        if (value_of(n) == tie) in_desc.push_back(n);
      REQUIRE(in_asc == in_desc);
    }
  }
  // Another tie seed, another order; the old index order is no longer special.
  REQUIRE(order_by_value(s, v, Direction::ascending, 1) !=
          order_by_value(s, v, Direction::ascending, 2));
  // Without ties the seed changes nothing and descending is the reverse of ascending.
  const std::vector<double> distinct{0.5, -1, 3, 2, 7, 1e-9, 0, -2};
  const auto asc = order_by_value(s, distinct, Direction::ascending, 1);
  REQUIRE(asc == order_by_value(s, distinct, Direction::ascending, 2));
  auto desc = order_by_value(s, distinct, Direction::descending, 5);
  std::reverse(desc.begin(), desc.end());
  REQUIRE(desc == asc);
  REQUIRE(asc == std::vector<Neuron>{{1, 2}, {0, 1}, {1, 1}, {1, 0}, {0, 0}, {0, 3}, {0, 2}, {0, 4}});
  const auto r1 = random_order(s, 7), r2 = random_order(s, 7), r3 = random_order(s, 8);
  REQUIRE(r1 == r2);
  REQUIRE(r1 != r3);
  REQUIRE(make_scope(net, "layer1").neurons.size() == 3);
  REQUIRE_THROWS_AS(make_scope(net, "layer2"), Error);
  REQUIRE_THROWS_AS(make_scope(net, "layers"), Error);
  REQUIRE_THROWS_AS(order_by_value(s, {1, 2, 3, NAN, 1, 2, 3, 4}, Direction::ascending, 1),
                    Error);
  REQUIRE(even_points(10, 4) == std::vector<std::int64_t>{0, 3, 5, 8, 10});
  REQUIRE(even_points(3, 0) == std::vector<std::int64_t>{0, 1, 2, 3});
}

TEST_CASE("fast and naive engines give identical curves", "[ablation]") {
  const auto d = testing::gaussian_blobs(700, 10, 4, 3, 0.3f);
  for (auto act : {nn::Activation::relu, nn::Activation::tanh, nn::Activation::sigmoid}) {
    const auto net = trained(act, d, {24, 16});
    const auto orders = some_orders(net);
    for (bool mean : {false, true}) {
      const AblationValues values = mean ? mean_values(net, d) : zero_values(net);
      SweepOptions fast, naive;
      naive.engine = Engine::naive;
      fast.chunk_rows = naive.chunk_rows = 128;  // several chunks, one partial
      INFO("activation " << nn::to_string(act) << (mean ? " mean" : " zero"));
      const auto a = run_sweeps(net, d, values, orders, fast);
      const auto b = run_sweeps(net, d, values, orders, naive);
      require_same(a, b);
      // The curves really move: ablating a whole scope changes the accuracy.
      REQUIRE(a[0].accuracy.front() != a[0].accuracy.back());
      // Recording a subset of points gives the same values at those points.
      fast.record_at = even_points(static_cast<std::int64_t>(orders[3].size()), 4);
      const auto c = run_sweeps(net, d, values, {orders[3]}, fast);
      for (std::size_t p = 0; p < c[0].ablated.size(); ++p)
        REQUIRE(c[0].accuracy[p] == a[3].accuracy[static_cast<std::size_t>(c[0].ablated[p])]);
    }
  }
}

TEST_CASE("a near tie that rounding decides: the fast engine takes the naive engine's row",
          "[ablation]") {
  // One sample, hidden activations 1 and 1e-17, logits 1 + 1e-17 (= 1 in double) and 5e-18.
  // Ablating the first neuron: the naive pass gives logits 1e-17 > 5e-18 (class 0, correct);
  // the fast engine's rank-1 update gives (1 + 1e-17) - 1 = 0 < 5e-18 (class 1) unless it
  // recomputes the near-tied row.
  nn::Mlp net({2, 2, 2}, {nn::Activation::relu, nn::Activation::identity});
  std::fill(net.parameters().begin(), net.parameters().end(), 0.0f);
  net.weight(0)[0] = net.weight(0)[3] = 1.0f;  // identity, [out, in]
  net.weight(1)[0] = net.weight(1)[1] = 1.0f;  // logit 0 = a0 + a1
  net.weight(1)[3] = 0.5f;                     // logit 1 = a1 / 2
  data::Dataset d;
  d.name = "synthetic";
  d.samples = 1;
  d.features = 2;
  d.classes = 2;
  d.x = {1.0f, 1e-17f};
  d.y = {0};
  SweepOptions fast, naive;
  naive.engine = Engine::naive;
  const std::vector<std::vector<Neuron>> orders{{{0, 0}}, {{0, 0}, {0, 1}}};
  const auto b = run_sweeps(net, d, zero_values(net), orders, naive);
  REQUIRE(b[0].accuracy == std::vector<double>{1.0, 1.0});
  require_same(run_sweeps(net, d, zero_values(net), orders, fast), b);
}

TEST_CASE("a three-hidden-layer network: engines agree on every scope", "[ablation]") {
  const auto d = testing::gaussian_blobs(400, 8, 3, 5, 0.3f);
  const auto net = trained(nn::Activation::relu, d, {12, 10, 8});
  const auto orders = some_orders(net);
  SweepOptions naive;
  naive.engine = Engine::naive;
  require_same(run_sweeps(net, d, zero_values(net), orders, {}),
               run_sweeps(net, d, zero_values(net), orders, naive));
}

TEST_CASE("ablating the whole last hidden layer leaves the output bias alone", "[ablation]") {
  const auto d = testing::gaussian_blobs(500, 10, 4, 9, 0.3f);
  const auto net = trained(nn::Activation::relu, d, {20, 12});
  const Scope s = make_scope(net, "layer1");
  const auto curves = run_sweeps(net, d, zero_values(net), {s.neurons}, {});
  const float* b = net.bias(2);
  const int predicted = static_cast<int>(std::max_element(b, b + 4) - b);
  const double expected =
      static_cast<double>(std::count(d.y.begin(), d.y.end(), predicted)) / 500.0;
  REQUIRE(curves[0].accuracy.back() == expected);
  // And entry 0 is the intact network's accuracy.
  REQUIRE(curves[0].accuracy.front() == Approx(nn::evaluate(net, d).accuracy).margin(1.0 / 500));
}

TEST_CASE("curves are bitwise identical for 1 and 2 threads", "[ablation]") {
  const auto d = testing::gaussian_blobs(900, 10, 4, 13, 0.3f);
  const auto net = trained(nn::Activation::relu, d, {30, 20});
  const auto orders = some_orders(net);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto a = run_sweeps(net, d, zero_values(net), orders, {});
  const auto sa = single_neuron_damage(net, d, zero_values(net), {});
  omp_set_num_threads(2);
  const auto b = run_sweeps(net, d, zero_values(net), orders, {});
  const auto sb = single_neuron_damage(net, d, zero_values(net), {});
  omp_set_num_threads(saved);
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].accuracy == b[i].accuracy);
    REQUIRE(std::memcmp(a[i].loss.data(), b[i].loss.data(), a[i].loss.size() * sizeof(double)) ==
            0);
  }
  for (std::size_t l = 0; l < 2; ++l) {
    REQUIRE(sa.accuracy_drop[l] == sb.accuracy_drop[l]);
    REQUIRE(std::memcmp(sa.loss_increase[l].data(), sb.loss_increase[l].data(),
                        sa.loss_increase[l].size() * sizeof(double)) == 0);
  }
}

TEST_CASE("single-neuron damage: fast equals naive", "[ablation]") {
  const auto d = testing::gaussian_blobs(600, 10, 4, 17, 0.3f);
  for (auto act : {nn::Activation::relu, nn::Activation::tanh}) {
    const auto net = trained(act, d, {16, 12});
    const auto values = mean_values(net, d);
    SweepOptions naive;
    naive.engine = Engine::naive;
    const auto f = single_neuron_damage(net, d, values, {});
    const auto n = single_neuron_damage(net, d, values, naive);
    REQUIRE(f.intact_accuracy == n.intact_accuracy);
    REQUIRE(f.intact_loss == n.intact_loss);
    double total = 0;
    for (std::size_t l = 0; l < 2; ++l)
      for (std::size_t j = 0; j < f.accuracy_drop[l].size(); ++j) {
        REQUIRE(f.accuracy_drop[l][j] == n.accuracy_drop[l][j]);
        REQUIRE(f.loss_increase[l][j] == Approx(n.loss_increase[l][j]).margin(1e-9));
        total += std::abs(f.loss_increase[l][j]);
      }
    REQUIRE(total > 0.0);
  }
}

TEST_CASE("sweeps reject duplicate and unknown neurons", "[ablation]") {
  const auto d = testing::gaussian_blobs(50, 4, 2, 1, 0.3f);
  const auto net = nn::make_mlp(4, {3}, nn::Activation::relu, 2, 1);
  REQUIRE_THROWS_AS(run_sweeps(net, d, zero_values(net), {{{0, 1}, {0, 1}}}, {}), Error);
  REQUIRE_THROWS_AS(run_sweeps(net, d, zero_values(net), {{{0, 3}}}, {}), Error);
  REQUIRE_THROWS_AS(run_sweeps(net, d, zero_values(net), {{{1, 0}}}, {}), Error);
  // Two hidden layers: the same index in both is two neurons; a neuron named twice in the
  // second order is refused even though the first order named it once.
  const auto deep = nn::make_mlp(4, {3, 3}, nn::Activation::relu, 2, 1);
  REQUIRE_NOTHROW(run_sweeps(deep, d, zero_values(deep), {{{0, 1}, {1, 1}}, {{1, 1}}}, {}));
  REQUIRE_THROWS_AS(
      run_sweeps(deep, d, zero_values(deep), {{{1, 2}}, {{0, 2}, {1, 2}, {1, 2}}}, {}), Error);
}

TEST_CASE("chunks taken through an order in parts of 8 rows change no bit", "[ablation]") {
  const auto d = testing::gaussian_blobs(1000, 10, 4, 29, 0.3f);
  const auto net = trained(nn::Activation::tanh, d, {20, 12});
  const auto orders = some_orders(net);
  SweepOptions whole, parts;
  whole.chunk_rows = parts.chunk_rows = 100;  // 10 chunks: 12 parts of 8 rows and one of 4
  parts.cache_bytes = 1;
  const auto a = run_sweeps(net, d, zero_values(net), orders, whole);
  const auto b = run_sweeps(net, d, zero_values(net), orders, parts);
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].accuracy == b[i].accuracy);
    REQUIRE(a[i].per_class_accuracy == b[i].per_class_accuracy);
    REQUIRE(std::memcmp(a[i].loss.data(), b[i].loss.data(), a[i].loss.size() * sizeof(double)) ==
            0);
  }
}

TEST_CASE("a small memory budget (many blocks of the test set) changes no bit", "[ablation]") {
  const auto d = testing::gaussian_blobs(1000, 10, 4, 23, 0.3f);
  const auto net = trained(nn::Activation::relu, d, {20, 12});
  const auto orders = some_orders(net);
  for (auto engine : {Engine::fast, Engine::naive}) {
    SweepOptions whole, blocks;
    whole.engine = blocks.engine = engine;
    whole.chunk_rows = blocks.chunk_rows = 96;
    blocks.memory_budget_bytes = 1;  // one chunk per block
    const auto a = run_sweeps(net, d, zero_values(net), orders, whole);
    const auto b = run_sweeps(net, d, zero_values(net), orders, blocks);
    for (std::size_t i = 0; i < a.size(); ++i) {
      REQUIRE(a[i].accuracy == b[i].accuracy);
      REQUIRE(std::memcmp(a[i].loss.data(), b[i].loss.data(), a[i].loss.size() * sizeof(double)) ==
              0);
    }
    const auto sa = single_neuron_damage(net, d, zero_values(net), whole);
    const auto sb = single_neuron_damage(net, d, zero_values(net), blocks);
    REQUIRE(sa.intact_loss == sb.intact_loss);
    for (std::size_t l = 0; l < 2; ++l) {
      REQUIRE(sa.accuracy_drop[l] == sb.accuracy_drop[l]);
      REQUIRE(sa.loss_increase[l] == sb.loss_increase[l]);
    }
  }
}
