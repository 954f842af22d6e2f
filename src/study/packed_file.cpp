#include "study/packed_file.hpp"

#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <tuple>

#include "io/attributes.hpp"
#include "io/hdf5.hpp"
#include "ioca/core.hpp"
#include "study/mpi.hpp"
#include "study/results_file.hpp"

namespace ioca::study {
namespace {

using io::h5::Handle;

// Rows per chunk of the (compressed) table columns: large enough that the chunk index
// stays small, small enough that reading one task's rows decompresses little.
constexpr hsize_t table_chunk_rows = 2048;
constexpr const char* data_names[3] = {"/data/f32", "/data/f64", "/data/i64"};

int type_slot(DType t) {
  switch (t) {
    case DType::f32: return 0;
    case DType::f64: return 1;
    case DType::i64: return 2;
    case DType::u8: break;
  }
  throw std::logic_error("a results file holds no uint8 arrays");
}
DType slot_type(int slot) { return slot == 0 ? DType::f32 : slot == 1 ? DType::f64 : DType::i64; }
hid_t slot_file_type(int slot) {
  return slot == 0 ? H5T_IEEE_F32LE : slot == 1 ? H5T_IEEE_F64LE : H5T_STD_I64LE;
}
hid_t slot_memory_type(int slot) {
  return slot == 0 ? H5T_NATIVE_FLOAT : slot == 1 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
}

std::string prefix_for(const std::string& key) { return "/networks/" + network_name_of(key); }

// The path inside the network's group ("" for the group itself).
std::string relative_path(const std::string& path, const std::string& prefix,
                          const std::string& key) {
  if (path == prefix) return "";
  if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
      path[prefix.size()] == '/')
    return path.substr(prefix.size() + 1);
  throw std::logic_error("task " + key + " writes " + path + " outside its network's group");
}
std::string absolute_path(const std::string& rel, const std::string& prefix) {
  return rel.empty() ? prefix : prefix + "/" + rel;
}

// A fixed-length, NUL-padded string type of the given width.
Handle string_type(std::size_t width) {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.id(), std::max<std::size_t>(width, 1));
  H5Tset_strpad(t.id(), H5T_STR_NULLPAD);
  return t;
}

enum AttributeType : std::uint8_t { text_type = 0, number_type = 1, integer_type = 2 };

// Attributes as bytes: per attribute its variant index, its name and NUL, then its text
// and NUL or its 8 bytes.
Bytes encode_row(const io::Attributes& attributes) {
  Bytes out;
  for (const auto& [name, value] : attributes) {
    out.push_back(static_cast<char>(value.index()));
    out.insert(out.end(), name.begin(), name.end());
    out.push_back('\0');
    if (const auto* t = std::get_if<std::string>(&value)) {
      out.insert(out.end(), t->begin(), t->end());
      out.push_back('\0');
    } else {
      char raw[8];
      if (const auto* x = std::get_if<double>(&value)) std::memcpy(raw, x, 8);
      else std::memcpy(raw, &std::get<std::int64_t>(value), 8);
      out.insert(out.end(), raw, raw + 8);
    }
  }
  return out;
}
io::Attributes decode_row(const Bytes& in) {
  io::Attributes out;
  for (std::size_t i = 0; i < in.size();) {
    const auto type = static_cast<std::size_t>(in[i++]);
    std::string name(in.data() + i);
    i += name.size() + 1;
    if (type == 0) {
      std::string text(in.data() + i);
      i += text.size() + 1;
      out[name] = std::move(text);
    } else {
      char raw[8];
      std::memcpy(raw, in.data() + i, 8);
      i += 8;
      if (type == 1) {
        double x = 0;
        std::memcpy(&x, raw, 8);
        out[name] = x;
      } else {
        std::int64_t x = 0;
        std::memcpy(&x, raw, 8);
        out[name] = x;
      }
    }
  }
  return out;
}

}  // namespace

