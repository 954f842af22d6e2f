// Pairwise ablation: pair damage (fast against naive, against the cumulative curves, thread
// counts), the interaction of pairs that cannot interact, the pair selection and its layout.
#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include "io/hdf5.hpp"
#include "io/layout.hpp"
#include "ioca/ablation.hpp"
#include "ioca/core.hpp"
#include "test_helpers.hpp"

using namespace ioca;
using namespace ioca::ablation;
using ioca::testing::mean_values;
using ioca::testing::trained;

namespace {

// Every pair of every hidden layer, both ways round for a few.
std::vector<NeuronPair> all_pairs(const nn::Mlp& net) {
  std::vector<NeuronPair> pairs;
  for (int l = 0; l < net.num_hidden(); ++l)
    for (int i = 0; i < net.out_size(l); ++i)
      for (int j = i + 1; j < net.out_size(l); ++j) {
        pairs.push_back({l, i, j});
        if ((i + j) % 5 == 0) pairs.push_back({l, j, i});
      }
  return pairs;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return ioca::testing::same_bytes(a, b);
}

SweepOptions naive_options() {
  SweepOptions o;
  o.engine = Engine::naive;
  return o;
}

}  // namespace

TEST_CASE("pair damage: fast equals naive, on random and trained networks", "[ablation][pairs]") {
  const auto d = testing::gaussian_blobs(500, 10, 4, 31, 0.3f);
  double total_damage = 0.0;
  for (auto act : {nn::Activation::relu, nn::Activation::tanh, nn::Activation::sigmoid})
    for (bool train : {false, true}) {
      const auto net = train ? trained(act, d, {12, 9})
                             : nn::make_mlp(10, {12, 9}, act, 4, 5);  // random weights
      const auto pairs = all_pairs(net);
      for (bool mean : {false, true}) {
        INFO(nn::to_string(act) << (train ? " trained" : " random") << (mean ? " mean" : " zero"));
        const AblationValues values = mean ? mean_values(net, d) : zero_values(net);
        SweepOptions fast, naive = naive_options();
        fast.chunk_rows = naive.chunk_rows = 96;  // several chunks, one partial
        const PairDamage f = pair_damage(net, d, values, pairs, fast);
        const PairDamage n = pair_damage(net, d, values, pairs, naive);
        REQUIRE(f.accuracy_drop.size() == pairs.size());
        REQUIRE(f.intact_accuracy == n.intact_accuracy);
        REQUIRE(f.intact_loss == n.intact_loss);
        REQUIRE(f.accuracy_drop == n.accuracy_drop);  // identical, not approximately
        for (std::size_t p = 0; p < pairs.size(); ++p) {
          REQUIRE(f.loss_increase[p] == Approx(n.loss_increase[p]).margin(1e-12));
          total_damage += std::abs(f.accuracy_drop[p]) + std::abs(f.loss_increase[p]);
        }
        // The intact values are single-neuron damage's.
        const SingleDamage s = single_neuron_damage(net, d, values, fast);
        REQUIRE(s.intact_accuracy == f.intact_accuracy);
        REQUIRE(s.intact_loss == f.intact_loss);
      }
    }
  REQUIRE(total_damage > 0.0);  // the pairs really do damage
}

TEST_CASE("pair damage is the cumulative curve at step 2 of an order starting with the pair",
          "[ablation][pairs]") {
  const auto d = testing::gaussian_blobs(450, 8, 3, 41, 0.3f);
  const auto net = trained(nn::Activation::relu, d, {10, 7, 6});
  const AblationValues values = mean_values(net, d);
  for (auto engine : {Engine::fast, Engine::naive}) {
    SweepOptions o;
    o.engine = engine;
    o.chunk_rows = 100;
    std::vector<NeuronPair> pairs;
    std::vector<std::vector<Neuron>> orders;
    for (int l = 0; l < 3; ++l)
      for (auto [i, j] : {std::pair{0, 1}, std::pair{3, 2}, std::pair{5, 4}}) {
        pairs.push_back({l, i, j});
        // i, j, then the rest of the network: only the first two steps matter.
        std::vector<Neuron> order{{l, i}, {l, j}};
        for (const auto& n : make_scope(net, "network").neurons)
          if (!(n == Neuron{l, i}) && !(n == Neuron{l, j})) order.push_back(n);
        orders.push_back(order);
      }
    const PairDamage together = pair_damage(net, d, values, pairs, o);
    const auto curves = run_sweeps(net, d, values, orders, o);
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      INFO("engine " << to_string(engine) << ", pair " << p);
      REQUIRE(together.accuracy_drop[p] == curves[p].accuracy[0] - curves[p].accuracy[2]);
      REQUIRE(together.loss_increase[p] == curves[p].loss[2] - curves[p].loss[0]);
      REQUIRE(together.intact_accuracy == curves[p].accuracy[0]);
      REQUIRE(together.intact_loss == curves[p].loss[0]);
    }
  }
}

