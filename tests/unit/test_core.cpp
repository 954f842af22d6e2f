#include <omp.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

#include "core/kernels_isa.hpp"
#include "ioca/core.hpp"

using namespace ioca;

TEST_CASE("Rng is reproducible and seeds differ", "[core]") {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    REQUIRE(x == b.next());
    (void)c;
  }
  Rng d(42), e(43);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += d.next() == e.next();
  REQUIRE(same == 0);
}

TEST_CASE("Rng distributions have the right moments", "[core]") {
  Rng rng(7);
  const int n = 200000;
  double sum = 0, sum2 = 0, usum = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    sum += z;
    sum2 += z * z;
    const float u = rng.uniform_float();
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    usum += u;
  }
  REQUIRE(std::abs(sum / n) < 0.01);
  REQUIRE(std::abs(sum2 / n - 1.0) < 0.02);
  REQUIRE(std::abs(usum / n - 0.5) < 0.005);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[rng.below(7)];
  for (int c : counts) REQUIRE(std::abs(c - 10000) < 500);
}

TEST_CASE("derive_seed separates tags and keeps order", "[core]") {
  std::set<std::uint64_t> seen;
  for (std::uint64_t a = 0; a < 20; ++a)
    for (std::uint64_t b = 0; b < 20; ++b) seen.insert(derive_seed(1, {a, b}));
  REQUIRE(seen.size() == 400);
  REQUIRE(derive_seed(1, {2, 3}) != derive_seed(1, {3, 2}));
  REQUIRE(derive_seed(1, {2}) == derive_seed(1, {2}));
  REQUIRE(hash_name("mnist") != hash_name("fashion-mnist"));
}

TEST_CASE("shuffle is a seeded permutation", "[core]") {
  std::vector<int> v(1000);
  std::iota(v.begin(), v.end(), 0);
  auto w = v;
  Rng r1(5), r2(5);
  shuffle(v, r1);
  shuffle(w, r2);
  REQUIRE(v == w);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1000; ++i) REQUIRE(sorted[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("parallel_for rethrows the exception of a worker", "[core]") {
  REQUIRE_THROWS_AS(parallel_for(100,
                                 [](std::ptrdiff_t i) {
                                   if (i == 37) throw Error("item 37");
                                 }),
                    Error);
}

namespace {
// Naive triple loop in double, the reference for every gemm variant.
std::vector<double> naive_gemm(Trans ta, Trans tb, int m, int n, int k, float alpha,
                               const std::vector<float>& a, int lda, const std::vector<float>& b,
                               int ldb, float beta, const std::vector<float>& c, int ldc) {
  std::vector<double> out(static_cast<std::size_t>(m) * static_cast<std::size_t>(ldc));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int p = 0; p < k; ++p) {
        const double av = ta == Trans::no ? a[static_cast<std::size_t>(i * lda + p)]
                                          : a[static_cast<std::size_t>(p * lda + i)];
        const double bv = tb == Trans::no ? b[static_cast<std::size_t>(p * ldb + j)]
                                          : b[static_cast<std::size_t>(j * ldb + p)];
        s += av * bv;
      }
      const auto idx = static_cast<std::size_t>(i * ldc + j);
      out[idx] = alpha * s + (beta == 0.0f ? 0.0 : beta * static_cast<double>(c[idx]));
    }
  return out;
}

std::vector<float> random_vector(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}
// The kernel variants of this build (IOCA_KERNEL_VARIANTS; all three by default) that this
// CPU can run.
std::vector<const kernels::Table*> runnable_tables() {
  __builtin_cpu_init();
  std::vector<const kernels::Table*> tables{&kernels::generic::table()};
#ifdef IOCA_HAVE_KERNELS_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    tables.push_back(&kernels::avx2::table());
#endif
#ifdef IOCA_HAVE_KERNELS_AVX512
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    tables.push_back(&kernels::avx512::table());
#endif
  return tables;
}
}  // namespace

