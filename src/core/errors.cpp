#include "ioca/core.hpp"

namespace ioca {

void ExceptionCollector::capture(std::exception_ptr e) noexcept {
#pragma omp critical(ioca_exception_collector)
  {
    if (!first_) first_ = e;
  }
}

void ExceptionCollector::rethrow_if_any() {
  if (first_) {
    auto e = first_;
    first_ = nullptr;
    std::rethrow_exception(e);
  }
}

}  // namespace ioca
