#pragma once
// Shared pieces of the libFuzzer targets: each input is written to a scratch file (the
// readers under test take paths), in a folder of this process's own under $TMPDIR.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace ioca_fuzz {

// $TMPDIR/ioca-fuzz-<pid>, created on first use and removed at a normal exit. (Never
// destroyed: an atexit handler must still be able to read it.)
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path* dir = [] {
    auto* d = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                        ("ioca-fuzz-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch(), ignored);
    });
    return d;
  }();
  return *dir;
}

// Writes bytes to scratch()/name (replacing it) and returns the path.
inline std::string write_file(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const std::string path = (scratch() / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  if (std::fclose(f) != 0) std::abort();
  return path;
}

}  // namespace ioca_fuzz