void release_memory() {
  // HDF5 keeps freed blocks in free lists of up to 16 MiB each by default: capped at
  // 1 MiB, and emptied here.
  static const bool limited = H5set_free_list_limits(1 << 20, 1 << 18, 1 << 20, 1 << 18, 1 << 20, 1 << 18) >= 0;
  (void)limited;
  H5garbage_collect();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

std::int64_t network_index_of(const std::string& key) {
  std::int64_t v = 0;
  std::size_t i = 0;
  for (; i < key.size() && key[i] >= '0' && key[i] <= '9'; ++i) v = v * 10 + (key[i] - '0');
  if (i == 0 || i >= key.size() || key[i] != '/') throw Error("task key '" + key + "' has no network index");
  return v;
}

std::string network_name_of(const std::string& key) {
  const auto a = key.find('/');
  const auto b = key.find('/', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos) throw Error("task key '" + key + "' has no network name");
  return key.substr(a + 1, b - a - 1);
}

TaskSize size_of(const Record& r) {
  TaskSize s;
  const std::string prefix = prefix_for(r.key);
  const auto width = [&](const std::string& v) {
    s.string_width = std::max<std::int64_t>(s.string_width, static_cast<std::int64_t>(v.size()));
  };
  width(r.key);
  for (const auto& d : r.datasets) {
    s.elements[static_cast<std::size_t>(type_slot(d.type))] += static_cast<std::int64_t>(d.elements());
    if (d.dims.empty() || d.dims.size() > 3)
      throw std::logic_error("task " + r.key + ": " + d.path + " has rank " + std::to_string(d.dims.size()));
    width(relative_path(d.path, prefix, r.key));
  }
  for (const auto& a : r.attributes) {
    width(relative_path(a.path, prefix, r.key));
    width(a.name);
    if (const auto* t = std::get_if<std::string>(&a.value)) width(*t);
  }
  s.datasets = static_cast<std::int64_t>(r.datasets.size());
  s.attributes = static_cast<std::int64_t>(r.attributes.size());
  return s;
}

// ---------------------------------------------------------------------------------------
// Writing.

struct PackedWriter::Impl {
  std::string display;
  int rank = 0;
  std::vector<TaskEntry> tasks;
  io::h5::File file;
  std::size_t width = 1;
  bool independent = false;  // Storage::plain
  Handle text, dxpl;
  std::map<std::string, Handle> columns;  // every dataset but /networks, by path
  // This rank's run of tasks and where its next rows and values go.
  std::size_t next = 0, end = 0;
  std::int64_t task_row = 0, dataset_row = 0, attribute_row = 0;
  std::array<std::int64_t, 3> value_at{};
  std::int64_t network_row = 0, networks = 0;
  // The attributes of the network groups this rank wrote, for the /networks table, each
  // row packed as bytes (encode_row): a few hundred bytes per network, not a map's KiBs.
  std::vector<std::pair<std::int64_t, Bytes>> network_rows;

  // Every failure names its cause (a full disk, a read-only file system, an I/O error).
  Handle check(hid_t id, const std::string& what) const {
    const int saved = errno;
    if (id < 0) throw io::h5::write_error(display, what, saved);
    return Handle(id);
  }
  void check_status(herr_t rc, const std::string& what) const {
    const int saved = errno;
    if (rc < 0) throw io::h5::write_error(display, what, saved);
  }
  // Gives up a file that was not closed (a write failed): its HDF5 objects stay open, as
  // explained below.
  void abandon();
  // Set once the file is closed. Until then, a writer that goes away (an exception) leaves
  // its HDF5 objects open on purpose when other ranks share the file: closing them is
  // collective, and a rank that failed alone would wait there forever for ranks that are
  // still writing (or waiting for it in a collective write). The caller ends the job.
  bool closed = false;
  int ranks = 1;

  // A table column or data array, created by every rank together.
  void create(const std::string& name, hid_t type, hsize_t rows, hsize_t row_length, bool compress) {
    const int rank_of = row_length > 1 ? 2 : 1;
    const hsize_t dims[2] = {rows, row_length};
    Handle space = check(H5Screate_simple(rank_of, dims, nullptr), "cannot create dataspace for " + name);
    Handle dcpl = check(H5Pcreate(H5P_DATASET_CREATE), "cannot create dataset properties");
    H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_NEVER);
    if (compress && !independent && rows > 0) {
      const hsize_t chunk[2] = {std::min(rows, table_chunk_rows), row_length};
      check_status(H5Pset_chunk(dcpl.id(), rank_of, chunk), "cannot chunk " + name);
      if (H5Tget_class(type) != H5T_STRING) H5Pset_shuffle(dcpl.id());
      check_status(H5Pset_deflate(dcpl.id(), 1), "cannot compress " + name);
    }
    // No chunk cache: each rank writes its rows once, in whole blocks (HDF5's default
    // 1 MiB per dataset would hold tens of MiB across the tables for nothing).
    Handle access = check(H5Pcreate(H5P_DATASET_ACCESS), "cannot create dataset properties");
    H5Pset_chunk_cache(access.id(), 0, 0, 1.0);
    columns[name] = check(H5Dcreate2(file.handle.id(), name.c_str(), type, space.id(), H5P_DEFAULT,
                                     dcpl.id(), access.id()),
                          "cannot create dataset " + name);
  }

  // Collective: this rank's rows [first, first + rows) of a column (rows may be 0).
  void put(const std::string& name, hid_t memory_type, std::int64_t first, std::size_t rows,
           hsize_t row_length, const void* data) {
    const hid_t d = columns.at(name).id();
    Handle space = check(H5Dget_space(d), "cannot read the dataspace of " + name);
    // An empty dataset is skipped by every rank alike (each knows the total); written
    // independently, so is an empty selection.
    if (H5Sget_simple_extent_npoints(space.id()) == 0 || (independent && rows == 0)) return;
    const int rank_of = H5Sget_simple_extent_ndims(space.id());
    const hsize_t start[2] = {static_cast<hsize_t>(first), 0};
    const hsize_t count[2] = {std::max<hsize_t>(rows, 1), row_length};
    Handle memory = check(H5Screate_simple(rank_of, count, nullptr), "cannot create dataspace for " + name);
    static const char dummy[16] = {};
    if (rows == 0) {
      H5Sselect_none(space.id());
      H5Sselect_none(memory.id());
    } else {
      check_status(H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start, nullptr, count, nullptr),
                   "cannot select rows of " + name);
    }
    check_status(H5Dwrite(d, memory_type, memory.id(), space.id(), dxpl.id(), rows ? data : dummy),
                 "cannot write " + name);
  }
  template <class T>
  void put(const std::string& name, hid_t memory_type, std::int64_t first, const std::vector<T>& v,
           hsize_t row_length = 1) {
    put(name, memory_type, first, v.size() / row_length, row_length, v.data());
  }
  void put_text(const std::string& name, std::int64_t first, const std::vector<char>& v) {
    put(name, text.id(), first, v.size() / width, 1, v.data());
  }
  void add_text(std::vector<char>& column, const std::string& s) const {
    if (s.size() > width) throw std::logic_error("string longer than the file's string width: " + s);
    const std::size_t at = column.size();
    column.resize(at + width, '\0');
    std::memcpy(column.data() + at, s.data(), s.size());
  }
};

namespace {
std::atomic<bool> files_left_open{false};
}

bool results_files_left_open() { return files_left_open; }

PackedWriter::PackedWriter(const std::string& path, const std::string& display_path, int rank,
                           std::vector<TaskEntry> tasks, Storage storage)
    : impl_(std::make_unique<Impl>()) {
  try {
    open(path, display_path, rank, std::move(tasks), storage);
  } catch (...) {
    impl_->abandon();  // a constructor that throws runs no destructor
    throw;
  }
}

