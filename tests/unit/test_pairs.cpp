// The pair decomposition (info.hpp, LayerPairs): closed forms, a naive reference with
// std::map histograms and direct log2 formulas, its consistency with the measures, thread
// counts, and the measures file.
#include <omp.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "info/binning.hpp"
#include "info/pairs.hpp"
#include "ioca/core.hpp"
#include "ioca/info.hpp"
#include "ioca/io.hpp"
#include "naive_pairs.hpp"
#include "test_helpers.hpp"

using namespace ioca;
using testing::naive_pair;
using testing::NaivePair;

namespace {

info::LayerBins layer_of(const std::vector<std::vector<int>>& bins, int bin_count) {
  info::LayerBins l;
  l.neurons = bins.size();
  l.samples = bins.empty() ? 0 : bins[0].size();
  l.bins = bin_count;
  for (const auto& column : bins)
    for (int v : column) l.codes.push_back(static_cast<std::uint16_t>(v));
  return l;
}

// Every pair of `fast` against the naive reference on the same bins.
void require_matches_naive(const info::LayerPairs& fast, const std::vector<std::vector<int>>& bins,
                           const std::vector<std::int32_t>& y) {
  const std::size_t n = bins.size();
  REQUIRE(fast.size() == n * (n - 1) / 2);
  std::size_t p = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j, ++p) {
      INFO("pair " << p << " = (" << i << ", " << j << ")");
      REQUIRE(fast.first[p] == static_cast<std::int64_t>(i));
      REQUIRE(fast.second[p] == static_cast<std::int64_t>(j));
      const NaivePair r = naive_pair(bins[i], bins[j], y);
      REQUIRE(fast.joint_mutual_information[p] == Approx(r.joint).margin(1e-12));
      REQUIRE(fast.redundancy[p] == Approx(r.redundancy).margin(1e-12));
      REQUIRE(fast.unique_first[p] == Approx(r.unique_first).margin(1e-12));
      REQUIRE(fast.unique_second[p] == Approx(r.unique_second).margin(1e-12));
      REQUIRE(fast.synergy[p] == Approx(r.synergy).margin(1e-12));
      REQUIRE(fast.co_information[p] == Approx(r.co_information).margin(1e-12));
    }
}

bool same_bits(const info::LayerPairs& a, const info::LayerPairs& b) {
  if (a.first != b.first || a.second != b.second) return false;
  for (const auto& name : info::pair_quantity_names()) {
    const auto &x = info::pair_quantity(a, name), &y = info::pair_quantity(b, name);
    if (!ioca::testing::same_bytes(x, y)) return false;
  }
  return true;
}

// Random bins that depend on the label (so that every part is non-zero somewhere), with
// some bins never used.
std::vector<std::vector<int>> random_bins(std::size_t neurons, const std::vector<std::int32_t>& y,
                                          int bins, Rng& rng) {
  std::vector<std::vector<int>> out(neurons);
  for (std::size_t k = 0; k < neurons; ++k)
    for (std::size_t s = 0; s < y.size(); ++s) {
      const auto b = static_cast<std::uint64_t>(bins);
      int v = rng.below(3) == 0 ? static_cast<int>((static_cast<std::uint64_t>(y[s]) * (k + 1)) % b)
                                : static_cast<int>(rng.below(b));
      if (k % 3 == 2 && v == 1) v = 0;  // bin 1 of every third neuron stays empty
      out[k].push_back(v);
    }
  return out;
}

}  // namespace

