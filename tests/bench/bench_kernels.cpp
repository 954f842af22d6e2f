// GFLOP/s of each gemm variant on the shapes ioca spends its time in (median of 5 runs).
// Run: build/tests/ioca_bench_kernels
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/kernels_isa.hpp"
#include "ioca/core.hpp"

using namespace ioca;

int main() {
  __builtin_cpu_init();
  struct Variant {
    const kernels::Table* table;
    bool runs;
  };
  // The variants this build has (IOCA_KERNEL_VARIANTS; all three by default).
  const Variant variants[] = {
      {&kernels::generic::table(), true},
#ifdef IOCA_HAVE_KERNELS_AVX2
      {&kernels::avx2::table(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
#endif
#ifdef IOCA_HAVE_KERNELS_AVX512
      {&kernels::avx512::table(),
       __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")},
#endif
  };
  struct Shape {
    const char* what;
    int m, n, k;
    Trans ta, tb;
  };
  const Shape shapes[] = {{"train forward 32x784->200", 32, 200, 784, Trans::no, Trans::yes},
                          {"train dW 200x784 over 32", 200, 784, 32, Trans::yes, Trans::no},
                          {"inference 1024x784->200", 1024, 200, 784, Trans::no, Trans::yes}};
  std::printf("%-28s %-8s %10s\n", "shape", "variant", "GFLOP/s");
  for (const auto& s : shapes) {
    std::vector<float> a(static_cast<std::size_t>(s.m) * static_cast<std::size_t>(s.k), 0.5f),
        b(static_cast<std::size_t>(s.n) * static_cast<std::size_t>(s.k), 0.25f),
        c(static_cast<std::size_t>(s.m) * static_cast<std::size_t>(s.n));
    const int lda = s.ta == Trans::no ? s.k : s.m, ldb = s.tb == Trans::no ? s.n : s.k;
    const double flops = 2.0 * s.m * s.n * s.k;
    const int reps = std::max(1, static_cast<int>(2e9 / flops));
    for (const auto& v : variants) {
      if (!v.runs) continue;
      std::vector<double> rates;
      for (int trial = 0; trial < 5; ++trial) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < reps; ++r)
          v.table->gemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                        c.data(), s.n);
        const double sec =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rates.push_back(flops * reps / sec / 1e9);
      }
      std::sort(rates.begin(), rates.end());
      std::printf("%-28s %-8s %10.1f\n", s.what, v.table->name, rates[2]);
    }
  }
  std::printf("in use: %s (single thread per call here)\n", std::string(kernel_isa()).c_str());
}