void PackedWriter::open(const std::string& path, const std::string& display_path, int rank,
                        std::vector<TaskEntry> tasks, Storage storage) {
  Impl& w = *impl_;
  w.display = display_path;
  w.rank = rank;
  w.independent = storage == Storage::plain;
  w.tasks = std::move(tasks);
  io::h5::silence_errors();

  // Totals, and where this rank's run starts.
  std::int64_t rows[3] = {0, 0, 0};  // tasks, datasets, attributes
  std::array<std::int64_t, 3> values{};
  bool seen = false, left = false;
  for (std::size_t i = 0; i < w.tasks.size(); ++i) {
    const TaskEntry& t = w.tasks[i];
    const bool prepare = t.key.ends_with("/prepare");
    if (t.owner == rank && left) throw std::logic_error("a rank's tasks in a results file are not contiguous");
    if (t.owner != rank && seen) left = true;
    if (t.owner == rank && !seen) {
      seen = true;
      w.next = i;
      w.task_row = rows[0];
      w.dataset_row = rows[1];
      w.attribute_row = rows[2];
      w.value_at = values;
      w.network_row = w.networks;
    }
    if (t.owner == rank) w.end = i + 1;
    rows[0] += 1;
    rows[1] += t.size.datasets;
    rows[2] += t.size.attributes;
    for (int k = 0; k < 3; ++k) values[static_cast<std::size_t>(k)] += t.size.elements[static_cast<std::size_t>(k)];
    w.width = std::max<std::size_t>(w.width, static_cast<std::size_t>(t.size.string_width));
    if (prepare) ++w.networks;
  }
  if (!seen) w.next = w.end = w.tasks.size();

  Handle fapl = w.check(H5Pcreate(H5P_FILE_ACCESS), "cannot create file properties");
  w.check_status(H5Pset_fapl_mpio(fapl.id(), MPI_COMM_WORLD, MPI_INFO_NULL), "cannot use MPI-IO");
  w.check_status(H5Pset_all_coll_metadata_ops(fapl.id(), true), "cannot set collective metadata");
  w.check_status(H5Pset_coll_metadata_write(fapl.id(), true), "cannot set collective metadata");
  MPI_Comm_size(MPI_COMM_WORLD, &w.ranks);
  w.file.path = display_path;
  {
    const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id());
    const int saved = errno;
    if (id < 0)
      throw io::h5::write_error(w.display, "cannot create the results file", saved,
                                "check that the directory exists and is writable");
    w.file.handle = Handle(id);
  }
  w.dxpl = w.check(H5Pcreate(H5P_DATASET_XFER), "cannot create transfer properties");
  // Independent writes need no other rank: a rank's rows are one contiguous block of each
  // contiguous dataset, whose space parallel HDF5 allocates when it is created.
  w.check_status(H5Pset_dxpl_mpio(w.dxpl.id(), w.independent ? H5FD_MPIO_INDEPENDENT : H5FD_MPIO_COLLECTIVE),
                 "cannot set the I/O mode");
  w.text = string_type(w.width);

  for (const char* g : {"/provenance", "/networks", "/tasks", "/datasets", "/attributes", "/data"})
    w.check(H5Gcreate2(w.file.handle.id(), g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            std::string("cannot create group ") + g);
  const auto T = static_cast<hsize_t>(rows[0]), D = static_cast<hsize_t>(rows[1]),
             A = static_cast<hsize_t>(rows[2]);
  w.create("/tasks/key", w.text.id(), T, 1, true);
  for (const char* c : {"/tasks/network", "/tasks/dataset_first", "/tasks/dataset_count",
                        "/tasks/attribute_first", "/tasks/attribute_count"})
    w.create(c, H5T_STD_I64LE, T, 1, true);
  w.create("/tasks/elements", H5T_STD_I64LE, T, 3, true);
  w.create("/tasks/offset", H5T_STD_I64LE, T, 3, true);
  for (const char* c : {"/datasets/network", "/datasets/task", "/datasets/offset", "/datasets/ndim"})
    w.create(c, H5T_STD_I64LE, D, 1, true);
  w.create("/datasets/path", w.text.id(), D, 1, true);
  w.create("/datasets/type", H5T_STD_U8LE, D, 1, true);
  w.create("/datasets/shape", H5T_STD_I64LE, D, 3, true);
  w.create("/datasets/checksum", H5T_STD_U64LE, D, 1, true);
  for (const char* c : {"/attributes/network", "/attributes/task", "/attributes/integer"})
    w.create(c, H5T_STD_I64LE, A, 1, true);
  for (const char* c : {"/attributes/path", "/attributes/name", "/attributes/text"})
    w.create(c, w.text.id(), A, 1, true);
  w.create("/attributes/type", H5T_STD_U8LE, A, 1, true);
  w.create("/attributes/number", H5T_IEEE_F64LE, A, 1, true);
  // The values themselves: contiguous, uncompressed (doubles of accuracies and weights gain
  // little from deflate, and contiguous arrays are written fastest).
  for (int k = 0; k < 3; ++k)
    w.create(data_names[k], slot_file_type(k), static_cast<hsize_t>(values[static_cast<std::size_t>(k)]), 1, false);
}

void PackedWriter::Impl::abandon() {
  if (closed || file.handle.id() < 0) return;
  files_left_open = true;
  for (auto& [name, column] : columns) column.release();
  text.release();
  dxpl.release();
  file.handle.release();
}

PackedWriter::~PackedWriter() { impl_->abandon(); }

