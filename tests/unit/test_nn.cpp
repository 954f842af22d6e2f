#include <omp.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "ioca/core.hpp"
#include "ioca/nn.hpp"
#include "test_helpers.hpp"

using namespace ioca;
using nn::Activation;

namespace {

// Naive forward pass in double: the reference for the batched float path.
std::vector<double> naive_logits(const nn::Mlp& net, const float* x) {
  std::vector<double> a(x, x + net.input_size());
  for (auto& v : a) v = (v - net.input_mean) / net.input_std;
  for (int l = 0; l < net.num_layers(); ++l) {
    std::vector<double> z(static_cast<std::size_t>(net.out_size(l)));
    for (int j = 0; j < net.out_size(l); ++j) {
      double s = net.bias(l)[j];
      for (int i = 0; i < net.in_size(l); ++i)
        s += static_cast<double>(net.weight(l)[j * net.in_size(l) + i]) *
             a[static_cast<std::size_t>(i)];
      switch (net.activation(l)) {
        case Activation::relu:
          s = s > 0 ? s : 0;
          break;
        case Activation::tanh:
          s = std::tanh(s);
          break;
        case Activation::sigmoid:
          s = 1 / (1 + std::exp(-s));
          break;
        case Activation::identity:
          break;
      }
      z[static_cast<std::size_t>(j)] = s;
    }
    a = z;
  }
  return a;
}

// Small data: class-dependent Gaussian blobs.

double mean_loss(const nn::Mlp& net, const data::Dataset& d) {
  nn::Activations acts;
  nn::forward(net, d.x.data(), static_cast<int>(d.samples), acts);
  double s = 0;
  for (std::size_t r = 0; r < d.samples; ++r)
    s += nn::cross_entropy(
        acts.outputs.back().data() + r * static_cast<std::size_t>(net.output_size()),
        net.output_size(), d.y[r]);
  return s / static_cast<double>(d.samples);
}

}  // namespace

TEST_CASE("batched forward matches a naive double-precision forward", "[nn]") {
  for (Activation act : {Activation::relu, Activation::tanh, Activation::sigmoid}) {
    auto net = nn::make_mlp(37, {50, 20}, act, 7, 3);
    net.input_mean = 0.25f;
    net.input_std = 0.5f;
    const auto d = testing::gaussian_blobs(100, 37, 7, 9, 0.2f, true);
    nn::Activations acts;
    nn::forward(net, d.x.data(), 100, acts);
    for (std::size_t r = 0; r < 100; ++r) {
      const auto ref = naive_logits(net, d.row(r));
      for (std::size_t c = 0; c < 7; ++c)
        REQUIRE(acts.outputs.back()[r * 7 + c] == Approx(ref[c]).margin(1e-4));
    }
  }
}

// Mean loss through the naive double-precision forward pass.
double naive_mean_loss(const nn::Mlp& net, const data::Dataset& d) {
  double s = 0;
  for (std::size_t r = 0; r < d.samples; ++r) {
    const auto z = naive_logits(net, d.row(r));
    double max = z[0], sum = 0;
    for (double v : z) max = std::max(max, v);
    for (double v : z) sum += std::exp(v - max);
    s += std::log(sum) + max - z[static_cast<std::size_t>(d.y[r])];
  }
  return s / static_cast<double>(d.samples);
}

