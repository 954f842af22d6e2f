#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "ioca/core.hpp"
#include "ioca/nn.hpp"

namespace ioca::nn {
namespace {

// Derivative of the activation expressed through its output a = f(z).
void multiply_by_derivative(Activation act, const float* a, float* delta, std::size_t n) {
  switch (act) {
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) delta[i] = a[i] > 0.0f ? delta[i] : 0.0f;
      break;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) delta[i] *= 1.0f - a[i] * a[i];
      break;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) delta[i] *= a[i] * (1.0f - a[i]);
      break;
    case Activation::identity:
      break;
  }
}

// Buffers for one mini-batch, reused across steps.
class Backprop {
 public:
  explicit Backprop(const Mlp& net)
      : net_(net), deltas_(static_cast<std::size_t>(net.num_layers())) {}

  struct BatchResult {
    double loss_sum = 0.0;  // summed over the batch, nats
    std::size_t correct = 0;
  };

  // Fills gradient (Mlp::parameters() layout) with d(mean loss)/d(params).
  BatchResult run(const float* x, const std::int32_t* y, int rows, std::vector<float>& gradient) {
    forward(net_, x, rows, acts_);
    const int classes = net_.output_size();
    const int last = net_.num_layers() - 1;
    BatchResult result;
    // Softmax cross-entropy: dL/dz = (softmax(z) - onehot(y)) / rows.
    auto& delta_out = deltas_[static_cast<std::size_t>(last)];
    delta_out.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(classes));
    const float* logits = acts_.outputs.back().data();
    const float inv_rows = 1.0f / static_cast<float>(rows);
    for (int r = 0; r < rows; ++r) {
      const float* z = logits + static_cast<std::ptrdiff_t>(r) * classes;
      float* dz = delta_out.data() + static_cast<std::ptrdiff_t>(r) * classes;
      const float max = *std::max_element(z, z + classes);
      float sum = 0.0f;
      int best = 0;
      for (int c = 0; c < classes; ++c) {
        dz[c] = std::exp(z[c] - max);
        sum += dz[c];
        if (z[c] > z[best]) best = c;
      }
      const int label = y[r];
      result.loss_sum += static_cast<double>(std::log(sum) + max - z[label]);
      result.correct += best == label ? 1 : 0;
      for (int c = 0; c < classes; ++c)
        dz[c] = (dz[c] / sum - (c == label ? 1.0f : 0.0f)) * inv_rows;
    }

    gradient.resize(net_.parameters().size());
    for (int l = last; l >= 0; --l) {
      const int in = net_.in_size(l), out = net_.out_size(l);
      const auto& delta = deltas_[static_cast<std::size_t>(l)];
      const float* input = l == 0 ? normalized_input(x, rows)
                                  : acts_.outputs[static_cast<std::size_t>(l - 1)].data();
      // dW = delta^T input; db = column sums of delta (fixed row order).
      gemm(Trans::yes, Trans::no, out, in, rows, 1.0f, delta.data(), out, input, in, 0.0f,
           gradient.data() + net_.weight_offset(l), in);
      float* db = gradient.data() + net_.bias_offset(l);
      std::fill(db, db + out, 0.0f);
      for (int r = 0; r < rows; ++r) {
        const float* d = delta.data() + static_cast<std::ptrdiff_t>(r) * out;
        for (int j = 0; j < out; ++j) db[j] += d[j];
      }
      if (l == 0) break;
      // Delta of the layer below: (delta W) * f'(a).
      auto& below = deltas_[static_cast<std::size_t>(l - 1)];
      below.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(in));
      gemm(Trans::no, Trans::no, rows, in, out, 1.0f, delta.data(), out, net_.weight(l), in, 0.0f,
           below.data(), in);
      multiply_by_derivative(net_.activation(l - 1),
                             acts_.outputs[static_cast<std::size_t>(l - 1)].data(), below.data(),
                             below.size());
    }
    return result;
  }

 private:
  // The first layer's gradient needs the input as the network saw it.
  const float* normalized_input(const float* x, int rows) {
    if (net_.input_mean == 0.0f && net_.input_std == 1.0f) return x;
    const std::size_t n =
        static_cast<std::size_t>(rows) * static_cast<std::size_t>(net_.input_size());
    normalized_.resize(n);
    for (std::size_t i = 0; i < n; ++i) normalized_[i] = (x[i] - net_.input_mean) / net_.input_std;
    return normalized_.data();
  }

  const Mlp& net_;
  Activations acts_;
  std::vector<std::vector<float>> deltas_;
  std::vector<float> normalized_;
};

