#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "ioca/core.hpp"
#include "ioca/io.hpp"

namespace ioca::io {

void check_writable(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw Error("the output path is empty");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw FileError(path, "is a folder, not a file name");
  const fs::path parent =
      fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (!fs::is_directory(parent, ec))
    throw FileError(path, "cannot write: folder " + parent.string() + " does not exist");
  if (::access(parent.c_str(), W_OK) != 0)
    throw FileError(path, "cannot write: folder " + parent.string() + " is not writable");
}

void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write) {
  if (path.empty()) throw Error("the output path is empty");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw FileError(path, "cannot move the finished file into place: " + ec.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace ioca::io