TEST_CASE("backprop gradient matches central differences for every activation", "[nn]") {
  // The numeric side runs in double on the float parameters, so only the float rounding of
  // the analytic gradient limits the tolerance; a wrong sign, a transposed weight or a
  // missing derivative fails by orders of magnitude. For relu a difference that straddles a
  // kink is recognised (its one-sided slopes disagree) and skipped; few may be.
  for (Activation act : {Activation::relu, Activation::tanh, Activation::sigmoid}) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      auto net = nn::make_mlp(6, {5, 4}, act, 3, seed);
      for (auto& p : net.parameters()) p += 0.05f;  // non-zero biases
      const auto d = testing::gaussian_blobs(8, 6, 3, seed + 10, 0.2f, true);
      std::vector<float> grad;
      const double loss = nn::loss_and_gradient(net, d.x.data(), d.y.data(), 8, grad);
      REQUIRE(loss == Approx(naive_mean_loss(net, d)).epsilon(1e-5));
      REQUIRE(grad.size() == net.parameters().size());
      std::size_t skipped = 0;
      for (std::size_t i = 0; i < grad.size(); ++i) {
        auto plus = net, minus = net;
        const float p = net.parameters()[i];
        plus.parameters()[i] = p + 1e-3f;
        minus.parameters()[i] = p - 1e-3f;
        const double up = plus.parameters()[i] - static_cast<double>(p);
        const double down = static_cast<double>(p) - minus.parameters()[i];
        const double l0 = naive_mean_loss(net, d), lp = naive_mean_loss(plus, d),
                     lm = naive_mean_loss(minus, d);
        const double forward_slope = (lp - l0) / up, backward_slope = (l0 - lm) / down;
        if (act == Activation::relu &&
            std::abs(forward_slope - backward_slope) > 1e-2 * (1e-3 + std::abs(forward_slope))) {
          ++skipped;
          continue;
        }
        const double numeric = (lp - lm) / (up + down);
        INFO("activation " << nn::to_string(act) << " seed " << seed << " parameter " << i);
        REQUIRE(grad[i] == Approx(numeric).margin(1e-5).epsilon(1e-3));
      }
      REQUIRE(skipped <= grad.size() / 20);
    }
  }
}

TEST_CASE("cross_entropy is stable and exact", "[nn]") {
  const float logits[3] = {1000.0f, 0.0f, -1000.0f};
  REQUIRE(nn::cross_entropy(logits, 3, 0) == Approx(0.0).margin(1e-12));
  REQUIRE(nn::cross_entropy(logits, 3, 1) == Approx(1000.0));
  const float uniform[4] = {2.0f, 2.0f, 2.0f, 2.0f};
  REQUIRE(nn::cross_entropy(uniform, 4, 2) == Approx(std::log(4.0)));
}

TEST_CASE("training learns and is bitwise identical for 1 and 2 threads", "[nn]") {
  // Wide enough that the batch products are split into parallel tiles (>= 4 MFLOP).
  const auto d = testing::gaussian_blobs(2000, 200, 5, 11, 0.2f, true);
  REQUIRE(gemm_tiles(32, 1024, 200) > 1);  // forward of the first layer
  REQUIRE(gemm_tiles(1024, 200, 32) > 1);  // its weight gradient
  nn::TrainOptions o;
  o.epochs = 3;
  o.batch_size = 32;
  for (auto opt : {nn::Optimizer::adam, nn::Optimizer::sgd}) {
    o.optimizer = opt;
    o.learning_rate = opt == nn::Optimizer::adam ? 1e-3 : 1e-2;
    const int saved = omp_get_max_threads();
    std::vector<float> params[2];
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      auto net = nn::make_mlp(200, {1024, 64}, Activation::relu, 5, 17);
      const double before = mean_loss(net, d);
      nn::train(net, d, o);
      REQUIRE(mean_loss(net, d) < 0.5 * before);
      REQUIRE(nn::evaluate(net, d).accuracy > 0.9);
      params[threads - 1] = net.parameters();
    }
    omp_set_num_threads(saved);
    REQUIRE(params[0].size() == params[1].size());
    REQUIRE(std::memcmp(params[0].data(), params[1].data(), params[0].size() * sizeof(float)) == 0);
  }
}

