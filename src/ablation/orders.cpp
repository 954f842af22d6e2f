// Scopes, orders and recording points.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "ioca/ablation.hpp"
#include "ioca/core.hpp"

namespace ioca::ablation {

std::vector<int> hidden_widths(const nn::Mlp& net) {
  return {net.sizes().begin() + 1, net.sizes().end() - 1};
}

Scope make_scope(const std::vector<int>& widths, std::string_view name) {
  Scope s;
  s.name = std::string(name);
  const int H = static_cast<int>(widths.size());
  const auto add_layer = [&](int l) {
    for (int j = 0; j < widths[static_cast<std::size_t>(l)]; ++j) s.neurons.push_back({l, j});
  };
  if (name == "network") {
    for (int l = 0; l < H; ++l) add_layer(l);
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
    if (l >= 0 && l < H) {
      add_layer(l);
      return s;
    }
  }
  std::string valid;
  for (int l = 0; l < H; ++l) valid += "layer" + std::to_string(l) + ", ";
  throw Error("unknown scope '" + std::string(name) + "' (this network has: " + valid + "network)");
}

Scope make_scope(const nn::Mlp& net, std::string_view name) {
  return make_scope(hidden_widths(net), name);
}

std::vector<std::int64_t> order_indices(const Scope& scope, const std::vector<Neuron>& order) {
  // A scope holds whole layers, layer by layer: a neuron's position is its layer's first
  // position plus its index.
  std::map<int, std::pair<std::int64_t, int>> layers;  // layer -> (first position, width)
  for (std::size_t i = 0; i < scope.neurons.size(); ++i) {
    auto& [first, width] =
        layers.try_emplace(scope.neurons[i].layer, static_cast<std::int64_t>(i), 0).first->second;
    ++width;
  }
  std::vector<std::int64_t> out;
  out.reserve(order.size());
  for (const auto& n : order) {
    const auto it = layers.find(n.layer);
    if (it == layers.end() || n.index < 0 || n.index >= it->second.second)
      throw Error("an order of scope " + scope.name + " names neuron " + std::to_string(n.index) +
                  " of hidden layer " + std::to_string(n.layer) + ", outside the scope");
    out.push_back(it->second.first + n.index);
  }
  return out;
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
                                   Direction direction, std::uint64_t tie_seed) {
  if (values.size() != scope.neurons.size())
    throw std::logic_error("order_by_value: one value per neuron of the scope");
  for (double v : values)
    if (std::isnan(v))
      throw Error("cannot order scope " + scope.name + " by a quantity with NaN values");
  // Start from the same seeded shuffle random_order(scope, tie_seed) gives, then stable-sort
  // by value: equal values keep the shuffled order, so ties are broken at random instead of
  // by neuron index, and both directions break them alike.
  std::vector<std::size_t> position(values.size());
  std::iota(position.begin(), position.end(), std::size_t{0});
  Rng rng(tie_seed);
  shuffle(position, rng);
  if (direction == Direction::ascending)
    std::stable_sort(position.begin(), position.end(),
                     [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  else
    std::stable_sort(position.begin(), position.end(),
                     [&](std::size_t a, std::size_t b) { return values[a] > values[b]; });
  std::vector<Neuron> order;
  order.reserve(position.size());
  for (auto p : position) order.push_back(scope.neurons[p]);
  return order;
}

std::int64_t count_tied(const std::vector<double>& values) {
  std::vector<double> sorted;  // without NaN, which equals nothing (and cannot be sorted)
  for (double v : values)
    if (!std::isnan(v)) sorted.push_back(v);
  std::sort(sorted.begin(), sorted.end());
  std::int64_t tied = 0;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t end = i + 1;
    while (end < sorted.size() && sorted[end] == sorted[i]) ++end;
    if (end - i > 1) tied += static_cast<std::int64_t>(end - i);
    i = end;
  }
  return tied;
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
