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

TEST_CASE("binning rules follow docs/definitions.md exactly", "[info]") {
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
      L.kl_selectivity_corrected.push_back(q.kl_selectivity_corrected);
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
                REQUIRE(F.kl_selectivity_corrected[j] ==
                        Approx(R.kl_selectivity_corrected[j]).margin(1e-12));
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
  o.mi_null_permutations = 25;  // the permutation null too
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
      REQUIRE(x.size() == a.layers[l].entropy.size());
      REQUIRE(y.size() == x.size());
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

// ---------------------------------------------------------------------------------------
// Bias-corrected KL selectivity and the MI permutation null.

namespace {

// A [bins, classes] histogram of n_y[y] samples of class y, T drawn from q[y] (a
// distribution over the bins) with rng.
JointHistogram sample_hist(const std::vector<std::vector<double>>& q,
                           const std::vector<std::int64_t>& ny, Rng& rng) {
  const auto C = q.size(), B = q[0].size();
  JointHistogram h = make_hist(static_cast<int>(B), static_cast<int>(C),
                               std::vector<std::int64_t>(B * C, 0));
  for (std::size_t y = 0; y < C; ++y)
    for (std::int64_t i = 0; i < ny[y]; ++i) {
      double u = rng.uniform_double(), acc = 0.0;
      std::size_t t = 0;
      while (t + 1 < B && u >= (acc += q[y][t])) ++t;
      ++h.counts[t * C + y];
    }
  return h;
}

// D(q || p) in bits of two distributions.
double kl(const std::vector<double>& q, const std::vector<double>& p) {
  double d = 0.0;
  for (std::size_t t = 0; t < q.size(); ++t)
    if (q[t] > 0) d += q[t] * std::log2(q[t] / p[t]);
  return d;
}

}  // namespace

TEST_CASE("corrected KL: exact on a product table, zero for a dead neuron or one class",
          "[info]") {
  // A product table: the plug-in divergences are 0 and the correction is exactly the
  // independence bias (m - 1)(1/n_y - 1/N)/(2 ln 2).
  const std::vector<std::int64_t> pt{3, 1, 4, 1, 5}, py{2, 7, 1};
  std::vector<std::int64_t> c;
  for (auto a : pt)
    for (auto b : py) c.push_back(a * b);
  const auto d = info::class_divergences(make_hist(5, 3, c));
  const double N = 14.0 * 10.0;
  for (std::size_t y = 0; y < 3; ++y) {
    const double ny = 14.0 * static_cast<double>(py[y]);
    REQUIRE(d[y].plugin == Approx(0.0).margin(1e-14));
    REQUIRE(d[y].corrected ==
            Approx(-4.0 * (1.0 / ny - 1.0 / N) / (2.0 * std::log(2.0))).epsilon(1e-12));
  }
  const auto dead = info::quantities(make_hist(3, 2, {5, 7, 0, 0, 0, 0}), Estimator::plugin);
  REQUIRE(dead.kl_selectivity_corrected == 0.0);
  const auto one = info::class_divergences(make_hist(3, 2, {5, 0, 7, 0, 1, 0}));
  REQUIRE(one[0].plugin == 0.0);
  REQUIRE(one[0].corrected == Approx(0.0).margin(1e-15));
  REQUIRE(std::isnan(one[1].plugin));
  REQUIRE(std::isnan(one[1].corrected));
  const auto empty = info::quantities(make_hist(2, 2, {0, 0, 0, 0}), Estimator::plugin);
  REQUIRE(empty.kl_selectivity_corrected == 0.0);
}

TEST_CASE("corrected KL: unbiased when T is independent of Y, the plug-in is not", "[info]") {
  // T independent of Y: every true D(P_T|y || P_T) is 0. 10 bins, 4 classes of 500.
  const std::vector<double> p{0.2, 0.15, 0.15, 0.1, 0.1, 0.08, 0.08, 0.06, 0.05, 0.03};
  const std::vector<std::vector<double>> q(4, p);
  const std::vector<std::int64_t> ny(4, 500);
  const double predicted = 9.0 * (1.0 / 500 - 1.0 / 2000) / (2.0 * std::log(2.0));
  Rng rng(2024);
  double plugin = 0, corrected = 0, plugin_max = 0, corrected_max = 0;
  const int reps = 2000;
  for (int r = 0; r < reps; ++r) {
    const auto h = sample_hist(q, ny, rng);
    for (const auto& d : info::class_divergences(h)) {
      plugin += d.plugin;
      corrected += d.corrected;
    }
    const auto qq = info::quantities(h, Estimator::plugin);
    plugin_max += qq.kl_selectivity;
    corrected_max += qq.kl_selectivity_corrected;
  }
  plugin /= 4.0 * reps;
  corrected /= 4.0 * reps;
  plugin_max /= reps;
  corrected_max /= reps;
  INFO("predicted bias " << predicted << " plug-in " << plugin << " corrected " << corrected
                         << " max: plug-in " << plugin_max << " corrected " << corrected_max);
  // One class's divergence has sd ~ 0.0046 bits here: over 8,000 the mean is good to 1e-4.
  REQUIRE(plugin == Approx(predicted).epsilon(0.03));
  REQUIRE(std::abs(corrected) < 0.03 * predicted);
  // The maximum over classes keeps part of the bias (the largest of 4 noisy values).
  REQUIRE(corrected_max < plugin_max - 0.9 * predicted);
  REQUIRE(corrected_max > 0.0);
}

TEST_CASE("corrected KL converges to the closed form, and is closer at moderate N", "[info]") {
  // Three classes with known P_T|y over 6 bins (one with an empty bin); equal class counts,
  // so P_T is their average and D(P_T|y || P_T) is known exactly.
  const std::vector<std::vector<double>> q{{0.4, 0.3, 0.1, 0.1, 0.05, 0.05},
                                           {0.1, 0.1, 0.3, 0.3, 0.2, 0.0},
                                           {0.05, 0.15, 0.2, 0.2, 0.2, 0.2}};
  std::vector<double> p(6, 0.0);
  for (const auto& qy : q)
    for (std::size_t t = 0; t < 6; ++t) p[t] += qy[t] / 3.0;
  std::vector<double> truth;
  for (const auto& qy : q) truth.push_back(kl(qy, p));
  Rng rng(7);
  // Moderate N: 60 samples per class, averaged over 3,000 histograms.
  std::vector<double> plugin(3, 0.0), corrected(3, 0.0);
  const int reps = 3000;
  for (int r = 0; r < reps; ++r) {
    const auto d = info::class_divergences(sample_hist(q, {60, 60, 60}, rng));
    for (std::size_t y = 0; y < 3; ++y) {
      plugin[y] += d[y].plugin / reps;
      corrected[y] += d[y].corrected / reps;
    }
  }
  for (std::size_t y = 0; y < 3; ++y) {
    INFO("class " << y << " truth " << truth[y] << " plug-in " << plugin[y] << " corrected "
                  << corrected[y]);
    REQUIRE(std::abs(corrected[y] - truth[y]) < 0.25 * std::abs(plugin[y] - truth[y]));
  }
  // Large N: one histogram of 2,000,000 per class gives the closed form (its sd here is
  // about 1e-3 bits; the bias left is 1e-6).
  const auto big = sample_hist(q, {2000000, 2000000, 2000000}, rng);
  const auto d = info::class_divergences(big);
  for (std::size_t y = 0; y < 3; ++y) {
    REQUIRE(d[y].corrected == Approx(truth[y]).margin(4e-3));
    REQUIRE(std::abs(d[y].corrected - d[y].plugin) < 1e-5);
  }
  REQUIRE(info::quantities(big, Estimator::plugin).kl_selectivity_corrected ==
          Approx(*std::max_element(truth.begin(), truth.end())).margin(4e-3));
}

TEST_CASE("MI null: the exact permutation distribution of a 2x2 table", "[info]") {
  // 6 samples, 3 in each bin and each class: the (0, 0) count k of a permuted table is
  // hypergeometric, P(k) = C(3,k) C(3,3-k) / 20, and I = 1 bit for k = 0, 3 (p = 0.1),
  // 1 - H2(1/3) for k = 1, 2. The observed table (k = 3) has p-value 0.1.
  const auto h = make_hist(2, 2, {3, 0, 0, 3});
  const double low = 1.0 + (1.0 / 3) * std::log2(1.0 / 3) + (2.0 / 3) * std::log2(2.0 / 3);
  const double exact_mean = 0.1 * 1.0 + 0.9 * low;
  const int K = 20000;
  const auto null =
      info::mutual_information_null(h.counts.data(), 1, 2, 2, Estimator::plugin, K, 11);
  // sd of one null value: sqrt(0.1 * 0.9) * (1 - low) = 0.276; SE over 20,000 = 0.002.
  REQUIRE(null.mean[0] == Approx(exact_mean).margin(0.008));
  REQUIRE(null.q95[0] == Approx(1.0).epsilon(1e-12));
  REQUIRE(null.p[0] == Approx(0.1).margin(0.008));
  // The same for the Miller–Madow estimator (every column has 1 or 2 occupied bins).
  const auto mm =
      info::mutual_information_null(h.counts.data(), 1, 2, 2, Estimator::miller_madow, 2000, 11);
  REQUIRE(mm.p[0] == Approx(0.1).margin(0.03));
}

TEST_CASE("MI null: p uniform for neurons independent of the label, minimal when informative",
          "[info]") {
  // 400 neurons over the same 600 labels (3 classes of 200), 8 bins; the last one copies
  // the label into its bin.
  const std::size_t neurons = 400, B = 8, C = 3;
  const std::vector<double> p{0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05};
  const std::vector<std::vector<double>> q(C, p);
  Rng rng(31);
  std::vector<std::int64_t> counts;
  for (std::size_t k = 0; k + 1 < neurons; ++k) {
    const auto h = sample_hist(q, {200, 200, 200}, rng);
    counts.insert(counts.end(), h.counts.begin(), h.counts.end());
  }
  std::vector<std::int64_t> informative(B * C, 0);
  for (std::size_t y = 0; y < C; ++y) informative[y * C + y] = 200;
  counts.insert(counts.end(), informative.begin(), informative.end());
  const int K = 199;
  const auto null = info::mutual_information_null(counts.data(), neurons, static_cast<int>(B),
                                                  static_cast<int>(C), Estimator::plugin, K, 5);
  double mean_p = 0, below_05 = 0, mi = 0, null_mean = 0;
  for (std::size_t k = 0; k + 1 < neurons; ++k) {
    mean_p += null.p[k];
    below_05 += null.p[k] <= 0.05;
    JointHistogram h = make_hist(static_cast<int>(B), static_cast<int>(C),
                                 std::vector<std::int64_t>(counts.begin() + static_cast<std::ptrdiff_t>(k * B * C),
                                                           counts.begin() + static_cast<std::ptrdiff_t>((k + 1) * B * C)));
    mi += info::mutual_information_bits(h, Estimator::plugin);
    null_mean += null.mean[k];
    REQUIRE(null.q95[k] >= null.mean[k]);
  }
  const double m = static_cast<double>(neurons - 1);
  INFO("mean p " << mean_p / m << ", p <= 0.05: " << below_05 / m << ", mean MI " << mi / m
                 << ", mean null mean " << null_mean / m);
  REQUIRE(mean_p / m == Approx(0.5).margin(0.04));      // sd of the mean: 0.29/sqrt(399)
  REQUIRE(below_05 / m == Approx(0.05).margin(0.035));  // sd: 0.011
  REQUIRE(mi / m == Approx(null_mean / m).epsilon(0.05));
  REQUIRE(null.p[neurons - 1] == 1.0 / (K + 1));
  REQUIRE(null.q95[neurons - 1] < 0.1);
}

TEST_CASE("MI null: the same bits for 1 and 2 threads, and measure stores it per layer", "[info]") {
  const auto d = testing::gaussian_blobs(2000, 10, 4, 12, 0.4f);
  const auto net = nn::make_mlp(10, {24, 8}, nn::Activation::tanh, 4, 3);
  info::MeasureOptions o;
  o.mi_null_permutations = 50;
  o.mi_null_seed = 9;
  o.keep_histograms = true;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto a = info::measure(net, d, o);
  omp_set_num_threads(2);
  const auto b = info::measure(net, d, o);
  omp_set_num_threads(saved);
  for (std::size_t l = 0; l < 2; ++l) {
    const auto& A = a.layers[l];
    const auto& Bl = b.layers[l];
    const std::size_t w = A.entropy.size();
    REQUIRE(A.mutual_information_null_p.size() == w);
    REQUIRE(std::memcmp(A.mutual_information_null_mean.data(),
                        Bl.mutual_information_null_mean.data(), w * sizeof(double)) == 0);
    REQUIRE(std::memcmp(A.mutual_information_null_q95.data(), Bl.mutual_information_null_q95.data(),
                        w * sizeof(double)) == 0);
    REQUIRE(std::memcmp(A.mutual_information_null_p.data(), Bl.mutual_information_null_p.data(),
                        w * sizeof(double)) == 0);
    // The null of the stored histograms, computed alone, is the same.
    const auto direct = info::mutual_information_null(A.histograms.data(), w, A.histogram_bins, 4,
                                                      Estimator::plugin, 50, 9);
    REQUIRE(direct.mean == A.mutual_information_null_mean);
    REQUIRE(direct.p == A.mutual_information_null_p);
    for (std::size_t j = 0; j < w; ++j) {
      REQUIRE(A.mutual_information_null_p[j] >= 1.0 / 51);
      REQUIRE(A.mutual_information_null_p[j] <= 1.0);
    }
  }
  info::MeasureOptions none;
  REQUIRE(info::measure(net, d, none).layers[0].mutual_information_null_mean.empty());
}

TEST_CASE("MI null equals a naive reference of the permutations it specifies", "[info]") {
  // The reference: per permutation, the labels shuffled as info.hpp says, each neuron's
  // samples laid out sorted by bin, the table counted sample by sample, I by quantities().
  Rng rng(77);
  const int B = 7, C = 3, K = 40;
  const std::vector<std::int64_t> ny{50, 30, 20};
  std::vector<std::int64_t> counts;
  for (int k = 0; k < 5; ++k) {
    std::vector<std::vector<double>> q(C, std::vector<double>(B));
    for (auto& qy : q) {
      double z = 0;
      for (auto& x : qy) z += x = rng.below(3) == 0 ? 0.0 : rng.uniform_double();
      for (auto& x : qy) x = z > 0 ? x / z : 1.0 / B;
    }
    const auto h = sample_hist(q, ny, rng);
    counts.insert(counts.end(), h.counts.begin(), h.counts.end());
  }
  for (auto est : {Estimator::plugin, Estimator::miller_madow}) {
    const auto null = info::mutual_information_null(counts.data(), 5, B, C, est, K, 3);
    for (std::size_t k = 0; k < 5; ++k) {
      const std::vector<std::int64_t> table(counts.begin() + static_cast<std::ptrdiff_t>(k * B * C),
                                            counts.begin() + static_cast<std::ptrdiff_t>((k + 1) * B * C));
      std::vector<int> bin_of;  // samples sorted by bin
      for (int t = 0; t < B; ++t)
        for (int y = 0; y < C; ++y)
          bin_of.insert(bin_of.end(), static_cast<std::size_t>(table[static_cast<std::size_t>(t * C + y)]), t);
      const double observed = info::mutual_information_bits(make_hist(B, C, table), est);
      double sum = 0;
      int at_least = 0;
      for (int r = 0; r < K; ++r) {
        std::vector<std::int32_t> z;
        for (int y = 0; y < C; ++y) z.insert(z.end(), static_cast<std::size_t>(ny[static_cast<std::size_t>(y)]), y);
        Rng perm(derive_seed(3, {static_cast<std::uint64_t>(r)}));
        shuffle(z, perm);
        std::vector<std::int64_t> c(static_cast<std::size_t>(B * C), 0);
        for (std::size_t i = 0; i < z.size(); ++i)
          ++c[static_cast<std::size_t>(bin_of[i] * C + z[i])];
        const double v = info::mutual_information_bits(make_hist(B, C, c), est);
        sum += v;
        at_least += v >= observed - 1e-12;
      }
      REQUIRE(null.mean[k] == Approx(sum / K).margin(1e-12));
      REQUIRE(null.p[k] == Approx(static_cast<double>(1 + at_least) / (K + 1)).margin(1e-15));
    }
  }
}
