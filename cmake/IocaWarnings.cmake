# Warnings as an interface target: link it privately to every ioca target.
add_library(ioca_warnings INTERFACE)
target_compile_options(ioca_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
  # GCC 12 false positive on std::string concatenation at -O3 (GCC bug 105329).
  -Wno-restrict
  # GCC 12 false positive on std::vector inside lambdas (GCC bug 108197 and relatives).
  -Wno-free-nonheap-object>)