void PackedWriter::write(const std::vector<const Record*>& records) {
  Impl& w = *impl_;
  // The columns of these records' rows.
  std::vector<char> key, path, attribute_path, attribute_name, attribute_text;
  std::vector<std::int64_t> task_network, dataset_first, dataset_count, attribute_first,
      attribute_count, elements, offset;
  std::vector<std::int64_t> d_network, d_task, d_offset, d_ndim, d_shape;
  std::vector<std::uint8_t> d_type, a_type;
  std::vector<std::uint64_t> d_checksum;
  std::vector<std::int64_t> a_network, a_task, a_integer;
  std::vector<double> a_number;
  std::array<std::vector<char>, 3> values;

  std::int64_t task_row = w.task_row, dataset_row = w.dataset_row, attribute_row = w.attribute_row;
  std::array<std::int64_t, 3> value_at = w.value_at;
  for (const Record* r : records) {
    if (w.next >= w.end || w.tasks[w.next].key != r->key)
      throw std::logic_error("record " + r->key + " written out of its place in the results file");
    const TaskSize expected = w.tasks[w.next].size, actual = size_of(*r);
    if (expected.datasets != actual.datasets || expected.attributes != actual.attributes ||
        expected.elements != actual.elements)
      throw std::logic_error("record " + r->key + " is not the size announced for it");
    ++w.next;
    const std::string prefix = prefix_for(r->key);
    const std::int64_t network = network_index_of(r->key);
    w.add_text(key, r->key);
    task_network.push_back(network);
    dataset_first.push_back(dataset_row);
    dataset_count.push_back(actual.datasets);
    attribute_first.push_back(attribute_row);
    attribute_count.push_back(actual.attributes);
    elements.insert(elements.end(), actual.elements.begin(), actual.elements.end());
    offset.insert(offset.end(), value_at.begin(), value_at.end());
    for (const auto& d : r->datasets) {
      const int slot = type_slot(d.type);
      const auto s = static_cast<std::size_t>(slot);
      if (d.data.size() != d.elements() * dtype_size(d.type))
        throw std::logic_error("record " + r->key + " lacks the data of " + d.path);
      d_network.push_back(network);
      d_task.push_back(task_row);
      w.add_text(path, relative_path(d.path, prefix, r->key));
      d_type.push_back(static_cast<std::uint8_t>(slot));
      d_offset.push_back(value_at[s]);
      d_ndim.push_back(static_cast<std::int64_t>(d.dims.size()));
      for (std::size_t k = 0; k < 3; ++k)
        d_shape.push_back(k < d.dims.size() ? static_cast<std::int64_t>(d.dims[k]) : 0);
      d_checksum.push_back(d.checksum);
      values[s].insert(values[s].end(), d.data.begin(), d.data.end());
      value_at[s] += static_cast<std::int64_t>(d.elements());
      ++dataset_row;
    }
    io::Attributes network_attributes;
    for (const auto& a : r->attributes) {
      const std::string rel = relative_path(a.path, prefix, r->key);
      a_network.push_back(network);
      a_task.push_back(task_row);
      w.add_text(attribute_path, rel);
      w.add_text(attribute_name, a.name);
      std::string text;
      double number = std::numeric_limits<double>::quiet_NaN();
      std::int64_t integer = 0;
      if (const auto* t = std::get_if<std::string>(&a.value)) {
        a_type.push_back(text_type);
        text = *t;
      } else if (const auto* x = std::get_if<double>(&a.value)) {
        a_type.push_back(number_type);
        number = *x;
      } else {
        a_type.push_back(integer_type);
        integer = std::get<std::int64_t>(a.value);
      }
      w.add_text(attribute_text, text);
      a_number.push_back(number);
      a_integer.push_back(integer);
      if (rel.empty()) network_attributes[a.name] = a.value;
      ++attribute_row;
    }
    if (r->key.ends_with("/prepare")) {
      network_attributes["name"] = network_name_of(r->key);
      w.network_rows.emplace_back(network, encode_row(network_attributes));
    }
    ++task_row;
  }

  w.put_text("/tasks/key", w.task_row, key);
  w.put("/tasks/network", H5T_NATIVE_INT64, w.task_row, task_network);
  w.put("/tasks/dataset_first", H5T_NATIVE_INT64, w.task_row, dataset_first);
  w.put("/tasks/dataset_count", H5T_NATIVE_INT64, w.task_row, dataset_count);
  w.put("/tasks/attribute_first", H5T_NATIVE_INT64, w.task_row, attribute_first);
  w.put("/tasks/attribute_count", H5T_NATIVE_INT64, w.task_row, attribute_count);
  w.put("/tasks/elements", H5T_NATIVE_INT64, w.task_row, elements, 3);
  w.put("/tasks/offset", H5T_NATIVE_INT64, w.task_row, offset, 3);
  w.put("/datasets/network", H5T_NATIVE_INT64, w.dataset_row, d_network);
  w.put("/datasets/task", H5T_NATIVE_INT64, w.dataset_row, d_task);
  w.put_text("/datasets/path", w.dataset_row, path);
  w.put("/datasets/type", H5T_NATIVE_UINT8, w.dataset_row, d_type);
  w.put("/datasets/offset", H5T_NATIVE_INT64, w.dataset_row, d_offset);
  w.put("/datasets/ndim", H5T_NATIVE_INT64, w.dataset_row, d_ndim);
  w.put("/datasets/shape", H5T_NATIVE_INT64, w.dataset_row, d_shape, 3);
  w.put("/datasets/checksum", H5T_NATIVE_UINT64, w.dataset_row, d_checksum);
  w.put("/attributes/network", H5T_NATIVE_INT64, w.attribute_row, a_network);
  w.put("/attributes/task", H5T_NATIVE_INT64, w.attribute_row, a_task);
  w.put_text("/attributes/path", w.attribute_row, attribute_path);
  w.put_text("/attributes/name", w.attribute_row, attribute_name);
  w.put("/attributes/type", H5T_NATIVE_UINT8, w.attribute_row, a_type);
  w.put_text("/attributes/text", w.attribute_row, attribute_text);
  w.put("/attributes/number", H5T_NATIVE_DOUBLE, w.attribute_row, a_number);
  w.put("/attributes/integer", H5T_NATIVE_INT64, w.attribute_row, a_integer);
  for (int k = 0; k < 3; ++k) {
    const auto s = static_cast<std::size_t>(k);
    const std::size_t size = dtype_size(slot_type(k));
    w.put(data_names[k], slot_memory_type(k), w.value_at[s], values[s].size() / size, 1,
          values[s].data());
  }
  w.task_row = task_row;
  w.dataset_row = dataset_row;
  w.attribute_row = attribute_row;
  w.value_at = value_at;
}

