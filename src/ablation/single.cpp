// Damage of ablating each hidden neuron alone.
#include "ablation/together.hpp"

namespace ioca::ablation {

SingleDamage single_neuron_damage(const nn::Mlp& net, const data::Dataset& test,
                                  const AblationValues& values, const SweepOptions& options) {
  std::vector<std::vector<Neuron>> sets;
  for (int l = 0; l < net.num_hidden(); ++l)
    for (int j = 0; j < net.out_size(l); ++j) sets.push_back({{l, j}});
  const detail::SetDamage d = detail::damage_together(net, test, values, sets, options);
  SingleDamage out;
  out.intact_accuracy = d.intact_accuracy;
  out.intact_loss = d.intact_loss;
  std::size_t i = 0;
  for (int l = 0; l < net.num_hidden(); ++l) {
    const auto w = static_cast<std::ptrdiff_t>(net.out_size(l));
    const auto first = static_cast<std::ptrdiff_t>(i);
    out.accuracy_drop.emplace_back(d.accuracy_drop.begin() + first,
                                   d.accuracy_drop.begin() + first + w);
    out.loss_increase.emplace_back(d.loss_increase.begin() + first,
                                   d.loss_increase.begin() + first + w);
    i += static_cast<std::size_t>(w);
  }
  return out;
}

}  // namespace ioca::ablation
