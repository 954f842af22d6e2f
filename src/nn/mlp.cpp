#include <charconv>
#include <cmath>
#include <cstdio>

#include "ioca/core.hpp"
#include "ioca/nn.hpp"

namespace ioca::nn {

Activation parse_activation(std::string_view name) {
  if (name == "relu") return Activation::relu;
  if (name == "tanh") return Activation::tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "identity") return Activation::identity;
  throw Error("unknown activation '" + std::string(name) +
              "' (expected relu, tanh, sigmoid or identity)");
}

std::string_view to_string(Activation a) {
  switch (a) {
    case Activation::relu:
      return "relu";
    case Activation::tanh:
      return "tanh";
    case Activation::sigmoid:
      return "sigmoid";
    case Activation::identity:
      return "identity";
  }
  throw std::logic_error("bad Activation value");
}

Optimizer parse_optimizer(std::string_view name) {
  if (name == "adam") return Optimizer::adam;
  if (name == "sgd") return Optimizer::sgd;
  throw Error("unknown optimizer '" + std::string(name) + "' (expected adam or sgd)");
}

std::string_view to_string(Optimizer o) {
  return o == Optimizer::adam ? "adam" : "sgd";
}

Mlp::Mlp(std::vector<int> sizes, std::vector<Activation> activations)
    : sizes_(std::move(sizes)), activations_(std::move(activations)) {
  if (sizes_.size() < 2 || activations_.size() != sizes_.size() - 1)
    throw std::logic_error("Mlp: need sizes {input, ..., output} and one activation per layer");
  std::size_t offset = 0;
  for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
    if (sizes_[l] <= 0 || sizes_[l + 1] <= 0) throw Error("layer sizes must be positive");
    offsets_.push_back(offset);
    const auto in = static_cast<std::size_t>(sizes_[l]),
               out = static_cast<std::size_t>(sizes_[l + 1]);
    offset += out * in + out;
  }
  params_.assign(offset, 0.0f);
}

void Mlp::initialize(std::uint64_t seed) {
  for (int l = 0; l < num_layers(); ++l) {
    Rng rng(derive_seed(seed, {hash_name("init"), static_cast<std::uint64_t>(l)}));
    const double fan_in = in_size(l), fan_out = out_size(l);
    const std::size_t count =
        static_cast<std::size_t>(in_size(l)) * static_cast<std::size_t>(out_size(l));
    float* w = weight(l);
    if (activation(l) == Activation::relu) {
      const double sd = std::sqrt(2.0 / fan_in);  // He et al. 2015
      for (std::size_t i = 0; i < count; ++i) w[i] = static_cast<float>(sd * rng.normal());
    } else {
      const double limit = std::sqrt(6.0 / (fan_in + fan_out));  // Glorot & Bengio 2010
      for (std::size_t i = 0; i < count; ++i)
        w[i] = static_cast<float>(limit * (2.0 * rng.uniform_double() - 1.0));
    }
    std::fill(bias(l), bias(l) + out_size(l), 0.0f);
  }
}

std::vector<int> parse_widths(std::string_view text) {
  // One syntax everywhere: 200x200 as in a study's architectures, or 200,200.
  const bool by_x = text.find('x') != std::string_view::npos;
  const bool by_comma = text.find(',') != std::string_view::npos;
  if (by_x && by_comma)
    throw Error("layer widths '" + std::string(text) +
                "' mix 'x' and ',' (one network's widths are joined by one of them, e.g. "
                "200x200 or 200,200)");
  const char separator = by_x ? 'x' : ',';
  std::vector<int> widths;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end_of_item = std::min(text.find(separator, pos), text.size());
    const std::string_view item = text.substr(pos, end_of_item - pos);
    int value = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || value <= 0 ||
        value > 1'000'000)
      throw Error("bad layer widths '" + std::string(text) + "': " +
                  (item.empty() ? std::string("an empty width")
                                : "width '" + std::string(item) + "'") +
                  " (expected whole numbers from 1 to 1000000 joined by x or commas, e.g. "
                  "200x200)");
    widths.push_back(value);
    pos = end_of_item + 1;
  }
  return widths;
}

Mlp make_mlp(int inputs, const std::vector<int>& hidden, Activation act, int classes,
             std::uint64_t seed) {
  std::vector<int> sizes{inputs};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(classes);
  std::vector<Activation> acts(hidden.size(), act);
  acts.push_back(Activation::identity);
  Mlp net(std::move(sizes), std::move(acts));
  net.initialize(seed);
  return net;
}

std::string fingerprint(const Mlp& net) {
  std::uint64_t h = hash_name("ioca-mlp");
  const auto mix = [&h](const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) {
      h ^= p[i];
      h *= 0x100000001b3ULL;
    }
  };
  for (int s : net.sizes()) mix(&s, sizeof s);
  for (int l = 0; l < net.num_layers(); ++l) {
    const auto a = static_cast<int>(net.activation(l));
    mix(&a, sizeof a);
  }
  mix(net.parameters().data(), net.parameters().size() * sizeof(float));
  mix(&net.input_mean, sizeof net.input_mean);
  mix(&net.input_std, sizeof net.input_std);
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

void check_compatible(const Mlp& net, const data::Dataset& d, const std::string& model_path) {
  if (static_cast<std::size_t>(net.input_size()) != d.features)
    throw FileError(model_path, "the network takes " + std::to_string(net.input_size()) +
                                    " inputs but data set '" + d.name + "' has " +
                                    std::to_string(d.features) + " features");
  if (net.output_size() != d.classes)
    throw FileError(model_path, "the network has " + std::to_string(net.output_size()) +
                                    " outputs but data set '" + d.name + "' has " +
                                    std::to_string(d.classes) + " classes");
}

}  // namespace ioca::nn
