#pragma once
// Shared foundations: error types, deterministic random numbers and seeds, OpenMP helpers
// that keep exceptions inside the region, and the dense kernels (gemm, Adam) that the
// numeric modules build on.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ioca {

// ---------------------------------------------------------------------------------------
// Errors. `Error` is the user's mistake or bad input (exit status 2, one clear line);
// std::logic_error and everything else are bugs in ioca (exit status 1).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad content in a named file: the message is "<path>: <problem>".
class FileError : public Error {
 public:
  FileError(std::string path, const std::string& problem)
      : Error(path + ": " + problem), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The shortest decimal text that reads back as exactly v (0.35, not 0.34999999999999998):
// defaults in help texts and numbers in the recorded study config.
std::string shortest(double v);
// The same for a float (0.3f gives "0.3", not the double expansion of its bits).
std::string shortest(float v);

// "1 thread", "2 threads": count and noun, the noun plural unless count is 1.
std::string count_of(long long count, std::string_view noun);

// ---------------------------------------------------------------------------------------
// Random numbers. Everything is specified here bit for bit (no std:: distributions, whose
// output differs between standard libraries), so a seed means the same on every machine.

// SplitMix64 step: used to expand seeds and to mix tags into them.
std::uint64_t splitmix64(std::uint64_t& state);

// A seed derived from a base seed and a path of tags (network index, task kind, ...).
// Never derive a seed from a rank or thread id.
std::uint64_t derive_seed(std::uint64_t base, std::initializer_list<std::uint64_t> tags);

// 64-bit FNV-1a, for turning names (data set, scope, quantity) into seed tags.
std::uint64_t hash_name(std::string_view name);

// xoshiro256** generator.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  // Uniform in [0, 1) with 24 random bits (exactly representable as float).
  float uniform_float();
  // Uniform in [0, 1) with 53 random bits.
  double uniform_double();
  // Uniform integer in [0, bound), bound > 0, without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t bound);
  // Standard normal (Box–Muller, both values used in turn).
  double normal();

 private:
  std::uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Fisher–Yates shuffle driven by Rng::below.
template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.below(i));
    std::swap(v[i - 1], v[j]);
  }
}

// ---------------------------------------------------------------------------------------
// OpenMP helpers. No exception may leave an OpenMP region: these capture the first one
// and rethrow it on the calling thread after the region.
class ExceptionCollector {
 public:
  template <class F>
  void run(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      capture(std::current_exception());
    }
  }
  void rethrow_if_any();

 private:
  void capture(std::exception_ptr e) noexcept;
  std::exception_ptr first_;
};

// The threads a new parallel region here would get: 1 inside a region that may not nest.
int max_threads();

// Runs body(i) for i in [0, n) on the OpenMP threads (dynamic schedule). The result must
// not depend on which thread runs which i: callers only give independent items.
template <class F>
void parallel_for(std::ptrdiff_t n, F&& body) {
  ExceptionCollector errors;
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
  for (std::ptrdiff_t i = 0; i < n; ++i) errors.run([&] { body(i); });
  errors.rethrow_if_any();
}

// ---------------------------------------------------------------------------------------
// Large buffers. The first touch of fresh memory costs a page fault per 4 KiB page, which
// is slow on virtual machines; transparent huge pages make it one per 2 MiB. Advise a
// buffer before writing it. A no-op where unsupported.
void advise_huge_pages(void* data, std::size_t bytes);

// Reserves n elements in an empty vector (one allocation) and advises huge pages for it.
template <class T>
void reserve_large(std::vector<T>& v, std::size_t n) {
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
}

// ---------------------------------------------------------------------------------------
// Dense kernels, row-major, float32. Each exists once per instruction set (generic x86-64,
// AVX2+FMA, AVX-512); the best the CPU supports is picked at first use. Results do not
// depend on the number of threads: work is split only into tiles of C that are chosen
// from the shape alone, and no tile sums over a split of k.
enum class Trans { no, yes };

// C[m,n] = alpha * op(A) * op(B) + beta * C. op(A) is [m,k], op(B) is [k,n].
// Runs on the OpenMP threads when called outside a parallel region and the product is
// large; single-threaded inside one.
void gemm(Trans trans_a, Trans trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);

// Number of tiles gemm splits an [m,n,k] product into (shape-only; for tests).
int gemm_tiles(int m, int n, int k);

// The same product on the calling thread only (the reference for the tiled version).
void gemm_serial(Trans trans_a, Trans trans_b, int m, int n, int k, float alpha, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc);

