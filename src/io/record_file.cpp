// The one serial writer: a record into its own HDF5 file (the model, measures and ablation
// files are each a record of their layout, io/layout.hpp).
#include <set>
#include <stdexcept>

#include "io/attributes.hpp"
#include "io/hdf5.hpp"
#include "io/record.hpp"

namespace ioca::io {

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

void add_with_parents(std::set<std::string>& groups, std::string path) {
  while (path != "/" && !path.empty()) {
    groups.insert(path);
    path = parent_of(path);
  }
}

namespace {

// The data as the type it holds, without a copy (new[] aligns it for any of them).
template <class T>
const T* data_as(const DatasetEntry& d) {
  return reinterpret_cast<const T*>(d.data.data());
}

void write_entry(const h5::File& f, const DatasetEntry& d) {
  const std::vector<hsize_t> dims(d.dims.begin(), d.dims.end());
  const hid_t root = f.handle.id();
  switch (d.type) {
    case DType::f32:
      return h5::write_dataset(f, root, d.path, data_as<float>(d), dims);
    case DType::f64:
      return h5::write_dataset(f, root, d.path, data_as<double>(d), dims);
    case DType::i64:
      return h5::write_dataset(f, root, d.path, data_as<std::int64_t>(d), dims);
    case DType::u8:
      break;
  }
  throw std::logic_error("write_record_file: " + d.path + " has a type serial files never hold");
}

}  // namespace

void write_record_file(const std::string& path, const Record& r) {
  write_atomically(path, [&](const std::string& tmp) {
    h5::File f = h5::create_file(tmp, path);
    // Groups, parents first (sorted paths put a parent before its children).
    std::set<std::string> datasets, groups;
    for (const auto& d : r.datasets) {
      datasets.insert(d.path);
      add_with_parents(groups, parent_of(d.path));
    }
    for (const auto& a : r.attributes)
      if (!datasets.count(a.path)) add_with_parents(groups, a.path);
    for (const auto& g : groups) h5::create_group(f, f.handle.id(), g);
    for (const auto& d : r.datasets) write_entry(f, d);
    for (const auto& a : r.attributes) {
      h5::Handle object = h5::open_object(f, a.path);
      write_attributes(f, object.id(), Attributes{{a.name, a.value}});
    }
    h5::close_file(f);  // a failed flush (full disk) must fail the write
  });
}

}  // namespace ioca::io