void check_options(const TrainOptions& o, const data::Dataset& d) {
  if (o.epochs < 0) throw Error("--epochs must be >= 0");
  if (o.batch_size <= 0) throw Error("--batch-size must be > 0");
  if (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate)) throw Error("--lr must be > 0");
  if (!(o.weight_decay >= 0.0)) throw Error("--weight-decay must be >= 0");
  if (!(o.momentum >= 0.0 && o.momentum < 1.0)) throw Error("--momentum must be in [0, 1)");
  if (d.samples == 0) throw Error("the training split of '" + d.name + "' is empty");
}

}  // namespace

double loss_and_gradient(const Mlp& net, const float* x, const std::int32_t* y, int rows,
                         std::vector<float>& gradient) {
  Backprop bp(net);
  return bp.run(x, y, rows, gradient).loss_sum / rows;
}

void train(Mlp& net, const data::Dataset& train_set, const TrainOptions& o,
           const std::function<void(const EpochStats&)>& on_epoch) {
  check_options(o, train_set);
  const std::size_t n = train_set.samples, features = train_set.features;
  const std::size_t params = net.parameters().size();
  std::vector<float> gradient(params), m(params, 0.0f), v(params, 0.0f);
  std::vector<float> batch_x(static_cast<std::size_t>(o.batch_size) * features);
  std::vector<std::int32_t> batch_y(static_cast<std::size_t>(o.batch_size));
  std::vector<std::size_t> order(n);
  Backprop bp(net);
  std::int64_t step = 0;

  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    std::iota(order.begin(), order.end(), std::size_t{0});
    Rng rng(derive_seed(o.seed, {hash_name("shuffle"), static_cast<std::uint64_t>(epoch)}));
    shuffle(order, rng);
    double loss_sum = 0.0;
    std::size_t correct = 0;
    for (std::size_t lo = 0; lo < n; lo += static_cast<std::size_t>(o.batch_size)) {
      const std::size_t rows = std::min(static_cast<std::size_t>(o.batch_size), n - lo);
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t i = order[lo + r];
        std::copy(train_set.row(i), train_set.row(i) + features,
                  batch_x.begin() + static_cast<std::ptrdiff_t>(r * features));
        batch_y[r] = train_set.y[i];
      }
      const auto result = bp.run(batch_x.data(), batch_y.data(), static_cast<int>(rows), gradient);
      loss_sum += result.loss_sum;
      correct += result.correct;
      ++step;
      if (o.optimizer == Optimizer::adam) {
        const AdamStep s{static_cast<float>(o.learning_rate),
                         static_cast<float>(o.beta1),
                         static_cast<float>(o.beta2),
                         static_cast<float>(o.epsilon),
                         static_cast<float>(o.weight_decay),
                         static_cast<float>(1.0 - std::pow(o.beta1, static_cast<double>(step))),
                         static_cast<float>(1.0 - std::pow(o.beta2, static_cast<double>(step)))};
        adam_update(net.parameters().data(), gradient.data(), m.data(), v.data(), params, s);
      } else {
        sgd_momentum_update(net.parameters().data(), gradient.data(), m.data(), params,
                            static_cast<float>(o.learning_rate), static_cast<float>(o.momentum),
                            static_cast<float>(o.weight_decay));
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (float p : net.parameters())
      if (!std::isfinite(p))
        throw Error("training diverged in epoch " + std::to_string(epoch) +
                    " (non-finite weights); try a smaller --lr");
    if (on_epoch)
      on_epoch(EpochStats{epoch, loss_sum / static_cast<double>(n),
                          static_cast<double>(correct) / static_cast<double>(n), seconds,
                          static_cast<double>(n) / seconds});
  }
}

}  // namespace ioca::nn
