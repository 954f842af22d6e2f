#pragma once
// A task's results as a list of HDF5 datasets and attributes (paths relative to the file's
// root), so that any rank can write them into the collective results file, ship them to
// other ranks as bytes, and read them back from a checkpoint.
#include <cstdint>
#include <string>
#include <vector>

#include "ioca/info.hpp"
#include "ioca/io.hpp"
#include "ioca/nn.hpp"

namespace ioca::study {

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
  io::AttributeValue value;
};

struct Record {
  std::string key;  // the task, e.g. "mnist-relu-64x64-s1/sweep/layer0/entropy"
  int owner = -1;   // rank that holds the data (not stored)
  std::vector<DatasetEntry> datasets;
  std::vector<AttributeEntry> attributes;

  template <class T>
  void add(const std::string& path, const std::vector<T>& v, std::vector<std::uint64_t> dims);
  void attribute(const std::string& path, const std::string& name, io::AttributeValue value) {
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

// The model and measures parts of a network's group, and back.
void add_model(Record& r, const std::string& prefix, const nn::Mlp& net,
               const io::Attributes& attributes);
nn::Mlp model_from_record(const Record& r, const std::string& prefix);
void add_measures(Record& r, const std::string& prefix, const info::Measures& m);
// Per-neuron quantities by name: layers[l][name] (only what ordering and ablation need).
info::Measures measures_from_record(const Record& r, const std::string& prefix, int hidden_layers);

}  // namespace ioca::study
