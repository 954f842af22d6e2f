#include <algorithm>
#include <cmath>

#include "ioca/core.hpp"
#include "ioca/nn.hpp"

namespace ioca::nn {

void activate(Activation a, float* z, std::size_t n) {
  switch (a) {
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) z[i] = z[i] > 0.0f ? z[i] : 0.0f;
      break;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) z[i] = std::tanh(z[i]);
      break;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) z[i] = 1.0f / (1.0f + std::exp(-z[i]));
      break;
    case Activation::identity:
      break;
  }
}

namespace {
// z[r, :] = bias for every row, so the gemm can accumulate onto it.
void fill_bias(float* z, const float* bias, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    std::copy(bias, bias + cols, z + static_cast<std::ptrdiff_t>(r) * cols);
}
}  // namespace

void forward(const Mlp& net, const float* x, int rows, Activations& acts) {
  acts.outputs.resize(static_cast<std::size_t>(net.num_layers()));
  std::vector<float> normalized;
  if (net.input_mean != 0.0f || net.input_std != 1.0f) {
    const std::size_t n =
        static_cast<std::size_t>(rows) * static_cast<std::size_t>(net.input_size());
    normalized.resize(n);
    for (std::size_t i = 0; i < n; ++i) normalized[i] = (x[i] - net.input_mean) / net.input_std;
    x = normalized.data();
  }
  const float* input = x;
  for (int l = 0; l < net.num_layers(); ++l) {
    auto& z = acts.outputs[static_cast<std::size_t>(l)];
    const int in = net.in_size(l), out = net.out_size(l);
    z.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(out));
    fill_bias(z.data(), net.bias(l), rows, out);
    gemm(Trans::no, Trans::yes, rows, out, in, 1.0f, input, in, net.weight(l), in, 1.0f, z.data(),
         out);
    activate(net.activation(l), z.data(), z.size());
    input = z.data();
  }
}

double cross_entropy(const float* logits, int classes, int label) {
  double max = logits[0];
  for (int c = 1; c < classes; ++c) max = std::max(max, static_cast<double>(logits[c]));
  double sum = 0.0;
  for (int c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(logits[c]) - max);
  return std::log(sum) + max - static_cast<double>(logits[label]);
}

namespace {
// First index of the largest logit (ties go to the lower class, as numpy.argmax).
int argmax(const float* v, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}
}  // namespace

Evaluation evaluate(const Mlp& net, const data::Dataset& d,
                    std::vector<std::int32_t>* predictions) {
  const int classes = net.output_size();
  constexpr std::size_t chunk = 1024;  // bounded memory, fixed so results never vary
  const std::size_t chunks = (d.samples + chunk - 1) / chunk;
  std::vector<double> chunk_loss(chunks, 0.0);
  std::vector<std::vector<std::size_t>> chunk_correct(
      chunks, std::vector<std::size_t>(static_cast<std::size_t>(classes), 0));
  std::vector<std::size_t> class_count(static_cast<std::size_t>(classes), 0);
  for (std::size_t i = 0; i < d.samples; ++i) ++class_count[static_cast<std::size_t>(d.y[i])];
  if (predictions) predictions->assign(d.samples, 0);

  parallel_for(static_cast<std::ptrdiff_t>(chunks), [&](std::ptrdiff_t ci) {
    const std::size_t lo = static_cast<std::size_t>(ci) * chunk,
                      rows = std::min(chunk, d.samples - lo);
    Activations acts;
    forward(net, d.row(lo), static_cast<int>(rows), acts);
    const float* logits = acts.outputs.back().data();
    auto& correct = chunk_correct[static_cast<std::size_t>(ci)];
    double loss = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = logits + r * static_cast<std::size_t>(classes);
      const int label = d.y[lo + r];
      loss += cross_entropy(row, classes, label);
      const int pred = argmax(row, classes);
      if (pred == label) ++correct[static_cast<std::size_t>(label)];
      if (predictions) (*predictions)[lo + r] = pred;
    }
    chunk_loss[static_cast<std::size_t>(ci)] = loss;
  });

  Evaluation e;
  e.samples = d.samples;
  double loss = 0.0;
  std::size_t total_correct = 0;
  e.per_class_accuracy.assign(static_cast<std::size_t>(classes), 0.0);
  for (std::size_t ci = 0; ci < chunks; ++ci) loss += chunk_loss[ci];
  for (std::size_t c = 0; c < static_cast<std::size_t>(classes); ++c) {
    std::size_t correct = 0;
    for (std::size_t ci = 0; ci < chunks; ++ci) correct += chunk_correct[ci][c];
    total_correct += correct;
    e.per_class_accuracy[c] =
        class_count[c] ? static_cast<double>(correct) / static_cast<double>(class_count[c])
                       : std::nan("");
  }
  if (d.samples) {
    e.accuracy = static_cast<double>(total_correct) / static_cast<double>(d.samples);
    e.loss = loss / static_cast<double>(d.samples);
  }
  return e;
}

}  // namespace ioca::nn
