// Run-time choice of the kernel variant, and the thread-count-independent tiling of gemm.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <thread>

#include "core/kernels_isa.hpp"
#include "ioca/core.hpp"

namespace ioca {
namespace {

const kernels::Table& choose_table() {
  __builtin_cpu_init();
  const bool has_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // IOCA_KERNELS caps the choice (generic < avx2 < avx512); it can never raise it.
  std::string cap = std::getenv("IOCA_KERNELS") ? std::getenv("IOCA_KERNELS") : "avx512";
  // A build may leave variants out (IOCA_KERNEL_VARIANTS): then the next lower one runs.
#ifdef IOCA_HAVE_KERNELS_AVX512
  if (has_avx512 && cap == "avx512") return kernels::avx512::table();
#endif
#ifdef IOCA_HAVE_KERNELS_AVX2
  if (has_avx2 && (cap == "avx512" || cap == "avx2")) return kernels::avx2::table();
#endif
  (void)has_avx512;
  (void)has_avx2;
  return kernels::generic::table();
}

const kernels::Table& table() {
  static const kernels::Table& t = choose_table();
  return t;
}

// Tiles of C are chosen from the shape alone, so the bits of C never depend on the number
// of threads. Each tile is a whole-k product on one thread.
struct Tiling {
  int count = 1;
  bool split_rows = true;
};

Tiling choose_tiling(int m, int n, int k) {
  Tiling t;
  // Row tiles are contiguous blocks of C; columns only when there are too few rows.
  t.split_rows = m >= 64 || m >= n;
  const int dim = t.split_rows ? m : n;
  const double flops = 2.0 * m * n * k;
  constexpr double min_tile_flops = 1 << 22;
  constexpr int min_tile_dim = 32, max_tiles = 64;
  while (t.count * 2 <= max_tiles && dim / (t.count * 2) >= min_tile_dim &&
         flops / (t.count * 2) >= min_tile_flops)
    t.count *= 2;
  return t;
}

// Start of tile i of `count` over [0, dim), rounded to a multiple of 16 floats.
int tile_start(int i, int count, int dim) {
  if (i >= count) return dim;
  const long long raw = static_cast<long long>(dim) * i / count;
  return std::min(dim, static_cast<int>(raw / 16 * 16));
}

}  // namespace

std::string_view kernel_isa() {
  return table().name;
}

std::string machine_description() {
  std::string model = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      model = line.substr(line.find_first_not_of(" \t", line.find(':') + 1));
      break;
    }
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") != 0,
             avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const std::string vectors = avx512 ? "AVX-512" : avx2 ? "AVX2+FMA, no AVX-512" : "no AVX2";
  return model + " (" + std::to_string(std::thread::hardware_concurrency()) + " logical CPUs; " +
         vectors + "); kernels " + std::string(kernel_isa());
}

int gemm_tiles(int m, int n, int k) {
  return choose_tiling(m, n, k).count;
}

void gemm_serial(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  table().gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  const Tiling tiling = choose_tiling(m, n, k);
  const auto run_tile = [&](int i) {
    const int dim = tiling.split_rows ? m : n;
    const int lo = tile_start(i, tiling.count, dim), hi = tile_start(i + 1, tiling.count, dim);
    if (hi <= lo) return;
    if (tiling.split_rows) {
      const float* a_tile = ta == Trans::no ? a + static_cast<std::ptrdiff_t>(lo) * lda : a + lo;
      table().gemm(ta, tb, hi - lo, n, k, alpha, a_tile, lda, b, ldb, beta,
                   c + static_cast<std::ptrdiff_t>(lo) * ldc, ldc);
    } else {
      const float* b_tile = tb == Trans::no ? b + lo : b + static_cast<std::ptrdiff_t>(lo) * ldb;
      table().gemm(ta, tb, m, hi - lo, k, alpha, a, lda, b_tile, ldb, beta, c + lo, ldc);
    }
  };
  if (tiling.count == 1 || max_threads() == 1) {
    for (int i = 0; i < tiling.count; ++i) run_tile(i);
  } else {
    parallel_for(tiling.count, [&](std::ptrdiff_t i) { run_tile(static_cast<int>(i)); });
  }
}

