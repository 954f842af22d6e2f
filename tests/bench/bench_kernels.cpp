// GFLOP/s of each gemm variant on the shapes ioca spends its time in, and the time per call
// of the row kernels of the ablation engines (median of 5 runs each), on every instruction
// set this CPU runs.
// Run: build/tests/ioca_bench_kernels
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "core/kernels_isa.hpp"
#include "ioca/core.hpp"

using namespace ioca;

int main() {
  std::printf("cpu: %s\n", machine_description().c_str());
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

  // Row kernels, called as the fast ablation engine calls them per changed sample row of a
  // 784-200-200-10 network: over 256 rows in turn (a chunk), so that consecutive calls are
  // independent, as they are for consecutive changed rows.
  constexpr std::size_t rows = 256, width = 200, classes = 10;
  std::vector<double> z(rows * width, 0.0), logits(rows * classes, 0.0), outgoing(width, 0.01),
      w2(classes * width, 0.02), b2(classes, 0.1);
  std::vector<float> act(rows * width, 0.5f), values(width, 0.0f);
  std::vector<std::uint8_t> ablated(width, 0);
  std::vector<std::uint32_t> listed(rows);
  std::vector<std::int32_t> labels(rows), row_predicted(rows);
  std::vector<double> losses(rows), top2(2 * rows);
  for (std::size_t r = 0; r < rows; ++r) {
    listed[r] = static_cast<std::uint32_t>(r);
    labels[r] = static_cast<std::int32_t>(r % 10);
  }
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<double>(i % 7) - 3.0;
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<double>(i % 11) * 0.3;
  for (std::size_t i = 0; i < width; i += 3) ablated[i] = 1;
  // Wall time, and the thread's CPU time (what the kernel costs when other processes share
  // the cores; the two agree on an idle machine).
  std::printf("\n%-40s %-8s %10s %10s\n", "row kernel (per call)", "variant", "ns wall", "ns cpu");
  const auto cpu_ns = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  };
  const auto time_rows = [&](const char* what, const kernels::Table& t, auto&& call) {
    std::vector<double> wall, cpu;
    for (int trial = 0; trial < 5; ++trial) {
      const int sweeps = 400;
      const double calls = sweeps * static_cast<double>(rows);
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_ns();
      for (int s2 = 0; s2 < sweeps; ++s2)
        for (std::size_t r = 0; r < rows; ++r) call(t, r);
      cpu.push_back((cpu_ns() - c0) / calls);
      wall.push_back(
          std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
          calls);
    }
    std::sort(wall.begin(), wall.end());
    std::sort(cpu.begin(), cpu.end());
    std::printf("%-40s %-8s %10.1f %10.1f\n", what, t.name, wall[2], cpu[2]);
  };
  double sink = 0.0;
  for (const auto& v : variants) {
    if (!v.runs) continue;
    time_rows("axpy 200 (rank-1 update of a row)", *v.table,
              [&](const kernels::Table& t, std::size_t r) {
                t.axpy(1e-3, outgoing.data(), z.data() + r * width, width);
              });
    time_rows("activate_row 200 relu, masked", *v.table,
              [&](const kernels::Table& t, std::size_t r) {
                t.activate_row(z.data() + r * width, act.data() + r * width, width, 0,
                               ablated.data(), values.data());
              });
    time_rows("activate_row 200 tanh, masked", *v.table,
              [&](const kernels::Table& t, std::size_t r) {
                t.activate_row(z.data() + r * width, act.data() + r * width, width, 1,
                               ablated.data(), values.data());
              });
    time_rows("axpy_activate_row 200 relu (both)", *v.table,
              [&](const kernels::Table& t, std::size_t r) {
                t.axpy_activate_row(1e-3, outgoing.data(), z.data() + r * width,
                                    act.data() + r * width, width, 0, ablated.data(),
                                    values.data());
              });
    time_rows("affine_row 200 -> 10 (logits)", *v.table,
              [&](const kernels::Table& t, std::size_t r) {
                t.affine_row(act.data() + r * width, width, w2.data(), b2.data(), classes,
                             logits.data() + r * classes);
              });
    time_rows("softmax_cross_entropy 10 classes", *v.table,
              [&](const kernels::Table& t, std::size_t r) {
                int predicted = 0;
                sink += t.softmax_cross_entropy(logits.data() + r * classes, 10,
                                                static_cast<int>(r % 10), &predicted);
              });
    // The engine's batched call: all changed rows of a step at once (here 32 at a time).
    time_rows("softmax_cross_entropy_rows 10, per row", *v.table,
              [&](const kernels::Table& t, std::size_t r) {
                if (r % 32 != 0) return;
                t.softmax_cross_entropy_rows(logits.data(), classes, 10, listed.data() + r, 32,
                                             labels.data(), losses.data(), row_predicted.data(),
                                             top2.data());
                sink += losses[r];
              });
  }
  std::printf("(checksum %g)\n", sink);
  std::printf("in use: %s (single thread per call here)\n", std::string(kernel_isa()).c_str());
}