TEST_CASE("pair damage is the same bits for 1 and 2 threads and any memory budget",
          "[ablation][pairs]") {
  const auto d = testing::gaussian_blobs(900, 10, 4, 13, 0.3f);
  const auto net = trained(nn::Activation::tanh, d, {20, 14});
  const auto pairs = all_pairs(net);
  const AblationValues values = mean_values(net, d);
  for (auto engine : {Engine::fast, Engine::naive}) {
    SweepOptions o, blocks;
    o.engine = blocks.engine = engine;
    blocks.memory_budget_bytes = 1;  // one chunk per block
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const PairDamage one = pair_damage(net, d, values, pairs, o);
    omp_set_num_threads(2);
    const PairDamage two = pair_damage(net, d, values, pairs, o);
    const PairDamage small = pair_damage(net, d, values, pairs, blocks);
    omp_set_num_threads(saved);
    for (const PairDamage* other : {&two, &small}) {
      REQUIRE(same_bits(one.accuracy_drop, other->accuracy_drop));
      REQUIRE(same_bits(one.loss_increase, other->loss_increase));
      REQUIRE(same_bits({one.intact_accuracy, one.intact_loss},
                        {other->intact_accuracy, other->intact_loss}));
    }
  }
}

TEST_CASE("pair damage rejects a pair of one neuron and neurons the network lacks",
          "[ablation][pairs]") {
  const auto d = testing::gaussian_blobs(60, 4, 2, 1, 0.3f);
  const auto net = nn::make_mlp(4, {5, 3}, nn::Activation::relu, 2, 1);
  for (auto engine : {Engine::fast, Engine::naive}) {
    SweepOptions o;
    o.engine = engine;
    const auto v = zero_values(net);
    REQUIRE_THROWS_WITH(pair_damage(net, d, v, {{0, 1, 2}, {0, 3, 3}}, o),
                        Catch::Contains("pair (3, 3) of hidden layer 0") &&
                            Catch::Contains("two distinct neurons"));
    REQUIRE_THROWS_AS(pair_damage(net, d, v, {{1, 0, 3}}, o), Error);   // layer 1 has 3
    REQUIRE_THROWS_AS(pair_damage(net, d, v, {{0, -1, 2}}, o), Error);  // negative
    REQUIRE_THROWS_WITH(pair_damage(net, d, v, {{2, 0, 1}}, o),
                        Catch::Contains("the network has 2 hidden layers"));
    // No pairs: nothing to ablate, the intact values all the same.
    const PairDamage none = pair_damage(net, d, v, {}, o);
    REQUIRE(none.accuracy_drop.empty());
    REQUIRE(none.intact_accuracy == single_neuron_damage(net, d, v, o).intact_accuracy);
  }
}

