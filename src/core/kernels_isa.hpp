#pragma once
// The kernels that exist once per instruction set (kernels_isa.cpp is compiled once for
// each; CMake sets IOCA_KERNEL_ISA and renames the Eigen namespace per variant).
#include <cstddef>
#include <cstdint>

#include "ioca/core.hpp"

namespace ioca::kernels {

struct Table {
  const char* name;
  void (*gemm)(Trans, Trans, int, int, int, float, const float*, int, const float*, int, float,
               float*, int);
  void (*adam)(float*, const float*, float*, float*, std::size_t, const AdamStep&);
  void (*sgd)(float*, const float*, float*, std::size_t, float, float, float);
  void (*uniform_bins)(const float*, const float*, const float*, std::size_t, int, bool,
                       std::int32_t*);
  void (*axpy)(double, const double*, double*, std::size_t);
  void (*affine_row)(const float*, std::size_t, const double*, const double*, std::size_t, double*);
  double (*softmax_cross_entropy)(const double*, int, int, int*);
  void (*activate_row)(const double*, float*, std::size_t, int, const std::uint8_t*, const float*);
  void (*axpy_activate_row)(double, const double*, double*, float*, std::size_t, int,
                            const std::uint8_t*, const float*);
  void (*gemm_f64)(Trans, Trans, int, int, int, double, const double*, int, const double*, int,
                   double, double*, int);
  // The plain loop softmax_cross_entropy's vector paths are checked against.
  double (*softmax_cross_entropy_scalar)(const double*, int, int, int*);
  void (*softmax_cross_entropy_rows)(const double*, std::size_t, int, const std::uint32_t*,
                                     std::size_t, const std::int32_t*, double*, std::int32_t*,
                                     double*);
};

#define IOCA_DECLARE_KERNEL_TABLE(isa) \
  namespace isa {                      \
  const Table& table();                \
  }
IOCA_DECLARE_KERNEL_TABLE(generic)
IOCA_DECLARE_KERNEL_TABLE(avx2)
IOCA_DECLARE_KERNEL_TABLE(avx512)
#undef IOCA_DECLARE_KERNEL_TABLE

}  // namespace ioca::kernels
