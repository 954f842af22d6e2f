#include <charconv>

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

std::string shortest(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round trip
  return std::string(buf, r.ptr);
}

std::string shortest(float v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string count_of(long long count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

}  // namespace ioca