TEST_CASE("a pair whose second neuron is dead or feeds nothing has interaction 0 exactly",
          "[ablation][pairs]") {
  const auto d = testing::gaussian_blobs(600, 10, 4, 17, 0.3f);
  for (auto act : {nn::Activation::relu, nn::Activation::tanh}) {
    auto net = trained(act, d, {16, 12});
    // Layer 0, neuron 5: no outgoing weight (column 5 of layer 1's weight is zero).
    for (int o = 0; o < 12; ++o) net.weight(1)[o * 16 + 5] = 0.0f;
    // Layer 1, neuron 4: no outgoing weight into the logits.
    for (int o = 0; o < 4; ++o) net.weight(2)[o * 12 + 4] = 0.0f;
    // Layer 0, neuron 9 (ReLU only): dead, its pre-activation is -1 on every sample.
    if (act == nn::Activation::relu) {
      for (int i = 0; i < 10; ++i) net.weight(0)[9 * 10 + i] = 0.0f;
      net.bias(0)[9] = -1.0f;
    }
    std::vector<NeuronPair> pairs;
    for (int i = 0; i < 16; ++i) {
      if (i != 5) {
        pairs.push_back({0, i, 5});
        pairs.push_back({0, 5, i});
      }
      if (act == nn::Activation::relu && i != 9) pairs.push_back({0, i, 9});
    }
    for (int i = 0; i < 12; ++i)
      if (i != 4) pairs.push_back({1, i, 4});
    for (bool mean : {false, true})
      for (auto engine : {Engine::fast, Engine::naive}) {
        INFO(nn::to_string(act) << (mean ? " mean " : " zero ") << to_string(engine));
        SweepOptions o;
        o.engine = engine;
        const AblationValues values = mean ? mean_values(net, d) : zero_values(net);
        const SingleDamage alone = single_neuron_damage(net, d, values, o);
        const PairDamage together = pair_damage(net, d, values, pairs, o);
        const PairInteraction x = pair_interaction(pairs, together, alone);
        double moved = 0.0;
        for (std::size_t p = 0; p < pairs.size(); ++p) {
          INFO("pair " << pairs[p].first << ", " << pairs[p].second << " of layer "
                       << pairs[p].layer);
          REQUIRE(x.accuracy[p] == 0.0);
          REQUIRE(x.loss[p] == 0.0);
          moved += std::abs(together.loss_increase[p]);
        }
        REQUIRE(moved > 0.0);  // the other neuron of each pair does matter
        // Neurons that feed nothing are harmless alone too.
        REQUIRE(alone.accuracy_drop[0][5] == 0.0);
        REQUIRE(alone.loss_increase[1][4] == 0.0);
      }
  }
}

TEST_CASE("pair interaction subtracts the damage of each neuron alone", "[ablation][pairs]") {
  SingleDamage alone;
  alone.accuracy_drop = {{0.5, 0.25, 0.125}, {0.0625, 1.0}};
  alone.loss_increase = {{1.0, 2.0, 4.0}, {8.0, 16.0}};
  PairDamage together;
  together.accuracy_drop = {1.0, 0.25, 0.5};
  together.loss_increase = {3.0, 5.0, 100.0};
  const std::vector<NeuronPair> pairs{{0, 0, 1}, {0, 2, 0}, {1, 1, 0}};
  const PairInteraction x = pair_interaction(pairs, together, alone);
  REQUIRE(x.accuracy == std::vector<double>{0.25, -0.375, -0.5625});
  REQUIRE(x.loss == std::vector<double>{0.0, 0.0, 76.0});
  REQUIRE_THROWS_AS(pair_interaction({{0, 0, 1}}, together, alone), std::logic_error);
}

// ---------------------------------------------------------------------------------------
// Selection.

namespace {

struct Candidates {
  std::vector<std::int64_t> first, second;
  std::vector<double> redundancy, synergy;
};

// Every pair (i, j), i < j, of n neurons, in the order (0,1), (0,2), ..., (n-2, n-1).
Candidates every_pair(int n) {
  Candidates c;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      c.first.push_back(i);
      c.second.push_back(j);
    }
  return c;
}

PairSelection select(const Candidates& c, std::int64_t count, std::uint64_t seed, int layer = 0) {
  return interaction_pairs(layer, c.first, c.second, c.redundancy, c.synergy, count, seed);
}

std::vector<NeuronPair> group_of(const PairSelection& s, PairGroup g) {
  std::vector<NeuronPair> out;
  for (std::size_t q = 0; q < s.pairs.size(); ++q)
    if (s.group[q] == g) out.push_back(s.pairs[q]);
  return out;
}

}  // namespace

