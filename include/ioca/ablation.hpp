#pragma once
// Cumulative ablation: neurons of a scope set to a constant one after another, with test
// accuracy, loss and per-class accuracy after each step. Two engines give the same curves:
// `naive` runs a full masked forward pass per recorded step; `fast` caches the intact
// pre-activations and applies each ablation as a rank-1 update of the next layer, touching
// only the samples whose value changes and recomputing only what lies downstream.
//
// Arithmetic (both engines): activations are float32, every pre-activation is accumulated in
// double and then rounded to float, logits stay double for the loss and the arg-max. So the
// engines differ only by double rounding (~1e-16) and give the same curves.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ioca/data.hpp"
#include "ioca/nn.hpp"

namespace ioca::ablation {

// A hidden neuron: hidden layer index (0 = first hidden layer) and index within it.
struct Neuron {
  int layer = 0;
  int index = 0;
  bool operator==(const Neuron&) const = default;
};

// "layer0", "layer1", ... or "network" (all hidden neurons pooled).
struct Scope {
  std::string name;
  std::vector<Neuron> neurons;  // enumeration order: layer by layer, index within layer
};
// Throws ioca::Error for an unknown scope name. "all" is not a scope (the CLI expands it).
Scope make_scope(const nn::Mlp& net, std::string_view name);
// The same from the hidden widths alone (a file's /hidden_widths).
Scope make_scope(const std::vector<int>& hidden_widths, std::string_view name);
std::vector<int> hidden_widths(const nn::Mlp& net);            // neurons per hidden layer
std::vector<std::string> all_scope_names(const nn::Mlp& net);  // layer0.., network

enum class Direction { ascending, descending };
Direction parse_direction(std::string_view name);
std::string_view to_string(Direction d);

// Order of a scope's neurons by a value per neuron (values[i] belongs to scope.neurons[i]),
// increasing (ascending) or decreasing (descending). Ties are broken by a seeded random
// permutation, the same in both directions: the neurons are first shuffled exactly as
// random_order(scope, tie_seed), then stable-sorted by value. NaN values are an error.
std::vector<Neuron> order_by_value(const Scope& scope, const std::vector<double>& values,
                                   Direction direction, std::uint64_t tie_seed);
// How many values equal at least one other value (0 when all differ; n when all are equal).
// NaN counts as tied with nothing.
std::int64_t count_tied(const std::vector<double>& values);
// Position of each neuron of an order in the scope's enumeration (what files store as
// `order`); throws ioca::Error for a neuron outside the scope.
std::vector<std::int64_t> order_indices(const Scope& scope, const std::vector<Neuron>& order);
// A uniformly random permutation of the scope (Fisher–Yates on the bit-exact Rng).
std::vector<Neuron> random_order(const Scope& scope, std::uint64_t seed);

enum class AblateTo { zero, mean };
AblateTo parse_ablate_to(std::string_view name);
std::string_view to_string(AblateTo a);

// The constant each neuron is set to when ablated: per hidden layer, one per neuron.
using AblationValues = std::vector<std::vector<float>>;
AblationValues zero_values(const nn::Mlp& net);

enum class Engine { fast, naive };
Engine parse_engine(std::string_view name);
std::string_view to_string(Engine e);

// Work counters of the fast engine (for benchmarks): sample rows updated per ablated layer.
struct SweepCounters {
  std::vector<std::int64_t> rows_updated;  // per hidden layer of the ablated neuron
};

struct SweepOptions {
  Engine engine = Engine::fast;
  // Points at which the curve is recorded: numbers of neurons ablated, increasing, from 0 to
  // the order's length. Empty: after every step (0, 1, ..., n).
  std::vector<std::int64_t> record_at;
  std::size_t chunk_rows = 256;       // test samples per task (bounds memory, keeps work in cache)
  SweepCounters* counters = nullptr;  // filled by the fast engine when given
  // The test set is processed in blocks of chunks whose cached state and partial results
  // fit this budget, so memory stays bounded for any test-set size (results do not depend
  // on it).
  std::size_t memory_budget_bytes = std::size_t{512} << 20;
  // The fast engine takes a chunk's rows through an order in parts whose state fits this
  // many bytes (a core's L2 cache, or half of it); at least 8 rows. Results do not depend
  // on it.
  std::size_t cache_bytes = std::size_t{256} << 10;
};

// One curve: values at each recorded point.
struct Curve {
  std::vector<std::int64_t> ablated;       // [points] neurons ablated at each point
  std::vector<double> accuracy;            // [points]
  std::vector<double> loss;                // [points] mean cross-entropy, nats
  std::vector<double> per_class_accuracy;  // [points, classes]; NaN for an absent class
};

// Runs every order (each a sequence of distinct hidden neurons) on the data set; the work
// is spread over OpenMP threads by (order, chunk of samples). Results do not depend on the
// number of threads.
std::vector<Curve> run_sweeps(const nn::Mlp& net, const data::Dataset& test,
                              const AblationValues& values,
                              const std::vector<std::vector<Neuron>>& orders,
                              const SweepOptions& options);

// Damage of ablating each hidden neuron alone: intact minus ablated accuracy, and ablated
// minus intact loss, per hidden layer and neuron.
struct SingleDamage {
  std::vector<std::vector<double>> accuracy_drop;
  std::vector<std::vector<double>> loss_increase;
  double intact_accuracy = 0.0;
  double intact_loss = 0.0;
};
SingleDamage single_neuron_damage(const nn::Mlp& net, const data::Dataset& test,
                                  const AblationValues& values, const SweepOptions& options);

// Two distinct neurons of one hidden layer, ablated together.
struct NeuronPair {
  int layer = 0;
  int first = 0;
  int second = 0;
  bool operator==(const NeuronPair&) const = default;
};

// Damage of ablating each pair's two neurons together: intact minus ablated accuracy and
// ablated minus intact loss, per pair. What the naive engine reports is the cumulative
// curve of the order {first, second} at 0 and 2 neurons; the fast engine applies the pair to
// the cached intact state as a rank-2 update of the next layer's pre-activation (only the
// samples whose value of either neuron changes) and recomputes the layers above; a sample
// whose two largest logits are within rounding of a tie is recomputed in full, as the naive
// engine does. Like single-neuron damage (the same engine, one neuron at a time): the
// accuracies are the same bits in both engines, the losses differ only by double rounding
// (~1e-17 nats), and neither depends on the number of threads. Throws ioca::Error for a pair
// outside the network or of one neuron twice.
struct PairDamage {
  std::vector<double> accuracy_drop;  // [pairs]
  std::vector<double> loss_increase;  // [pairs]
  double intact_accuracy = 0.0;
  double intact_loss = 0.0;
};
PairDamage pair_damage(const nn::Mlp& net, const data::Dataset& test, const AblationValues& values,
                       const std::vector<NeuronPair>& pairs, const SweepOptions& options);

// Interaction of each pair: damage({i, j}) - damage({i}) - damage({j}), for accuracy and for
// loss. > 0: the pair together costs more than the sum of its neurons apart. `together` is
// pair_damage of `pairs`, `alone` the single-neuron damage of the same network and values.
struct PairInteraction {
  std::vector<double> accuracy;  // [pairs]
  std::vector<double> loss;      // [pairs]
};
PairInteraction pair_interaction(const std::vector<NeuronPair>& pairs, const PairDamage& together,
                                 const SingleDamage& alone);

// Which question a selected pair answers: among the most redundant pairs of its layer, the
// most synergistic, or drawn at random (the baseline). The file stores the number.
enum class PairGroup { redundant = 0, synergistic = 1, random = 2 };
inline constexpr const char* pair_group_names = "redundant,synergistic,random";

// Pairs of one hidden layer selected for pairwise ablation, in groups: first the `count`
// pairs of largest redundancy (in decreasing redundancy), then the `count` of largest
// synergy (decreasing), then `count` distinct pairs drawn uniformly at random (in the order
// drawn); each group holds min(count, P) of the P candidates. A pair may be in several
// groups and is then listed in each. `redundancy` and `synergy` are the candidates' values,
// copied for every selected pair.
struct PairSelection {
  int layer = 0;
  std::int64_t count = 0;          // pairs in each group
  std::vector<NeuronPair> pairs;   // [3 count]
  std::vector<PairGroup> group;    // [3 count]
  std::vector<double> redundancy;  // [3 count]
  std::vector<double> synergy;     // [3 count]
};
// The candidates are the P pairs (first[p], second[p]) of hidden layer `layer` with their
// redundancy and synergy (e.g. every pair of the layer, from a decomposition of I(Ti,Tj;Y)).
// Ties in redundancy or synergy are broken by a seeded random permutation of the candidates,
// never by their position: Rng(derive_seed(seed, {hash_name("pairs"), layer,
// hash_name("redundant")})) (and "synergistic") shuffles the candidates before a stable sort
// by decreasing value; the random group is the first min(count, P) candidates of the shuffle
// by Rng(derive_seed(seed, {hash_name("pairs"), layer, hash_name("random")})), so one base
// seed (a network's ablation seed, say) serves every layer. Throws
// ioca::Error for a negative count, NaN values, or a candidate that names one neuron twice
// or a negative index.
PairSelection interaction_pairs(int layer, const std::vector<std::int64_t>& first,
                                const std::vector<std::int64_t>& second,
                                const std::vector<double>& redundancy,
                                const std::vector<double>& synergy, std::int64_t count,
                                std::uint64_t seed);

// Evenly spaced recording points: 0, then `steps` points up to n (all of 0..n when
// steps >= n).
std::vector<std::int64_t> even_points(std::int64_t n, std::int64_t steps);

}  // namespace ioca::ablation
