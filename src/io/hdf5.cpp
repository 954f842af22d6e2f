#include "io/hdf5.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "ioca/core.hpp"
#include "ioca/io.hpp"

namespace ioca::io::h5 {

void Handle::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE:
      H5Fclose(id_);
      break;
    case H5I_GROUP:
      H5Gclose(id_);
      break;
    case H5I_DATASET:
      H5Dclose(id_);
      break;
    case H5I_DATASPACE:
      H5Sclose(id_);
      break;
    case H5I_DATATYPE:
      H5Tclose(id_);
      break;
    case H5I_ATTR:
      H5Aclose(id_);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id_);
      break;
    default:
      break;
  }
  id_ = H5I_INVALID_HID;
}

std::unique_lock<std::recursive_mutex> library_lock() {
  static std::recursive_mutex mutex;
  return std::unique_lock<std::recursive_mutex>(mutex);
}

void silence_errors() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No library shutdown at exit: a file whose close failed (a full disk) stays half
    // closed in libhdf5 1.10, and its exit handler then crashes on it. ioca closes every
    // file it opens itself; this must precede the first other HDF5 call to take effect.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

int failed_call_errno(int saved_errno) {
  struct Found {
    int errno_value = 0;
  } found;
  const auto walk = [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
    auto* out = static_cast<Found*>(data);
    if (out->errno_value || !e->desc) return 0;
    const std::string desc = e->desc;
    // sec2 / core drivers: "..., errno = 28, error message = 'No space left on device'"
    if (const auto at = desc.find("errno = "); at != std::string::npos) {
      out->errno_value = std::atoi(desc.c_str() + at + 8);
      return 0;
    }
    // MPI-IO driver: the MPI error string of the failed call.
    static const std::pair<const char*, int> classes[] = {{"MPI_ERR_NO_SPACE", ENOSPC},
                                                          {"MPI_ERR_QUOTA", EDQUOT},
                                                          {"MPI_ERR_READ_ONLY", EROFS},
                                                          {"MPI_ERR_IO", EIO}};
    for (const auto& [name, value] : classes)
      if (desc.find(name) != std::string::npos) out->errno_value = value;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &found);
  return found.errno_value ? found.errno_value : saved_errno;
}

namespace {
// The innermost message of HDF5's error stack ("MPI_File_write_at failed", "file write
// failed"), for a failure whose cause nothing else shows.
std::string innermost_error() {
  std::string desc;
  const auto walk = [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
    if (n == 0 && e->desc) *static_cast<std::string*>(data) = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk, &desc);
  return desc;
}
}  // namespace

FileError write_error(const std::string& path, const std::string& what, int saved_errno,
                      const std::string& hint) {
  const std::string detail = innermost_error();
  const std::string cause = write_failure_cause(path, failed_call_errno(saved_errno));
  if (!cause.empty()) return FileError(path, what + ": " + cause);
  if (!hint.empty()) return FileError(path, what + " (" + hint + ")");
  // Nothing to name (a short write, say): what the library said, and that the disk is fine.
  return FileError(path, what + ": the write failed" + (detail.empty() ? "" : " (" + detail + ")") +
                             ", though the file system shows no problem now");
}

namespace {

// For calls that write: a failure names its cause (a full disk, a read-only file system).
Handle check_write(hid_t id, const File& f, const std::string& what) {
  const int saved = errno;
  if (id < 0) throw write_error(f.path, what, saved);
  return Handle(id);
}
void check_write_status(herr_t status, const File& f, const std::string& what) {
  const int saved = errno;
  if (status < 0) throw write_error(f.path, what, saved);
}

Handle check(hid_t id, const File& f, const std::string& what) {
  if (id < 0) throw FileError(f.path, what);
  return Handle(id);
}

void check_status(herr_t status, const File& f, const std::string& what) {
  if (status < 0) throw FileError(f.path, what);
}

hid_t native_type(const float*) {
  return H5T_NATIVE_FLOAT;
}
hid_t native_type(const double*) {
  return H5T_NATIVE_DOUBLE;
}
hid_t native_type(const std::int64_t*) {
  return H5T_NATIVE_INT64;
}

template <class T>
void write_any(const File& f, hid_t loc, const std::string& name, const T* data,
               const std::vector<hsize_t>& dims) {
  Handle space = check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), f,
                       "cannot create dataspace for " + name);
  Handle set = check_write(H5Dcreate2(loc, name.c_str(), native_type(data), space.id(),
                                      H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                           f, "cannot create dataset " + name);
  check_write_status(
      H5Dwrite(set.id(), native_type(data), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), f,
      "cannot write dataset " + name);
}