TEST_CASE("pair selection: the most redundant, the most synergistic and random pairs",
          "[ablation][pairs]") {
  Candidates c = every_pair(4);  // (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
  c.redundancy = {0.1, 0.9, 0.3, 0.7, -0.2, 0.5};
  c.synergy = {0.6, 0.0, 0.8, 0.1, 0.05, 0.2};
  const PairSelection s = select(c, 2, 7, 1);
  REQUIRE(s.layer == 1);
  REQUIRE(s.count == 2);
  REQUIRE(s.pairs.size() == 6);
  REQUIRE(s.group == std::vector<PairGroup>{PairGroup::redundant, PairGroup::redundant,
                                            PairGroup::synergistic, PairGroup::synergistic,
                                            PairGroup::random, PairGroup::random});
  REQUIRE(group_of(s, PairGroup::redundant) == std::vector<NeuronPair>{{1, 0, 2}, {1, 1, 2}});
  REQUIRE(group_of(s, PairGroup::synergistic) == std::vector<NeuronPair>{{1, 0, 3}, {1, 0, 1}});
  // The values travel with their pairs.
  REQUIRE(s.redundancy[0] == 0.9);
  REQUIRE(s.synergy[0] == 0.0);
  REQUIRE(s.redundancy[2] == 0.3);
  REQUIRE(s.synergy[2] == 0.8);
  // Random: two distinct candidates, as the documented seeded shuffle draws them.
  const auto random = group_of(s, PairGroup::random);
  REQUIRE(!(random[0] == random[1]));
  std::vector<std::size_t> shuffled(6);
  std::iota(shuffled.begin(), shuffled.end(), std::size_t{0});
  Rng rng(derive_seed(7, {hash_name("pairs"), 1, hash_name("random")}));
  shuffle(shuffled, rng);
  for (std::size_t k = 0; k < 2; ++k) {
    REQUIRE(random[k].first == c.first[shuffled[k]]);
    REQUIRE(random[k].second == c.second[shuffled[k]]);
    REQUIRE(s.redundancy[4 + k] == c.redundancy[shuffled[k]]);
    REQUIRE(s.synergy[4 + k] == c.synergy[shuffled[k]]);
  }
  // A pair in several groups is listed in each: with count 3, (2,3) is the third most
  // redundant (0.5) and the third most synergistic (0.2).
  const PairSelection three = select(c, 3, 7, 1);
  REQUIRE(group_of(three, PairGroup::redundant)[2] == NeuronPair{1, 2, 3});
  REQUIRE(group_of(three, PairGroup::synergistic)[2] == NeuronPair{1, 2, 3});
  // 0: nothing selected.
  REQUIRE(select(c, 0, 7).pairs.empty());
}

TEST_CASE("pair selection: ties by a seeded permutation, never by position", "[ablation][pairs]") {
  // 28 pairs of 8 neurons, all with the same redundancy; synergy in 3 tied levels.
  Candidates c = every_pair(8);
  const std::size_t P = c.first.size();
  c.redundancy.assign(P, 0.25);
  for (std::size_t p = 0; p < P; ++p) c.synergy.push_back(static_cast<double>(p % 3));
  // The documented rule: shuffle by the group's seed, then stable-sort by decreasing value.
  for (std::uint64_t seed : {1u, 2u, 3u, 99u}) {
    const PairSelection s = select(c, 5, seed, 2);
    for (auto [g, name, values] : {std::tuple{PairGroup::redundant, "redundant", &c.redundancy},
                                   std::tuple{PairGroup::synergistic, "synergistic", &c.synergy}}) {
      std::vector<std::size_t> expected(P);
      std::iota(expected.begin(), expected.end(), std::size_t{0});
      Rng rng(derive_seed(seed, {hash_name("pairs"), 2, hash_name(name)}));
      shuffle(expected, rng);
      std::stable_sort(expected.begin(), expected.end(),
                       [&](std::size_t a, std::size_t b) { return (*values)[a] > (*values)[b]; });
      const auto chosen = group_of(s, g);
      for (std::size_t k = 0; k < 5; ++k) {
        REQUIRE(chosen[k].first == c.first[expected[k]]);
        REQUIRE(chosen[k].second == c.second[expected[k]]);
      }
    }
    // Synergy 2 is the largest level: every chosen synergistic pair has it.
    for (std::size_t q = 5; q < 10; ++q) REQUIRE(s.synergy[q] == 2.0);
  }
  // Over many seeds every tied candidate is picked about equally often (5 of 28 each time):
  // the first candidates by position are not favoured.
  std::vector<int> picked(P, 0);
  constexpr int seeds = 2000;
  for (std::uint64_t seed = 0; seed < seeds; ++seed)
    for (const auto& p : group_of(select(c, 5, seed), PairGroup::redundant)) {
      std::size_t k = 0;
      while (c.first[k] != p.first || c.second[k] != p.second) ++k;
      ++picked[k];
    }
  const double expected = seeds * 5.0 / static_cast<double>(P);  // 357
  for (std::size_t k = 0; k < P; ++k) {
    INFO("candidate " << k);
    REQUIRE(std::abs(picked[k] - expected) < 5.0 * std::sqrt(expected));  // ~5 sd
  }
}

