#include "study/results_file.hpp"

#include <hdf5.h>

#include <map>
#include <set>

#include "io/attributes.hpp"
#include "io/hdf5.hpp"
#include "ioca/core.hpp"
#include "study/mpi.hpp"

namespace ioca::study {
namespace {

using io::add_with_parents;
using io::parent_of;

hid_t file_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_IEEE_F32LE;
    case DType::f64: return H5T_IEEE_F64LE;
    case DType::i64: return H5T_STD_I64LE;
    case DType::u8: return H5T_STD_U8LE;
  }
  return H5T_STD_U8LE;
}
hid_t memory_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::u8: return H5T_NATIVE_UINT8;
  }
  return H5T_NATIVE_UINT8;
}


constexpr const char* records_path = "/study/records";

}  // namespace

void write_results(const std::string& path, const std::string& display_path, int rank,
                   const FileContents& c) {
  io::h5::silence_errors();
  io::h5::File f{io::h5::Handle(), display_path};
  const auto check = [&](hid_t id, const std::string& what) {
    if (id < 0) throw FileError(display_path, what);
    return io::h5::Handle(id);
  };
  const auto check_status = [&](herr_t rc, const std::string& what) {
    if (rc < 0) throw FileError(display_path, what);
  };

  io::h5::Handle fapl = check(H5Pcreate(H5P_FILE_ACCESS), "cannot create file properties");
  check_status(H5Pset_fapl_mpio(fapl.id(), MPI_COMM_WORLD, MPI_INFO_NULL), "cannot use MPI-IO");
  check_status(H5Pset_all_coll_metadata_ops(fapl.id(), true), "cannot set collective metadata");
  check_status(H5Pset_coll_metadata_write(fapl.id(), true), "cannot set collective metadata");
  f.handle = check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()),
                   "cannot create the results file (check that the directory exists and is "
                   "writable)");
  const hid_t file = f.handle.id();

  // The manifest: every record's layout, in order.
  Bytes manifest;
  for (const Record* r : c.records) serialize(*r, false, manifest);

  // Groups, parents first (sorted paths put a parent before its children).
  std::set<std::string> datasets, groups{"/provenance", "/study", "/networks"};
  for (const Record* r : c.records)
    for (const auto& d : r->datasets) {
      datasets.insert(d.path);
      add_with_parents(groups, parent_of(d.path));
    }
  for (const Record* r : c.records)
    for (const auto& a : r->attributes)
      if (!datasets.count(a.path)) add_with_parents(groups, a.path);
  for (const auto& g : groups)
    check(H5Gcreate2(file, g.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
          "cannot create group " + g);

  io::h5::Handle dcpl = check(H5Pcreate(H5P_DATASET_CREATE), "cannot create dataset properties");
  H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_NEVER);
  io::h5::Handle dxpl = check(H5Pcreate(H5P_DATASET_XFER), "cannot create transfer properties");
  check_status(H5Pset_dxpl_mpio(dxpl.id(), H5FD_MPIO_COLLECTIVE), "cannot set collective I/O");

  // One dataset: created by all, written by its owner (the others select nothing).
  const auto write_dataset = [&](const std::string& where, DType type,
                                 const std::vector<std::uint64_t>& dims, const char* data,
                                 bool mine) {
    std::vector<hsize_t> h(dims.begin(), dims.end());
    io::h5::Handle space =
        check(H5Screate_simple(static_cast<int>(h.size()), h.data(), nullptr),
              "cannot create dataspace for " + where);
    io::h5::Handle d = check(H5Dcreate2(file, where.c_str(), file_type(type), space.id(),
                                        H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
                             "cannot create dataset " + where);
    std::uint64_t n = 1;
    for (auto x : dims) n *= x;
    if (n == 0) return;
    io::h5::Handle mem = check(H5Screate_simple(static_cast<int>(h.size()), h.data(), nullptr),
                               "cannot create dataspace for " + where);
    static const char dummy = 0;
    if (!mine) {
      H5Sselect_none(space.id());
      H5Sselect_none(mem.id());
    }
    check_status(H5Dwrite(d.id(), memory_type(type), mem.id(), space.id(), dxpl.id(),
                          mine ? data : &dummy),
                 "cannot write " + where + " (disk full?)");
  };
  for (const Record* r : c.records)
    for (const auto& d : r->datasets) {
      const bool mine = r->owner == rank;
      if (mine && d.data.size() != d.elements() * dtype_size(d.type))
        throw std::logic_error("record " + r->key + " lacks the data of " + d.path);
      write_dataset(d.path, d.type, d.dims, d.data.data(), mine);
    }
  write_dataset(records_path, DType::u8, {manifest.size()}, manifest.data(), rank == 0);

  // Attributes (identical on every rank; one entry per object and name).
  std::map<std::pair<std::string, std::string>, io::AttributeValue> attributes;
  for (const Record* r : c.records)
    for (const auto& a : r->attributes) attributes[{a.path, a.name}] = a.value;
  for (const auto& [k, v] : c.root) attributes[{"/", k}] = v;
  for (const auto& [k, v] : c.provenance) attributes[{"/provenance", k}] = v;
  std::string open_path;
  io::h5::Handle object;
  for (const auto& [key, value] : attributes) {
    if (key.first != open_path) {
      object = check(H5Oopen(file, key.first.c_str(), H5P_DEFAULT), "cannot open " + key.first);
      open_path = key.first;
    }
    io::write_attributes(f, object.id(), io::Attributes{{key.second, value}});
  }
  object.reset();
  f.handle.reset();  // collective close: everything is on disk when it returns
}

