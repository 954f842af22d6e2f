#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

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

namespace {

std::string lowercase_error(int e) {
  std::string s = std::strerror(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

bool is_write_errno(int e) {
  return e == ENOSPC || e == EDQUOT || e == EROFS || e == EIO || e == EFBIG;
}

}  // namespace

std::string write_failure_cause(const std::string& path, int error_number) {
  if (is_write_errno(error_number)) return lowercase_error(error_number);
  namespace fs = std::filesystem;
  const std::string dir =
      fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string();
  struct statvfs info {};
  if (::statvfs(dir.c_str(), &info) == 0) {
    if (info.f_flag & ST_RDONLY) return lowercase_error(EROFS);
    if (info.f_bavail == 0) return lowercase_error(ENOSPC);
  }
  // A small test write beside the file, synced: a quota, a full disk that statvfs rounds
  // away, an I/O error of the device.
  const std::string probe = dir + "/.ioca-write-probe." + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return is_write_errno(errno) ? lowercase_error(errno) : std::string();
  const std::vector<char> block(64 * 1024, 0);
  int e = 0;
  if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()))
    e = errno ? errno : ENOSPC;
  else if (::fsync(fd) != 0)
    e = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  return is_write_errno(e) ? lowercase_error(e) : std::string();
}

std::string write_failure_message(const std::string& what, const std::string& path,
                                  int error_number) {
  const std::string cause = write_failure_cause(path, error_number);
  return cause.empty() ? what : what + ": " + cause;
}

void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write) {
  if (path.empty()) throw Error("the output path is empty");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
    // On disk before it takes the name: a file system that reports a full disk or an I/O
    // error only when the data is flushed (NFS, Lustre, delayed allocation) fails here.
    {
      const int fd = ::open(tmp.c_str(), O_RDONLY);
      if (fd < 0 || ::fsync(fd) != 0) {
        const int e = errno;
        if (fd >= 0) ::close(fd);
        throw FileError(path, write_failure_message("cannot write the file", path, e));
      }
      ::close(fd);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec)
      throw FileError(path, write_failure_message("cannot move the finished file into place", path,
                                                  ec.value()));
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace ioca::io