Handle open_attribute(const File& f, hid_t loc, const std::string& name, const std::string& where) {
  return check(H5Aopen(loc, name.c_str(), H5P_DEFAULT), f, "cannot open attribute " + where);
}

// Number of elements of an attribute's dataspace; attributes we read must hold exactly one.
void require_single(const File& f, hid_t attr, const std::string& where) {
  Handle space = check(H5Aget_space(attr), f, "cannot read attribute " + where);
  const hssize_t n = H5Sget_simple_extent_npoints(space.id());
  if (n != 1)
    throw FileError(f.path,
                    "attribute " + where + " must hold one value, not " + std::to_string(n));
}

}  // namespace

File create_file(const std::string& path, const std::string& display_path) {
  silence_errors();
  File f{Handle(), display_path.empty() ? path : display_path};
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const int saved = errno;
  if (id < 0)
    throw write_error(f.path, "cannot create HDF5 file", saved,
                      "check that the directory exists and is writable");
  f.handle = Handle(id);
  return f;
}

void close_file(File& f) {
  check_write_status(H5Fflush(f.handle.id(), H5F_SCOPE_GLOBAL), f, "cannot write the file");
  check_write_status(H5Fclose(f.handle.release()), f, "cannot write the file (closing it failed)");
}

File open_file_read(const std::string& path) {
  silence_errors();
  File f{Handle(), path};
  if (!std::filesystem::exists(path)) throw FileError(path, "no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw FileError(path, "not an HDF5 file (or damaged, or unreadable)");
  f.handle = check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), f, "cannot open HDF5 file");
  return f;
}

bool exists(hid_t loc, const std::string& name) {
  // Walk a/b/c one link at a time: H5Lexists fails on a missing intermediate group.
  std::string prefix = !name.empty() && name[0] == '/' ? "/" : "";
  std::size_t pos = prefix.size();
  while (pos < name.size()) {
    const std::size_t slash = std::min(name.find('/', pos), name.size());
    if (slash > pos) {
      if (!prefix.empty() && prefix.back() != '/') prefix += '/';
      prefix += name.substr(pos, slash - pos);
      if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = slash + 1;
  }
  return true;
}

Handle create_group(const File& f, hid_t loc, const std::string& name) {
  return check_write(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), f,
               "cannot create group " + name);
}

Handle open_group(const File& f, hid_t loc, const std::string& name) {
  if (!exists(loc, name)) throw FileError(f.path, "missing group " + name);
  return check(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), f, name + " is not a group");
}

Handle open_object(const File& f, const std::string& path) {
  return check(H5Oopen(f.handle.id(), path.c_str(), H5P_DEFAULT), f, "cannot open " + path);
}

