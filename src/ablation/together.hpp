#pragma once
// Damage of ablating a few neurons of one hidden layer together, against the intact network:
// the engine of single-neuron damage (one neuron) and pair damage (two).
#include <vector>

#include "ioca/ablation.hpp"

namespace ioca::ablation::detail {

struct SetDamage {
  std::vector<double> accuracy_drop;  // [sets]: intact minus ablated accuracy
  std::vector<double> loss_increase;  // [sets]: ablated minus intact loss
  double intact_accuracy = 0.0;
  double intact_loss = 0.0;
};

// Every set holds the same number of distinct neurons of one hidden layer (std::logic_error
// otherwise). naive: the cumulative curve of each set (as an order) at 0 and all of its
// neurons; fast: each set applied to the cached intact state, the next layer's
// pre-activation updated by one rank-1 term per neuron whose value changes, in set order,
// and the layers above recomputed; a row whose arg-max is near a tie (near_tie) is
// recomputed as the naive engine does. Accuracies are the same bits in both engines; sums
// run in chunk order, so nothing depends on the number of threads or the memory budget.
SetDamage damage_together(const nn::Mlp& net, const data::Dataset& test,
                          const AblationValues& values,
                          const std::vector<std::vector<Neuron>>& sets,
                          const SweepOptions& options);

}  // namespace ioca::ablation::detail
