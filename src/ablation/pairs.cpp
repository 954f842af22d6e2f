// Pairwise ablation: the damage of two neurons of a layer ablated together, its interaction
// with their damage apart, and which pairs to ask about.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "ablation/together.hpp"
#include "ioca/core.hpp"

namespace ioca::ablation {

PairDamage pair_damage(const nn::Mlp& net, const data::Dataset& test, const AblationValues& values,
                       const std::vector<NeuronPair>& pairs, const SweepOptions& options) {
  std::vector<std::vector<Neuron>> sets;
  sets.reserve(pairs.size());
  for (const auto& p : pairs) {
    const std::string what = "pair (" + std::to_string(p.first) + ", " + std::to_string(p.second) +
                             ") of hidden layer " + std::to_string(p.layer);
    if (p.layer < 0 || p.layer >= net.num_hidden())
      throw Error(what + ": the network has " + std::to_string(net.num_hidden()) +
                  " hidden layers");
    const int width = net.out_size(p.layer);
    if (p.first < 0 || p.first >= width || p.second < 0 || p.second >= width)
      throw Error(what + ": the layer has " + std::to_string(width) + " neurons");
    if (p.first == p.second) throw Error(what + ": a pair needs two distinct neurons");
    sets.push_back({{p.layer, p.first}, {p.layer, p.second}});
  }
  detail::SetDamage d = detail::damage_together(net, test, values, sets, options);
  PairDamage out;
  out.accuracy_drop = std::move(d.accuracy_drop);
  out.loss_increase = std::move(d.loss_increase);
  out.intact_accuracy = d.intact_accuracy;
  out.intact_loss = d.intact_loss;
  return out;
}

PairInteraction pair_interaction(const std::vector<NeuronPair>& pairs, const PairDamage& together,
                                 const SingleDamage& alone) {
  if (together.accuracy_drop.size() != pairs.size() ||
      together.loss_increase.size() != pairs.size())
    throw std::logic_error("pair_interaction: one pair damage per pair");
  PairInteraction out;
  out.accuracy.reserve(pairs.size());
  out.loss.reserve(pairs.size());
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    const auto l = static_cast<std::size_t>(pairs[p].layer),
               i = static_cast<std::size_t>(pairs[p].first),
               j = static_cast<std::size_t>(pairs[p].second);
    // at() keeps a pair outside the single damage's network a (caught) bug, not a crash.
    out.accuracy.push_back(together.accuracy_drop[p] - alone.accuracy_drop.at(l).at(i) -
                           alone.accuracy_drop.at(l).at(j));
    out.loss.push_back(together.loss_increase[p] - alone.loss_increase.at(l).at(i) -
                       alone.loss_increase.at(l).at(j));
  }
  return out;
}

namespace {

// Candidate positions by decreasing value, ties in the order of a seeded shuffle.
std::vector<std::size_t> by_decreasing(const std::vector<double>& values, std::uint64_t seed) {
  std::vector<std::size_t> position(values.size());
  std::iota(position.begin(), position.end(), std::size_t{0});
  Rng rng(seed);
  shuffle(position, rng);
  std::stable_sort(position.begin(), position.end(),
                   [&](std::size_t a, std::size_t b) { return values[a] > values[b]; });
  return position;
}

}  // namespace

PairSelection interaction_pairs(int layer, const std::vector<std::int64_t>& first,
                                const std::vector<std::int64_t>& second,
                                const std::vector<double>& redundancy,
                                const std::vector<double>& synergy, std::int64_t count,
                                std::uint64_t seed) {
  const std::size_t P = first.size();
  if (second.size() != P || redundancy.size() != P || synergy.size() != P)
    throw std::logic_error("interaction_pairs: first, second, redundancy and synergy per pair");
  const std::string where = "pair selection of hidden layer " + std::to_string(layer);
  if (count < 0)
    throw Error(where + ": a negative number of pairs (" + std::to_string(count) + ")");
  const auto neuron = [](std::int64_t i) { return i >= 0 && i <= std::numeric_limits<int>::max(); };
  for (std::size_t p = 0; p < P; ++p) {
    if (!neuron(first[p]) || !neuron(second[p]) || first[p] == second[p])
      throw Error(where + ": candidate " + std::to_string(p) + " is (" + std::to_string(first[p]) +
                  ", " + std::to_string(second[p]) + "), not two distinct neurons");
    if (std::isnan(redundancy[p]) || std::isnan(synergy[p]))
      throw Error(where + ": candidate " + std::to_string(p) + " has a NaN redundancy or synergy");
  }
  const auto tag = [&](const char* group) {
    return derive_seed(seed,
                       {hash_name("pairs"), static_cast<std::uint64_t>(layer), hash_name(group)});
  };
  const std::size_t n = std::min(P, static_cast<std::size_t>(count));
  std::vector<std::size_t> random(P);
  std::iota(random.begin(), random.end(), std::size_t{0});
  Rng rng(tag("random"));
  shuffle(random, rng);
  const std::vector<std::size_t> chosen[3] = {by_decreasing(redundancy, tag("redundant")),
                                              by_decreasing(synergy, tag("synergistic")), random};
  PairSelection s;
  s.layer = layer;
  s.count = static_cast<std::int64_t>(n);
  for (int g = 0; g < 3; ++g)
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t p = chosen[g][k];
      s.pairs.push_back({layer, static_cast<int>(first[p]), static_cast<int>(second[p])});
      s.group.push_back(static_cast<PairGroup>(g));
      s.redundancy.push_back(redundancy[p]);
      s.synergy.push_back(synergy[p]);
    }
  return s;
}

}  // namespace ioca::ablation