std::vector<std::string> list_children(const File& f, hid_t group, const std::string& where) {
  H5G_info_t info;
  check_status(H5Gget_info(group, &info), f, "cannot list " + where);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len =
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) throw FileError(f.path, "cannot list " + where);
    std::string name(static_cast<std::size_t>(len), '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1,
                       H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

void write_dataset(const File& f, hid_t loc, const std::string& name, const float* data,
                   const std::vector<hsize_t>& dims) {
  write_any(f, loc, name, data, dims);
}
void write_dataset(const File& f, hid_t loc, const std::string& name, const double* data,
                   const std::vector<hsize_t>& dims) {
  write_any(f, loc, name, data, dims);
}
void write_dataset(const File& f, hid_t loc, const std::string& name, const std::int64_t* data,
                   const std::vector<hsize_t>& dims) {
  write_any(f, loc, name, data, dims);
}

namespace {
template <class T>
Array<T> read_dataset(const File& f, hid_t loc, const std::string& name, H5T_class_t want,
                      const char* what) {
  if (!exists(loc, name)) throw FileError(f.path, "missing dataset " + name);
  Handle set = check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), f, name + " is not a dataset");
  Handle type = check(H5Dget_type(set.id()), f, "cannot read the type of " + name);
  if (H5Tget_class(type.id()) != want) throw FileError(f.path, name + " must hold " + what);
  Handle space = check(H5Dget_space(set.id()), f, "cannot read the shape of " + name);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  if (rank < 0 || rank > 8) throw FileError(f.path, "cannot read the shape of " + name);
  Array<T> out;
  out.dims.resize(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.id(), out.dims.data(), nullptr);
  hsize_t count = 1;
  for (auto d : out.dims) count *= d;
  if (count > (hsize_t{1} << 34) / sizeof(T))
    throw FileError(f.path, name + " is implausibly large");
  // A damaged header can claim any shape: before allocating, check that the file holds the
  // data. Its stored bytes must lie within the file and, unfiltered, cover every value;
  // a filter (deflate) can shrink data at most about 1000-fold.
  {
    hsize_t file_bytes = 0;
    const hsize_t stored = H5Dget_storage_size(set.id());
    const hsize_t claimed = count * H5Tget_size(type.id());
    Handle plist = check(H5Dget_create_plist(set.id()), f, "cannot read the layout of " + name);
    const bool filtered = H5Pget_nfilters(plist.id()) > 0;
    if (H5Fget_filesize(f.handle.id(), &file_bytes) < 0 || stored > file_bytes ||
        claimed > (filtered ? stored * 1100 : stored))
      throw FileError(f.path, name + " claims " + std::to_string(count) + " values (" +
                                  std::to_string(claimed) + " bytes) but the file stores " +
                                  std::to_string(stored) + " bytes of it (damaged?)");
  }
  out.data.resize(count);
  if (count)
    check_status(H5Dread(set.id(), native_type(out.data.data()), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                         out.data.data()),
                 f, "cannot read dataset " + name);
  return out;
}
}  // namespace

Array<float> read_float_dataset(const File& f, hid_t loc, const std::string& name) {
  return read_dataset<float>(f, loc, name, H5T_FLOAT, "floating-point numbers");
}
Array<double> read_double_dataset(const File& f, hid_t loc, const std::string& name) {
  return read_dataset<double>(f, loc, name, H5T_FLOAT, "floating-point numbers");
}
Array<std::int64_t> read_int_dataset(const File& f, hid_t loc, const std::string& name) {
  return read_dataset<std::int64_t>(f, loc, name, H5T_INTEGER, "integers");
}

void write_attribute(const File& f, hid_t loc, const std::string& name, const std::string& value) {
  // Variable-length UTF-8, as h5py writes Python strings.
  Handle type = check(H5Tcopy(H5T_C_S1), f, "cannot create string type");
  H5Tset_size(type.id(), H5T_VARIABLE);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  Handle space = check(H5Screate(H5S_SCALAR), f, "cannot create dataspace");
  Handle attr = check_write(
      H5Acreate2(loc, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), f,
      "cannot create attribute " + name);
  const char* text = value.c_str();
  check_write_status(H5Awrite(attr.id(), type.id(), &text), f, "cannot write attribute " + name);
}

namespace {
template <class T>
void write_scalar_attribute(const File& f, hid_t loc, const std::string& name, T value,
                            hid_t type) {
  Handle space = check(H5Screate(H5S_SCALAR), f, "cannot create dataspace");
  Handle attr = check_write(
      H5Acreate2(loc, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT), f,
      "cannot create attribute " + name);
  check_write_status(H5Awrite(attr.id(), type, &value), f, "cannot write attribute " + name);
}
}  // namespace

void write_attribute(const File& f, hid_t loc, const std::string& name, double value) {
  write_scalar_attribute(f, loc, name, value, H5T_NATIVE_DOUBLE);
}
void write_attribute(const File& f, hid_t loc, const std::string& name, std::int64_t value) {
  write_scalar_attribute(f, loc, name, value, H5T_NATIVE_INT64);
}

