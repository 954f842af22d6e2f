#pragma once
// The arithmetic both ablation engines share (see ablation.hpp): float activations,
// pre-activations accumulated in double by one row kernel, double logits.
#include <cstdint>
#include <optional>
#include <vector>

#include "ioca/ablation.hpp"
#include "ioca/core.hpp"
#include "ioca/nn.hpp"

namespace ioca::ablation::detail {

class ExactNet {
 public:
  ExactNet(const nn::Mlp& net, const AblationValues& values);

  int layers() const { return net_.num_layers(); }  // hidden layers + output layer
  int hidden() const { return net_.num_hidden(); }
  int classes() const { return net_.output_size(); }
  std::size_t width(int layer) const { return static_cast<std::size_t>(net_.out_size(layer)); }
  std::size_t input_width() const { return static_cast<std::size_t>(net_.input_size()); }
  float value(int layer, int neuron) const {
    return values_[static_cast<std::size_t>(layer)][static_cast<std::size_t>(neuron)];
  }
  // Column `neuron` of layer `layer + 1`'s weight: how neuron (layer, neuron) feeds forward.
  const double* outgoing(int layer, int neuron) const {
    return outgoing_[static_cast<std::size_t>(layer) + 1].data() +
           static_cast<std::size_t>(neuron) * width(layer + 1);
  }

  // The network's input row as it sees it (normalised like nn::forward).
  void input_row(const float* x, float* out) const;
  // z = pre-activation of `layer` from its input row.
  void affine(int layer, const float* input, double* z) const;
  // a = f(float(z)) for hidden `layer`, then ablated neurons set to their value.
  void activate(int layer, const double* z, float* a, const std::uint8_t* ablated) const;
  // z += delta * x, then activate(layer, z, a, ablated): the same bits, in one pass.
  void update_activate(int layer, double delta, const double* x, double* z, float* a,
                       const std::uint8_t* ablated) const;