// C = alpha * op(A) * op(B) + beta * C in float64, on the calling thread only: callers that
// want threads split C into tiles of their own, chosen from the shape (information
// estimators that need double precision, e.g. pairwise distances from a Gram matrix).
void gemm_f64_serial(Trans trans_a, Trans trans_b, int m, int n, int k, double alpha,
                     const double* a, int lda, const double* b, int ldb, double beta, double* c,
                     int ldc);

struct AdamStep {
  float lr, beta1, beta2, eps, weight_decay;
  float bias_correction1, bias_correction2;  // 1 - beta^t
};
// One Adam update of params from grad (L2 weight decay added to the gradient).
void adam_update(float* params, const float* grad, float* m, float* v, std::size_t n,
                 const AdamStep& step);
// One SGD-with-momentum update: v = mu*v + g + wd*p; p -= lr*v.
void sgd_momentum_update(float* params, const float* grad, float* velocity, std::size_t n, float lr,
                         float momentum, float weight_decay);
// The same two updates on the calling thread only. Both are element-wise: any split of
// the parameters gives the same bits (the training loop updates each tile of a layer's
// weights right after its gradient, on the thread that computed it).
void adam_update_serial(float* params, const float* grad, float* m, float* v, std::size_t n,
                        const AdamStep& step);
void sgd_momentum_update_serial(float* params, const float* grad, float* velocity, std::size_t n,
                                float lr, float momentum, float weight_decay);

// Uniform-rule bins of n values, each against its own [low, high] (see info.hpp):
// out[i] = min(B-1, floor((a-low)/(high-low)*B)) in double, 0 when high <= low, and B for
// exact zeros when zero_bin.
void uniform_bins(const float* a, const float* low, const float* high, std::size_t n, int bins,
                  bool zero_bin, std::int32_t* out);

// Double-precision row kernels of the ablation engines (single-threaded):
// y += alpha * x.
void axpy(double alpha, const double* x, double* y, std::size_t n);
// z[o] = bias[o] + sum_i a[i] * weight[o * n_in + i] in double (weight is [out, in]), summed
// in a fixed order that is the same in every kernel variant.
void affine_row(const float* a, std::size_t n_in, const double* weight, const double* bias,
                std::size_t n_out, double* z);
// Cross-entropy (nats) of a row of double logits against label, and the arg-max (first
// maximum) in *predicted.
double softmax_cross_entropy(const double* logits, int classes, int label, int* predicted);
// softmax_cross_entropy of the listed rows of a row-major logits matrix (row r at
// logits + r * stride), bit for bit: loss[r] and predicted[r] for each r in rows[0, count),
// against labels[r]; and top2[2r], top2[2r + 1], the row's largest and second-largest
// logits (equal at a tie; NaN skipped, -inf where there are none). Several rows at a time
// where the instruction set allows.
void softmax_cross_entropy_rows(const double* logits, std::size_t stride, int classes,
                                const std::uint32_t* rows, std::size_t count,
                                const std::int32_t* labels, double* loss, std::int32_t* predicted,
                                double* top2);

// a = f(float(z)) for a row, f by code (0 relu, 1 tanh, 2 sigmoid, 3 identity); then, where
// ablated[i] is set (if ablated is given), a[i] = values[i].
void activate_row(const double* z, float* a, std::size_t n, int activation,
                  const std::uint8_t* ablated, const float* values);
// The largest and second-largest of a row's logits (equal at a tie; NaN skipped, -inf where
// there are none): what softmax_cross_entropy_rows gives in top2, and near ties are judged on.
void largest_two(const double* logits, int classes, double& top, double& second);
// axpy(alpha, x, z, n), then activate_row(z, a, ...): the same bits, in one pass where it can.
void axpy_activate_row(double alpha, const double* x, double* z, float* a, std::size_t n,
                       int activation, const std::uint8_t* ablated, const float* values);

// Name of the kernel variant in use: "avx512", "avx2" or "generic". IOCA_KERNELS in the
// environment may force a lower one (for testing and comparison).
std::string_view kernel_isa();

// The machine a figure was measured on, for benchmarks and `ioca --version`: the CPU's
// model name, its logical CPUs and vector extensions, and the kernels in use, e.g.
// "AMD EPYC (2 logical CPUs; AVX2+FMA, no AVX-512); kernels avx2".
std::string machine_description();

}  // namespace ioca
