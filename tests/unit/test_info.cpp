#include <omp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <numeric>

#include "info/binning.hpp"
#include "ioca/core.hpp"
#include "ioca/info.hpp"
#include "test_helpers.hpp"

using namespace ioca;
using info::Estimator;
using info::JointHistogram;

namespace {

JointHistogram make_hist(int bins, int classes, std::vector<std::int64_t> counts) {
  JointHistogram h;
  h.bins = bins;
  h.classes = classes;
  h.counts = std::move(counts);
  return h;
}

// Random joint histogram with some empty cells.
JointHistogram random_hist(int bins, int classes, Rng& rng) {
  std::vector<std::int64_t> c(static_cast<std::size_t>(bins * classes));
  for (auto& x : c) x = rng.below(4) == 0 ? 0 : static_cast<std::int64_t>(rng.below(50));
  return make_hist(bins, classes, c);
}

double sum_py_kl(const JointHistogram& h) {
  const auto B = static_cast<std::size_t>(h.bins), C = static_cast<std::size_t>(h.classes);
  std::vector<std::int64_t> marginal(B, 0), col(B);
  std::int64_t N = 0;
  for (std::size_t i = 0; i < B * C; ++i) {
    marginal[i / C] += h.counts[i];
    N += h.counts[i];
  }
  double s = 0;
  for (std::size_t y = 0; y < C; ++y) {
    std::int64_t ny = 0;
    for (std::size_t t = 0; t < B; ++t) ny += col[t] = h.counts[t * C + y];
    if (ny)
      s += static_cast<double>(ny) / static_cast<double>(N) *
           info::kl_divergence_bits(col.data(), marginal.data(), B);
  }
  return s;
}

}  // namespace

TEST_CASE("uniform over B bins has entropy log2 B", "[info]") {
  for (int B : {2, 7, 30, 64}) {
    std::vector<std::int64_t> c(static_cast<std::size_t>(B), 13);
    REQUIRE(info::entropy_bits(c.data(), c.size(), Estimator::plugin) ==
            Approx(std::log2(B)).epsilon(1e-14));
  }
}

TEST_CASE("a deterministic function of the label with distinct bins gives I = H(Y)", "[info]") {
  // 4 classes with counts 10, 20, 30, 40, each in its own bin.
  const auto h = make_hist(6, 4, {10, 0, 0,  0, /**/ 0, 20, 0, 0,  /**/ 0, 0, 0, 0,
                                  0,  0, 30, 0, /**/ 0, 0,  0, 40, /**/ 0, 0, 0, 0});
  const double p[4] = {0.1, 0.2, 0.3, 0.4};
  double hy = 0;
  for (double x : p) hy -= x * std::log2(x);
  const auto q = info::quantities(h, Estimator::plugin);
  REQUIRE(q.mutual_information == Approx(hy).epsilon(1e-13));
  REQUIRE(q.entropy == Approx(hy).epsilon(1e-13));
  // The rarest class is the most surprising: D(P_{T|y} || P_T) = -log2 p(y).
  REQUIRE(q.kl_selectivity == Approx(-std::log2(0.1)).epsilon(1e-13));
  REQUIRE(q.kl_selectivity_class == 0);
}

TEST_CASE("a neuron independent of the label (product histogram) has I = 0", "[info]") {
  const std::vector<std::int64_t> pt{3, 1, 4, 1, 5}, py{2, 7, 1};
  std::vector<std::int64_t> c;
  for (auto a : pt)
    for (auto b : py) c.push_back(a * b);
  const auto q = info::quantities(make_hist(5, 3, c), Estimator::plugin);
  REQUIRE(q.mutual_information == Approx(0.0).margin(1e-14));
  REQUIRE(q.kl_selectivity == Approx(0.0).margin(1e-14));
}

TEST_CASE("I = sum_y p(y) D(P_T|y || P_T) and I <= KL selectivity for random histograms",
          "[info]") {
  Rng rng(99);
  for (int trial = 0; trial < 500; ++trial) {
    const auto h =
        random_hist(2 + static_cast<int>(rng.below(40)), 2 + static_cast<int>(rng.below(10)), rng);
    const auto q = info::quantities(h, Estimator::plugin);
    REQUIRE(q.mutual_information == Approx(sum_py_kl(h)).margin(1e-12));
    REQUIRE(q.mutual_information <= q.kl_selectivity + 1e-12);
    REQUIRE(q.mutual_information >= 0.0);
    REQUIRE(q.mutual_information <= q.entropy + 1e-12);
  }
}

