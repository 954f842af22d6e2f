// Orders and sweeps: which neurons are ablated in which order, and the curves they give.
#include <cmath>
#include <map>
#include <stdexcept>

#include "ioca/core.hpp"
#include "ioca/pipeline.hpp"

namespace ioca::pipeline {

std::uint64_t random_order_seed(std::uint64_t seed, const std::string& fingerprint,
                                const std::string& scope, std::uint64_t r) {
  return derive_seed(seed, {hash_name(fingerprint), hash_name(scope), r});
}

std::uint64_t tie_seed(std::uint64_t seed, const std::string& fingerprint,
                       const std::string& scope, const std::string& quantity) {
  // The leading tag keeps these seeds apart from random_order_seed's.
  return derive_seed(seed, {hash_name("ties"), hash_name(fingerprint), hash_name(scope),
                            hash_name(quantity)});
}

io::AblationResults no_orders(const nn::Mlp& net) {
  io::AblationResults r;
  r.hidden_widths = ablation::hidden_widths(net);
  r.classes = net.output_size();
  return r;
}

namespace {

// The value of each neuron of the scope that orders it.
std::vector<double> order_values(const Prepared& p, const ablation::Scope& scope,
                                 const std::string& quantity, const std::string& source) {
  std::vector<double> v;
  v.reserve(scope.neurons.size());
  for (const auto& n : scope.neurons) {
    const auto l = static_cast<std::size_t>(n.layer), j = static_cast<std::size_t>(n.index);
    if (quantity == single_damage) {
      v.push_back(p.single_accuracy_drop.at(l).at(j));
      continue;
    }
    const auto& values = info::quantity(p.measures.layers.at(l), quantity);
    if (values.empty())
      throw FileError(source, "has no /layers/" + std::to_string(l) + "/" + quantity +
                                  (quantity.rfind("mutual_information_null", 0) == 0
                                       ? " (measure with --mi-null K to order by it)"
                                       : " (written by an earlier ioca; measure again)"));
    v.push_back(values.at(j));
    if (std::isnan(v.back()))
      throw FileError(source, "/layers/" + std::to_string(l) + "/" + quantity +
                                  " is NaN for neuron " + std::to_string(j) +
                                  ", so it cannot order the neurons");
  }
  return v;
}

}  // namespace

void add_quantity_orders(io::AblationResults& r, const Prepared& p, const ablation::Scope& scope,
                         const std::string& quantity,
                         const std::vector<ablation::Direction>& directions, std::uint64_t seed,
                         const std::string& source) {
  const std::vector<double> v = order_values(p, scope, quantity, source);
  const std::uint64_t ties = tie_seed(seed, p.fingerprint, scope.name, quantity);
  const std::int64_t tied = ablation::count_tied(v);
  for (const auto d : directions)
    r.ordered.push_back(
        {scope.name, quantity, d, ablation::order_by_value(scope, v, d, ties), {}, tied});
}

void add_random_orders(io::AblationResults& r, const ablation::Scope& scope, std::uint64_t seed,
                       const std::string& fingerprint, int count) {
  if (count <= 0) return;
  io::RandomCurves rc;
  rc.scope = scope.name;
  for (int i = 0; i < count; ++i)
    rc.orders.push_back(ablation::random_order(
        scope, random_order_seed(seed, fingerprint, scope.name, static_cast<std::uint64_t>(i))));
  rc.curves.resize(rc.orders.size());
  r.random.push_back(std::move(rc));
}

void sweep(const Prepared& p, const data::Dataset& test, io::AblationResults& r,
           const ablation::SweepOptions& options, std::int64_t steps) {
  struct Target {
    const std::vector<ablation::Neuron>* order;
    ablation::Curve* curve;
  };
  std::map<std::vector<std::int64_t>, std::vector<Target>> groups;  // by recording points
  const auto add = [&](const std::vector<ablation::Neuron>& order, ablation::Curve& curve) {
    const auto n = static_cast<std::int64_t>(order.size());
    groups[steps > 0 ? ablation::even_points(n, steps) : std::vector<std::int64_t>{}].push_back(
        {&order, &curve});
  };
  for (auto& o : r.ordered) add(o.order, o.curve);
  for (auto& rc : r.random)
    for (std::size_t i = 0; i < rc.orders.size(); ++i) add(rc.orders[i], rc.curves[i]);
  for (auto& c : r.custom) add(c.order, c.curve);
  for (auto& [points, targets] : groups) {
    ablation::SweepOptions o = options;
    o.record_at = points;
    std::vector<std::vector<ablation::Neuron>> orders;
    for (const auto& t : targets) orders.push_back(*t.order);
    auto curves = ablation::run_sweeps(p.net, test, p.values, orders, o);
    if (curves.size() != targets.size())
      throw std::logic_error("run_sweeps returned " + std::to_string(curves.size()) +
                             " curves for " + std::to_string(targets.size()) + " orders");
    for (std::size_t i = 0; i < targets.size(); ++i) *targets[i].curve = std::move(curves[i]);
  }
}

}  // namespace ioca::pipeline