namespace {

// One epoch of Adam training written plainly: every product whole, on the calling thread,
// one phase after another. train() splits the products into tiles and shares them and the
// update between threads; it must give exactly these bits.
void reference_epoch(nn::Mlp& net, const data::Dataset& d, const nn::TrainOptions& o,
                     std::vector<float>& m, std::vector<float>& v, std::int64_t& step) {
  std::vector<std::size_t> order(d.samples);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  Rng rng(derive_seed(o.seed, {hash_name("shuffle"), 1}));
  shuffle(order, rng);
  const int layers = net.num_layers(), classes = net.output_size();
  const auto f = d.features;
  std::vector<float> grad(net.parameters().size());
  for (std::size_t lo = 0; lo < d.samples; lo += static_cast<std::size_t>(o.batch_size)) {
    const int rows = static_cast<int>(
        std::min<std::size_t>(static_cast<std::size_t>(o.batch_size), d.samples - lo));
    std::vector<float> x(static_cast<std::size_t>(rows) * f);
    std::vector<int> y(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      std::copy(d.row(order[lo + static_cast<std::size_t>(r)]),
                d.row(order[lo + static_cast<std::size_t>(r)]) + f,
                x.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(r) * f));
      y[static_cast<std::size_t>(r)] = d.y[order[lo + static_cast<std::size_t>(r)]];
    }
    std::vector<std::vector<float>> a(static_cast<std::size_t>(layers));
    const float* in = x.data();
    for (int l = 0; l < layers; ++l) {
      auto& z = a[static_cast<std::size_t>(l)];
      const int n_in = net.in_size(l), n_out = net.out_size(l);
      z.resize(static_cast<std::size_t>(rows * n_out));
      for (int r = 0; r < rows; ++r)
        std::copy(net.bias(l), net.bias(l) + n_out, z.begin() + r * n_out);
      gemm_serial(Trans::no, Trans::yes, rows, n_out, n_in, 1.0f, in, n_in, net.weight(l), n_in,
                  1.0f, z.data(), n_out);
      nn::activate(net.activation(l), z.data(), z.size());
      in = z.data();
    }
    std::vector<float> delta(static_cast<std::size_t>(rows * classes));
    for (int r = 0; r < rows; ++r) {
      const float* z = a.back().data() + r * classes;
      float* dz = delta.data() + r * classes;
      const float max = *std::max_element(z, z + classes);
      float sum = 0.0f;
      for (int c = 0; c < classes; ++c) sum += (dz[c] = std::exp(z[c] - max));
      for (int c = 0; c < classes; ++c)
        dz[c] = (dz[c] / sum - (c == y[static_cast<std::size_t>(r)] ? 1.0f : 0.0f)) *
                (1.0f / static_cast<float>(rows));
    }
    for (int l = layers - 1; l >= 0; --l) {
      const int n_in = net.in_size(l), n_out = net.out_size(l);
      const float* input = l == 0 ? x.data() : a[static_cast<std::size_t>(l - 1)].data();
      gemm_serial(Trans::yes, Trans::no, n_out, n_in, rows, 1.0f, delta.data(), n_out, input, n_in,
                  0.0f, grad.data() + net.weight_offset(l), n_in);
      float* db = grad.data() + net.bias_offset(l);
      std::fill(db, db + n_out, 0.0f);
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < n_out; ++j) db[j] += delta[static_cast<std::size_t>(r * n_out + j)];
      if (l == 0) break;
      std::vector<float> below(static_cast<std::size_t>(rows * n_in));
      gemm_serial(Trans::no, Trans::no, rows, n_in, n_out, 1.0f, delta.data(), n_out, net.weight(l),
                  n_in, 0.0f, below.data(), n_in);
      const auto& act = a[static_cast<std::size_t>(l - 1)];  // relu: f'(z) from the output
      for (std::size_t i = 0; i < below.size(); ++i) below[i] = act[i] > 0.0f ? below[i] : 0.0f;
      delta = below;
    }
    ++step;
    const AdamStep s{static_cast<float>(o.learning_rate),
                     static_cast<float>(o.beta1),
                     static_cast<float>(o.beta2),
                     static_cast<float>(o.epsilon),
                     0.0f,
                     static_cast<float>(1.0 - std::pow(o.beta1, static_cast<double>(step))),
                     static_cast<float>(1.0 - std::pow(o.beta2, static_cast<double>(step)))};
    adam_update_serial(net.parameters().data(), grad.data(), m.data(), v.data(), grad.size(), s);
  }
}

}  // namespace

