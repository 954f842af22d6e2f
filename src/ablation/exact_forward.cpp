#include "ablation/exact_forward.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

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

void ExactNet::update_activate(int layer, double delta, const double* x, double* z, float* a,
                               const std::uint8_t* ablated) const {
  axpy_activate_row(delta, x, z, a, width(layer), static_cast<int>(net_.activation(layer)), ablated,
                    values_[static_cast<std::size_t>(layer)].data());
}

double row_loss(const double* logits, int classes, int label, int& predicted) {
  return softmax_cross_entropy(logits, classes, label, &predicted);
}

ForwardRows::ForwardRows(const ExactNet& en)
    : input(en.input_width()),
      a(static_cast<std::size_t>(en.layers())),
      z(static_cast<std::size_t>(en.layers())) {
  for (int l = 0; l < en.layers(); ++l) {
    a[static_cast<std::size_t>(l)].resize(en.width(l));
    z[static_cast<std::size_t>(l)].resize(en.width(l));
  }
}

double masked_forward(const ExactNet& en, const float* x,
                      const std::vector<std::vector<std::uint8_t>>& ablated, int label,
                      ForwardRows& rows, int& predicted) {
  const int L = en.layers();
  en.input_row(x, rows.input.data());
  const float* in = rows.input.data();
  for (int l = 0; l < L; ++l) {
    const auto ul = static_cast<std::size_t>(l);
    en.affine(l, in, rows.z[ul].data());
    if (l + 1 < L) {
      en.activate(l, rows.z[ul].data(), rows.a[ul].data(), ablated[ul].data());
      in = rows.a[ul].data();
    }
  }
  return row_loss(rows.z.back().data(), en.classes(), label, predicted);
}

bool near_tie(double top, double second) {
  return top - second <= 1e-6 * (1.0 + std::abs(top));
}

bool near_tie(const double* logits, int classes) {
  double top = 0.0, second = 0.0;
  largest_two(logits, classes, top, second);
  return near_tie(top, second);
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

RecordingPlan plan_recording(const std::vector<std::vector<Neuron>>& orders,
                             const SweepOptions& options, int classes) {
  RecordingPlan plan;
  std::size_t all_points = 0;
  for (const auto& order : orders) {
    plan.points.push_back(points_for(order.size(), options));
    all_points += plan.points.back().size();
  }
  const auto C = static_cast<std::size_t>(classes);
  plan.totals_bytes_per_row = (all_points * (C + 1) * sizeof(double)) / options.chunk_rows + 1;
  return plan;
}

CurveSums::CurveSums(const std::vector<std::vector<std::int64_t>>& points, int classes)
    : points_(points), classes_(static_cast<std::size_t>(classes)), sums_(points.size()) {
  for (std::size_t o = 0; o < points.size(); ++o) {
    sums_[o].loss_sum.assign(points[o].size(), 0.0);
    sums_[o].correct_by_class.assign(points[o].size() * classes_, 0);
  }
}

void CurveSums::add(std::size_t order, const PointTotals& chunk) {
  PointTotals& s = sums_[order];
  for (std::size_t p = 0; p < s.loss_sum.size(); ++p) s.loss_sum[p] += chunk.loss_sum[p];
  for (std::size_t k = 0; k < s.correct_by_class.size(); ++k)
    s.correct_by_class[k] += chunk.correct_by_class[k];
}

std::vector<Curve> CurveSums::curves(const data::Dataset& test) const {
  const std::size_t C = classes_;
  std::vector<std::int64_t> class_count(C, 0);
  for (auto y : test.y) ++class_count[static_cast<std::size_t>(y)];
  const double n = static_cast<double>(test.samples);
  std::vector<Curve> curves(sums_.size());
  for (std::size_t o = 0; o < sums_.size(); ++o) {
    const std::size_t P = points_[o].size();
    Curve& curve = curves[o];
    curve.ablated = points_[o];
    curve.accuracy.assign(P, 0.0);
    curve.loss.assign(P, 0.0);
    curve.per_class_accuracy.assign(P * C, 0.0);
    for (std::size_t p = 0; p < P; ++p) {
      std::int64_t correct = 0;
      for (std::size_t c = 0; c < C; ++c) {
        const std::int64_t k = sums_[o].correct_by_class[p * C + c];
        correct += k;
        curve.per_class_accuracy[p * C + c] =
            class_count[c] ? static_cast<double>(k) / static_cast<double>(class_count[c])
                           : std::numeric_limits<double>::quiet_NaN();
      }
      curve.accuracy[p] = static_cast<double>(correct) / n;
      curve.loss[p] = sums_[o].loss_sum[p] / n;
    }
  }
  return curves;
}

std::vector<RowBlock> row_blocks(std::size_t samples, std::size_t chunk_rows,
                                 std::size_t bytes_per_row, std::size_t budget_bytes) {
  const std::size_t fit = budget_bytes / std::max<std::size_t>(bytes_per_row, 1);
  const std::size_t rows = std::max(chunk_rows, fit / chunk_rows * chunk_rows);
  std::vector<RowBlock> blocks;
  for (std::size_t lo = 0; lo < samples; lo += rows)
    blocks.push_back({lo, std::min(samples, lo + rows)});
  return blocks;
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
  // One flag per hidden neuron, cleared order by order (no allocation per neuron: this runs
  // for every sweep task).
  std::vector<std::size_t> first_of_layer;
  std::size_t neurons = 0;
  for (int l = 0; l < net.num_hidden(); ++l) {
    first_of_layer.push_back(neurons);
    neurons += static_cast<std::size_t>(net.out_size(l));
  }
  std::vector<char> seen(neurons);
  for (const auto& order : orders) {
    std::fill(seen.begin(), seen.end(), 0);
    for (const auto& n : order) {
      if (n.layer < 0 || n.layer >= net.num_hidden() || n.index < 0 ||
          n.index >= net.out_size(n.layer))
        throw Error("order names neuron " + std::to_string(n.index) + " of hidden layer " +
                    std::to_string(n.layer) + ", which the network does not have");
      char& flag = seen[first_of_layer[static_cast<std::size_t>(n.layer)] +
                        static_cast<std::size_t>(n.index)];
      if (std::exchange(flag, char{1}))
        throw Error("order names neuron " + std::to_string(n.index) + " of hidden layer " +
                    std::to_string(n.layer) + " twice");
    }
  }
}

}  // namespace ioca::ablation::detail
