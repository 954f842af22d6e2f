// Compiled once per instruction set. Keep this file free of anything that is not a hot
// kernel: the rest of ioca is built for plain x86-64.
#include "core/kernels_isa.hpp"

#include <Eigen/Core>
#include <cmath>

namespace ioca::kernels::IOCA_KERNEL_ISA {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
using MutableMap = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class A, class B>
void product(const A& a, const B& b, float alpha, float beta, MutableMap& c) {
  if (beta == 0.0f) {
    c.noalias() = alpha * (a * b);  // C may hold garbage: never read it
  } else {
    if (beta != 1.0f) c *= beta;
    c.noalias() += alpha * (a * b);
  }
}

void gemm(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  MutableMap cm(c, m, n, Eigen::OuterStride<>(ldc));
  if (k <= 0) {
    if (beta == 0.0f)
      cm.setZero();
    else
      cm *= beta;
    return;
  }
  const bool ta_yes = ta == Trans::yes, tb_yes = tb == Trans::yes;
  ConstMap am(a, ta_yes ? k : m, ta_yes ? m : k, Eigen::OuterStride<>(lda));
  ConstMap bm(b, tb_yes ? n : k, tb_yes ? k : n, Eigen::OuterStride<>(ldb));
  if (!ta_yes && !tb_yes) product(am, bm, alpha, beta, cm);
  if (!ta_yes && tb_yes) product(am, bm.transpose(), alpha, beta, cm);
  if (ta_yes && !tb_yes) product(am.transpose(), bm, alpha, beta, cm);
  if (ta_yes && tb_yes) product(am.transpose(), bm.transpose(), alpha, beta, cm);
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

// Branch-free so that it vectorises; the arithmetic is that of DESIGN.md's uniform rule in
// double precision: bin = min(B-1, floor((a-low)/(high-low)*B)), 0 when high <= low, and
// the zero bin (index B) for exact zeros when asked.
void uniform_bins(const float* a, const float* low, const float* high, std::size_t n, int bins,
                  bool zero_bin, std::int32_t* out) {
  // Eigen's array expressions vectorise the float->double casts, floor and selects (GCC
  // does not vectorise the plain loop).
  using Floats = Eigen::Map<const Eigen::ArrayXf>;
  const auto size = static_cast<Eigen::Index>(n);
  const Floats av(a, size), lov(low, size), hiv(high, size);
  const Eigen::ArrayXd v = av.cast<double>(), lo = lov.cast<double>();
  const Eigen::ArrayXd span = hiv.cast<double>() - lo;
  const double b = bins;
  Eigen::ArrayXd x = ((v - lo) / span * b).floor().max(0.0).min(b - 1.0);
  x = (span > 0.0).select(x, 0.0);  // a constant neuron (span 0) -> bin 0
  if (zero_bin) x = (v == 0.0).select(b, x);
  Eigen::Map<Eigen::Array<std::int32_t, Eigen::Dynamic, 1>>(out, size) = x.cast<std::int32_t>();
}

#define IOCA_STRINGIFY2(x) #x
#define IOCA_STRINGIFY(x) IOCA_STRINGIFY2(x)

}  // namespace

const Table& table() {
  static const Table t{IOCA_STRINGIFY(IOCA_KERNEL_ISA), &gemm, &adam, &sgd, &uniform_bins};
  return t;
}

}  // namespace ioca::kernels::IOCA_KERNEL_ISA