void PackedWriter::finish(const io::Attributes& root, const io::Attributes& provenance) {
  Impl& w = *impl_;
  if (w.next != w.end) throw std::logic_error("a results file was finished before all its records");

  // The /networks columns: every rank's (name, type) pairs, agreed; text wins over numbers,
  // float over integer.
  Bytes mine;
  for (const auto& [index, row] : w.network_rows)
    for (const auto& [name, value] : decode_row(row)) {
      mine.push_back(static_cast<char>(value.index()));
      mine.insert(mine.end(), name.begin(), name.end());
      mine.push_back('\0');
    }
  std::map<std::string, std::size_t> column_type;  // AttributeValue's index: 0 text, 1 float, 2 int
  for (const auto& b : mpi::allgather(mine)) {
    for (std::size_t i = 0; i < b.size();) {
      const auto type = static_cast<std::size_t>(b[i]);
      const std::string name(b.data() + i + 1);
      i += name.size() + 2;
      auto [it, fresh] = column_type.emplace(name, type);
      if (!fresh && it->second != type) it->second = std::min(it->second, type);
    }
  }
  const auto N = static_cast<hsize_t>(w.networks);
  if (static_cast<std::int64_t>(w.network_rows.size()) != 0 &&
      w.network_row + static_cast<std::int64_t>(w.network_rows.size()) > w.networks)
    throw std::logic_error("more network groups than prepare tasks");
  w.create("/networks/index", H5T_STD_I64LE, N, 1, true);
  std::vector<std::int64_t> index;
  for (const auto& row : w.network_rows) index.push_back(row.first);
  w.put("/networks/index", H5T_NATIVE_INT64, w.network_row, index);
  for (const auto& [name, type] : column_type) {
    if (name == "index") continue;
    const std::string column = "/networks/" + name;
    if (type == 0) {
      std::vector<char> v;
      for (const auto& row : w.network_rows) {
        const io::Attributes attributes = decode_row(row.second);
        const auto it = attributes.find(name);
        std::string s;
        if (it != attributes.end()) {
          if (const auto* t = std::get_if<std::string>(&it->second)) s = *t;
          else if (const auto* x = std::get_if<double>(&it->second)) s = std::to_string(*x);
          else s = std::to_string(std::get<std::int64_t>(it->second));
        }
        w.add_text(v, s);
      }
      w.create(column, w.text.id(), N, 1, true);
      w.put_text(column, w.network_row, v);
    } else if (type == 1) {
      std::vector<double> v;
      for (const auto& row : w.network_rows) {
        const io::Attributes attributes = decode_row(row.second);
        const auto it = attributes.find(name);
        double x = std::numeric_limits<double>::quiet_NaN();
        if (it != attributes.end())
          x = std::holds_alternative<double>(it->second)
                  ? std::get<double>(it->second)
                  : static_cast<double>(std::get<std::int64_t>(it->second));
        v.push_back(x);
      }
      w.create(column, H5T_IEEE_F64LE, N, 1, true);
      w.put(column, H5T_NATIVE_DOUBLE, w.network_row, v);
    } else {
      std::vector<std::int64_t> v;
      for (const auto& row : w.network_rows) {
        const io::Attributes attributes = decode_row(row.second);
        const auto it = attributes.find(name);
        v.push_back(it != attributes.end() ? std::get<std::int64_t>(it->second) : 0);
      }
      w.create(column, H5T_STD_I64LE, N, 1, true);
      w.put(column, H5T_NATIVE_INT64, w.network_row, v);
    }
  }

  io::Attributes all_root = root;
  all_root["ioca_results_format"] = packed_format_version;
  std::int64_t bytes = 0;
  for (const auto& t : w.tasks) bytes += static_cast<std::int64_t>(t.size.bytes());
  all_root["result_bytes"] = bytes;
  io::write_attributes(w.file, w.file.handle.id(), all_root);
  {
    Handle g = w.check(H5Gopen2(w.file.handle.id(), "/provenance", H5P_DEFAULT), "cannot open /provenance");
    io::write_attributes(w.file, g.id(), provenance);
  }
  w.columns.clear();
  w.text.reset();
  w.dxpl.reset();
  // Collective close: everything is on disk when it returns.
  w.closed = true;  // whatever H5Fclose returns, the file is not to be closed again
  const herr_t closed = H5Fclose(w.file.handle.release());
  if (closed < 0) files_left_open = true;  // half closed: HDF5 keeps it, see results_files_left_open
  w.check_status(closed, "cannot write the results file (closing it failed)");
}

void update_provenance(const std::string& path, const io::Attributes& values) {
  io::h5::silence_errors();
  io::h5::File f{Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)), path};
  if (f.handle.id() < 0) throw io::h5::write_error(path, "cannot reopen the results file", errno);
  Handle g(H5Gopen2(f.handle.id(), "/provenance", H5P_DEFAULT));
  if (g.id() < 0) throw FileError(path, "cannot open /provenance");
  for (const auto& [name, value] : values)
    if (H5Aexists(g.id(), name.c_str()) > 0 && H5Adelete(g.id(), name.c_str()) < 0)
      throw FileError(path, "cannot update /provenance/" + name);
  io::write_attributes(f, g.id(), values);
  g.reset();
  io::h5::close_file(f);
}

// ---------------------------------------------------------------------------------------
// Reading.