TEST_CASE("Miller-Madow adds (m-1)/(2 N ln 2) to each entropy term", "[info]") {
  Rng rng(5);
  for (int trial = 0; trial < 100; ++trial) {
    const auto h = random_hist(10, 3, rng);
    const auto plug = info::quantities(h, Estimator::plugin);
    const auto mm = info::quantities(h, Estimator::miller_madow);
    std::vector<std::int64_t> marginal(10, 0), Ny(3, 0), my(3, 0);
    std::int64_t N = 0;
    for (std::size_t t = 0; t < 10; ++t)
      for (std::size_t y = 0; y < 3; ++y) {
        const auto c = h.counts[t * 3 + y];
        marginal[t] += c;
        Ny[y] += c;
        my[y] += c > 0;
        N += c;
      }
    std::int64_t m = 0;
    for (auto c : marginal) m += c > 0;
    const double ln2 = std::log(2.0);
    const double dH = static_cast<double>(m - 1) / (2.0 * static_cast<double>(N) * ln2);
    double dHcond = 0;
    for (std::size_t y = 0; y < 3; ++y)
      if (Ny[y])
        dHcond += static_cast<double>(Ny[y]) / static_cast<double>(N) *
                  static_cast<double>(my[y] - 1) / (2.0 * static_cast<double>(Ny[y]) * ln2);
    REQUIRE(mm.entropy == Approx(plug.entropy + dH).epsilon(1e-13));
    REQUIRE(mm.mutual_information == Approx(plug.mutual_information + dH - dHcond).margin(1e-12));
    REQUIRE(mm.kl_selectivity == plug.kl_selectivity);
  }
}

TEST_CASE("edge cases: dead neuron, absent class, one sample, empty", "[info]") {
  const auto dead = info::quantities(make_hist(3, 2, {5, 7, 0, 0, 0, 0}), Estimator::plugin);
  REQUIRE(dead.entropy == 0.0);
  REQUIRE(dead.mutual_information == 0.0);
  REQUIRE(dead.kl_selectivity == 0.0);
  // Class 1 absent: it is left out of the maximum, and I is that of the other classes.
  const auto absent = info::quantities(make_hist(2, 3, {4, 0, 0, 0, 0, 4}), Estimator::plugin);
  REQUIRE(absent.mutual_information == Approx(1.0));
  REQUIRE(absent.kl_selectivity == Approx(1.0));
  REQUIRE(absent.kl_selectivity_class != 1);
  const auto one = info::quantities(make_hist(3, 2, {0, 0, 0, 1, 0, 0}), Estimator::miller_madow);
  REQUIRE(one.entropy == 0.0);
  REQUIRE(one.mutual_information == 0.0);
  const auto empty = info::quantities(make_hist(3, 2, {0, 0, 0, 0, 0, 0}), Estimator::plugin);
  REQUIRE(empty.kl_selectivity_class == -1);
}

TEST_CASE("selectivity index (Morcos et al.)", "[info]") {
  const std::vector<bool> all(4, true);
  REQUIRE(info::selectivity_index({1, 1, 1, 1}, all) == 0.0);
  REQUIRE(info::selectivity_index({2, 0, 0, 0}, all) == 1.0);
  REQUIRE(info::selectivity_index({3, 1, 1, 1}, all) == Approx(0.5));
  REQUIRE(info::selectivity_index({0, 0, 0, 0}, all) == 0.0);  // dead neuron
  REQUIRE(info::selectivity_index({3, 100, 1, 1}, {true, false, true, true}) == Approx(0.5));
}

TEST_CASE("binning rules follow DESIGN.md exactly", "[info]") {
  info::BinningOptions o;
  o.bins = 4;
  // uniform over [0, 8]: bin = min(3, floor(a/8*4)).
  REQUIRE(info::bin_values({0, 1.99f, 2, 7.99f, 8}, o, nn::Activation::relu, 0, 0) ==
          std::vector<int>{0, 0, 1, 3, 3});
  REQUIRE(info::bin_values({5, 5, 5}, o, nn::Activation::relu, 0, 0) == std::vector<int>{0, 0, 0});
  o.zero_bin = true;  // zeros to bin 4; the range [2, 6] comes from the non-zero values
  REQUIRE(info::bin_values({0, 2, 3, 6, 0}, o, nn::Activation::relu, 0, 0) ==
          std::vector<int>{4, 0, 1, 3, 4});
  o.zero_bin = false;
  o.rule = info::Binning::binary;
  REQUIRE(info::bin_values({-1, 0, 0.1f}, o, nn::Activation::tanh, 0, 0) ==
          std::vector<int>{0, 0, 1});
  REQUIRE(info::bin_values({0.4f, 0.5f, 0.6f}, o, nn::Activation::sigmoid, 0, 0) ==
          std::vector<int>{0, 0, 1});
  o.threshold = 0.45f;
  REQUIRE(info::bin_values({0.4f, 0.5f}, o, nn::Activation::sigmoid, 0, 0) ==
          std::vector<int>{0, 1});
  o.rule = info::Binning::quantile;
  o.bins = 4;  // edges s[2], s[4], s[6] of 8 sorted values
  REQUIRE(info::bin_values({7, 6, 5, 4, 3, 2, 1, 0}, o, nn::Activation::relu, 0, 0) ==
          std::vector<int>{3, 3, 2, 2, 1, 1, 0, 0});
  REQUIRE(info::bin_values({0, 0, 0, 0, 0, 0, 1, 2}, o, nn::Activation::relu, 0, 0) ==
          std::vector<int>{2, 2, 2, 2, 2, 2, 3, 3});  // edges 0, 0, 1: ties share a bin
  o.rule = info::Binning::uniform_layer;
  REQUIRE(info::bin_values({1, 2}, o, nn::Activation::relu, 0, 4) == std::vector<int>{1, 2});
}

