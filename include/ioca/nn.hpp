#pragma once
// Fully-connected networks: parameters in one flat buffer (weights [out, in] as in
// PyTorch's nn.Linear, then biases, layer by layer), batched inference, and training with
// softmax cross-entropy, Adam or SGD with momentum. float32 throughout.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ioca/data.hpp"

namespace ioca::nn {

enum class Activation { relu, tanh, sigmoid, identity };
// Throws ioca::Error naming the accepted values.
Activation parse_activation(std::string_view name);
std::string_view to_string(Activation a);

// Applies the activation in place to n values.
void activate(Activation a, float* z, std::size_t n);

class Mlp {
 public:
  Mlp() = default;
  // sizes = {input, hidden..., output}; activations has one entry per layer
  // (sizes.size() - 1), the last one normally identity.
  Mlp(std::vector<int> sizes, std::vector<Activation> activations);

  int num_layers() const { return static_cast<int>(activations_.size()); }
  int num_hidden() const { return num_layers() - 1; }
  int input_size() const { return sizes_.front(); }
  int output_size() const { return sizes_.back(); }
  int in_size(int layer) const { return sizes_[static_cast<std::size_t>(layer)]; }
  int out_size(int layer) const { return sizes_[static_cast<std::size_t>(layer) + 1]; }
  const std::vector<int>& sizes() const { return sizes_; }
  Activation activation(int layer) const { return activations_[static_cast<std::size_t>(layer)]; }

  float* weight(int layer) { return params_.data() + weight_offset(layer); }
  const float* weight(int layer) const { return params_.data() + weight_offset(layer); }
  float* bias(int layer) { return params_.data() + bias_offset(layer); }
  const float* bias(int layer) const { return params_.data() + bias_offset(layer); }
  std::vector<float>& parameters() { return params_; }
  const std::vector<float>& parameters() const { return params_; }
  std::size_t weight_offset(int layer) const { return offsets_[static_cast<std::size_t>(layer)]; }
  std::size_t bias_offset(int layer) const {
    return weight_offset(layer) +
           static_cast<std::size_t>(in_size(layer)) * static_cast<std::size_t>(out_size(layer));
  }

  // Seeded initialisation: He-normal for relu layers, Glorot-uniform otherwise; biases 0.
  void initialize(std::uint64_t seed);

  // Applied to inputs before the first layer: x' = (x - mean) / std.
  float input_mean = 0.0f;
  float input_std = 1.0f;

 private:
  std::vector<int> sizes_;
  std::vector<Activation> activations_;
  std::vector<std::size_t> offsets_;
  std::vector<float> params_;
};

// One network's hidden-layer widths: "200x200" or "200,200" into {200, 200} (whole numbers
// from 1 to 1,000,000 joined by 'x' or by commas, not both); throws ioca::Error naming the
// text on anything else.
std::vector<int> parse_widths(std::string_view text);
// input -> hidden (act) ... -> output (identity), initialised from seed.
Mlp make_mlp(int inputs, const std::vector<int>& hidden, Activation act, int classes,
             std::uint64_t seed);

// Post-activation outputs of every layer for a batch: outputs[l] is [rows, out_size(l)];
// the last entry holds the logits.
struct Activations {
  std::vector<std::vector<float>> outputs;
};
void forward(const Mlp& net, const float* x, int rows, Activations& acts);

// Mean cross-entropy (nats) and accuracy from logits.
struct Evaluation {
  std::size_t samples = 0;
  double accuracy = 0.0;
  double loss = 0.0;
  std::vector<double> per_class_accuracy;
};
// Evaluates in chunks (bounded memory); optionally returns each sample's predicted class.
Evaluation evaluate(const Mlp& net, const data::Dataset& d,
                    std::vector<std::int32_t>* predictions = nullptr);

// Softmax cross-entropy of one row of logits against a label, in nats (log-sum-exp).
double cross_entropy(const float* logits, int classes, int label);

enum class Optimizer { adam, sgd };
Optimizer parse_optimizer(std::string_view name);
std::string_view to_string(Optimizer o);

struct TrainOptions {
  int epochs = 10;
  int batch_size = 32;
  double learning_rate = 1e-3;
  Optimizer optimizer = Optimizer::adam;
  double momentum = 0.9;                              // SGD only
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // Adam only
  double weight_decay = 0.0;                          // L2 coefficient added to the gradient
  std::uint64_t seed = 1;  // shuffling (initialisation is seeded separately)
};

struct EpochStats {
  int epoch = 0;          // 1-based
  double loss = 0.0;      // mean training loss over the epoch (nats)
  double accuracy = 0.0;  // training accuracy over the epoch, as seen during training
  double seconds = 0.0;
  double samples_per_second = 0.0;
};

// Trains in place. The result is bitwise identical for any number of OpenMP threads.
void train(Mlp& net, const data::Dataset& train_set, const TrainOptions& options,
           const std::function<void(const EpochStats&)>& on_epoch = {});

// Gradient of the mean cross-entropy of a batch with respect to all parameters (same layout
// as Mlp::parameters()); returns the mean loss. Exposed for gradient-check tests.
double loss_and_gradient(const Mlp& net, const float* x, const std::int32_t* y, int rows,
                         std::vector<float>& gradient);

// A fingerprint of the architecture and every parameter bit (16 hex digits), so a file
// derived from a model (measures, ablation curves) can be checked against it.
std::string fingerprint(const Mlp& net);

// Throws ioca::Error if the network does not fit the data set (input size, classes).
void check_compatible(const Mlp& net, const data::Dataset& d, const std::string& model_path);

}  // namespace ioca::nn
