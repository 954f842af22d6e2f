#pragma once
// Results as a list of HDF5 datasets and attributes (absolute paths in the file): the one
// description of each file layout (io/layout.hpp), written to a serial file
// (write_record_file) or by every rank into the study's collective results file, shipped
// between ranks as bytes and read back from a checkpoint.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "ioca/io.hpp"

namespace ioca::io {

using Bytes = std::vector<char>;

enum class DType : std::uint8_t { f32 = 0, f64 = 1, i64 = 2, u8 = 3 };
std::size_t dtype_size(DType t);

struct DatasetEntry {
  std::string path;  // "/networks/x/model/layers/0/weight"
  DType type = DType::f64;
  std::vector<std::uint64_t> dims;
  std::uint64_t checksum = 0;  // FNV-1a of the data bytes
  Bytes data;                  // empty when only the layout is known (data on another rank)

  std::uint64_t elements() const;
  template <class T>
  std::vector<T> values() const {
    std::vector<T> out(data.size() / sizeof(T));
    std::copy(data.begin(), data.end(), reinterpret_cast<char*>(out.data()));
    return out;
  }
};

struct AttributeEntry {
  std::string path;  // group or dataset the attribute belongs to ("/" for the root)
  std::string name;
  AttributeValue value;
};

struct Record {
  std::string key;  // what it holds, e.g. a study task "mnist-relu-64x64-s1/sweep/layer0/entropy"
  int owner = -1;   // rank that holds the data (not stored)
  std::vector<DatasetEntry> datasets;
  std::vector<AttributeEntry> attributes;

  template <class T>
  void add(const std::string& path, const std::vector<T>& v, std::vector<std::uint64_t> dims);
  void attribute(const std::string& path, const std::string& name, AttributeValue value) {
    attributes.push_back({path, name, std::move(value)});
  }
  const DatasetEntry& find(const std::string& path) const;  // throws ioca::Error if absent
  bool has_data() const;
};

std::uint64_t checksum(const char* data, std::size_t n);

// Records as bytes (with or without the data), and back. Parsing checks every length and
// throws ioca::Error("...") on damaged input.
void serialize(const Record& r, bool with_data, Bytes& out);
std::vector<Record> deserialize_all(const Bytes& in, const std::string& what);

// Writes the record into a new serial HDF5 file, atomically (write_atomically): groups
// as the paths need them, datasets in their stored type, attributes ("/" is the root).
void write_record_file(const std::string& path, const Record& r);

// Group paths: the parent of "/a/b/c" is "/a/b" ("/" for "/a"); add_with_parents adds a
// path and every group above it (not "/"), so that groups can be created parents first.
std::string parent_of(const std::string& path);
void add_with_parents(std::set<std::string>& groups, std::string path);

}  // namespace ioca::io
