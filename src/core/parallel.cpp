#include <omp.h>
#include <sys/mman.h>

#include <cstdint>

#include "ioca/core.hpp"

namespace ioca {

int max_threads() {
  // Inside a parallel region that may not nest (studies run tasks side by side), a new
  // region gets one thread, whatever OMP_NUM_THREADS says.
  if (omp_get_active_level() >= omp_get_max_active_levels()) return 1;
  return omp_get_max_threads();
}

void advise_huge_pages(void* data, std::size_t bytes) {
  constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + huge - 1) & ~(huge - 1), end = begin + bytes;
  if (end < first + huge) return;  // not even one whole huge page
  // Advice only: failure (no THP support) changes nothing but speed.
  (void)madvise(reinterpret_cast<void*>(first), (end - first) & ~(huge - 1), MADV_HUGEPAGE);
}

}  // namespace ioca