namespace {

// A version-2 file, read serially. Rows are read on demand: a file with thousands of
// networks is never held in memory.
class PackedSource final : public ResultsSource {
 public:
  PackedSource(io::h5::File f, io::Attributes root, io::Attributes provenance)
      : f_(std::move(f)), root_(std::move(root)), provenance_(std::move(provenance)) {
    rows_ = extent("/tasks/key", 1);
    for (const char* c : {"/tasks/network", "/tasks/dataset_first", "/tasks/dataset_count",
                          "/tasks/attribute_first", "/tasks/attribute_count"})
      if (extent(c, 1) != rows_) damaged(std::string(c) + " has the wrong length");
    for (const char* c : {"/tasks/elements", "/tasks/offset"})
      if (extent(c, 3) != rows_) damaged(std::string(c) + " has the wrong shape");
    datasets_ = extent("/datasets/path", 1);
    for (const char* c : {"/datasets/type", "/datasets/offset", "/datasets/ndim", "/datasets/checksum"})
      if (extent(c, 1) != datasets_) damaged(std::string(c) + " has the wrong length");
    if (extent("/datasets/shape", 3) != datasets_) damaged("/datasets/shape has the wrong shape");
    attributes_ = extent("/attributes/path", 1);
    for (const char* c : {"/attributes/name", "/attributes/type", "/attributes/text",
                          "/attributes/number", "/attributes/integer"})
      if (extent(c, 1) != attributes_) damaged(std::string(c) + " has the wrong length");
    for (int k = 0; k < 3; ++k) values_[static_cast<std::size_t>(k)] = extent(data_names[k], 1);
  }

  const std::string& path() const override { return f_.path; }
  const io::Attributes& root() const override { return root_; }
  const io::Attributes& provenance() const override { return provenance_; }

