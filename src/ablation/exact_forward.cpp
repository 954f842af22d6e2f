#include "ablation/exact_forward.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "ioca/core.hpp"

namespace ioca::ablation::detail {

ExactNet::ExactNet(const nn::Mlp& net, const AblationValues& values) : net_(net), values_(values) {
  for (int l = 0; l < net.num_layers(); ++l) {
    const auto in = static_cast<std::size_t>(net.in_size(l)),
               out = static_cast<std::size_t>(net.out_size(l));
    const float* w = net.weight(l);
    std::vector<double> wt(in * out);
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t i = 0; i < in; ++i) wt[i * out + o] = w[o * in + i];
    weight_.emplace_back(w, w + in * out);
    outgoing_.push_back(std::move(wt));
    bias_.emplace_back(net.bias(l), net.bias(l) + out);
  }
}

void ExactNet::input_row(const float* x, float* out) const {
  const std::size_t n = input_width();
  if (net_.input_mean == 0.0f && net_.input_std == 1.0f) {
    std::copy(x, x + n, out);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = (x[i] - net_.input_mean) / net_.input_std;
}

void ExactNet::affine(int layer, const float* input, double* z) const {
  const auto l = static_cast<std::size_t>(layer);
  affine_row(input, static_cast<std::size_t>(net_.in_size(layer)), weight_[l].data(),
             bias_[l].data(), width(layer), z);
}

void ExactNet::activate(int layer, const double* z, float* a, const std::uint8_t* ablated) const {
  static_assert(static_cast<int>(nn::Activation::relu) == 0 &&
                static_cast<int>(nn::Activation::tanh) == 1 &&
                static_cast<int>(nn::Activation::sigmoid) == 2 &&
                static_cast<int>(nn::Activation::identity) == 3);
  activate_row(z, a, width(layer), static_cast<int>(net_.activation(layer)), ablated,
               values_[static_cast<std::size_t>(layer)].data());
}

double row_loss(const double* logits, int classes, int label, int& predicted) {
  return softmax_cross_entropy(logits, classes, label, &predicted);
}

std::vector<std::int64_t> points_for(std::size_t n, const SweepOptions& options) {
  std::vector<std::int64_t> points;
  if (options.record_at.empty()) {
    for (std::size_t i = 0; i <= n; ++i) points.push_back(static_cast<std::int64_t>(i));
    return points;
  }
  for (auto p : options.record_at)
    if (p >= 0 && p <= static_cast<std::int64_t>(n) && (points.empty() || p > points.back()))
      points.push_back(p);
  return points;
}

std::vector<Curve> assemble_curves(const std::vector<PointTotals>& totals, std::size_t orders,
                                   std::size_t chunks,
                                   const std::vector<std::vector<std::int64_t>>& points,
                                   const data::Dataset& test, int classes) {
  const auto C = static_cast<std::size_t>(classes);
  std::vector<std::int64_t> class_count(C, 0);
  for (auto y : test.y) ++class_count[static_cast<std::size_t>(y)];
  const double n = static_cast<double>(test.samples);
  std::vector<Curve> curves(orders);
  for (std::size_t o = 0; o < orders; ++o) {
    const std::size_t P = points[o].size();
    Curve& curve = curves[o];
    curve.ablated = points[o];
    curve.accuracy.assign(P, 0.0);
    curve.loss.assign(P, 0.0);
    curve.per_class_accuracy.assign(P * C, 0.0);
    for (std::size_t p = 0; p < P; ++p) {
      double loss = 0.0;
      std::int64_t correct = 0;
      std::vector<std::int64_t> by_class(C, 0);
      for (std::size_t ch = 0; ch < chunks; ++ch) {
        const PointTotals& t = totals[o * chunks + ch];
        loss += t.loss_sum[p];
        for (std::size_t c = 0; c < C; ++c) by_class[c] += t.correct_by_class[p * C + c];
      }
      for (auto v : by_class) correct += v;
      curve.accuracy[p] = static_cast<double>(correct) / n;
      curve.loss[p] = loss / n;
      for (std::size_t c = 0; c < C; ++c)
        curve.per_class_accuracy[p * C + c] =
            class_count[c] ? static_cast<double>(by_class[c]) / static_cast<double>(class_count[c])
                           : std::numeric_limits<double>::quiet_NaN();
    }
  }
  return curves;
}

void check_sweep_inputs(const nn::Mlp& net, const data::Dataset& test, const AblationValues& values,
                        const std::vector<std::vector<Neuron>>& orders) {
  if (net.num_hidden() < 1) throw Error("the network has no hidden layer to ablate");
  if (test.samples == 0) throw Error("the test split is empty");
  if (values.size() != static_cast<std::size_t>(net.num_hidden()))
    throw std::logic_error("ablation values: one vector per hidden layer");
  for (int l = 0; l < net.num_hidden(); ++l)
    if (values[static_cast<std::size_t>(l)].size() != static_cast<std::size_t>(net.out_size(l)))
      throw std::logic_error("ablation values: one value per neuron");
  for (const auto& order : orders) {
    std::set<std::pair<int, int>> seen;
    for (const auto& n : order) {
      if (n.layer < 0 || n.layer >= net.num_hidden() || n.index < 0 ||
          n.index >= net.out_size(n.layer))
        throw Error("order names neuron " + std::to_string(n.index) + " of hidden layer " +
                    std::to_string(n.layer) + ", which the network does not have");
      if (!seen.insert({n.layer, n.index}).second)
        throw Error("order names neuron " + std::to_string(n.index) + " of hidden layer " +
                    std::to_string(n.layer) + " twice");
    }
  }
}

}  // namespace ioca::ablation::detail