TEST_CASE("pair selection: more pairs asked than there are, determinism, bad input",
          "[ablation][pairs]") {
  Candidates c = every_pair(5);  // 10 pairs
  const std::size_t P = c.first.size();
  for (std::size_t p = 0; p < P; ++p) {
    c.redundancy.push_back(std::sin(static_cast<double>(p)));
    c.synergy.push_back(std::cos(static_cast<double>(p) * 0.7));
  }
  const PairSelection s = select(c, 1000, 3);
  REQUIRE(s.count == 10);
  REQUIRE(s.pairs.size() == 30);
  for (auto g : {PairGroup::redundant, PairGroup::synergistic, PairGroup::random}) {
    // Each group holds every candidate once.
    std::set<std::pair<int, int>> seen;
    for (const auto& p : group_of(s, g)) seen.insert({p.first, p.second});
    REQUIRE(seen.size() == P);
  }
  for (std::size_t q = 1; q < 10; ++q) REQUIRE(s.redundancy[q - 1] >= s.redundancy[q]);
  for (std::size_t q = 11; q < 20; ++q) REQUIRE(s.synergy[q - 1] >= s.synergy[q]);
  // The same inputs and seed, the same selection; another seed, another random group.
  const PairSelection again = select(c, 1000, 3);
  REQUIRE(again.pairs == s.pairs);
  REQUIRE(again.group == s.group);
  REQUIRE(group_of(select(c, 4, 3), PairGroup::random) !=
          group_of(select(c, 4, 4), PairGroup::random));
  // Another layer, another draw from the same seed.
  auto in_layer = [&](int layer) {
    std::vector<std::pair<int, int>> out;
    for (const auto& p : group_of(select(c, 4, 3, layer), PairGroup::random))
      out.push_back({p.first, p.second});
    return out;
  };
  REQUIRE(in_layer(0) != in_layer(1));
  // Bad input.
  REQUIRE_THROWS_WITH(select(c, -1, 3), Catch::Contains("negative number of pairs"));
  Candidates bad = c;
  bad.second[4] = bad.first[4];
  REQUIRE_THROWS_WITH(select(bad, 2, 3), Catch::Contains("not two distinct neurons"));
  bad = c;
  bad.first[0] = -1;
  REQUIRE_THROWS_AS(select(bad, 2, 3), Error);
  bad = c;
  bad.synergy[7] = std::nan("");
  REQUIRE_THROWS_WITH(select(bad, 2, 3), Catch::Contains("NaN"));
  // No candidates at all (a layer of one neuron): nothing to select.
  REQUIRE(select(Candidates{}, 5, 3).pairs.empty());
}

// ---------------------------------------------------------------------------------------
// Layout.