  std::vector<TaskEntry> tasks() override {
    const auto keys = text_rows("/tasks/key", 0, rows_);
    const auto datasets = int_rows("/tasks/dataset_count", 0, rows_, 1);
    const auto attributes = int_rows("/tasks/attribute_count", 0, rows_, 1);
    const auto elements = int_rows("/tasks/elements", 0, rows_, 3);
    const auto width = static_cast<std::int64_t>(text_width("/tasks/key"));
    std::vector<TaskEntry> out(static_cast<std::size_t>(rows_));
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i].key = keys[i];
      out[i].size.datasets = datasets[i];
      out[i].size.attributes = attributes[i];
      for (std::size_t k = 0; k < 3; ++k) out[i].size.elements[k] = elements[3 * i + k];
      out[i].size.string_width = width;
      if (out[i].size.datasets < 0 || out[i].size.attributes < 0 ||
          std::any_of(out[i].size.elements.begin(), out[i].size.elements.end(), [](auto e) { return e < 0; }))
        damaged("/tasks has a negative count in row " + std::to_string(i));
    }
    return out;
  }

  Record read(std::size_t row) override {
    if (row >= static_cast<std::size_t>(rows_)) throw std::logic_error("task row out of range");
    const auto r = static_cast<hsize_t>(row);
    Record rec;
    rec.key = text_rows("/tasks/key", r, 1).at(0);
    const std::string prefix = "/networks/" + network_name_of(rec.key);
    const std::int64_t dfirst = int_rows("/tasks/dataset_first", r, 1, 1)[0];
    const std::int64_t dcount = int_rows("/tasks/dataset_count", r, 1, 1)[0];
    const std::int64_t afirst = int_rows("/tasks/attribute_first", r, 1, 1)[0];
    const std::int64_t acount = int_rows("/tasks/attribute_count", r, 1, 1)[0];
    const auto elements = int_rows("/tasks/elements", r, 1, 3);
    const auto offset = int_rows("/tasks/offset", r, 1, 3);
    const auto in_range = [](std::int64_t first, std::int64_t count, hsize_t size) {
      return first >= 0 && count >= 0 && static_cast<hsize_t>(first) <= size &&
             static_cast<hsize_t>(count) <= size - static_cast<hsize_t>(first);
    };
    if (!in_range(dfirst, dcount, datasets_) || !in_range(afirst, acount, attributes_))
      damaged("task " + rec.key + " points outside /datasets or /attributes");
    std::array<std::vector<char>, 3> values;
    for (int k = 0; k < 3; ++k) {
      const auto s = static_cast<std::size_t>(k);
      if (!in_range(offset[s], elements[s], values_[s])) damaged("task " + rec.key + " points outside " + data_names[k]);
      values[s] = raw_rows(data_names[k], slot_memory_type(k), static_cast<hsize_t>(offset[s]),
                           static_cast<hsize_t>(elements[s]), 1, dtype_size(slot_type(k)));
    }

    const auto df = static_cast<hsize_t>(dfirst), dn = static_cast<hsize_t>(dcount);
    const auto paths = text_rows("/datasets/path", df, dn);
    const auto types = raw_rows("/datasets/type", H5T_NATIVE_UINT8, df, dn, 1, 1);
    const auto offsets = int_rows("/datasets/offset", df, dn, 1);
    const auto ndims = int_rows("/datasets/ndim", df, dn, 1);
    const auto shapes = int_rows("/datasets/shape", df, dn, 3);
    const auto sums = raw_rows("/datasets/checksum", H5T_NATIVE_UINT64, df, dn, 1, 8);
    for (std::size_t i = 0; i < dn; ++i) {
      DatasetEntry e;
      e.path = absolute_path(paths[i], prefix);
      const auto slot = static_cast<std::uint8_t>(types[i]);
      if (slot > 2 || ndims[i] < 1 || ndims[i] > 3) damaged(e.path + " has a bad type or rank");
      e.type = slot_type(slot);
      for (std::size_t k = 0; k < static_cast<std::size_t>(ndims[i]); ++k) {
        if (shapes[3 * i + k] < 0) damaged(e.path + " has a negative dimension");
        e.dims.push_back(static_cast<std::uint64_t>(shapes[3 * i + k]));
      }
      std::memcpy(&e.checksum, sums.data() + 8 * i, 8);
      const std::int64_t at = offsets[i] - offset[slot];
      const std::uint64_t n = e.elements();
      const std::size_t size = dtype_size(e.type);
      if (at < 0 || static_cast<std::uint64_t>(at) > static_cast<std::uint64_t>(elements[slot]) ||
          n > static_cast<std::uint64_t>(elements[slot] - at))
        damaged(e.path + " points outside its task's values");
      const char* p = values[slot].data() + static_cast<std::size_t>(at) * size;
      e.data.assign(p, p + n * size);
      if (checksum(e.data.data(), e.data.size()) != e.checksum) damaged(e.path + " fails its checksum");
      rec.datasets.push_back(std::move(e));
    }

    const auto af = static_cast<hsize_t>(afirst), an = static_cast<hsize_t>(acount);
    const auto apaths = text_rows("/attributes/path", af, an);
    const auto names = text_rows("/attributes/name", af, an);
    const auto atypes = raw_rows("/attributes/type", H5T_NATIVE_UINT8, af, an, 1, 1);
    const auto texts = text_rows("/attributes/text", af, an);
    const auto numbers = raw_rows("/attributes/number", H5T_NATIVE_DOUBLE, af, an, 1, 8);
    const auto integers = int_rows("/attributes/integer", af, an, 1);
    for (std::size_t i = 0; i < an; ++i) {
      AttributeEntry a;
      a.path = absolute_path(apaths[i], prefix);
      a.name = names[i];
      switch (static_cast<std::uint8_t>(atypes[i])) {
        case text_type: a.value = texts[i]; break;
        case number_type: {
          double x = 0;
          std::memcpy(&x, numbers.data() + 8 * i, 8);
          a.value = x;
          break;
        }
        case integer_type: a.value = integers[i]; break;
        default: damaged("attribute " + a.name + " of " + a.path + " has a bad type");
      }
      rec.attributes.push_back(std::move(a));
    }
    return rec;
  }

 private:
  [[noreturn]] void damaged(const std::string& what) const {
    throw FileError(f_.path, "damaged results file: " + what);
  }
  // Columns stay open, so that reading the rows of neighbouring tasks finds their chunks
  // decompressed in HDF5's chunk cache.
  hid_t open(const std::string& name) const {
    auto it = open_.find(name);
    if (it == open_.end()) {
      // A chunk cache of about one chunk per column (not HDF5's 1 MiB default): a reader
      // stays small however large the file is.
      Handle access(H5Pcreate(H5P_DATASET_ACCESS));
      H5Pset_chunk_cache(access.id(), 101, 192 * 1024, 1.0);
      Handle d(H5Dopen2(f_.handle.id(), name.c_str(), access.id()));
      if (d.id() < 0) damaged(name + " is missing");
      it = open_.emplace(name, std::move(d)).first;
    }
    return it->second.id();
  }
  // Rows of a 1-D column or a 2-D [rows, row_length] table.
  hsize_t extent(const std::string& name, hsize_t row_length) const {
    const hid_t d = open(name);
    Handle space(H5Dget_space(d));
    hsize_t dims[2] = {0, 1};
    const int n = H5Sget_simple_extent_ndims(space.id());
    if (n != (row_length > 1 ? 2 : 1)) damaged(name + " has the wrong rank");
    H5Sget_simple_extent_dims(space.id(), dims, nullptr);
    if (n == 2 && dims[1] != row_length) damaged(name + " has the wrong shape");
    return dims[0];
  }
  std::vector<char> raw_rows(const std::string& name, hid_t memory_type, hsize_t first,
                             hsize_t rows, hsize_t row_length, std::size_t size) const {
    std::vector<char> out(static_cast<std::size_t>(rows * row_length) * size);
    if (rows == 0) return out;
    const hid_t d = open(name);
    Handle space(H5Dget_space(d));
    const int n = H5Sget_simple_extent_ndims(space.id());
    const hsize_t start[2] = {first, 0}, count[2] = {rows, row_length};
    Handle memory(H5Screate_simple(n, count, nullptr));
    if (H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
        H5Dread(d, memory_type, memory.id(), space.id(), H5P_DEFAULT, out.data()) < 0)
      damaged(name + " cannot be read");
    return out;
  }
  std::vector<std::int64_t> int_rows(const std::string& name, hsize_t first, hsize_t rows,
                                     hsize_t row_length) const {
    const auto raw = raw_rows(name, H5T_NATIVE_INT64, first, rows, row_length, 8);
    std::vector<std::int64_t> out(raw.size() / 8);
    std::memcpy(out.data(), raw.data(), raw.size());
    return out;
  }
  std::size_t text_width(const std::string& name) const {
    Handle type(H5Dget_type(open(name)));
    if (H5Tget_class(type.id()) != H5T_STRING || H5Tis_variable_str(type.id()) > 0)
      damaged(name + " is not a fixed-length string column");
    return H5Tget_size(type.id());
  }
  std::vector<std::string> text_rows(const std::string& name, hsize_t first, hsize_t rows) const {
    std::vector<std::string> out;
    if (rows == 0) return out;
    const std::size_t width = text_width(name);
    Handle memory_type = string_type(width);
    const auto raw = raw_rows(name, memory_type.id(), first, rows, 1, width);
    for (hsize_t i = 0; i < rows; ++i) {
      const char* p = raw.data() + i * width;
      out.emplace_back(p, strnlen(p, width));
    }
    return out;
  }

  io::h5::File f_;
  mutable std::map<std::string, Handle> open_;
  io::Attributes root_, provenance_;
  hsize_t rows_ = 0, datasets_ = 0, attributes_ = 0;
  std::array<hsize_t, 3> values_{};
};

