// The Kolchinsky–Tracey pairwise-distance upper bound on the mutual information of a noisy
// layer (info.hpp). Every pair of samples enters through exp(-d_ij^2 / (2 s2)), so the cost
// is N^2 x width multiply-adds (a Gram matrix) and N^2 exponentials; callers cap N.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ioca/core.hpp"
#include "ioca/info.hpp"

namespace ioca::info {
namespace {

// Tiles of the N x N matrix of pairs: a tile of rows goes to one thread, and within it the
// columns are taken tile by tile in order, so each row's sums run over j = 0, 1, ... in
// order whatever the threads. Fixed sizes, so the bits never depend on the thread count.
constexpr std::size_t row_tile = 256;
constexpr std::size_t column_tile = 1024;

}  // namespace

KdeBounds kde_upper_bounds(const float* activations, std::size_t samples, std::size_t width,
                           const std::int32_t* labels, int classes, double noise_variance) {
  if (!(noise_variance > 0.0) || !std::isfinite(noise_variance))
    throw Error("the KDE noise variance must be a finite number > 0, not " +
                std::to_string(noise_variance));
  KdeBounds out;
  const std::size_t N = samples;
  if (N == 0) return out;
  std::vector<std::size_t> class_count(static_cast<std::size_t>(std::max(classes, 0)), 0);
  for (std::size_t i = 0; i < N; ++i) {
    if (labels[i] < 0 || labels[i] >= classes)
      throw std::logic_error("kde_upper_bounds: label out of range");
    ++class_count[static_cast<std::size_t>(labels[i])];
  }
  // float64 throughout: ||h_i||^2 + ||h_j||^2 - 2 h_i.h_j cancels badly in float32 for
  // near points (whose terms dominate the sums).
  std::vector<double> h(activations, activations + N * width);
  std::vector<double> norm(N, 0.0);
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t k = 0; k < width; ++k) norm[i] += h[i * width + k] * h[i * width + k];

  // Per row i: ln (1/N) sum_j e_ij and ln (1/N_y) sum_{j in y} e_ij (y = the class of i),
  // e_ij = exp(-d_ij^2 / (2 s2)). The largest term is e_ii = 1 (d_ii = 0 exactly), so the
  // sums need no log-sum-exp shift: each lies in [1, N], and terms that underflow to 0 are
  // negligible beside it.
  std::vector<double> log_all(N), log_class(N);
  const double scale = 1.0 / (2.0 * noise_variance);
  const std::size_t row_tiles = (N + row_tile - 1) / row_tile;
  const int K = static_cast<int>(width);
  parallel_for(static_cast<std::ptrdiff_t>(row_tiles), [&](std::ptrdiff_t t) {
    const std::size_t lo = static_cast<std::size_t>(t) * row_tile,
                      rows = std::min(row_tile, N - lo);
    std::vector<double> all(rows, 0.0), same(rows, 0.0);
    std::vector<double> gram(rows * column_tile);
    for (std::size_t c0 = 0; c0 < N; c0 += column_tile) {
      const std::size_t cols = std::min(column_tile, N - c0);
      if (width > 0)
        gemm_f64_serial(Trans::no, Trans::yes, static_cast<int>(rows), static_cast<int>(cols), K,
                        1.0, h.data() + lo * width, K, h.data() + c0 * width, K, 0.0, gram.data(),
                        static_cast<int>(cols));
      else
        std::fill(gram.begin(), gram.end(), 0.0);
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t i = lo + r;
        const std::int32_t y = labels[i];
        double a = all[r], s = same[r];
        for (std::size_t c = 0; c < cols; ++c) {
          const std::size_t j = c0 + c;
          const double d2 =
              j == i ? 0.0 : std::max(0.0, norm[i] + norm[j] - 2.0 * gram[r * cols + c]);
          const double x = d2 * scale;
          if (x > 745.0) continue;  // exp underflows to 0 anyway; skip the call
          const double e = std::exp(-x);
          a += e;
          if (labels[j] == y) s += e;
        }
        all[r] = a;
        same[r] = s;
      }
    }
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = lo + r;
      log_all[i] = std::log(all[r] / static_cast<double>(N));
      log_class[i] =
          std::log(same[r] / static_cast<double>(class_count[static_cast<std::size_t>(labels[i])]));
    }
  });

  // I(X;T) <= -(1/N) sum_i log_all[i]; sum_y p(y) H_y = -(1/N) sum_i log_class[i], so the
  // estimate of I(T;Y) is (1/N) sum_i (log_class[i] - log_all[i]).
  double xt = 0.0, ty = 0.0;
  for (std::size_t i = 0; i < N; ++i) {
    xt -= log_all[i];
    ty += log_class[i] - log_all[i];
  }
  const double bits = 1.0 / (static_cast<double>(N) * std::log(2.0));
  out.xt = xt * bits;
  out.ty = ty * bits;
  return out;
}

}  // namespace ioca::info
