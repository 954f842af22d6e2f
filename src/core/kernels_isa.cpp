// Compiled once per instruction set. Keep this file free of anything that is not a hot
// kernel: the rest of ioca is built for plain x86-64.
#include "core/kernels_isa.hpp"

#include <Eigen/Core>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace ioca::kernels::IOCA_KERNEL_ISA {
namespace {

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using MutableMap = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T, class A, class B>
void product(const A& a, const B& b, T alpha, T beta, MutableMap<T>& c) {
  if (beta == T(0)) {
    c.noalias() = alpha * (a * b);  // C may hold garbage: never read it
  } else {
    if (beta != T(1)) c *= beta;
    c.noalias() += alpha * (a * b);
  }
}

// One product on the calling thread (Eigen is built with EIGEN_DONT_PARALLELIZE), in
// float32 (gemm) or float64 (gemm_f64).
template <class T>
void gemm_any(Trans ta, Trans tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
              int ldb, T beta, T* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  MutableMap<T> cm(c, m, n, Eigen::OuterStride<>(ldc));
  if (k <= 0) {
    if (beta == T(0))
      cm.setZero();
    else
      cm *= beta;
    return;
  }
  const bool ta_yes = ta == Trans::yes, tb_yes = tb == Trans::yes;
  ConstMap<T> am(a, ta_yes ? k : m, ta_yes ? m : k, Eigen::OuterStride<>(lda));
  ConstMap<T> bm(b, tb_yes ? n : k, tb_yes ? k : n, Eigen::OuterStride<>(ldb));
  if (!ta_yes && !tb_yes) product(am, bm, alpha, beta, cm);
  if (!ta_yes && tb_yes) product(am, bm.transpose(), alpha, beta, cm);
  if (ta_yes && !tb_yes) product(am.transpose(), bm, alpha, beta, cm);
  if (ta_yes && tb_yes) product(am.transpose(), bm.transpose(), alpha, beta, cm);
}

void gemm(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  gemm_any(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_f64(Trans ta, Trans tb, int m, int n, int k, double alpha, const double* a, int lda,
              const double* b, int ldb, double beta, double* c, int ldc) {
  gemm_any(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void adam(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
          std::size_t n, const AdamStep& s) {
  const float step = s.lr / s.bias_correction1;
  const float inv_sqrt_bc2 = 1.0f / std::sqrt(s.bias_correction2);
  for (std::size_t i = 0; i < n; ++i) {
    const float grad = g[i] + s.weight_decay * p[i];
    m[i] = s.beta1 * m[i] + (1.0f - s.beta1) * grad;
    v[i] = s.beta2 * v[i] + (1.0f - s.beta2) * grad * grad;
    p[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + s.eps);
  }
}

void sgd(float* __restrict p, const float* __restrict g, float* __restrict vel, std::size_t n,
         float lr, float momentum, float weight_decay) {
  for (std::size_t i = 0; i < n; ++i) {
    vel[i] = momentum * vel[i] + g[i] + weight_decay * p[i];
    p[i] -= lr * vel[i];
  }
}

// Branch-free so that it vectorises; the arithmetic is that of the uniform rule of
// docs/definitions.md ("Binning rules") in double precision: bin = min(B-1,
// floor((a-low)/(high-low)*B)), 0 when high <= low, and the zero bin (index B) for exact
// zeros when asked.
void uniform_bins(const float* a, const float* low, const float* high, std::size_t n, int bins,
                  bool zero_bin, std::int32_t* out) {
  // Eigen's array expressions vectorise the float->double casts, floor and selects (GCC
  // does not vectorise the plain loop). Blocks of at most 64 neurons keep the temporaries
  // on the stack: the measure pass calls this once per sample row, and a heap allocation
  // per temporary and row showed up in profiles. Every element's arithmetic is the same.
  constexpr Eigen::Index max_block = 64;
  using Block = Eigen::Array<double, Eigen::Dynamic, 1, 0, max_block, 1>;
  using Floats = Eigen::Map<const Eigen::ArrayXf>;
  const double b = bins;
  for (Eigen::Index start = 0, size = static_cast<Eigen::Index>(n); start < size;
       start += max_block) {
    const Eigen::Index m = std::min(max_block, size - start);
    const Floats av(a + start, m), lov(low + start, m), hiv(high + start, m);
    const Block v = av.cast<double>(), lo = lov.cast<double>();
    const Block span = hiv.cast<double>() - lo;
    Block x = ((v - lo) / span * b).floor().max(0.0).min(b - 1.0);
    x = (span > 0.0).select(x, 0.0);  // a constant neuron (span 0) -> bin 0
    if (zero_bin) x = (v == 0.0).select(b, x);
    Eigen::Map<Eigen::Array<std::int32_t, Eigen::Dynamic, 1>>(out + start, m) =
        x.cast<std::int32_t>();
  }
}

void axpy(double alpha, const double* __restrict x, double* __restrict y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// Eight lane sums per output: lane k adds the terms i = k, k + 8, k + 16, ... in increasing
// order, then a fixed reduction. The order of additions does not depend on alignment or
// instruction set. Eigen's fixed-size arrays make the eight lanes vector registers.
using Lanes = Eigen::Array<double, 8, 1>;

inline double reduce_lanes(const Lanes& acc) {
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

// NB outputs at once: NB independent chains of additions keep the FMA units busy (one
// output alone is bound by the latency of its chain). Every output's terms are still added
// in the fixed lane pattern.
template <int NB>
void affine_block(const float* __restrict a, std::size_t n_in, const double* __restrict w,
                  const double* __restrict bias, double* __restrict z) {
  using FloatLanes = Eigen::Map<const Eigen::Array<float, 8, 1>>;
  using WeightLanes = Eigen::Map<const Lanes>;
  const std::size_t body = n_in / 8 * 8, tail = n_in - body;
  Lanes acc[static_cast<std::size_t>(NB)];
  for (int r = 0; r < NB; ++r) acc[r] = Lanes::Zero();
  for (std::size_t i = 0; i < body; i += 8) {
    const Lanes x = FloatLanes(a + i).cast<double>();
    for (int r = 0; r < NB; ++r)
      acc[r] += x * WeightLanes(w + static_cast<std::size_t>(r) * n_in + i);
  }
  if (tail) {
    Lanes x = Lanes::Zero();
    for (std::size_t i = 0; i < tail; ++i) x[static_cast<Eigen::Index>(i)] = a[body + i];
    for (int r = 0; r < NB; ++r) {
      Lanes t = Lanes::Zero();
      for (std::size_t i = 0; i < tail; ++i)
        t[static_cast<Eigen::Index>(i)] = w[static_cast<std::size_t>(r) * n_in + body + i];
      acc[r] += x * t;
    }
  }
  for (int r = 0; r < NB; ++r) z[r] = bias[r] + reduce_lanes(acc[r]);
}

// The most outputs one affine_block handles: its accumulators (8 doubles per output) must
// fit the vector registers, or they spill to the stack on every step of the loop. The
// blocking never changes a result: every output's sum is its own.
#if defined(__AVX512F__)
constexpr std::size_t max_block = 16;  // 32 registers of 8 doubles
#elif defined(__AVX2__)
constexpr std::size_t max_block = 6;  // 16 registers of 4 doubles: 12 accumulators
#else
constexpr std::size_t max_block = 3;  // 16 registers of 2 doubles
#endif

template <int... NB>
void affine_any_block(std::size_t nb, const float* a, std::size_t n_in, const double* w,
                      const double* bias, double* z, std::integer_sequence<int, NB...>) {
  // Calls affine_block<nb> for the run-time nb in 1..max_block.
  (void)((nb == static_cast<std::size_t>(NB + 1) ? (affine_block<NB + 1>(a, n_in, w, bias, z), true)
                                                 : false) ||
         ...);
}

void affine_row(const float* __restrict a, std::size_t n_in, const double* __restrict weight,
                const double* __restrict bias, std::size_t n_out, double* __restrict z) {
  // Full blocks, then what is left in one block or two halves (10 outputs: 5 + 5).
  std::size_t o = 0;
  while (n_out - o > 0) {
    const std::size_t left = n_out - o;
    const std::size_t nb = left <= max_block       ? left
                           : left <= 2 * max_block ? (left + 1) / 2
                                                   : max_block;
    affine_any_block(nb, a, n_in, weight + o * n_in, bias + o, z + o,
                     std::make_integer_sequence<int, static_cast<int>(max_block)>{});
    o += nb;
  }
}

void activate_floats(float* __restrict a, std::size_t n, int activation,
                     const std::uint8_t* __restrict ablated, const float* __restrict values);

void activate_row(const double* __restrict z, float* __restrict a, std::size_t n, int activation,
                  const std::uint8_t* __restrict ablated, const float* __restrict values) {
  if (activation == 0) {  // relu: one pass (the ablation engines call this per sample row)
    if (!ablated) {
      for (std::size_t i = 0; i < n; ++i) {
        const float x = static_cast<float>(z[i]);
        a[i] = x > 0.0f ? x : 0.0f;
      }
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const float x = static_cast<float>(z[i]);
      const float active = x > 0.0f ? x : 0.0f;
      a[i] = ablated[i] ? values[i] : active;
    }
    return;
  }
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<float>(z[i]);
  activate_floats(a, n, activation, ablated, values);
}

// activate_row's tanh, sigmoid and identity, on a = float(z).
void activate_floats(float* __restrict a, std::size_t n, int activation,
                     const std::uint8_t* __restrict ablated, const float* __restrict values) {
  switch (activation) {
    case 1: {  // tanh: Eigen's vectorised rational approximation (a few ulp; libm's
               // scalar tanhf made tanh ablation sweeps 18x slower than relu ones)
      Eigen::Map<Eigen::ArrayXf> v(a, static_cast<Eigen::Index>(n));
      v = v.tanh();
      break;
    }
    case 2: {  // sigmoid, vectorised likewise
      Eigen::Map<Eigen::ArrayXf> v(a, static_cast<Eigen::Index>(n));
      v = v.logistic();
      break;
    }
    default:  // identity
      break;
  }
  if (ablated)
    for (std::size_t i = 0; i < n; ++i) a[i] = ablated[i] ? values[i] : a[i];
}

// axpy, then activate_row on the updated row, with one pass over z (the ablation engine's
// step on a changed row: the next layer's pre-activation and its activations; relu in that
// one pass). The same expressions as the two kernels, so the same bits.
void axpy_activate_row(double alpha, const double* __restrict x, double* __restrict z,
                       float* __restrict a, std::size_t n, int activation,
                       const std::uint8_t* __restrict ablated, const float* __restrict values) {
  if (!ablated) {
    axpy(alpha, x, z, n);
    activate_row(z, a, n, activation, ablated, values);
    return;
  }
  if (activation != 0) {
    for (std::size_t i = 0; i < n; ++i) {
      z[i] += alpha * x[i];
      a[i] = static_cast<float>(z[i]);
    }
    activate_floats(a, n, activation, ablated, values);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    z[i] += alpha * x[i];
    const float v = static_cast<float>(z[i]);
    const float active = v > 0.0f ? v : 0.0f;
    a[i] = ablated[i] ? values[i] : active;
  }
}

// exp in float, 16 at a time with Eigen's vectorised exp (padding adds exp(-inf) = 0);
// its 1e-7 relative error is far below what a loss is read to.
using SoftmaxBlock = Eigen::Array<float, 16, 1>;

// The plain version of softmax_cross_entropy, and the reference its AVX2 path must equal
// bit for bit (a unit test compares them).
double softmax_cross_entropy_scalar(const double* z, int classes, int label, int* predicted) {
  int best = 0;
  double max = z[0];
  for (int c = 1; c < classes; ++c) {  // first maximum; selects, not branches
    const bool larger = z[c] > max;
    best = larger ? c : best;
    max = larger ? z[c] : max;
  }
  *predicted = best;
  float sum = 0.0f;
  for (int c0 = 0; c0 < classes; c0 += 16) {
    SoftmaxBlock x = SoftmaxBlock::Constant(-std::numeric_limits<float>::infinity());
    const int len = std::min(16, classes - c0);
    for (int k = 0; k < len; ++k) x[k] = static_cast<float>(z[c0 + k] - max);
    sum += x.exp().sum();
  }
  return static_cast<double>(std::log(sum)) + max - z[label];
}

double softmax_cross_entropy(const double* z, int classes, int label, int* predicted) {
#ifdef __AVX512F__
  if (classes <= 16) {
    // Masked loads (no reading past the row), lanes beyond the classes set to -inf.
    const auto lo_mask = static_cast<__mmask8>(classes >= 8 ? 0xff : (1u << classes) - 1);
    const auto hi_mask = static_cast<__mmask8>(classes <= 8 ? 0 : (1u << (classes - 8)) - 1);
    const __m512d minus_inf = _mm512_set1_pd(-std::numeric_limits<double>::infinity());
    const __m512d lo = _mm512_mask_loadu_pd(minus_inf, lo_mask, z);
    const __m512d hi = _mm512_mask_loadu_pd(minus_inf, hi_mask, z + 8);
    const double max = _mm512_reduce_max_pd(_mm512_max_pd(lo, hi));
    const __m512d m = _mm512_set1_pd(max);
    // First maximum: lowest set bit of the equality masks.
    const unsigned equal = static_cast<unsigned>(_mm512_cmp_pd_mask(lo, m, _CMP_EQ_OQ)) |
                           (static_cast<unsigned>(_mm512_cmp_pd_mask(hi, m, _CMP_EQ_OQ)) << 8);
    *predicted = __builtin_ctz(equal);
    const __m512 shifted =
        _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_sub_pd(lo, m))),
                           _mm512_cvtpd_ps(_mm512_sub_pd(hi, m)), 1);
    const float sum = _mm512_reduce_add_ps(Eigen::internal::pexp(shifted));
    return static_cast<double>(std::log(sum)) + max - z[label];
  }
#endif
#if defined(__AVX2__) && !defined(__AVX512F__)
  if (classes <= 16) {
    // softmax_cross_entropy_scalar's arithmetic, with the arg-max and the shifts done four lanes at
    // a time: the scalar arg-max is a chain of dependent selects, the longest part of the function
    // at 10 classes (the ablation engines call it per changed sample row).
    const __m256d minus_inf = _mm256_set1_pd(-std::numeric_limits<double>::infinity());
    __m256d v[4];
    __m256d any_nan = _mm256_setzero_pd();
    for (int k = 0; k < 4; ++k) {
      const __m256i lane = _mm256_setr_epi64x(4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3);
      const __m256d inside =
          _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(classes), lane));
      v[k] = _mm256_blendv_pd(minus_inf, _mm256_maskload_pd(z + 4 * k, _mm256_castpd_si256(inside)),
                              inside);
      any_nan = _mm256_or_pd(any_nan, _mm256_cmp_pd(v[k], v[k], _CMP_UNORD_Q));
    }
    if (_mm256_movemask_pd(any_nan) == 0) {  // NaN logits: the scalar rules
      __m256d m = _mm256_max_pd(_mm256_max_pd(v[0], v[1]), _mm256_max_pd(v[2], v[3]));
      m = _mm256_max_pd(m, _mm256_permute2f128_pd(m, m, 1));
      m = _mm256_max_pd(m, _mm256_permute_pd(m, 0b0101));
      unsigned equal = 0;
      for (int k = 0; k < 4; ++k)
        equal |= static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(v[k], m, _CMP_EQ_OQ)))
                 << (4 * k);
      *predicted = __builtin_ctz(equal);  // the first maximum
      // Eigen's exp and sum of the 16-float block, on registers (a block stored in halves
      // and loaded whole would stall on store forwarding).
      const __m256 lo = _mm256_set_m128(_mm256_cvtpd_ps(_mm256_sub_pd(v[1], m)),
                                        _mm256_cvtpd_ps(_mm256_sub_pd(v[0], m)));
      const __m256 hi = _mm256_set_m128(_mm256_cvtpd_ps(_mm256_sub_pd(v[3], m)),
                                        _mm256_cvtpd_ps(_mm256_sub_pd(v[2], m)));
      using Eigen::internal::padd, Eigen::internal::pexp, Eigen::internal::predux;
      const float sum = predux(padd(pexp(lo), pexp(hi)));
      return static_cast<double>(std::log(sum)) + _mm256_cvtsd_f64(m) - z[label];
    }
  }
#endif
  return softmax_cross_entropy_scalar(z, classes, label, predicted);
}