AttributeKind attribute_kind(const File& f, hid_t loc, const std::string& name) {
  Handle attr = open_attribute(f, loc, name, name);
  Handle type = check(H5Aget_type(attr.id()), f, "cannot read attribute " + name);
  switch (H5Tget_class(type.id())) {
    case H5T_STRING:
      return AttributeKind::string;
    case H5T_FLOAT:
      return AttributeKind::floating;
    case H5T_INTEGER:
      return AttributeKind::integer;
    default:
      return AttributeKind::other;
  }
}

std::string read_string_attribute(const File& f, hid_t loc, const std::string& name,
                                  const std::string& where) {
  if (H5Aexists(loc, name.c_str()) <= 0) throw FileError(f.path, "missing attribute " + where);
  Handle attr = open_attribute(f, loc, name, where);
  Handle type = check(H5Aget_type(attr.id()), f, "cannot read attribute " + where);
  if (H5Tget_class(type.id()) != H5T_STRING)
    throw FileError(f.path, "attribute " + where + " must be a string");
  require_single(f, attr.id(), where);
  if (H5Tis_variable_str(type.id()) > 0) {
    Handle mem = check(H5Tcopy(H5T_C_S1), f, "cannot create string type");
    H5Tset_size(mem.id(), H5T_VARIABLE);
    H5Tset_cset(mem.id(), H5Tget_cset(type.id()));
    char* text = nullptr;
    check_status(H5Aread(attr.id(), mem.id(), &text), f, "cannot read attribute " + where);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  const std::size_t size = H5Tget_size(type.id());
  if (size == 0 || size > (1u << 20))
    throw FileError(f.path, "attribute " + where + " has a bad size");
  // One byte more than stored, so a string that fills its whole size keeps its last
  // character next to the terminator.
  Handle mem = check(H5Tcopy(H5T_C_S1), f, "cannot create string type");
  H5Tset_size(mem.id(), size + 1);
  H5Tset_cset(mem.id(), H5Tget_cset(type.id()));
  std::string buffer(size + 1, '\0');
  check_status(H5Aread(attr.id(), mem.id(), buffer.data()), f, "cannot read attribute " + where);
  // Fixed-length strings are padded with NULs or spaces.
  const auto end = buffer.find('\0');
  if (end != std::string::npos) buffer.resize(end);
  while (!buffer.empty() && buffer.back() == ' ') buffer.pop_back();
  return buffer;
}

double read_double_attribute(const File& f, hid_t loc, const std::string& name,
                             const std::string& where) {
  if (H5Aexists(loc, name.c_str()) <= 0) throw FileError(f.path, "missing attribute " + where);
  Handle attr = open_attribute(f, loc, name, where);
  Handle type = check(H5Aget_type(attr.id()), f, "cannot read attribute " + where);
  const auto cls = H5Tget_class(type.id());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw FileError(f.path, "attribute " + where + " must be a number");
  require_single(f, attr.id(), where);
  double value = 0.0;
  check_status(H5Aread(attr.id(), H5T_NATIVE_DOUBLE, &value), f, "cannot read attribute " + where);
  return value;
}

std::int64_t read_int_attribute(const File& f, hid_t loc, const std::string& name,
                                const std::string& where) {
  if (H5Aexists(loc, name.c_str()) <= 0) throw FileError(f.path, "missing attribute " + where);
  Handle attr = open_attribute(f, loc, name, where);
  Handle type = check(H5Aget_type(attr.id()), f, "cannot read attribute " + where);
  if (H5Tget_class(type.id()) != H5T_INTEGER)
    throw FileError(f.path, "attribute " + where + " must be an integer");
  require_single(f, attr.id(), where);
  std::int64_t value = 0;
  check_status(H5Aread(attr.id(), H5T_NATIVE_INT64, &value), f, "cannot read attribute " + where);
  return value;
}

std::vector<std::string> list_attributes(const File& f, hid_t loc) {
  std::vector<std::string> names;
  const auto collect = [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  hsize_t index = 0;
  check_status(H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names), f,
               "cannot list attributes");
  return names;
}

}  // namespace ioca::io::h5
