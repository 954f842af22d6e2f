// Scopes, orders and recording points.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ioca/ablation.hpp"
#include "ioca/core.hpp"

namespace ioca::ablation {

Scope make_scope(const nn::Mlp& net, std::string_view name) {
  Scope s;
  s.name = std::string(name);
  const auto add_layer = [&](int l) {
    for (int j = 0; j < net.out_size(l); ++j) s.neurons.push_back({l, j});
  };
  if (name == "network") {
    for (int l = 0; l < net.num_hidden(); ++l) add_layer(l);
    return s;
  }
  if (name.size() > 5 && name.substr(0, 5) == "layer") {
    int l = 0;
    for (char c : name.substr(5)) {
      if (c < '0' || c > '9' || l > 100000) {
        l = -1;
        break;
      }
      l = l * 10 + (c - '0');
    }
    if (l >= 0 && l < net.num_hidden()) {
      add_layer(l);
      return s;
    }
  }
  std::string valid;
  for (const auto& n : all_scope_names(net)) valid += (valid.empty() ? "" : ", ") + n;
  throw Error("unknown scope '" + std::string(name) + "' (this network has: " + valid + ")");
}

std::vector<std::string> all_scope_names(const nn::Mlp& net) {
  std::vector<std::string> names;
  for (int l = 0; l < net.num_hidden(); ++l) names.push_back("layer" + std::to_string(l));
  names.push_back("network");
  return names;
}

Direction parse_direction(std::string_view name) {
  if (name == "ascending") return Direction::ascending;
  if (name == "descending") return Direction::descending;
  throw Error("unknown direction '" + std::string(name) + "' (expected ascending or descending)");
}

std::string_view to_string(Direction d) {
  return d == Direction::ascending ? "ascending" : "descending";
}

std::vector<Neuron> order_by_value(const Scope& scope, const std::vector<double>& values,
                                   Direction direction) {
  if (values.size() != scope.neurons.size())
    throw std::logic_error("order_by_value: one value per neuron of the scope");
  for (double v : values)
    if (std::isnan(v))
      throw Error("cannot order scope " + scope.name + " by a quantity with NaN values");
  std::vector<std::size_t> position(values.size());
  std::iota(position.begin(), position.end(), std::size_t{0});
  std::stable_sort(position.begin(), position.end(),
                   [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  if (direction == Direction::descending) std::reverse(position.begin(), position.end());
  std::vector<Neuron> order;
  for (auto p : position) order.push_back(scope.neurons[p]);
  return order;
}

std::vector<Neuron> random_order(const Scope& scope, std::uint64_t seed) {
  std::vector<Neuron> order = scope.neurons;
  Rng rng(seed);
  shuffle(order, rng);
  return order;
}

AblateTo parse_ablate_to(std::string_view name) {
  if (name == "zero") return AblateTo::zero;
  if (name == "mean") return AblateTo::mean;
  throw Error("unknown ablation value '" + std::string(name) + "' (expected zero or mean)");
}

std::string_view to_string(AblateTo a) {
  return a == AblateTo::zero ? "zero" : "mean";
}

AblationValues zero_values(const nn::Mlp& net) {
  AblationValues v;
  for (int l = 0; l < net.num_hidden(); ++l)
    v.emplace_back(static_cast<std::size_t>(net.out_size(l)), 0.0f);
  return v;
}

Engine parse_engine(std::string_view name) {
  if (name == "fast") return Engine::fast;
  if (name == "naive") return Engine::naive;
  throw Error("unknown engine '" + std::string(name) + "' (expected fast or naive)");
}

std::string_view to_string(Engine e) {
  return e == Engine::fast ? "fast" : "naive";
}

std::vector<std::int64_t> even_points(std::int64_t n, std::int64_t steps) {
  std::vector<std::int64_t> points{0};
  if (steps <= 0 || steps >= n) {
    for (std::int64_t i = 1; i <= n; ++i) points.push_back(i);
    return points;
  }
  for (std::int64_t s = 1; s <= steps; ++s) {
    const std::int64_t p = (n * s + steps / 2) / steps;  // rounded, strictly increasing
    if (p > points.back()) points.push_back(p);
  }
  return points;
}

}  // namespace ioca::ablation