TEST_CASE("pairs: closed forms of XOR, a copy and an independent pair", "[pairs]") {
  // Three independent fair bits x1, x2, z, each of the 8 patterns 5 times; Y = x1 xor x2.
  // Neurons: 0 = x1, 1 = x2, 2 = Y, 3 = Y (a copy of 2), 4 = z (noise).
  std::vector<std::vector<int>> bins(5);
  std::vector<std::int32_t> y;
  for (int repeat = 0; repeat < 5; ++repeat)
    for (int pattern = 0; pattern < 8; ++pattern) {
      const int x1 = pattern & 1, x2 = (pattern >> 1) & 1, z = (pattern >> 2) & 1;
      y.push_back(x1 ^ x2);
      bins[0].push_back(x1);
      bins[1].push_back(x2);
      bins[2].push_back(x1 ^ x2);
      bins[3].push_back(x1 ^ x2);
      bins[4].push_back(z);
    }
  const info::LayerPairs p = info::pair_decomposition(layer_of(bins, 2), y, 2);
  REQUIRE(p.size() == 10);
  // joint MI, redundancy, unique first, unique second, synergy per pair (bits).
  const std::map<std::pair<int, int>, std::array<double, 5>> expected{
      {{0, 1}, {1, 0, 0, 0, 1}},  // XOR: pure synergy
      {{2, 3}, {1, 1, 0, 0, 0}},  // a copy: pure redundancy
      {{2, 4}, {1, 0, 1, 0, 0}},  // Y and independent noise: unique to the first
      {{0, 2}, {1, 0, 0, 1, 0}},  // x1 says nothing alone, Y everything
      {{0, 4}, {0, 0, 0, 0, 0}},  // neither says anything
      {{1, 3}, {1, 0, 0, 1, 0}},
  };
  for (std::size_t k = 0; k < p.size(); ++k) {
    const std::pair<int, int> pair{static_cast<int>(p.first[k]), static_cast<int>(p.second[k])};
    const auto it = expected.find(pair);
    if (it == expected.end()) continue;
    INFO("pair (" << pair.first << ", " << pair.second << ")");
    const auto& e = it->second;
    REQUIRE(p.joint_mutual_information[k] == Approx(e[0]).margin(1e-12));
    REQUIRE(p.redundancy[k] == Approx(e[1]).margin(1e-12));
    REQUIRE(p.unique_first[k] == Approx(e[2]).margin(1e-12));
    REQUIRE(p.unique_second[k] == Approx(e[3]).margin(1e-12));
    REQUIRE(p.synergy[k] == Approx(e[4]).margin(1e-12));
    REQUIRE(p.co_information[k] == Approx(e[1] - e[4]).margin(1e-12));
  }
  // Pair (i, j) sits at i(2n-i-1)/2 + j-i-1: (2, 3) of 5 neurons at 7.
  REQUIRE(p.first[7] == 2);
  REQUIRE(p.second[7] == 3);
  REQUIRE(p.redundancy[7] == Approx(1.0).margin(1e-12));
  require_matches_naive(p, bins, y);
}

TEST_CASE("pairs: a fair coin's copy is 1 bit of redundancy with any number of classes",
          "[pairs]") {
  // Y uniform over 4 classes, both neurons the same 2-bin function (y < 2) of it: each
  // neuron has I = 1 bit, the pair too, all of it redundant.
  std::vector<std::vector<int>> bins(2);
  std::vector<std::int32_t> y;
  for (int s = 0; s < 400; ++s) {
    y.push_back(s % 4);
    bins[0].push_back(s % 4 < 2 ? 0 : 1);
    bins[1].push_back(s % 4 < 2 ? 1 : 0);  // bins named the other way round
  }
  const auto p = info::pair_decomposition(layer_of(bins, 2), y, 4);
  REQUIRE(p.joint_mutual_information[0] == Approx(1.0).margin(1e-12));
  REQUIRE(p.redundancy[0] == Approx(1.0).margin(1e-12));
  REQUIRE(p.synergy[0] == Approx(0.0).margin(1e-12));
  REQUIRE(p.unique_first[0] == Approx(0.0).margin(1e-12));
}

TEST_CASE("pairs: the fast path equals the naive reference on random data, either way of counting",
          "[pairs]") {
  Rng rng(11);
  for (const int classes : {2, 3, 5})
    for (const int bins : {2, 4, 7}) {
      const std::size_t samples = 300 + static_cast<std::size_t>(rng.below(200)), neurons = 6;
      std::vector<std::int32_t> y;
      for (std::size_t s = 0; s < samples; ++s)
        y.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(classes))));
      if (classes == 5)
        for (auto& v : y) v = v == 3 ? 0 : v;  // class 3 absent
      const auto b = random_bins(neurons, y, bins, rng);
      INFO("classes " << classes << " bins " << bins << " samples " << samples);
      const auto table = info::pair_decomposition(layer_of(b, bins), y, classes);
      require_matches_naive(table, b, y);
      // Every pair counted by sorting instead of a table: the same bits.
      const auto sorted = info::pair_decomposition(layer_of(b, bins), y, classes, 0);
      REQUIRE(same_bits(table, sorted));
    }
}