namespace {

// The naive reference: every layer's activations in memory, bin_values per neuron, plain
// histograms and the formulas of info.hpp.
info::Measures naive_measure(const nn::Mlp& net, const data::Dataset& d,
                             const info::MeasureOptions& o) {
  nn::Activations acts;
  nn::forward(net, d.x.data(), static_cast<int>(d.samples), acts);
  info::Measures m;
  m.layers.resize(static_cast<std::size_t>(net.num_hidden()));
  const auto C = static_cast<std::size_t>(d.classes);
  for (int l = 0; l < net.num_hidden(); ++l) {
    const auto width = static_cast<std::size_t>(net.out_size(l));
    const auto& a = acts.outputs[static_cast<std::size_t>(l)];
    float layer_low = INFINITY, layer_high = -INFINITY;
    for (float v : a)
      if (!o.binning.zero_bin || v != 0.0f) {
        layer_low = std::min(layer_low, v);
        layer_high = std::max(layer_high, v);
      }
    auto& L = m.layers[static_cast<std::size_t>(l)];
    for (std::size_t j = 0; j < width; ++j) {
      std::vector<float> column;
      for (std::size_t i = 0; i < d.samples; ++i) column.push_back(a[i * width + j]);
      const auto bins =
          info::bin_values(column, o.binning, net.activation(l), layer_low, layer_high);
      JointHistogram h;
      h.bins = info::total_bins(o.binning);
      h.classes = d.classes;
      h.counts.assign(static_cast<std::size_t>(h.bins) * C, 0);
      for (std::size_t i = 0; i < d.samples; ++i)
        ++h.counts[static_cast<std::size_t>(bins[i]) * C + static_cast<std::size_t>(d.y[i])];
      const auto q = info::quantities(h, o.estimator);
      L.entropy.push_back(q.entropy);
      L.mutual_information.push_back(q.mutual_information);
      L.kl_selectivity.push_back(q.kl_selectivity);
      L.kl_selectivity_class.push_back(q.kl_selectivity_class);
      double mean = 0, var = 0;
      for (float v : column) mean += v;
      mean /= static_cast<double>(d.samples);
      for (float v : column) var += (v - mean) * (v - mean);
      L.mean_activation.push_back(mean);
      L.activation_variance.push_back(var / static_cast<double>(d.samples));
    }
  }
  return m;
}

}  // namespace

TEST_CASE("the chunked measure pass equals the naive reference for every rule", "[info]") {
  const auto d = testing::gaussian_blobs(1500, 12, 5, 3, 0.3f);
  for (auto act : {nn::Activation::relu, nn::Activation::tanh, nn::Activation::sigmoid}) {
    const auto net = nn::make_mlp(12, {20, 9}, act, 5, 4);
    for (auto rule : {info::Binning::uniform, info::Binning::uniform_layer, info::Binning::quantile,
                      info::Binning::binary})
      for (bool zero_bin : {false, true})
        for (auto est : {Estimator::plugin, Estimator::miller_madow})
          // Budgets: every activation cached; none (quantile edges one neuron per pass);
          // 7 neurons' values per pass (groups that straddle the two layers).
          for (std::size_t budget :
               {std::size_t{1} << 30, std::size_t{0}, 7 * 1500 * sizeof(float)}) {
            info::MeasureOptions o;
            o.binning.rule = rule;
            o.binning.bins = 10;
            o.binning.zero_bin = zero_bin;
            o.estimator = est;
            o.chunk_rows = 256;  // several chunks, one partial
            o.activation_cache_bytes = budget;
            const auto fast = info::measure(net, d, o);
            // The reference forwards the whole split at once, the fast pass in chunks; the
            // histograms must agree bin for bin (the data are fixed, so this cannot flake).
            const auto ref = naive_measure(net, d, o);
            for (std::size_t l = 0; l < 2; ++l) {
              INFO("activation " << nn::to_string(act) << " rule " << info::to_string(rule)
                                 << " zero_bin " << zero_bin << " budget " << budget << " layer "
                                 << l);
              const auto& F = fast.layers[l];
              const auto& R = ref.layers[l];
              REQUIRE(F.entropy.size() == R.entropy.size());
              for (std::size_t j = 0; j < F.entropy.size(); ++j) {
                REQUIRE(F.entropy[j] == Approx(R.entropy[j]).margin(1e-12));
                REQUIRE(F.mutual_information[j] == Approx(R.mutual_information[j]).margin(1e-12));
                REQUIRE(F.kl_selectivity[j] == Approx(R.kl_selectivity[j]).margin(1e-12));
                REQUIRE(F.kl_selectivity_class[j] == R.kl_selectivity_class[j]);
                REQUIRE(F.mean_activation[j] == Approx(R.mean_activation[j]).margin(1e-9));
                REQUIRE(F.activation_variance[j] ==
                        Approx(R.activation_variance[j]).epsilon(1e-9).margin(1e-12));
              }
            }
          }
  }
}

