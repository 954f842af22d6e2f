// Loading data sets by name, and the seeded train/validation split.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ioca/core.hpp"
#include "ioca/data.hpp"

namespace ioca::data {
namespace {

namespace fs = std::filesystem;

const char* const setup_hint =
    "run ./setup.sh to download the data sets, or point --data-dir (or IOCA_DATA) at them";

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// An IDX file either raw or with ".gz" appended; the raw one wins when both exist.
std::string find_idx_file(const fs::path& dir, const std::string& name) {
  const fs::path raw = dir / name;
  const fs::path gz = dir / (name + ".gz");
  if (is_file(raw)) return raw.string();
  if (is_file(gz)) return gz.string();
  throw FileError(raw.string(), "missing data file: looked for " + raw.string() + " and " +
                                    gz.string() + "; " + setup_hint);
}

// MNIST and Fashion-MNIST. All four files are located before any is read, so a missing
// one is reported at once (images before labels, train before test).
Splits load_idx(const fs::path& dir, const std::string& name) {
  const std::string train_images = find_idx_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = find_idx_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = find_idx_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = find_idx_file(dir, "t10k-labels-idx1-ubyte");
  Splits s;
  s.train = read_idx_pair(train_images, train_labels, name, 10);
  s.test = read_idx_pair(test_images, test_labels, name, 10);
  if (s.test.features != s.train.features) {
    throw FileError(test_images, "test images have " + std::to_string(s.test.features) +
                                     " pixels each but the training images in " + train_images +
                                     " have " + std::to_string(s.train.features));
  }
  return s;
}

Splits load_cifar10(const fs::path& dir) {
  // Either the batches themselves, or the folder the official tarball unpacks to.
  const fs::path nested = dir / "cifar-10-batches-bin";
  fs::path base;
  if (is_file(dir / "data_batch_1.bin")) {
    base = dir;
  } else if (is_file(nested / "data_batch_1.bin")) {
    base = nested;
  } else {
    throw FileError((dir / "data_batch_1.bin").string(),
                    "missing data file: looked for " + (dir / "data_batch_1.bin").string() +
                        " and " + (nested / "data_batch_1.bin").string() + "; " + setup_hint);
  }
  std::vector<std::string> train_paths;
  for (int i = 1; i <= 5; ++i) {
    train_paths.push_back((base / ("data_batch_" + std::to_string(i) + ".bin")).string());
  }
  const std::string test_path = (base / "test_batch.bin").string();
  for (const auto& p : train_paths) {
    if (!is_file(p)) throw FileError(p, std::string("missing data file; ") + setup_hint);
  }
  if (!is_file(test_path))
    throw FileError(test_path, std::string("missing data file; ") + setup_hint);
  Splits s;
  s.train = read_cifar10(train_paths);
  s.test = read_cifar10({test_path});
  return s;
}

}  // namespace

Dataset Dataset::subset(const std::vector<std::size_t>& indices) const {
  Dataset d;
  d.name = name;
  d.features = features;
  d.classes = classes;
  d.samples = indices.size();
  reserve_large(d.x, d.samples * features);  // appended row by row: no pass of zeros first
  d.y.reserve(d.samples);
  for (const std::size_t i : indices) {
    if (i >= samples) throw std::out_of_range("Dataset::subset: index out of range");
    d.x.insert(d.x.end(), row(i), row(i) + features);
    d.y.push_back(y[i]);
  }
  return d;
}

std::string default_data_dir(const std::string& dataset) {
  const char* env = std::getenv("IOCA_DATA");
  const fs::path base = (env != nullptr && *env != '\0') ? fs::path(env) : fs::path("data");
  return (base / dataset).string();
}

void check_dataset_name(const std::string& dataset) {
  if (dataset == "mnist" || dataset == "fashion-mnist" || dataset == "cifar10" ||
      dataset == "synthetic") {
    return;
  }
  throw Error("unknown data set '" + dataset +
              "' (expected mnist, fashion-mnist, cifar10 or synthetic)");
}

void split_indices(std::size_t n, std::size_t validation_size, std::uint64_t split_seed,
                   std::vector<std::size_t>& train, std::vector<std::size_t>& validation) {
  if (validation_size > n) {
    throw Error("validation size " + std::to_string(validation_size) + " exceeds the " +
                std::to_string(n) + " training samples");
  }
  std::vector<std::size_t> perm(n);
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  Rng rng(derive_seed(split_seed, {hash_name("split")}));
  shuffle(perm, rng);
  const auto cut = perm.begin() + static_cast<std::ptrdiff_t>(validation_size);
  validation.assign(perm.begin(), cut);
  train.assign(cut, perm.end());
  std::sort(validation.begin(), validation.end());
  std::sort(train.begin(), train.end());
}

Splits load(const LoadOptions& options) {
  check_dataset_name(options.dataset);
  Splits full;
  if (options.dataset == "synthetic") {
    full = make_synthetic(options.synthetic);
  } else {
    const fs::path dir =
        options.data_dir.empty() ? default_data_dir(options.dataset) : options.data_dir;
    if (options.dataset == "cifar10") {
      full = load_cifar10(dir);
    } else {
      full = load_idx(dir, options.dataset);
    }
  }

  const std::size_t n = full.train.samples;
  if (options.validation_size >= n) {
    throw Error("validation size " + std::to_string(options.validation_size) +
                " must be smaller than the " + std::to_string(n) + " training samples of " +
                options.dataset + "; choose a smaller validation size");
  }
  std::vector<std::size_t> train_idx;
  std::vector<std::size_t> validation_idx;
  split_indices(n, options.validation_size, options.split_seed, train_idx, validation_idx);

  Splits s;
  s.validation = full.train.subset(validation_idx);
  // The train split in place: train_idx is increasing, so row k moves down from a row
  // >= k. This avoids a second copy of the largest array (the unused tail is not freed:
  // shrink_to_fit would copy it all again).
  Dataset& train = full.train;
  for (std::size_t k = 0; k < train_idx.size(); ++k) {
    const std::size_t i = train_idx[k];
    if (i != k) {
      std::copy_n(train.x.begin() + static_cast<std::ptrdiff_t>(i * train.features), train.features,
                  train.x.begin() + static_cast<std::ptrdiff_t>(k * train.features));
      train.y[k] = train.y[i];
    }
  }
  train.samples = train_idx.size();
  train.x.resize(train.samples * train.features);
  train.y.resize(train.samples);
  s.train = std::move(train);
  s.test = std::move(full.test);
  return s;
}

}  // namespace ioca::data
