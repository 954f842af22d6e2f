#pragma once
// Thin RAII handles over the HDF5 C API. Every failure becomes ioca::FileError naming the
// file; HDF5's own error printing is switched off once, so the user sees one line.
#include <hdf5.h>

#include "ioca/core.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ioca::io::h5 {

class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  ~Handle() { reset(); }
  hid_t id() const { return id_; }
  void reset();
  // Gives the id up without closing it.
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

void silence_errors();

// The error number behind the HDF5 call that just failed (call it first, before any other
// HDF5 call clears the error stack): the errno HDF5's error stack records (the sec2 driver's
// "errno = 28", the MPI-IO driver's MPI_ERR_NO_SPACE, ...), else errno as the call left
// it (captured in `saved_errno` by the caller), else 0.
int failed_call_errno(int saved_errno);
// The FileError for a failed write of `path`: "<path>: <what>: <cause>" (io::write_failure_cause).
// `hint` (say, "check that the directory exists and is writable") is added only when no
// cause shows.
FileError write_error(const std::string& path, const std::string& what, int saved_errno,
                      const std::string& hint = "");

// The HDF5 library here is not thread-safe: threads that may call it at the same time (the
// study's tasks run side by side on OpenMP threads) hold this lock around their calls.
std::unique_lock<std::recursive_mutex> library_lock();

// A file and the path it was opened from, so every error can name the file.
struct File {
  Handle handle;
  std::string path;
};

// Truncates. Errors name display_path (the file the user asked for) when given.
File create_file(const std::string& path, const std::string& display_path = "");
// Flushes and closes a file that was written; throws FileError when that fails (a full
// disk shows up here: HDF5 writes much of a small file only when it is flushed).
void close_file(File& f);
File open_file_read(const std::string& path);  // clear error if missing or not HDF5

bool exists(hid_t loc, const std::string& name);  // a link, possibly a path a/b/c
Handle create_group(const File& f, hid_t loc, const std::string& name);
Handle open_group(const File& f, hid_t loc, const std::string& name);
// A group or dataset by its path in the file ("/" is the root).
Handle open_object(const File& f, const std::string& path);
// Names of the links directly under a group, in name order.
std::vector<std::string> list_children(const File& f, hid_t group, const std::string& where);

template <class T>
struct Array {
  std::vector<hsize_t> dims;
  std::vector<T> data;
};
void write_dataset(const File& f, hid_t loc, const std::string& name, const float* data,
                   const std::vector<hsize_t>& dims);
void write_dataset(const File& f, hid_t loc, const std::string& name, const double* data,
                   const std::vector<hsize_t>& dims);
void write_dataset(const File& f, hid_t loc, const std::string& name, const std::int64_t* data,
                   const std::vector<hsize_t>& dims);
// Read a dataset converted to the requested type; the stored type must be of the same
// class (floating point or integer).
Array<float> read_float_dataset(const File& f, hid_t loc, const std::string& name);
Array<double> read_double_dataset(const File& f, hid_t loc, const std::string& name);
Array<std::int64_t> read_int_dataset(const File& f, hid_t loc, const std::string& name);

void write_attribute(const File& f, hid_t loc, const std::string& name, const std::string& value);
void write_attribute(const File& f, hid_t loc, const std::string& name, double value);
void write_attribute(const File& f, hid_t loc, const std::string& name, std::int64_t value);

enum class AttributeKind { string, floating, integer, other };
AttributeKind attribute_kind(const File& f, hid_t loc, const std::string& name);
// Variable- or fixed-length string; a scalar or a one-element array.
std::string read_string_attribute(const File& f, hid_t loc, const std::string& name,
                                  const std::string& where);
double read_double_attribute(const File& f, hid_t loc, const std::string& name,
                             const std::string& where);
std::int64_t read_int_attribute(const File& f, hid_t loc, const std::string& name,
                                const std::string& where);
std::vector<std::string> list_attributes(const File& f, hid_t loc);

}  // namespace ioca::io::h5