ResultsHeader read_results_header(const std::string& path) {
  io::h5::File f = io::h5::open_file_read(path);
  ResultsHeader h;
  h.root = io::read_attributes(f, f.handle.id());
  if (!h.root.count("ioca_results_format"))
    throw FileError(path, "not an ioca results file (no ioca_results_format attribute)");
  if (io::attribute_int(h.root, "ioca_results_format", 0) != legacy_format_version)
    throw FileError(path, "results format version " +
                              std::to_string(io::attribute_int(h.root, "ioca_results_format", 0)) +
                              " is not supported (this ioca reads version " +
                              std::to_string(legacy_format_version) + ")");
  if (!io::h5::exists(f.handle.id(), records_path))
    throw FileError(path, "damaged results file: " + std::string(records_path) + " is missing");
  io::h5::Handle d(H5Dopen2(f.handle.id(), records_path, H5P_DEFAULT));
  if (d.id() < 0) throw FileError(path, "damaged results file: cannot open " + std::string(records_path));
  io::h5::Handle space(H5Dget_space(d.id()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.id());
  if (n < 0) throw FileError(path, "damaged results file: " + std::string(records_path));
  Bytes bytes(static_cast<std::size_t>(n));
  if (n > 0 && H5Dread(d.id(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0)
    throw FileError(path, "damaged results file: cannot read " + std::string(records_path));
  h.records = deserialize_all(bytes, path);
  return h;
}

void read_record_data(const std::string& path, const std::vector<Record*>& records) {
  io::h5::File f = io::h5::open_file_read(path);
  for (Record* r : records)
    for (auto& e : r->datasets) {
      const auto damaged = [&](const std::string& what) {
        throw FileError(path, "damaged results file: " + e.path + " " + what);
      };
      io::h5::Handle d(H5Dopen2(f.handle.id(), e.path.c_str(), H5P_DEFAULT));
      if (d.id() < 0) damaged("is missing");
      io::h5::Handle space(H5Dget_space(d.id()));
      std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(0, H5Sget_simple_extent_ndims(space.id()))));
      H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
      if (std::vector<std::uint64_t>(dims.begin(), dims.end()) != e.dims) damaged("has the wrong shape");
      e.data.assign(e.elements() * dtype_size(e.type), 0);
      if (!e.data.empty() &&
          H5Dread(d.id(), memory_type(e.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, e.data.data()) < 0)
        damaged("cannot be read");
      if (checksum(e.data.data(), e.data.size()) != e.checksum) damaged("fails its checksum");
    }
}

}  // namespace ioca::study