// One row of softmax_cross_entropy_rows: the per-row function, and the two largest logits
// (NaN skipped; -inf where there are none).
void softmax_row(const double* z, int classes, std::uint32_t r, const std::int32_t* labels,
                 double* loss, std::int32_t* predicted, double* top2) {
  int p = 0;
  loss[r] = softmax_cross_entropy(z, classes, labels[r], &p);
  predicted[r] = p;
  ioca::largest_two(z, classes, top2[2 * r], top2[2 * r + 1]);
}

#if defined(__AVX2__) && !defined(__AVX512F__)
// softmax_cross_entropy_rows eight rows at a time, one row per lane (the per-row path's
// latency chain, max -> exp -> sum -> log, then overlaps across rows). Each lane does the
// per-row path's arithmetic: the same subtraction and conversion, Eigen's exp of eight floats,
// and the additions of its padd + predux over 16 lanes in the same tree, with the same
// exp(-inf) in the lanes beyond the classes. So every row gets the same bits.
void softmax_rows_avx2(const double* __restrict logits, std::size_t stride, int classes,
                       const std::uint32_t* __restrict rows, std::size_t count,
                       const std::int32_t* __restrict labels, double* __restrict loss,
                       std::int32_t* __restrict predicted, double* __restrict top2) {
  using Eigen::internal::pexp;
  const __m256 beyond = pexp(_mm256_set1_ps(-std::numeric_limits<float>::infinity()));
  for (std::size_t k0 = 0; k0 < count; k0 += 8) {
    const std::size_t lanes = std::min<std::size_t>(8, count - k0);
    std::uint32_t row[8];
    const double* z[8];
    for (std::size_t j = 0; j < 8; ++j) {  // a partial group repeats its last row
      row[j] = rows[k0 + std::min(j, lanes - 1)];
      z[j] = logits + row[j] * stride;
    }
    __m256d v[16][2];
    __m256d any_nan = _mm256_setzero_pd();
    for (int c = 0; c < classes; ++c)
      for (int h = 0; h < 2; ++h) {
        v[c][h] = _mm256_setr_pd(z[4 * h][c], z[4 * h + 1][c], z[4 * h + 2][c], z[4 * h + 3][c]);
        any_nan = _mm256_or_pd(any_nan, _mm256_cmp_pd(v[c][h], v[c][h], _CMP_UNORD_Q));
      }
    if (_mm256_movemask_pd(any_nan) != 0) {  // NaN logits: the per-row path's rules
      for (std::size_t j = 0; j < lanes; ++j)
        softmax_row(z[j], classes, row[j], labels, loss, predicted, top2);
      continue;
    }
    __m256d m[2], second[2], first[2];
    __m256 e[16];
    for (int h = 0; h < 2; ++h) {
      m[h] = v[0][h];
      second[h] = _mm256_set1_pd(-std::numeric_limits<double>::infinity());
      for (int c = 1; c < classes; ++c) {  // no NaN here: max and min are exact selects
        second[h] = _mm256_max_pd(second[h], _mm256_min_pd(m[h], v[c][h]));
        m[h] = _mm256_max_pd(m[h], v[c][h]);
      }
      first[h] = _mm256_setzero_pd();  // the lowest class equal to the maximum
      for (int c = classes - 1; c >= 0; --c)
        first[h] =
            _mm256_blendv_pd(first[h], _mm256_set1_pd(c), _mm256_cmp_pd(v[c][h], m[h], _CMP_EQ_OQ));
    }
    for (int c = 0; c < 16; ++c)
      e[c] = c < classes ? pexp(_mm256_set_m128(_mm256_cvtpd_ps(_mm256_sub_pd(v[c][1], m[1])),
                                                _mm256_cvtpd_ps(_mm256_sub_pd(v[c][0], m[0]))))
                         : beyond;
    // padd(lo, hi): t_i = e_i + e_{i+8}; predux of 8: u_i = t_i + t_{i+4}, then
    // (u_0 + u_2) + (u_1 + u_3).
    __m256 t[8];
    for (int i = 0; i < 8; ++i) t[i] = _mm256_add_ps(e[i], e[i + 8]);
    __m256 u[4];
    for (int i = 0; i < 4; ++i) u[i] = _mm256_add_ps(t[i], t[i + 4]);
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(u[0], u[2]), _mm256_add_ps(u[1], u[3]));
    alignas(32) float sums[8];
    alignas(32) double maxima[8], seconds[8], firsts[8];
    _mm256_store_ps(sums, sum);
    _mm256_store_pd(maxima, m[0]);
    _mm256_store_pd(maxima + 4, m[1]);
    _mm256_store_pd(seconds, second[0]);
    _mm256_store_pd(seconds + 4, second[1]);
    _mm256_store_pd(firsts, first[0]);
    _mm256_store_pd(firsts + 4, first[1]);
    for (std::size_t j = 0; j < lanes; ++j) {
      const std::uint32_t r = row[j];
      loss[r] = static_cast<double>(std::log(sums[j])) + maxima[j] - z[j][labels[r]];
      predicted[r] = static_cast<std::int32_t>(firsts[j]);
      top2[2 * r] = maxima[j];
      top2[2 * r + 1] = seconds[j];
    }
  }
}
#endif