TEST_CASE("pairs: redundancy + unique is the neuron's plug-in MI, the parts sum to the joint MI",
          "[pairs]") {
  Rng rng(5);
  std::vector<std::int32_t> y;
  for (int s = 0; s < 2000; ++s) y.push_back(static_cast<std::int32_t>(rng.below(10)));
  const auto b = random_bins(9, y, 30, rng);
  const auto p = info::pair_decomposition(layer_of(b, 30), y, 10);
  std::vector<double> mi;
  for (const auto& column : b) {
    info::JointHistogram h;
    h.bins = 30;
    h.classes = 10;
    h.counts.assign(300, 0);
    for (std::size_t s = 0; s < y.size(); ++s)
      ++h.counts[static_cast<std::size_t>(column[s]) * 10 + static_cast<std::size_t>(y[s])];
    mi.push_back(info::mutual_information_bits(h, info::Estimator::plugin));
  }
  double largest_synergy = 0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    const auto i = static_cast<std::size_t>(p.first[k]), j = static_cast<std::size_t>(p.second[k]);
    REQUIRE(p.redundancy[k] + p.unique_first[k] == Approx(mi[i]).margin(1e-12));
    REQUIRE(p.redundancy[k] + p.unique_second[k] == Approx(mi[j]).margin(1e-12));
    REQUIRE(p.redundancy[k] + p.unique_first[k] + p.unique_second[k] + p.synergy[k] ==
            Approx(p.joint_mutual_information[k]).margin(1e-9));
    REQUIRE(p.co_information[k] == Approx(p.redundancy[k] - p.synergy[k]).margin(1e-12));
    // I_min's bounds: 0 <= R <= min(I_i, I_j), and the joint MI is at least either one.
    REQUIRE(p.redundancy[k] >= 0.0);
    REQUIRE(p.unique_first[k] >= -1e-12);
    REQUIRE(p.unique_second[k] >= -1e-12);
    REQUIRE(p.synergy[k] >= -1e-12);
    largest_synergy = std::max(largest_synergy, p.synergy[k]);
  }
  REQUIRE(largest_synergy > 0.01);  // the data are not trivial
}

TEST_CASE("pairs: the same bits for 1 and 2 threads", "[pairs]") {
  Rng rng(3);
  std::vector<std::int32_t> y;
  for (int s = 0; s < 3000; ++s) y.push_back(static_cast<std::int32_t>(rng.below(7)));
  const auto layer = layer_of(random_bins(23, y, 12, rng), 12);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = info::pair_decomposition(layer, y, 7);
  omp_set_num_threads(2);
  const auto two = info::pair_decomposition(layer, y, 7);
  const auto two_sorted = info::pair_decomposition(layer, y, 7, 0);
  omp_set_num_threads(saved);
  REQUIRE(same_bits(one, two));
  REQUIRE(same_bits(one, two_sorted));
}

TEST_CASE("pairs: bad input is one clear error", "[pairs]") {
  std::vector<std::vector<int>> b{{0, 1, 1}, {1, 0, 1}};
  const std::vector<std::int32_t> y{0, 1, 0};
  REQUIRE_NOTHROW(info::pair_decomposition(layer_of(b, 2), y, 2));
  REQUIRE_THROWS_WITH(info::pair_decomposition(layer_of(b, 2), {0, 2, 0}, 2),
                      Catch::Contains("label 2"));
  REQUIRE_THROWS_WITH(info::pair_decomposition(layer_of(b, 2), {0, 1}, 2),
                      Catch::Contains("2 labels for 3 samples"));
  b[1][2] = 2;
  REQUIRE_THROWS_WITH(info::pair_decomposition(layer_of(b, 2), y, 2), Catch::Contains("bin 2"));
  auto layer = layer_of(b, 3);
  layer.codes.pop_back();
  REQUIRE_THROWS_AS(info::pair_decomposition(layer, y, 2), Error);
  // One neuron: no pairs; no samples: every pair 0.
  const auto single = info::pair_decomposition(layer_of({{0, 1, 1}}, 2), y, 2);
  REQUIRE(single.size() == 0);
  info::LayerBins empty;
  empty.neurons = 3;
  empty.bins = 2;
  const auto none = info::pair_decomposition(empty, {}, 2);
  REQUIRE(none.size() == 3);
  REQUIRE(none.synergy == std::vector<double>(3, 0.0));
}