TEST_CASE("measure is bitwise identical for 1 and 2 threads", "[info]") {
  const auto d = testing::gaussian_blobs(3000, 16, 4, 8, 0.3f);
  const auto net = nn::make_mlp(16, {64, 32}, nn::Activation::relu, 4, 9);
  info::MeasureOptions o;
  o.chunk_rows = 300;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto a = info::measure(net, d, o);
  omp_set_num_threads(2);
  const auto b = info::measure(net, d, o);
  omp_set_num_threads(saved);
  for (std::size_t l = 0; l < 2; ++l)
    for (const auto& name : info::quantity_names()) {
      const auto& x = info::quantity(a.layers[l], name);
      const auto& y = info::quantity(b.layers[l], name);
      REQUIRE(std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0);
    }
}

TEST_CASE("baselines: outgoing weight norms and a dead neuron", "[info]") {
  auto net = nn::make_mlp(3, {2}, nn::Activation::relu, 2, 1);
  // Neuron 1 of the hidden layer is dead: zero weights, negative bias.
  std::fill(net.weight(0) + 3, net.weight(0) + 6, 0.0f);
  net.bias(0)[1] = -1.0f;
  // Next layer's weights [2, 2]: column 0 = (3, -4), column 1 = (1, 1).
  const float w[4] = {3, 1, -4, 1};
  std::copy(w, w + 4, net.weight(1));
  const auto d = testing::gaussian_blobs(200, 3, 2, 2, 0.3f);
  const auto m = info::measure(net, d, {});
  REQUIRE(m.layers[0].outgoing_l1[0] == 7.0);
  REQUIRE(m.layers[0].outgoing_l2[0] == 5.0);
  REQUIRE(m.layers[0].outgoing_l2[1] == Approx(std::sqrt(2.0)));
  REQUIRE(m.layers[0].entropy[1] == 0.0);
  REQUIRE(m.layers[0].mutual_information[1] == 0.0);
  REQUIRE(m.layers[0].selectivity_index[1] == 0.0);
  REQUIRE(m.layers[0].activation_variance[1] == 0.0);
}

TEST_CASE("measure rejects an empty split and bad bin counts", "[info]") {
  const auto net = nn::make_mlp(3, {2}, nn::Activation::relu, 2, 1);
  data::Dataset empty;
  empty.features = 3;
  empty.classes = 2;
  REQUIRE_THROWS_AS(info::measure(net, empty, {}), Error);
  info::MeasureOptions o;
  o.binning.bins = 1;
  REQUIRE_THROWS_AS(info::measure(net, testing::gaussian_blobs(10, 3, 2, 1, 0.3f), o), Error);
}

TEST_CASE("measure on a one-sample split and with a class absent", "[info]") {
  const auto net = nn::make_mlp(6, {5}, nn::Activation::tanh, 3, 2);
  auto d = testing::gaussian_blobs(40, 6, 3, 4, 0.3f);
  for (auto& y : d.y) y = y == 2 ? 0 : y;  // class 2 absent
  const auto m = info::measure(net, d, {});
  for (std::size_t j = 0; j < 5; ++j) {
    REQUIRE(m.layers[0].kl_selectivity_class[j] != 2);
    REQUIRE(m.layers[0].mutual_information[j] <= m.layers[0].kl_selectivity[j] + 1e-12);
    REQUIRE(std::isfinite(m.layers[0].selectivity_index[j]));
  }
  const auto one = d.subset({7});
  const auto m1 = info::measure(net, one, {});
  for (std::size_t j = 0; j < 5; ++j) {
    REQUIRE(m1.layers[0].entropy[j] == 0.0);
    REQUIRE(m1.layers[0].mutual_information[j] == 0.0);
    REQUIRE(m1.layers[0].activation_variance[j] == 0.0);
  }
}
