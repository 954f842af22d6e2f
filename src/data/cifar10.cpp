// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ioca/core.hpp"
#include "ioca/data.hpp"

namespace ioca::data {
namespace {

constexpr std::size_t cifar_features = 3 * 32 * 32;
constexpr std::size_t record_size = 1 + cifar_features;
constexpr int cifar_classes = 10;

}  // namespace

Dataset read_cifar10(const std::vector<std::string>& batch_paths) {
  if (batch_paths.empty()) throw std::invalid_argument("read_cifar10: no batch files given");
  Dataset d;
  d.name = "cifar10";
  d.features = cifar_features;
  d.classes = cifar_classes;
  // Reserve from the file sizes to avoid regrowing ~600 MB per batch (a hint only).
  std::size_t expected_records = 0;
  for (const auto& path : batch_paths) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec) expected_records += static_cast<std::size_t>(size) / record_size;
  }
  reserve_large(d.x, expected_records * cifar_features);
  d.y.reserve(expected_records);
  for (const auto& path : batch_paths) {
    // Also accepts a gzipped batch: a record starts with a label 0..9, never the gzip magic.
    const std::vector<std::uint8_t> bytes = read_maybe_gzipped(path);
    const std::string format = " is not a positive whole number of " + std::to_string(record_size) +
                               "-byte records (1 label byte + 3072 pixel bytes)";
    if (bytes.empty()) throw FileError(path, "empty file: 0 bytes" + format);
    if (bytes.size() % record_size != 0) {
      throw FileError(path, "truncated or not a CIFAR-10 batch: " + std::to_string(bytes.size()) +
                                " bytes" + format);
    }
    const std::size_t records = bytes.size() / record_size;
    const std::size_t first = d.samples;
    d.samples += records;
    d.x.resize(d.samples * d.features);
    d.y.resize(d.samples);
    for (std::size_t r = 0; r < records; ++r) {
      const std::uint8_t* rec = bytes.data() + r * record_size;
      if (rec[0] >= cifar_classes) {
        throw FileError(path, "label " + std::to_string(rec[0]) + " of record " +
                                  std::to_string(r) + " is out of range (expected 0..9)");
      }
      d.y[first + r] = rec[0];
      float* row = d.x.data() + (first + r) * d.features;
      for (std::size_t j = 0; j < cifar_features; ++j) {
        row[j] = static_cast<float>(rec[1 + j]) / 255.0f;
      }
    }
  }
  return d;
}

void write_cifar10_batch(const std::string& path, const std::vector<std::uint8_t>& labels,
                         const std::vector<std::uint8_t>& pixels) {
  if (pixels.size() != labels.size() * cifar_features) {
    throw std::invalid_argument("write_cifar10_batch: pixels.size() != 3072 * labels.size()");
  }
  std::vector<std::uint8_t> out;
  out.reserve(labels.size() * record_size);
  for (std::size_t r = 0; r < labels.size(); ++r) {
    out.push_back(labels[r]);
    const auto begin = pixels.begin() + static_cast<std::ptrdiff_t>(r * cifar_features);
    out.insert(out.end(), begin, begin + static_cast<std::ptrdiff_t>(cifar_features));
  }
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  errno = 0;
  std::unique_ptr<std::FILE, Closer> f(std::fopen(path.c_str(), "wb"));
  if (!f) throw FileError(path, std::string("cannot create: ") + std::strerror(errno));
  if (std::fwrite(out.data(), 1, out.size(), f.get()) != out.size() ||
      std::fclose(f.release()) != 0) {
    throw FileError(path, "write failed");
  }
}

}  // namespace ioca::data