TEST_CASE("gemm variants agree with a naive double-precision product", "[core]") {
  const int shapes[][3] = {{1, 1, 1},    {3, 5, 7},    {32, 200, 784},
                           {65, 17, 33}, {10, 1, 200}, {1, 10, 200}};
  for (const kernels::Table* table : runnable_tables()) {
    for (auto& s : shapes)
      for (Trans ta : {Trans::no, Trans::yes})
        for (Trans tb : {Trans::no, Trans::yes})
          for (float beta : {0.0f, 1.0f, 0.5f}) {
            const int m = s[0], n = s[1], k = s[2];
            const int lda = (ta == Trans::no ? k : m) + 3, ldb = (tb == Trans::no ? n : k) + 1,
                      ldc = n + 2;
            const auto a =
                random_vector(static_cast<std::size_t>((ta == Trans::no ? m : k) * lda), 1);
            const auto b =
                random_vector(static_cast<std::size_t>((tb == Trans::no ? k : n) * ldb), 2);
            auto c = random_vector(static_cast<std::size_t>(m * ldc), 3);
            if (beta == 0.0f)  // C must not be read: poison it
              for (auto& x : c) x = std::nanf("");
            const auto ref = naive_gemm(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, c, ldc);
            table->gemm(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
            for (int i = 0; i < m; ++i)
              for (int j = 0; j < n; ++j) {
                const auto idx = static_cast<std::size_t>(i * ldc + j);
                INFO(table->name << " m=" << m << " n=" << n << " k=" << k);
                REQUIRE(std::abs(c[idx] - ref[idx]) <= 1e-4 * (1.0 + std::sqrt(k)));
              }
          }
  }
}

TEST_CASE("float64 gemm variants agree with a naive long-double product", "[core]") {
  const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {65, 130, 200}, {256, 17, 33}};
  for (const kernels::Table* table : runnable_tables()) {
    for (auto& s : shapes)
      for (Trans ta : {Trans::no, Trans::yes})
        for (Trans tb : {Trans::no, Trans::yes})
          for (double beta : {0.0, 1.0, 0.5}) {
            const int m = s[0], n = s[1], k = s[2];
            const int lda = (ta == Trans::no ? k : m) + 3, ldb = (tb == Trans::no ? n : k) + 1,
                      ldc = n + 2;
            const auto af =
                random_vector(static_cast<std::size_t>((ta == Trans::no ? m : k) * lda), 4);
            const auto bf =
                random_vector(static_cast<std::size_t>((tb == Trans::no ? k : n) * ldb), 5);
            const auto cf = random_vector(static_cast<std::size_t>(m * ldc), 6);
            // Values with more bits than a float holds, so a float path would show.
            std::vector<double> a(af.begin(), af.end()), b(bf.begin(), bf.end()),
                c(cf.begin(), cf.end());
            for (auto& x : a) x *= 1.0 + 1e-12;
            for (auto& x : b) x *= 1.0 - 3e-13;
            if (beta == 0.0)
              for (auto& x : c) x = std::nan("");
            std::vector<long double> ref(c.size());
            for (int i = 0; i < m; ++i)
              for (int j = 0; j < n; ++j) {
                long double sum = 0;
                for (int p = 0; p < k; ++p)
                  sum += static_cast<long double>(ta == Trans::no
                                                      ? a[static_cast<std::size_t>(i * lda + p)]
                                                      : a[static_cast<std::size_t>(p * lda + i)]) *
                         (tb == Trans::no ? b[static_cast<std::size_t>(p * ldb + j)]
                                          : b[static_cast<std::size_t>(j * ldb + p)]);
                const auto idx = static_cast<std::size_t>(i * ldc + j);
                ref[idx] =
                    0.75L * sum + (beta == 0.0 ? 0.0L : beta * static_cast<long double>(c[idx]));
              }
            table->gemm_f64(ta, tb, m, n, k, 0.75, a.data(), lda, b.data(), ldb, beta, c.data(),
                            ldc);
            for (int i = 0; i < m; ++i)
              for (int j = 0; j < n; ++j) {
                const auto idx = static_cast<std::size_t>(i * ldc + j);
                INFO(table->name << " m=" << m << " n=" << n << " k=" << k);
                REQUIRE(std::abs(static_cast<long double>(c[idx]) - ref[idx]) <= 1e-12L * (1 + k));
              }
          }
  }
}