void gemm_f64_serial(Trans ta, Trans tb, int m, int n, int k, double alpha, const double* a,
                     int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  table().gemm_f64(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void adam_update(float* params, const float* grad, float* m, float* v, std::size_t n,
                 const AdamStep& step) {
  // Element-wise, so any split gives the same bits; fixed chunks keep it cache-friendly.
  constexpr std::size_t chunk = 16384;
  const auto chunks = static_cast<std::ptrdiff_t>((n + chunk - 1) / chunk);
  const auto run = [&](std::ptrdiff_t i) {
    const std::size_t lo = static_cast<std::size_t>(i) * chunk, len = std::min(chunk, n - lo);
    table().adam(params + lo, grad + lo, m + lo, v + lo, len, step);
  };
  if (max_threads() == 1) {
    for (std::ptrdiff_t i = 0; i < chunks; ++i) run(i);
  } else {
    parallel_for(chunks, run);
  }
}

void sgd_momentum_update(float* params, const float* grad, float* velocity, std::size_t n, float lr,
                         float momentum, float weight_decay) {
  constexpr std::size_t chunk = 16384;
  const auto chunks = static_cast<std::ptrdiff_t>((n + chunk - 1) / chunk);
  const auto run = [&](std::ptrdiff_t i) {
    const std::size_t lo = static_cast<std::size_t>(i) * chunk, len = std::min(chunk, n - lo);
    table().sgd(params + lo, grad + lo, velocity + lo, len, lr, momentum, weight_decay);
  };
  if (max_threads() == 1) {
    for (std::ptrdiff_t i = 0; i < chunks; ++i) run(i);
  } else {
    parallel_for(chunks, run);
  }
}

void adam_update_serial(float* params, const float* grad, float* m, float* v, std::size_t n,
                        const AdamStep& step) {
  table().adam(params, grad, m, v, n, step);
}

void sgd_momentum_update_serial(float* params, const float* grad, float* velocity, std::size_t n,
                                float lr, float momentum, float weight_decay) {
  table().sgd(params, grad, velocity, n, lr, momentum, weight_decay);
}

void uniform_bins(const float* a, const float* low, const float* high, std::size_t n, int bins,
                  bool zero_bin, std::int32_t* out) {
  table().uniform_bins(a, low, high, n, bins, zero_bin, out);
}

void axpy(double alpha, const double* x, double* y, std::size_t n) {
  table().axpy(alpha, x, y, n);
}

void affine_row(const float* a, std::size_t n_in, const double* weight, const double* bias,
                std::size_t n_out, double* z) {
  table().affine_row(a, n_in, weight, bias, n_out, z);
}

void activate_row(const double* z, float* a, std::size_t n, int activation,
                  const std::uint8_t* ablated, const float* values) {
  table().activate_row(z, a, n, activation, ablated, values);
}

void axpy_activate_row(double alpha, const double* x, double* z, float* a, std::size_t n,
                       int activation, const std::uint8_t* ablated, const float* values) {
  table().axpy_activate_row(alpha, x, z, a, n, activation, ablated, values);
}

double softmax_cross_entropy(const double* logits, int classes, int label, int* predicted) {
  return table().softmax_cross_entropy(logits, classes, label, predicted);
}

void largest_two(const double* logits, int classes, double& top, double& second) {
  top = second = -std::numeric_limits<double>::infinity();
  for (int c = 0; c < classes; ++c) {
    if (logits[c] > top) {
      second = top;
      top = logits[c];
    } else if (logits[c] > second) {
      second = logits[c];
    }
  }
}

void softmax_cross_entropy_rows(const double* logits, std::size_t stride, int classes,
                                const std::uint32_t* rows, std::size_t count,
                                const std::int32_t* labels, double* loss, std::int32_t* predicted,
                                double* top2) {
  table().softmax_cross_entropy_rows(logits, stride, classes, rows, count, labels, loss, predicted,
                                     top2);
}

}  // namespace ioca