 private:
  const nn::Mlp& net_;
  const AblationValues& values_;
  std::vector<std::vector<double>> weight_;    // per layer [out, in]
  std::vector<std::vector<double>> outgoing_;  // per layer, transposed: [in, out]
  std::vector<std::vector<double>> bias_;
};

// Cross-entropy (nats) of a row of double logits, and its arg-max (first maximum).
double row_loss(const double* logits, int classes, int label, int& predicted);

// Scratch rows of one full forward pass (the input and every layer), reused across samples.
struct ForwardRows {
  explicit ForwardRows(const ExactNet& en);
  std::vector<float> input;
  std::vector<std::vector<float>> a;
  std::vector<std::vector<double>> z;
};
// The naive engine's arithmetic for one sample x: a full forward pass in which the neurons
// marked in `ablated` (one flag per neuron of each hidden layer) are set to their value.
// Returns the loss and the arg-max in `predicted`.
double masked_forward(const ExactNet& en, const float* x,
                      const std::vector<std::vector<std::uint8_t>>& ablated, int label,
                      ForwardRows& rows, int& predicted);

// Whether a row's arg-max is closer to a tie than the engines' rounding differences can
// reach: the two largest logits within 1e-6 (1 + |largest|). The fast engine's logits differ
// from the naive engine's by double rounding (~1e-16 relative), or, where that moves an
// activation across a float rounding boundary, by one float step of it (~6e-8 of a term),
// so an arg-max found with a larger margin is the naive engine's too. A fast
// engine recomputes a near-tied row with masked_forward (this happens when, say, every
// neuron feeding the logits is silenced and equal output biases tie exactly).
bool near_tie(const double* logits, int classes);
// The same test on a row's two largest logits (NaN skipped, as softmax_cross_entropy_rows
// gives them).
bool near_tie(double top, double second);

// The loss and arg-max of a row whose logits a fast engine computed: row_loss, except that a
// near-tied row is recomputed as the naive engine computes it (masked_forward of sample x
// with the flags mask() returns). naive_rows is made at the first near tie; mask() is only
// called then too, so an engine can build its flags lazily.
template <class MaskFn>
double fast_row_loss(const ExactNet& en, const double* logits, const float* x, int label,
                     MaskFn&& mask, std::optional<ForwardRows>& naive_rows, int& predicted) {
  const double loss = row_loss(logits, en.classes(), label, predicted);
  if (!near_tie(logits, en.classes())) return loss;
  if (!naive_rows) naive_rows.emplace(en);
  return masked_forward(en, x, mask(), label, *naive_rows, predicted);
}

// fast_row_loss for the rows listed in rows[0, count) of a row-major [rows, classes] block of
// logits at once (the batched softmax kernel, which also gives each row's two largest logits
// for the near-tie test): sample(r) is row r's input; labels, loss and predicted are indexed
// by row, top2 is scratch for two doubles per row.
template <class SampleFn, class MaskFn>
void fast_rows_loss(const ExactNet& en, const double* logits, const std::uint32_t* rows,
                    std::size_t count, const std::int32_t* labels, SampleFn&& sample, MaskFn&& mask,
                    std::optional<ForwardRows>& naive_rows, double* loss, std::int32_t* predicted,
                    double* top2) {
  const auto C = static_cast<std::size_t>(en.classes());
  softmax_cross_entropy_rows(logits, C, en.classes(), rows, count, labels, loss, predicted, top2);
  for (std::size_t k = 0; k < count; ++k) {
    const std::uint32_t r = rows[k];
    if (!near_tie(top2[2 * r], top2[2 * r + 1])) continue;
    if (!naive_rows) naive_rows.emplace(en);
    int p = 0;
    loss[r] = masked_forward(en, sample(r), mask(), labels[r], *naive_rows, p);
    predicted[r] = p;
  }
}

// Per-chunk results at each recorded point: loss sum and correct count per class.
struct PointTotals {
  std::vector<double> loss_sum;                // [points]
  std::vector<std::int64_t> correct_by_class;  // [points, classes]
};

// Running totals of every order over the chunks, added in chunk order (so the sums are the
// same however the samples are split into blocks), turned into curves at the end.
class CurveSums {
 public:
  CurveSums(const std::vector<std::vector<std::int64_t>>& points, int classes);
  void add(std::size_t order, const PointTotals& chunk);
  std::vector<Curve> curves(const data::Dataset& test) const;

 private:
  const std::vector<std::vector<std::int64_t>>& points_;
  std::size_t classes_;
  std::vector<PointTotals> sums_;
};

// Blocks of whole chunks [lo, hi) whose per-row memory (bytes_per_row) fits the budget, so
// that memory stays bounded whatever the size of the test set.
struct RowBlock {
  std::size_t lo, hi;
};
std::vector<RowBlock> row_blocks(std::size_t samples, std::size_t chunk_rows,
                                 std::size_t bytes_per_row, std::size_t budget_bytes);

// Recording points of an order of length n (options.record_at clipped, or every step).
std::vector<std::int64_t> points_for(std::size_t n, const SweepOptions& options);

// The recording points of every order, and the memory per sample row their per-chunk totals
// take (chunks of chunk_rows samples, `classes` classes).
struct RecordingPlan {
  std::vector<std::vector<std::int64_t>> points;
  std::size_t totals_bytes_per_row = 0;
};
RecordingPlan plan_recording(const std::vector<std::vector<Neuron>>& orders,
                             const SweepOptions& options, int classes);

void check_sweep_inputs(const nn::Mlp& net, const data::Dataset& test, const AblationValues& values,
                        const std::vector<std::vector<Neuron>>& orders);

}  // namespace ioca::ablation::detail

namespace ioca::ablation::detail {
// The reference engine: a full masked forward pass of every sample at every recorded point.
std::vector<Curve> run_naive(const nn::Mlp& net, const data::Dataset& test,
                             const AblationValues& values,
                             const std::vector<std::vector<Neuron>>& orders,
                             const SweepOptions& options);
}  // namespace ioca::ablation::detail