TEST_CASE("measure --pairs: every layer's pairs equal the naive reference on bin_values",
          "[pairs]") {
  const auto d = testing::gaussian_blobs(900, 10, 4, 21, 0.3f);
  for (auto act : {nn::Activation::relu, nn::Activation::tanh}) {
    const auto net = nn::make_mlp(10, {9, 6}, act, 4, 8);
    nn::Activations acts;
    nn::forward(net, d.x.data(), static_cast<int>(d.samples), acts);
    for (auto rule : {info::Binning::uniform, info::Binning::uniform_layer, info::Binning::quantile,
                      info::Binning::binary})
      for (bool zero_bin : {false, true})
        for (auto est : {info::Estimator::plugin, info::Estimator::miller_madow}) {
          info::MeasureOptions o;
          o.binning.rule = rule;
          o.binning.bins = 8;
          o.binning.zero_bin = zero_bin;
          o.estimator = est;
          o.chunk_rows = 200;  // several chunks, one partial
          o.activation_cache_bytes = rule == info::Binning::quantile ? 0 : o.activation_cache_bytes;
          o.pairs = true;
          o.keep_histograms = true;
          const auto m = info::measure(net, d, o);
          for (int l = 0; l < 2; ++l) {
            INFO(nn::to_string(act) << " " << info::to_string(rule) << " zero_bin " << zero_bin
                                    << " " << info::to_string(est) << " layer " << l);
            const auto& L = m.layers[static_cast<std::size_t>(l)];
            REQUIRE(L.pairs);
            const auto width = static_cast<std::size_t>(net.out_size(l));
            const auto& a = acts.outputs[static_cast<std::size_t>(l)];
            float low = INFINITY, high = -INFINITY;
            for (float v : a)
              if (!zero_bin || v != 0.0f) {
                low = std::min(low, v);
                high = std::max(high, v);
              }
            std::vector<std::vector<int>> bins;
            for (std::size_t j = 0; j < width; ++j) {
              std::vector<float> column;
              for (std::size_t s = 0; s < d.samples; ++s) column.push_back(a[s * width + j]);
              bins.push_back(info::bin_values(column, o.binning, net.activation(l), low, high));
            }
            require_matches_naive(*L.pairs, bins, d.y);
            // redundancy + unique is the plug-in MI of the neuron's histogram: the measures'
            // own mutual_information under the plug-in estimator.
            for (std::size_t k = 0; k < L.pairs->size(); ++k) {
              const auto i = static_cast<std::size_t>(L.pairs->first[k]);
              info::JointHistogram h;
              h.bins = L.histogram_bins;
              h.classes = 4;
              const auto from =
                  L.histograms.begin() +
                  static_cast<std::ptrdiff_t>(i * static_cast<std::size_t>(h.bins) * 4);
              h.counts.assign(from, from + h.bins * 4);
              const double plugin = info::mutual_information_bits(h, info::Estimator::plugin);
              REQUIRE(L.pairs->redundancy[k] + L.pairs->unique_first[k] ==
                      Approx(plugin).margin(1e-12));
              if (est == info::Estimator::plugin)
                REQUIRE(L.pairs->redundancy[k] + L.pairs->unique_first[k] ==
                        Approx(L.mutual_information[i]).margin(1e-12));
            }
          }
        }
  }
  // Without the option there are none; more than 65536 bins cannot be kept in 16 bits.
  const auto net = nn::make_mlp(10, {5}, nn::Activation::relu, 4, 8);
  REQUIRE_FALSE(info::measure(net, d, {}).layers[0].pairs);
  info::MeasureOptions o;
  o.pairs = true;
  o.binning.bins = 65536;
  o.binning.zero_bin = true;
  REQUIRE_THROWS_WITH(info::measure(net, d, o), Catch::Contains("at most 65536 bins"));
}

TEST_CASE("measure --pairs: the same bits for 1 and 2 threads", "[pairs]") {
  const auto d = testing::gaussian_blobs(2500, 16, 5, 8, 0.3f);
  const auto net = nn::make_mlp(16, {40, 20}, nn::Activation::relu, 5, 9);
  info::MeasureOptions o;
  o.chunk_rows = 300;
  o.pairs = true;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto a = info::measure(net, d, o);
  omp_set_num_threads(2);
  const auto b = info::measure(net, d, o);
  omp_set_num_threads(saved);
  REQUIRE(a.layers[0].pairs->size() == 780);
  REQUIRE(a.layers[1].pairs->size() == 190);
  for (std::size_t l = 0; l < 2; ++l) REQUIRE(same_bits(*a.layers[l].pairs, *b.layers[l].pairs));
}

TEST_CASE("measures file: the pairs are written and read back, also of a one-neuron layer",
          "[pairs]") {
  const auto d = testing::gaussian_blobs(300, 6, 3, 2, 0.3f);
  const auto net = nn::make_mlp(6, {7, 1}, nn::Activation::tanh, 3, 4);
  info::MeasureOptions o;
  o.pairs = true;
  const auto m = info::measure(net, d, o);
  REQUIRE(m.layers[1].pairs->size() == 0);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ioca-pairs-" + std::to_string(::getpid()) + ".h5"))
                               .string();
  io::save_measures(path, m, io::measure_attributes(o, "validation", "0"));
  const auto back = io::load_measures(path);
  std::filesystem::remove(path);
  REQUIRE(back.measures.layers.size() == 2);
  for (std::size_t l = 0; l < 2; ++l) {
    REQUIRE(back.measures.layers[l].pairs);
    REQUIRE(same_bits(*back.measures.layers[l].pairs, *m.layers[l].pairs));
  }
  // Without pairs the file has none.
  io::save_measures(path, info::measure(net, d, {}), io::measure_attributes({}, "validation", "0"));
  const auto plain = io::load_measures(path);
  std::filesystem::remove(path);
  REQUIRE_FALSE(plain.measures.layers[0].pairs);
}
