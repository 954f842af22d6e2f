#include <omp.h>

#include "ioca/core.hpp"

namespace ioca {

int max_threads() {
  return omp_get_max_threads();
}
bool in_parallel_region() {
  return omp_in_parallel() != 0;
}

}  // namespace ioca