// A version-1 file: its manifest (every record's layout) read at once, data per record.
class LegacySource final : public ResultsSource {
 public:
  LegacySource(std::string path, ResultsHeader h, io::Attributes provenance)
      : path_(std::move(path)), header_(std::move(h)), provenance_(std::move(provenance)) {}
  const std::string& path() const override { return path_; }
  const io::Attributes& root() const override { return header_.root; }
  const io::Attributes& provenance() const override { return provenance_; }
  std::vector<TaskEntry> tasks() override {
    std::vector<TaskEntry> out;
    for (const auto& r : header_.records) out.push_back({r.key, size_of(r), 0});
    return out;
  }
  Record read(std::size_t row) override {
    Record r = header_.records.at(row);
    read_record_data(path_, {&r});
    return r;
  }

 private:
  std::string path_;
  ResultsHeader header_;
  io::Attributes provenance_;
};

}  // namespace

std::unique_ptr<ResultsSource> open_results(const std::string& path) {
  io::h5::silence_errors();
  // A small metadata cache: the chunk indexes of a large file's tables would otherwise
  // grow it to HDF5's 32 MiB limit per open file.
  Handle access(H5Pcreate(H5P_FILE_ACCESS));
  H5AC_cache_config_t cache;
  cache.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  H5Pget_mdc_config(access.id(), &cache);
  cache.set_initial_size = true;
  cache.initial_size = 1 << 20;
  cache.min_size = 1 << 20;
  cache.max_size = 4 << 20;
  H5Pset_mdc_config(access.id(), &cache);
  io::h5::File f{Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.id())), path};
  if (f.handle.id() < 0) f = io::h5::open_file_read(path);  // its message names the problem
  io::Attributes root = io::read_attributes(f, f.handle.id());
  if (!root.count("ioca_results_format"))
    throw FileError(path, "not an ioca results file (no ioca_results_format attribute)");
  const std::int64_t version = io::attribute_int(root, "ioca_results_format", 0);
  io::Attributes provenance;
  if (io::h5::exists(f.handle.id(), "/provenance")) {
    Handle g(H5Gopen2(f.handle.id(), "/provenance", H5P_DEFAULT));
    if (g.id() >= 0) provenance = io::read_attributes(f, g.id());
  }
  if (version == packed_format_version)
    return std::make_unique<PackedSource>(std::move(f), std::move(root), std::move(provenance));
  if (version == 1) {
    f.handle.reset();
    return std::make_unique<LegacySource>(path, read_results_header(path), std::move(provenance));
  }
  throw FileError(path, "results format version " + std::to_string(version) +
                            " is not supported (this ioca reads versions 1 and 2)");
}

// ---------------------------------------------------------------------------------------
// Compaction.

void compact(const std::string& path, const std::string& display_path, int rank, int ranks,
             std::vector<Placement> placements, const std::function<Record(const Placement&)>& read,
             const io::Attributes& root, const io::Attributes& provenance, std::uint64_t round_bytes,
             Storage storage) {
  // One contiguous run per rank, balanced by bytes (each task also counts a little, so
  // that tasks without values are spread too).
  long double total = 0;
  for (const auto& p : placements) total += static_cast<long double>(p.entry.size.bytes() + 256);
  long double before = 0;
  std::vector<std::vector<std::vector<std::size_t>>> rounds(static_cast<std::size_t>(ranks));
  std::uint64_t in_round = 0;
  int last_owner = -1;
  for (std::size_t i = 0; i < placements.size(); ++i) {
    auto& p = placements[i];
    const auto bytes = p.entry.size.bytes() + 256;
    p.entry.owner = std::min(ranks - 1, static_cast<int>(before * ranks / std::max(total, 1.0L)));
    before += static_cast<long double>(bytes);
    auto& mine = rounds[static_cast<std::size_t>(p.entry.owner)];
    if (p.entry.owner != last_owner || in_round + bytes > round_bytes) {
      mine.emplace_back();
      in_round = 0;
    }
    last_owner = p.entry.owner;
    mine.back().push_back(i);
    in_round += bytes;
  }
  std::size_t round_count = 0;
  for (const auto& r : rounds) round_count = std::max(round_count, r.size());

  // The file's string width: at least every task's (a version-2 source gives its own
  // file's width, an upper bound), the same on every rank.
  std::int64_t width = 0;
  for (const auto& p : placements) width = std::max(width, p.entry.size.string_width);
  // The keys move to the writer (one copy of them in memory, not two).
  std::vector<TaskEntry> entries;
  entries.reserve(placements.size());
  for (auto& p : placements) {
    entries.push_back({std::move(p.entry.key), p.entry.size, p.entry.owner});
    entries.back().size.string_width = width;
  }
  PackedWriter writer(path, display_path, rank, std::move(entries), storage);
  const auto& mine = rounds[static_cast<std::size_t>(rank)];
  for (std::size_t k = 0; k < round_count; ++k) {
    // Read in the order of the sources' rows (each file front to back, so neighbouring rows
    // share decompressed chunks), written in the new file's order.
    std::vector<std::size_t> order = k < mine.size() ? mine[k] : std::vector<std::size_t>{};
    std::vector<Record> records(order.size());
    std::vector<std::size_t> slot(order.size());
    for (std::size_t j = 0; j < order.size(); ++j) slot[j] = j;
    std::sort(slot.begin(), slot.end(), [&](std::size_t a, std::size_t b) {
      const Placement &x = placements[order[a]], &y = placements[order[b]];
      return std::tie(x.source, x.row) < std::tie(y.source, y.row);
    });
    for (std::size_t j : slot) records[j] = read(placements[order[j]]);
    std::vector<const Record*> pointers;
    for (const auto& r : records) pointers.push_back(&r);
    writer.write(pointers);
    release_memory();
  }
  writer.finish(root, provenance);
}

}  // namespace ioca::study