TEST_CASE("pair interaction layout: every column, the interactions, a file round trip",
          "[io][pairs]") {
  const auto d = testing::gaussian_blobs(300, 6, 3, 5, 0.3f);
  const auto net = trained(nn::Activation::relu, d, {7, 5});
  const AblationValues values = zero_values(net);
  std::vector<PairSelection> selections;
  for (int l = 0; l < 2; ++l) {
    Candidates c = every_pair(net.out_size(l));
    for (std::size_t p = 0; p < c.first.size(); ++p) {
      c.redundancy.push_back(0.1 * static_cast<double>((p * 7) % 5));
      c.synergy.push_back(0.01 * static_cast<double>(p));
    }
    selections.push_back(select(c, 4, 11, l));
  }
  selections.push_back(select(Candidates{}, 4, 11, 2));  // no pairs: no group
  std::vector<NeuronPair> pairs;
  for (const auto& s : selections) pairs.insert(pairs.end(), s.pairs.begin(), s.pairs.end());
  const PairDamage together = pair_damage(net, d, values, pairs, {});
  const SingleDamage alone = single_neuron_damage(net, d, values, {});

  io::Record r;
  r.key = "test";
  io::add_pair_interaction(r, "", selections, together, alone);
  REQUIRE(r.datasets.size() == 18);  // 9 per layer with pairs
  const auto path = [](int l, const char* name) {
    return "/pair_interaction/layers/" + std::to_string(l) + "/" + name;
  };
  std::size_t at = 0;
  for (int l = 0; l < 2; ++l) {
    const PairSelection& s = selections[static_cast<std::size_t>(l)];
    const auto first = r.find(path(l, "first")).values<std::int64_t>();
    const auto second = r.find(path(l, "second")).values<std::int64_t>();
    const auto group = r.find(path(l, "group")).values<std::int64_t>();
    const auto drop = r.find(path(l, "accuracy_drop")).values<double>();
    const auto loss = r.find(path(l, "loss_increase")).values<double>();
    const auto acc_x = r.find(path(l, "accuracy_interaction")).values<double>();
    const auto loss_x = r.find(path(l, "loss_interaction")).values<double>();
    REQUIRE(r.find(path(l, "redundancy")).values<double>() == s.redundancy);
    REQUIRE(r.find(path(l, "synergy")).values<double>() == s.synergy);
    REQUIRE(r.find(path(l, "group")).type == io::DType::i64);
    REQUIRE(r.find(path(l, "synergy")).dims == std::vector<std::uint64_t>{12});
    REQUIRE(first.size() == 12);
    for (std::size_t q = 0; q < 12; ++q) {
      REQUIRE(first[q] == s.pairs[q].first);
      REQUIRE(second[q] == s.pairs[q].second);
      REQUIRE(group[q] == static_cast<std::int64_t>(q / 4));
      REQUIRE(drop[q] == together.accuracy_drop[at + q]);
      REQUIRE(loss[q] == together.loss_increase[at + q]);
      const auto i = static_cast<std::size_t>(first[q]), j = static_cast<std::size_t>(second[q]);
      const auto L = static_cast<std::size_t>(l);
      REQUIRE(acc_x[q] == drop[q] - alone.accuracy_drop[L][i] - alone.accuracy_drop[L][j]);
      REQUIRE(loss_x[q] == loss[q] - alone.loss_increase[L][i] - alone.loss_increase[L][j]);
    }
    at += 12;
  }
  std::map<std::string, io::AttributeValue> attributes;
  for (const auto& a : r.attributes) attributes[a.path + "@" + a.name] = a.value;
  REQUIRE(std::get<std::int64_t>(attributes.at("/pair_interaction/layers/1@count")) == 4);
  REQUIRE(attributes.count("/pair_interaction/layers/2@count") == 0);
  REQUIRE(std::get<std::string>(attributes.at("/pair_interaction/layers/0@groups")) ==
          "redundant,synergistic,random");

  // The same through a file.
  const auto file =
      std::filesystem::temp_directory_path() /
      ("ioca_test_pair_damage_" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".h5");
  io::write_record_file(file.string(), r);
  {
    const io::h5::File f = io::h5::open_file_read(file.string());
    const io::h5::Handle g = io::h5::open_object(f, "/pair_interaction/layers/1");
    REQUIRE(io::h5::read_int_dataset(f, g.id(), "second").data ==
            r.find(path(1, "second")).values<std::int64_t>());
    REQUIRE(io::h5::read_double_dataset(f, g.id(), "loss_interaction").data ==
            r.find(path(1, "loss_interaction")).values<double>());
    REQUIRE(io::h5::read_int_attribute(f, g.id(), "count", "layer 1") == 4);
    REQUIRE(io::h5::read_string_attribute(f, g.id(), "groups", "layer 1") ==
            "redundant,synergistic,random");
  }
  std::filesystem::remove(file);

  // Damage of another number of pairs is a bug of the caller.
  PairDamage short_damage = together;
  short_damage.accuracy_drop.pop_back();
  io::Record bad;
  REQUIRE_THROWS_AS(io::add_pair_interaction(bad, "", selections, short_damage, alone),
                    std::logic_error);
}