TEST_CASE("training: the same bits as whole products on one thread, for 1, 2 and 3 threads",
          "[nn]") {
  // 200 inputs and two layers of 200: every product of the step is split into tiles (the
  // forward and input-gradient products by columns, the weight gradients by rows), and the
  // last batch (100 = 3 x 32 + 4) has a plan of its own.
  const auto d = testing::gaussian_blobs(100, 200, 5, 23, 0.2f, true);
  nn::TrainOptions o;
  o.epochs = 1;
  auto reference = nn::make_mlp(200, {200, 200}, Activation::relu, 5, 29);
  std::vector<float> m(reference.parameters().size()), v(m.size());
  std::int64_t step = 0;
  reference_epoch(reference, d, o, m, v, step);
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    auto net = nn::make_mlp(200, {200, 200}, Activation::relu, 5, 29);
    nn::train(net, d, o);
    INFO(threads << " threads");
    REQUIRE(std::memcmp(net.parameters().data(), reference.parameters().data(),
                        m.size() * sizeof(float)) == 0);
  }
  omp_set_num_threads(saved);
}

TEST_CASE("evaluate counts per class and predicts argmax", "[nn]") {
  auto net = nn::make_mlp(4, {3}, Activation::relu, 2, 1);
  // Zero weights, bias favouring class 1: every prediction is 1.
  std::fill(net.parameters().begin(), net.parameters().end(), 0.0f);
  net.bias(1)[1] = 1.0f;
  data::Dataset d;
  d.samples = 3000;  // more than one evaluation chunk
  d.features = 4;
  d.classes = 2;
  d.x.assign(3000 * 4, 0.5f);
  for (int i = 0; i < 3000; ++i) d.y.push_back(i % 3 == 0 ? 0 : 1);
  std::vector<std::int32_t> pred;
  const auto e = nn::evaluate(net, d, &pred);
  REQUIRE(e.accuracy == Approx(2.0 / 3.0));
  REQUIRE(e.per_class_accuracy[0] == 0.0);
  REQUIRE(e.per_class_accuracy[1] == 1.0);
  REQUIRE(e.loss == Approx((1000 * nn::cross_entropy(std::array<float, 2>{0, 1}.data(), 2, 0) +
                            2000 * nn::cross_entropy(std::array<float, 2>{0, 1}.data(), 2, 1)) /
                           3000));
  for (auto p : pred) REQUIRE(p == 1);
}

TEST_CASE("parse_widths and parse_activation reject garbage", "[nn]") {
  REQUIRE(nn::parse_widths("200,100") == std::vector<int>{200, 100});
  REQUIRE(nn::parse_widths("7") == std::vector<int>{7});
  // One syntax everywhere: a study's 200x100 means the same network.
  REQUIRE(nn::parse_widths("200x100") == std::vector<int>{200, 100});
  REQUIRE(nn::parse_widths("4x3x2") == std::vector<int>{4, 3, 2});
  for (const char* bad : {"", ",", "200,", "a", "0", "-5", "1.5", "200,,3", "x", "200x", "x200",
                          "200xx3", "200x0", "200X100", "200x100,50", "2 x 3"})
    REQUIRE_THROWS_AS(nn::parse_widths(bad), Error);
  REQUIRE_THROWS_AS(nn::parse_activation("gelu"), Error);
  REQUIRE(nn::parse_activation("tanh") == Activation::tanh);
}

TEST_CASE("parse_widths errors name the bad width", "[nn]") {
  REQUIRE_THROWS_WITH(nn::parse_widths("200,0"), Catch::Contains("width '0'"));
  REQUIRE_THROWS_WITH(nn::parse_widths("200x,5"), Catch::Contains("mix 'x' and ','"));
  REQUIRE_THROWS_WITH(nn::parse_widths("10,,3"), Catch::Contains("an empty width"));
}