TEST_CASE("tiled gemm gives the same bits for 1 and 2 threads", "[core]") {
  for (auto shape :
       {std::array<int, 3>{32, 200, 784}, {10000, 200, 784}, {200, 784, 32}, {777, 65, 300}}) {
    const int m = shape[0], n = shape[1], k = shape[2];
    const auto a = random_vector(static_cast<std::size_t>(m * k), 4);
    const auto b = random_vector(static_cast<std::size_t>(n * k), 5);
    std::vector<float> c1(static_cast<std::size_t>(m * n)), c2(c1.size()), c3(c1.size());
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    gemm(Trans::no, Trans::yes, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c1.data(), n);
    omp_set_num_threads(2);
    gemm(Trans::no, Trans::yes, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c2.data(), n);
    // Inside a parallel region the tiles run one after another: still the same bits.
#pragma omp parallel num_threads(2)
    {
#pragma omp single
      gemm(Trans::no, Trans::yes, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c3.data(), n);
    }
    omp_set_num_threads(saved);
    REQUIRE(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
    REQUIRE(std::memcmp(c1.data(), c3.data(), c1.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("adam_update matches the textbook formula", "[core]") {
  std::vector<float> p{1.0f, -2.0f, 0.5f}, g{0.1f, -0.3f, 0.0f}, m(3, 0.0f), v(3, 0.0f);
  const AdamStep s{0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.1f, 0.001f};
  const auto p0 = p;
  adam_update(p.data(), g.data(), m.data(), v.data(), 3, s);
  for (std::size_t i = 0; i < 3; ++i) {
    const double mi = 0.1 * g[i], vi = 0.001 * g[i] * g[i];
    const double expected = p0[i] - 0.01 * (mi / 0.1) / (std::sqrt(vi / 0.001) + 1e-8);
    REQUIRE(p[i] == Approx(expected).epsilon(1e-5));
  }
}

TEST_CASE("uniform_bins equals the plain formula of the rule within and across its blocks",
          "[core]") {
  // The plain loop of docs/definitions.md ("Binning rules"): bin = min(B-1, floor((a-low) /
  // (high-low) * B)) in double, clamped at 0; bin 0 for a constant neuron; bin B for an exact
  // zero when asked. Widths below, at and across the kernel's blocks of 64 neurons.
  Rng rng(17);
  for (std::size_t n : {1u, 7u, 63u, 64u, 65u, 128u, 200u}) {
    std::vector<float> a(n), low(n), high(n);
    for (std::size_t j = 0; j < n; ++j) {
      low[j] = static_cast<float>(rng.normal());
      high[j] = j % 11 == 3 ? low[j] : low[j] + static_cast<float>(rng.uniform_double()) * 3.0f;
      a[j] = j % 9 == 4 ? 0.0f : j % 13 == 5 ? high[j] : low[j] + static_cast<float>(rng.normal());
    }
    for (int bins : {2, 10, 30})
      for (bool zero_bin : {false, true}) {
        std::vector<std::int32_t> got(n, -1);
        uniform_bins(a.data(), low.data(), high.data(), n, bins, zero_bin, got.data());
        for (std::size_t j = 0; j < n; ++j) {
          const double span = static_cast<double>(high[j]) - static_cast<double>(low[j]);
          double want =
              std::floor((static_cast<double>(a[j]) - static_cast<double>(low[j])) / span * bins);
          want = span > 0.0 ? std::min(static_cast<double>(bins - 1), std::max(0.0, want)) : 0.0;
          if (zero_bin && a[j] == 0.0f) want = bins;
          INFO("n " << n << " neuron " << j << " bins " << bins << " zero_bin " << zero_bin);
          REQUIRE(got[j] == static_cast<std::int32_t>(want));
        }
      }
  }
}

TEST_CASE("kernel_isa names a known variant", "[core]") {
  const std::string isa(kernel_isa());
  REQUIRE((isa == "generic" || isa == "avx2" || isa == "avx512"));
}

TEST_CASE("softmax_cross_entropy: loss to float precision and the first maximum", "[core]") {
  Rng rng(31);
  for (int classes : {1, 2, 3, 7, 8, 9, 10, 16, 17, 40}) {
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<double> z(static_cast<std::size_t>(classes));
      for (auto& v : z) v = 5.0 * rng.normal();
      if (classes > 3 && trial % 3 == 0)
        z[2] = z[static_cast<std::size_t>(classes - 1)] = 50.0;  // a tie
      const int label = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
      double max = z[0];
      int first = 0;
      for (int c = 1; c < classes; ++c)
        if (z[static_cast<std::size_t>(c)] > max) max = z[static_cast<std::size_t>(first = c)];
      double sum = 0;
      for (double v : z) sum += std::exp(v - max);
      const double reference = std::log(sum) + max - z[static_cast<std::size_t>(label)];
      int predicted = -1;
      const double loss = softmax_cross_entropy(z.data(), classes, label, &predicted);
      INFO("classes " << classes << " trial " << trial);
      REQUIRE(predicted == first);
      REQUIRE(loss == Approx(reference).epsilon(1e-6).margin(1e-6));
    }
  }
}

#ifdef IOCA_HAVE_KERNELS_AVX2
TEST_CASE("softmax_cross_entropy: the AVX2 path equals the plain loop bit for bit", "[core]") {
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return;
  const kernels::Table& avx2 = kernels::avx2::table();
  Rng rng(32);
  const double inf = std::numeric_limits<double>::infinity();
  for (int classes = 1; classes <= 18; ++classes) {
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<double> z(static_cast<std::size_t>(classes));
      for (auto& v : z) v = (trial % 5 == 0 ? 100.0 : 5.0) * rng.normal();
      const auto last = static_cast<std::size_t>(classes - 1);
      if (trial % 4 == 1) z[last] = z[0];                          // a tie
      if (trial % 7 == 2) z[rng.below(z.size())] = -inf;           // a silenced class
      if (trial % 11 == 3) std::fill(z.begin(), z.end(), z[0]);    // all tied
      if (trial % 13 == 4) z[rng.below(z.size())] = std::nan("");  // NaN: plain rules
      if (trial % 17 == 5) std::fill(z.begin(), z.end(), -inf);
      const int label = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
      int fast_predicted = -1, plain_predicted = -2;
      const double fast = avx2.softmax_cross_entropy(z.data(), classes, label, &fast_predicted);
      const double plain =
          avx2.softmax_cross_entropy_scalar(z.data(), classes, label, &plain_predicted);
      INFO("classes " << classes << " trial " << trial);
      REQUIRE(fast_predicted == plain_predicted);
      REQUIRE(std::memcmp(&fast, &plain, sizeof fast) == 0);
    }
  }
}
#endif

TEST_CASE("axpy_activate_row equals axpy then activate_row bit for bit", "[core]") {
  Rng rng(34);
  for (const kernels::Table* table : runnable_tables()) {
    for (int activation = 0; activation < 4; ++activation)
      for (std::size_t n : {1u, 7u, 8u, 31u, 200u, 203u})
        for (bool masked : {false, true}) {
          std::vector<double> x(n), z(n);
          std::vector<float> values(n);
          std::vector<std::uint8_t> ablated(n);
          for (std::size_t i = 0; i < n; ++i) {
            x[i] = rng.normal();
            z[i] = 3.0 * rng.normal();
            values[i] = static_cast<float>(rng.normal());
            ablated[i] = rng.below(4) == 0;
          }
          const double alpha = rng.normal();
          std::vector<double> z_fused = z, z_apart = z;
          std::vector<float> a_fused(n, -7.0f), a_apart(n, -7.0f);
          const std::uint8_t* mask = masked ? ablated.data() : nullptr;
          table->axpy_activate_row(alpha, x.data(), z_fused.data(), a_fused.data(), n, activation,
                                   mask, values.data());
          table->axpy(alpha, x.data(), z_apart.data(), n);
          table->activate_row(z_apart.data(), a_apart.data(), n, activation, mask, values.data());
          INFO(table->name << " activation " << activation << " n " << n << " masked " << masked);
          REQUIRE(std::memcmp(z_fused.data(), z_apart.data(), n * sizeof(double)) == 0);
          REQUIRE(std::memcmp(a_fused.data(), a_apart.data(), n * sizeof(float)) == 0);
        }
  }
}

TEST_CASE("softmax_cross_entropy_rows equals the per-row function bit for bit", "[core]") {
  // Every kernel variant this CPU runs: listed rows in any order, partial groups of the
  // batched path, ties, -inf, NaN rows among plain ones, and more classes than one batch takes.
  Rng rng(33);
  const double inf = std::numeric_limits<double>::infinity();
  for (const kernels::Table* table : runnable_tables()) {
    for (int classes : {1, 2, 3, 7, 8, 9, 10, 15, 16, 17, 24}) {
      const std::size_t rows = 61, C = static_cast<std::size_t>(classes);
      const std::size_t stride = C + 3;  // rows need not be packed
      std::vector<double> z(rows * stride, std::nan(""));
      std::vector<std::int32_t> labels(rows);
      for (std::size_t r = 0; r < rows; ++r) {
        double* row = z.data() + r * stride;
        for (std::size_t c = 0; c < C; ++c) row[c] = (r % 5 == 0 ? 100.0 : 5.0) * rng.normal();
        if (r % 4 == 1) row[C - 1] = row[0];                // a tie
        if (r % 7 == 2) row[rng.below(C)] = -inf;           // a silenced class
        if (r % 11 == 3) std::fill(row, row + C, row[0]);   // all tied
        if (r % 13 == 4) row[rng.below(C)] = std::nan("");  // NaN: plain rules
        if (r % 17 == 5) std::fill(row, row + C, -inf);
        labels[r] = static_cast<std::int32_t>(rng.below(C));
      }
      // A subset of the rows, not in order: the rest must stay untouched.
      std::vector<std::uint32_t> listed;
      for (std::uint32_t r = 0; r < rows; ++r)
        if (r % 3 != 2) listed.push_back(r);
      std::reverse(listed.begin(), listed.begin() + 9);
      for (std::size_t count : {listed.size(), std::size_t{5}, std::size_t{0}}) {
        std::vector<double> loss(rows, -1.0), top2(2 * rows, -1.0);
        std::vector<std::int32_t> predicted(rows, -1);
        table->softmax_cross_entropy_rows(z.data(), stride, classes, listed.data(), count,
                                          labels.data(), loss.data(), predicted.data(),
                                          top2.data());
        std::vector<char> seen(rows, 0);
        for (std::size_t k = 0; k < count; ++k) seen[listed[k]] = 1;
        for (std::size_t r = 0; r < rows; ++r) {
          INFO(table->name << " classes " << classes << " row " << r << " count " << count);
          if (!seen[r]) {
            REQUIRE(loss[r] == -1.0);
            REQUIRE(predicted[r] == -1);
            REQUIRE(top2[2 * r] == -1.0);
            continue;
          }
          const double* row = z.data() + r * stride;
          int expected_predicted = -2;
          const double expected =
              table->softmax_cross_entropy(row, classes, labels[r], &expected_predicted);
          REQUIRE(predicted[r] == expected_predicted);
          REQUIRE(std::memcmp(&loss[r], &expected, sizeof expected) == 0);
          // The two largest logits, NaN skipped, by a sort.
          std::vector<double> finite;
          for (std::size_t c = 0; c < C; ++c)
            if (!std::isnan(row[c])) finite.push_back(row[c]);
          std::sort(finite.begin(), finite.end(), std::greater<>());
          finite.resize(std::max<std::size_t>(finite.size(), 2), -inf);
          REQUIRE(top2[2 * r] == finite[0]);
          REQUIRE(top2[2 * r + 1] == finite[1]);
        }
      }
    }
  }
}

TEST_CASE("shortest prints the shortest text that reads back exactly", "[core]") {
  REQUIRE(shortest(0.35) == "0.35");
  REQUIRE(shortest(0.1) == "0.1");
  REQUIRE(shortest(1e-3) == "0.001");
  REQUIRE(shortest(60.0) == "60");
  REQUIRE(shortest(0.0) == "0");
  REQUIRE(shortest(0.3f) == "0.3");
  for (double v : {0.35, 0.9, 1e-7, 123456.789, 2.0 / 3.0, 1e300})
    REQUIRE(std::strtod(shortest(v).c_str(), nullptr) == v);
  REQUIRE(count_of(1, "thread") == "1 thread");
  REQUIRE(count_of(2, "thread") == "2 threads");
  REQUIRE(count_of(0, "rank") == "0 ranks");
}
