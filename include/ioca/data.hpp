#pragma once
// Data sets: IDX (MNIST, Fashion-MNIST; raw or gzipped), CIFAR-10 binary batches, a seeded
// synthetic set, and the seeded train/validation split. Pixels are scaled to [0, 1] and
// flattened row-major (CIFAR-10: channel-major, as stored in its files).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ioca::data {

struct Dataset {
  std::string name;  // "mnist", "fashion-mnist", "cifar10", "synthetic"
  std::size_t samples = 0;
  std::size_t features = 0;
  int classes = 0;
  std::vector<float> x;         // [samples, features], row-major
  std::vector<std::int32_t> y;  // [samples], each in [0, classes)

  const float* row(std::size_t i) const { return x.data() + i * features; }
  // Samples at the given indices, in that order.
  Dataset subset(const std::vector<std::size_t>& indices) const;
};

// The official training set cut into train and validation, and the official test set.
struct Splits {
  Dataset train;
  Dataset validation;
  Dataset test;
};

// --- Readers. Every malformed file throws ioca::FileError naming the file and the problem.

// An IDX image file (magic 0x00000803, unsigned byte) and its label file (0x00000801).
// Either may be gzipped (detected from the content, not the name).
Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path,
                      const std::string& name, int classes = 10);

// Raw bytes of a file, gunzipped when it starts with the gzip magic.
std::vector<std::uint8_t> read_maybe_gzipped(const std::string& path);

// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes of
// 32x32). The file size must be a whole number of records.
Dataset read_cifar10(const std::vector<std::string>& batch_paths);

// Writers, used by the tests to make small files in the real formats.
void write_idx_images(const std::string& path, const std::vector<std::uint8_t>& pixels,
                      std::size_t count, std::size_t rows, std::size_t cols, bool gzip);
void write_idx_labels(const std::string& path, const std::vector<std::uint8_t>& labels, bool gzip);
void write_cifar10_batch(const std::string& path, const std::vector<std::uint8_t>& labels,
                         const std::vector<std::uint8_t>& pixels);

// --- Synthetic data: class-dependent Gaussian blobs in [0, 1]^features, seeded.
struct SyntheticSpec {
  std::size_t train_samples = 6000;
  std::size_t test_samples = 2000;
  std::size_t features = 64;
  int classes = 10;
  double noise = 0.35;  // standard deviation around each class centre (about 96% reachable)
  std::uint64_t seed = 7;
};
// Returns the official-style pair: {training set, test set}.
Splits make_synthetic(const SyntheticSpec& spec);

// --- Loading by name.
struct LoadOptions {
  std::string dataset = "mnist";  // mnist | fashion-mnist | cifar10 | synthetic
  std::string data_dir;           // empty: default_data_dir(dataset)
  std::size_t validation_size = 10000;
  std::uint64_t split_seed = 0;
  SyntheticSpec synthetic;
};

// $IOCA_DATA/<dataset>, or data/<dataset> when IOCA_DATA is unset.
std::string default_data_dir(const std::string& dataset);

// Throws ioca::Error for an unknown data set name.
void check_dataset_name(const std::string& dataset);

// Loads the data set and splits its training set: a seeded permutation (split_seed) of the
// training indices; the first validation_size of it form the validation split (kept in
// increasing index order), the rest the train split (in increasing index order).
// validation_size must be smaller than the training set.
Splits load(const LoadOptions& options);

// The split itself, exposed for tests: indices of {train, validation}.
void split_indices(std::size_t n, std::size_t validation_size, std::uint64_t split_seed,
                   std::vector<std::size_t>& train, std::vector<std::size_t>& validation);

}  // namespace ioca::data