void softmax_cross_entropy_rows(const double* __restrict logits, std::size_t stride, int classes,
                                const std::uint32_t* __restrict rows, std::size_t count,
                                const std::int32_t* __restrict labels, double* __restrict loss,
                                std::int32_t* __restrict predicted, double* __restrict top2) {
#if defined(__AVX2__) && !defined(__AVX512F__)
  if (classes <= 16) {
    softmax_rows_avx2(logits, stride, classes, rows, count, labels, loss, predicted, top2);
    return;
  }
#endif
  for (std::size_t k = 0; k < count; ++k)
    softmax_row(logits + rows[k] * stride, classes, rows[k], labels, loss, predicted, top2);
}

#define IOCA_STRINGIFY2(x) #x
#define IOCA_STRINGIFY(x) IOCA_STRINGIFY2(x)

}  // namespace

const Table& table() {
  static const Table t{IOCA_STRINGIFY(IOCA_KERNEL_ISA),
                       &gemm,
                       &adam,
                       &sgd,
                       &uniform_bins,
                       &axpy,
                       &affine_row,
                       &softmax_cross_entropy,
                       &activate_row,
                       &axpy_activate_row,
                       &gemm_f64,
                       &softmax_cross_entropy_scalar,
                       &softmax_cross_entropy_rows};
  return t;
}

}  // namespace ioca::kernels::IOCA_KERNEL_ISA
