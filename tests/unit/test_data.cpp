// Data module: IDX and CIFAR-10 readers on generated files, every malformed-file error,
// load() by name, the seeded split, and synthetic data.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "ioca/core.hpp"
#include "ioca/data.hpp"
#include "test_helpers.hpp"

namespace fs = std::filesystem;
using ioca::data::Dataset;
using Bytes = std::vector<std::uint8_t>;

namespace {

using ioca::testing::TempDir;

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Deterministic byte patterns (no std:: distributions anywhere in ioca).
Bytes pattern(std::size_t n, std::uint64_t seed) {
  ioca::Rng rng(seed);
  Bytes b(n);
  for (auto& v : b) v = static_cast<std::uint8_t>(rng.next() >> 56);
  return b;
}

Bytes labels_pattern(std::size_t n, std::size_t classes) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 7 + 3) % classes);
  return b;
}

// An IDX header with arbitrary fields, for crafting malformed files.
Bytes idx_header(std::uint8_t type, std::vector<std::uint32_t> dims, std::uint8_t ndims = 0) {
  Bytes b = {0, 0, type, ndims != 0 ? ndims : static_cast<std::uint8_t>(dims.size())};
  for (const std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(d >> shift));
  }
  return b;
}

// Runs f, which must throw ioca::FileError for `path` whose message mentions every word.
template <class F>
void require_file_error(F&& f, const std::string& path, const std::vector<std::string>& words) {
  try {
    f();
  } catch (const ioca::FileError& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(e.path() == path);
    CHECK(what.rfind(path + ": ", 0) == 0);
    for (const auto& w : words) CHECK_THAT(what, Catch::Contains(w));
    return;
  }
  FAIL("no ioca::FileError thrown (expected one for " << path << ")");
}

void check_pixels(const Dataset& d, const Bytes& pixels) {
  REQUIRE(d.x.size() == pixels.size());
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    if (d.x[i] != static_cast<float>(pixels[i]) / 255.0f) {
      FAIL("pixel " << i << " is " << d.x[i] << ", expected " << int{pixels[i]} << "/255");
    }
  }
}

void check_labels(const Dataset& d, const Bytes& labels) {
  REQUIRE(d.y.size() == labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) REQUIRE(d.y[i] == labels[i]);
}

// A small MNIST-like set: count images of rows x cols.
struct IdxSet {
  Bytes pixels, labels;
  std::size_t count, rows, cols;
};
IdxSet make_idx_set(std::size_t count, std::size_t rows, std::size_t cols, std::uint64_t seed) {
  return {pattern(count * rows * cols, seed), labels_pattern(count, 10), count, rows, cols};
}
void write_idx_set(const IdxSet& s, const std::string& images, const std::string& labels,
                   bool gzip) {
  ioca::data::write_idx_images(images, s.pixels, s.count, s.rows, s.cols, gzip);
  ioca::data::write_idx_labels(labels, s.labels, gzip);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return ioca::testing::same_bytes(a, b);
}

// Sets or unsets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("IDX round trip, raw and gzipped, with exact scaling", "[data]") {
  TempDir tmp;
  IdxSet t = make_idx_set(5, 3, 4, 11);
  t.pixels.at(0) = 0;  // make sure both ends of the range are present
  t.pixels.at(1) = 255;

  for (const bool gzip : {false, true}) {
    DYNAMIC_SECTION("gzip " << gzip) {
      // Deliberately no ".gz" suffix: compression is detected from the content.
      const std::string images = tmp.file(gzip ? "images.bin" : "images");
      const std::string labels = tmp.file(gzip ? "labels.bin" : "labels");
      write_idx_set(t, images, labels, gzip);
      const Bytes head = read_bytes(images);
      if (gzip) {
        CHECK(head[0] == 0x1f);
        CHECK(head[1] == 0x8b);
      } else {
        CHECK(Bytes(head.begin(), head.begin() + 4) == Bytes{0, 0, 8, 3});
        CHECK(head.size() == 16 + 60);
      }
      const Dataset d = ioca::data::read_idx_pair(images, labels, "mnist");
      CHECK(d.name == "mnist");
      CHECK(d.samples == 5);
      CHECK(d.features == 12);
      CHECK(d.classes == 10);
      check_pixels(d, t.pixels);
      check_labels(d, t.labels);
      CHECK(d.x[0] == 0.0f);
      CHECK(d.x[1] == 1.0f);
      CHECK(d.row(2) == d.x.data() + 24);
    }
  }
}

TEST_CASE("read_maybe_gzipped: large files and concatenated gzip members", "[data]") {
  TempDir tmp;
  // ~1.5 MB of incompressible data: the output buffer must grow several times.
  const IdxSet big = make_idx_set(2000, 28, 28, 5);
  ioca::data::write_idx_images(tmp.file("a"), big.pixels, big.count, 28, 28, false);
  ioca::data::write_idx_images(tmp.file("a.gz"), big.pixels, big.count, 28, 28, true);
  const Bytes raw_a = read_bytes(tmp.file("a"));
  CHECK(ioca::data::read_maybe_gzipped(tmp.file("a")) == raw_a);
  CHECK(ioca::data::read_maybe_gzipped(tmp.file("a.gz")) == raw_a);

  // Highly compressible data: the first output guess is far too small.
  const Bytes zeros(3'000'000, 0);
  ioca::data::write_idx_labels(tmp.file("z.gz"), zeros, true);
  CHECK(ioca::data::read_maybe_gzipped(tmp.file("z.gz")).size() == 8 + zeros.size());

  ioca::data::write_idx_labels(tmp.file("b"), labels_pattern(77, 10), false);
  ioca::data::write_idx_labels(tmp.file("b.gz"), labels_pattern(77, 10), true);
  write_bytes(tmp.file("ab.gz"),
              concat(read_bytes(tmp.file("a.gz")), read_bytes(tmp.file("b.gz"))));
  CHECK(ioca::data::read_maybe_gzipped(tmp.file("ab.gz")) ==
        concat(raw_a, read_bytes(tmp.file("b"))));

  // An empty file is not gzip; it is read as zero bytes.
  write_bytes(tmp.file("empty"), {});
  CHECK(ioca::data::read_maybe_gzipped(tmp.file("empty")).empty());
}

TEST_CASE("corrupt gzip streams are FileErrors", "[data]") {
  TempDir tmp;
  const IdxSet s = make_idx_set(50, 8, 8, 9);
  ioca::data::write_idx_images(tmp.file("good.gz"), s.pixels, s.count, 8, 8, true);
  const Bytes gz = read_bytes(tmp.file("good.gz"));
  REQUIRE(gz.size() > 100);

  SECTION("damaged data") {
    Bytes bad = gz;
    for (std::size_t i = 40; i < 60; ++i) bad[i] = static_cast<std::uint8_t>(bad[i] ^ 0x5a);
    const std::string p = tmp.file("bad.gz");
    write_bytes(p, bad);
    require_file_error([&] { ioca::data::read_maybe_gzipped(p); }, p, {"corrupt gzip"});
  }
  SECTION("damaged checksum") {
    Bytes bad = gz;
    bad[bad.size() - 6] = static_cast<std::uint8_t>(bad[bad.size() - 6] ^ 1);  // CRC32 byte
    const std::string p = tmp.file("crc.gz");
    write_bytes(p, bad);
    require_file_error([&] { ioca::data::read_maybe_gzipped(p); }, p, {"corrupt gzip"});
  }
  SECTION("truncated stream") {
    const std::string p = tmp.file("cut.gz");
    write_bytes(p, Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
    require_file_error([&] { ioca::data::read_maybe_gzipped(p); }, p, {"truncated"});
    // Through the IDX reader too.
    ioca::data::write_idx_labels(tmp.file("l"), s.labels, false);
    require_file_error([&] { ioca::data::read_idx_pair(p, tmp.file("l"), "mnist"); }, p,
                       {"corrupt gzip"});
  }
  SECTION("only the magic") {
    const std::string p = tmp.file("magic.gz");
    write_bytes(p, {0x1f, 0x8b});
    require_file_error([&] { ioca::data::read_maybe_gzipped(p); }, p, {"gzip"});
  }
  SECTION("junk after the stream") {
    const std::string p = tmp.file("junk.gz");
    write_bytes(p, concat(gz, {1, 2, 3}));
    require_file_error([&] { ioca::data::read_maybe_gzipped(p); }, p, {"unexpected data"});
  }
}

TEST_CASE("malformed IDX files are FileErrors naming the file and the problem", "[data]") {
  TempDir tmp;
  const IdxSet s = make_idx_set(2, 3, 4, 1);
  const std::string good_images = tmp.file("good-images");
  const std::string good_labels = tmp.file("good-labels");
  write_idx_set(s, good_images, good_labels, false);
  const std::string p = tmp.file("bad");
  auto read_images = [&] { ioca::data::read_idx_pair(p, good_labels, "mnist"); };
  auto read_labels = [&] { ioca::data::read_idx_pair(good_images, p, "mnist"); };
  const Bytes body = s.pixels;  // 24 bytes, matches 2 x 3 x 4

  SECTION("missing file") {
    require_file_error(read_images, p, {"not found"});
    require_file_error(read_labels, p, {"not found"});
  }
  SECTION("a directory") {
    fs::create_directory(p);
    require_file_error(read_images, p, {"directory"});
  }
  SECTION("unreadable file") {
    write_idx_set(s, p, tmp.file("unused"), false);
    fs::permissions(p, fs::perms::none);
    // root can read anything; only check when the permission really bites.
    if (!std::ifstream(p)) require_file_error(read_images, p, {"cannot open"});
  }
  SECTION("wrong magic") {
    Bytes b = concat(idx_header(8, {2, 3, 4}), body);
    b[0] = 0x12;
    b[1] = 0x34;
    write_bytes(p, b);
    require_file_error(read_images, p, {"bad magic number 0x12340803", "not an IDX file"});
  }
  SECTION("too short for a header") {
    write_bytes(p, {0, 0, 8});
    require_file_error(read_images, p, {"truncated", "3 bytes"});
  }
  SECTION("header cut short") {
    write_bytes(p, {0, 0, 8, 3, 0, 0, 0, 2, 0});
    require_file_error(read_images, p, {"truncated", "needs 16 bytes", "has 9 bytes"});
  }
  SECTION("unsupported type code") {
    write_bytes(p, concat(idx_header(0x0d, {2, 3, 4}), body));
    require_file_error(read_images, p, {"unsupported type code 0x0d"});
    write_bytes(p, concat(idx_header(0x09, {2}), {1, 2}));
    require_file_error(read_labels, p, {"unsupported type code 0x09"});
  }
  SECTION("wrong number of dimensions") {
    // A label file given as the image file, and the other way round.
    require_file_error([&] { ioca::data::read_idx_pair(good_labels, good_labels, "mnist"); },
                       good_labels, {"dimensions", "1, expected 3"});
    require_file_error([&] { ioca::data::read_idx_pair(good_images, good_images, "mnist"); },
                       good_images, {"dimensions", "3, expected 1"});
    write_bytes(p, concat(idx_header(8, {2, 12}), body));
    require_file_error(read_images, p, {"dimensions", "2, expected 3"});
  }
  SECTION("truncated data") {
    write_bytes(p, concat(idx_header(8, {2, 3, 4}), Bytes(body.begin(), body.end() - 1)));
    require_file_error(read_images, p,
                       {"truncated", "header says 2 images of 3x4 (40 bytes)", "has 39 bytes"});
    write_bytes(p, concat(idx_header(8, {60000, 28, 28}), Bytes(984, 0)));
    require_file_error(
        read_images, p,
        {"truncated: header says 60000 images of 28x28 (47040016 bytes) but the file has 1000 "
         "bytes"});
    write_bytes(p, concat(idx_header(8, {3}), {1, 2}));
    require_file_error(read_labels, p, {"truncated", "3 labels"});
  }
  SECTION("trailing extra bytes") {
    write_bytes(p, concat(concat(idx_header(8, {2, 3, 4}), body), {0}));
    require_file_error(read_images, p, {"trailing", "41 bytes", "1 extra"});
    write_bytes(p, concat(idx_header(8, {2}), {1, 2, 3, 4}));
    require_file_error(read_labels, p, {"trailing", "2 extra"});
    // The same check on the content of a gzipped file: a valid image file followed by a
    // second gzip member (a label file of 8 + 2 bytes) has trailing data.
    ioca::data::write_idx_images(tmp.file("i.gz"), body, 2, 3, 4, true);
    ioca::data::write_idx_labels(tmp.file("l.gz"), {1, 2}, true);
    write_bytes(p, concat(read_bytes(tmp.file("i.gz")), read_bytes(tmp.file("l.gz"))));
    require_file_error(read_images, p, {"trailing", "10 extra"});
    write_bytes(p, read_bytes(tmp.file("i.gz")));
    CHECK_NOTHROW(read_images());
  }
  SECTION("zero dimensions") {
    write_bytes(p, idx_header(8, {0, 28, 28}));
    require_file_error(read_images, p, {"zero dimension", "0 images of 28x28"});
    write_bytes(p, idx_header(8, {2, 0, 4}));
    require_file_error(read_images, p, {"zero dimension"});
    write_bytes(p, idx_header(8, {0}));
    require_file_error(read_labels, p, {"zero dimension", "0 labels"});
  }
  SECTION("dimension product overflows") {
    write_bytes(p, concat(idx_header(8, {0xffffffffu, 0xffffffffu, 0xffffffffu}), body));
    require_file_error(read_images, p, {"overflow"});
  }
  SECTION("huge dimensions that fit are just truncated") {
    write_bytes(p, concat(idx_header(8, {0xffffffffu, 0xffffffffu, 1}), body));
    require_file_error(read_images, p, {"truncated"});
  }
  SECTION("label out of range") {
    ioca::data::write_idx_labels(p, {3, 10}, false);
    require_file_error(read_labels, p, {"label 10", "sample 1", "out of range"});
    ioca::data::write_idx_labels(p, {3, 4}, false);
    require_file_error([&] { ioca::data::read_idx_pair(good_images, p, "x", 4); }, p,
                       {"label 4", "out of range"});
  }
  SECTION("image and label counts differ") {
    ioca::data::write_idx_labels(p, {1, 2, 3}, true);
    require_file_error(read_labels, p, {"mismatch", "3 labels", good_images, "2 images"});
  }
}

TEST_CASE("CIFAR-10 batches round trip", "[data]") {
  TempDir tmp;
  const Bytes labels1 = {0, 9, 5};
  const Bytes labels2 = {3, 7};
  const Bytes pixels1 = pattern(3 * 3072, 21);
  const Bytes pixels2 = pattern(2 * 3072, 22);
  ioca::data::write_cifar10_batch(tmp.file("b1.bin"), labels1, pixels1);
  ioca::data::write_cifar10_batch(tmp.file("b2.bin"), labels2, pixels2);
  CHECK(fs::file_size(tmp.file("b1.bin")) == 3 * 3073);
  const Bytes raw = read_bytes(tmp.file("b1.bin"));
  CHECK(raw[0] == 0);
  CHECK(raw[3073] == 9);
  CHECK(raw[1] == pixels1[0]);

  const Dataset d = ioca::data::read_cifar10({tmp.file("b1.bin"), tmp.file("b2.bin")});
  CHECK(d.name == "cifar10");
  CHECK(d.samples == 5);
  CHECK(d.features == 3072);
  CHECK(d.classes == 10);
  check_labels(d, concat(labels1, labels2));
  // Channel-major exactly as stored: feature j of record r is byte 1 + j of the record.
  check_pixels(d, concat(pixels1, pixels2));
}

TEST_CASE("load() finds CIFAR-10 in both directory layouts", "[data]") {
  TempDir tmp;
  for (const bool nested : {false, true}) {
    DYNAMIC_SECTION("nested " << nested) {
      const fs::path dir = nested ? tmp.path() / "cifar-10-batches-bin" : tmp.path();
      fs::create_directories(dir);
      Bytes all_labels, all_pixels;
      for (int b = 1; b <= 5; ++b) {
        const Bytes labels = {static_cast<std::uint8_t>(b), static_cast<std::uint8_t>(9 - b)};
        const Bytes pixels = pattern(2 * 3072, static_cast<std::uint64_t>(100 + b));
        ioca::data::write_cifar10_batch(
            (dir / ("data_batch_" + std::to_string(b) + ".bin")).string(), labels, pixels);
        all_labels = concat(all_labels, labels);
        all_pixels = concat(all_pixels, pixels);
      }
      const Bytes test_labels = {0, 1, 2};
      const Bytes test_pixels = pattern(3 * 3072, 200);
      ioca::data::write_cifar10_batch((dir / "test_batch.bin").string(), test_labels, test_pixels);

      ioca::data::LoadOptions opt;
      opt.dataset = "cifar10";
      opt.data_dir = tmp.path().string();  // always the outer directory
      opt.validation_size = 3;
      opt.split_seed = 42;
      const ioca::data::Splits s = ioca::data::load(opt);
      CHECK(s.train.samples == 7);
      CHECK(s.validation.samples == 3);
      CHECK(s.test.samples == 3);
      for (const Dataset* d : {&s.train, &s.validation, &s.test}) {
        CHECK(d->name == "cifar10");
        CHECK(d->features == 3072);
        CHECK(d->classes == 10);
      }
      check_labels(s.test, test_labels);
      check_pixels(s.test, test_pixels);

      // The splits are the documented subsets of the concatenated batches.
      const Dataset full = ioca::data::read_cifar10(
          {(dir / "data_batch_1.bin").string(), (dir / "data_batch_2.bin").string(),
           (dir / "data_batch_3.bin").string(), (dir / "data_batch_4.bin").string(),
           (dir / "data_batch_5.bin").string()});
      check_labels(full, all_labels);
      check_pixels(full, all_pixels);
      std::vector<std::size_t> train, validation;
      ioca::data::split_indices(10, 3, 42, train, validation);
      CHECK(same_bits(s.train.x, full.subset(train).x));
      CHECK(s.train.y == full.subset(train).y);
      CHECK(same_bits(s.validation.x, full.subset(validation).x));
      CHECK(s.validation.y == full.subset(validation).y);

      opt.validation_size = 10;
      REQUIRE_THROWS_AS(ioca::data::load(opt), ioca::Error);
      REQUIRE_THROWS_WITH(ioca::data::load(opt),
                          Catch::Contains("10") && Catch::Contains("smaller"));

      // A missing later batch names that batch.
      fs::remove(dir / "data_batch_4.bin");
      opt.validation_size = 1;
      require_file_error([&] { ioca::data::load(opt); }, (dir / "data_batch_4.bin").string(),
                         {"missing", "setup.sh"});
    }
  }
}

TEST_CASE("malformed CIFAR-10 batches are FileErrors", "[data]") {
  TempDir tmp;
  const std::string p = tmp.file("batch.bin");
  const Bytes pixels = pattern(2 * 3072, 1);
  ioca::data::write_cifar10_batch(p, {1, 2}, pixels);
  const Bytes good = read_bytes(p);

  SECTION("truncated") {
    write_bytes(p, Bytes(good.begin(), good.end() - 5));
    require_file_error([&] { ioca::data::read_cifar10({p}); }, p,
                       {"truncated", "6141 bytes", "whole number"});
  }
  SECTION("extra bytes") {
    write_bytes(p, concat(good, {0}));
    require_file_error([&] { ioca::data::read_cifar10({p}); }, p, {"whole number"});
  }
  SECTION("empty") {
    write_bytes(p, {});
    require_file_error([&] { ioca::data::read_cifar10({p}); }, p, {"empty"});
  }
  SECTION("label 10") {
    Bytes bad = good;
    bad[3073] = 10;
    write_bytes(p, bad);
    require_file_error([&] { ioca::data::read_cifar10({p}); }, p,
                       {"label 10", "record 1", "out of range"});
  }
  SECTION("missing file, also as a later batch") {
    const std::string missing = tmp.file("nope.bin");
    require_file_error([&] { ioca::data::read_cifar10({missing}); }, missing, {"not found"});
    require_file_error([&] { ioca::data::read_cifar10({p, missing}); }, missing, {"not found"});
  }
  SECTION("load() with no batches anywhere") {
    ioca::data::LoadOptions opt;
    opt.dataset = "cifar10";
    opt.data_dir = tmp.path().string();
    const std::string flat = tmp.file("data_batch_1.bin");
    require_file_error([&] { ioca::data::load(opt); }, flat,
                       {"looked for", "cifar-10-batches-bin", "setup.sh", "--data-dir"});
  }
}

TEST_CASE("load() reads MNIST-style gzipped IDX files", "[data]") {
  TempDir tmp;
  const IdxSet train = make_idx_set(20, 5, 6, 31);
  const IdxSet test = make_idx_set(7, 5, 6, 32);
  write_idx_set(train, tmp.file("train-images-idx3-ubyte.gz"),
                tmp.file("train-labels-idx1-ubyte.gz"), true);
  write_idx_set(test, tmp.file("t10k-images-idx3-ubyte.gz"), tmp.file("t10k-labels-idx1-ubyte.gz"),
                true);

  ioca::data::LoadOptions opt;
  opt.dataset = "fashion-mnist";
  opt.data_dir = tmp.path().string();
  opt.validation_size = 5;
  opt.split_seed = 3;
  const ioca::data::Splits s = ioca::data::load(opt);
  CHECK(s.train.samples == 15);
  CHECK(s.validation.samples == 5);
  CHECK(s.test.samples == 7);
  for (const Dataset* d : {&s.train, &s.validation, &s.test}) {
    CHECK(d->name == "fashion-mnist");
    CHECK(d->features == 30);
    CHECK(d->classes == 10);
    CHECK(d->x.size() == d->samples * 30);
    CHECK(d->y.size() == d->samples);
  }
  check_pixels(s.test, test.pixels);
  check_labels(s.test, test.labels);

  std::vector<std::size_t> train_idx, validation_idx;
  ioca::data::split_indices(20, 5, 3, train_idx, validation_idx);
  for (std::size_t k = 0; k < validation_idx.size(); ++k) {
    const std::size_t i = validation_idx[k];
    CHECK(s.validation.y[k] == train.labels[i]);
    CHECK(s.validation.row(k)[0] == static_cast<float>(train.pixels[i * 30]) / 255.0f);
  }
  for (std::size_t k = 0; k < train_idx.size(); ++k) {
    const std::size_t i = train_idx[k];
    CHECK(s.train.y[k] == train.labels[i]);
    CHECK(s.train.row(k)[29] == static_cast<float>(train.pixels[i * 30 + 29]) / 255.0f);
  }

  SECTION("validation_size 0 gives an empty validation set") {
    opt.validation_size = 0;
    opt.dataset = "mnist";
    const ioca::data::Splits z = ioca::data::load(opt);
    CHECK(z.train.samples == 20);
    check_pixels(z.train, train.pixels);
    CHECK(z.validation.samples == 0);
    CHECK(z.validation.x.empty());
    CHECK(z.validation.features == 30);
    CHECK(z.validation.classes == 10);
    CHECK(z.validation.name == "mnist");
  }
  SECTION("validation_size too large") {
    opt.validation_size = 20;
    REQUIRE_THROWS_AS(ioca::data::load(opt), ioca::Error);
    REQUIRE_THROWS_WITH(ioca::data::load(opt), Catch::Contains("20 must be smaller than the 20"));
  }
  SECTION("a raw file is preferred over its .gz") {
    const IdxSet other = make_idx_set(7, 5, 6, 99);
    ioca::data::write_idx_images(tmp.file("t10k-images-idx3-ubyte"), other.pixels, 7, 5, 6, false);
    const ioca::data::Splits r = ioca::data::load(opt);
    check_pixels(r.test, other.pixels);
  }
  SECTION("a missing file says which names were looked for") {
    fs::remove(tmp.file("t10k-labels-idx1-ubyte.gz"));
    const std::string raw = tmp.file("t10k-labels-idx1-ubyte");
    require_file_error([&] { ioca::data::load(opt); }, raw,
                       {"looked for " + raw + " and " + raw + ".gz", "./setup.sh", "--data-dir"});
  }
  SECTION("test images of another size") {
    const IdxSet other = make_idx_set(7, 6, 6, 99);
    ioca::data::write_idx_images(tmp.file("t10k-images-idx3-ubyte.gz"), other.pixels, 7, 6, 6,
                                 true);
    require_file_error([&] { ioca::data::load(opt); }, tmp.file("t10k-images-idx3-ubyte.gz"),
                       {"36 pixels", "30"});
  }
}

TEST_CASE("data set names and the default data directory", "[data]") {
  for (const char* name : {"mnist", "fashion-mnist", "cifar10", "synthetic"}) {
    CHECK_NOTHROW(ioca::data::check_dataset_name(name));
  }
  REQUIRE_THROWS_AS(ioca::data::check_dataset_name("cifar100"), ioca::Error);
  REQUIRE_THROWS_WITH(ioca::data::check_dataset_name("MNIST"),
                      Catch::Contains("MNIST") && Catch::Contains("fashion-mnist"));
  ioca::data::LoadOptions opt;
  opt.dataset = "svhn";
  REQUIRE_THROWS_WITH(ioca::data::load(opt), Catch::Contains("unknown data set 'svhn'"));
  {
    ScopedEnv env("IOCA_DATA", nullptr);
    CHECK(ioca::data::default_data_dir("mnist") == "data/mnist");
  }
  {
    ScopedEnv env("IOCA_DATA", "/scratch/me/datasets");
    CHECK(ioca::data::default_data_dir("cifar10") == "/scratch/me/datasets/cifar10");
  }
}

TEST_CASE("split_indices is a seeded partition", "[data]") {
  std::vector<std::size_t> train, validation;
  ioca::data::split_indices(1000, 300, 5, train, validation);
  REQUIRE(train.size() == 700);
  REQUIRE(validation.size() == 300);
  CHECK(std::is_sorted(train.begin(), train.end()));
  CHECK(std::is_sorted(validation.begin(), validation.end()));
  std::vector<std::size_t> all = train;
  all.insert(all.end(), validation.begin(), validation.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == i);  // disjoint and covering
  // Not simply the first or last indices.
  CHECK(validation.front() < 100);
  CHECK(validation.back() > 900);

  // Exactly the documented recipe.
  std::vector<std::size_t> perm(1000);
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
  ioca::Rng rng(ioca::derive_seed(5, {ioca::hash_name("split")}));
  ioca::shuffle(perm, rng);
  std::vector<std::size_t> expected(perm.begin(), perm.begin() + 300);
  std::sort(expected.begin(), expected.end());
  CHECK(validation == expected);

  std::vector<std::size_t> train2, validation2;
  ioca::data::split_indices(1000, 300, 5, train2, validation2);
  CHECK(train2 == train);
  CHECK(validation2 == validation);
  ioca::data::split_indices(1000, 300, 6, train2, validation2);
  CHECK(validation2 != validation);

  ioca::data::split_indices(10, 0, 5, train2, validation2);
  CHECK(validation2.empty());
  CHECK(train2 == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  REQUIRE_THROWS_AS(ioca::data::split_indices(10, 11, 5, train2, validation2), ioca::Error);
}

TEST_CASE("Dataset::subset keeps the given order", "[data]") {
  Dataset d;
  d.name = "x";
  d.samples = 4;
  d.features = 2;
  d.classes = 3;
  d.x = {0, 1, 10, 11, 20, 21, 30, 31};
  d.y = {0, 1, 2, 0};
  const Dataset s = d.subset({3, 0, 3});
  CHECK(s.name == "x");
  CHECK(s.samples == 3);
  CHECK(s.features == 2);
  CHECK(s.classes == 3);
  CHECK(s.x == std::vector<float>{30, 31, 0, 1, 30, 31});
  CHECK(s.y == std::vector<std::int32_t>{0, 0, 0});
  CHECK(d.subset({}).samples == 0);
  CHECK_THROWS(d.subset({4}));
}

TEST_CASE("synthetic data is seeded, in range and learnable", "[data]") {
  ioca::data::SyntheticSpec spec;
  const ioca::data::Splits a = ioca::data::make_synthetic(spec);
  const ioca::data::Splits b = ioca::data::make_synthetic(spec);
  CHECK(a.train.name == "synthetic");
  CHECK(a.test.name == "synthetic");
  CHECK(a.train.samples == spec.train_samples);
  CHECK(a.test.samples == spec.test_samples);
  CHECK(a.train.features == 64);
  CHECK(a.train.classes == 10);
  CHECK(a.train.x.size() == a.train.samples * 64);
  CHECK(same_bits(a.train.x, b.train.x));
  CHECK(same_bits(a.test.x, b.test.x));
  CHECK(a.train.y == b.train.y);
  CHECK(a.test.y == b.test.y);
  CHECK_FALSE(same_bits(std::vector<float>(a.train.x.begin(), a.train.x.begin() + 1000),
                        std::vector<float>(a.test.x.begin(), a.test.x.begin() + 1000)));

  spec.seed = 8;
  const ioca::data::Splits c = ioca::data::make_synthetic(spec);
  CHECK_FALSE(same_bits(a.train.x, c.train.x));
  CHECK(a.train.y != c.train.y);

  for (const Dataset* d : {&a.train, &a.test}) {
    const auto [lo, hi] = std::minmax_element(d->x.begin(), d->x.end());
    CHECK(*lo >= 0.0f);
    CHECK(*hi <= 1.0f);
    std::vector<int> count(10, 0);
    for (const auto y : d->y) {
      REQUIRE(y >= 0);
      REQUIRE(y < 10);
      ++count[static_cast<std::size_t>(y)];
    }
    for (const int n : count) CHECK(n > 0);
  }

  // Learnable: nearest class mean (from the training set) classifies most test samples.
  std::vector<double> mean(10 * 64, 0.0);
  std::vector<double> n(10, 0.0);
  for (std::size_t i = 0; i < a.train.samples; ++i) {
    const auto y = static_cast<std::size_t>(a.train.y[i]);
    n[y] += 1;
    for (std::size_t j = 0; j < 64; ++j) mean[y * 64 + j] += a.train.row(i)[j];
  }
  for (std::size_t k = 0; k < mean.size(); ++k) mean[k] /= n[k / 64];
  std::size_t correct = 0;
  for (std::size_t i = 0; i < a.test.samples; ++i) {
    std::size_t best = 0;
    double best_d = INFINITY;
    for (std::size_t c2 = 0; c2 < 10; ++c2) {
      double dist = 0;
      for (std::size_t j = 0; j < 64; ++j) {
        const double t = a.test.row(i)[j] - mean[c2 * 64 + j];
        dist += t * t;
      }
      if (dist < best_d) {
        best_d = dist;
        best = c2;
      }
    }
    if (best == static_cast<std::size_t>(a.test.y[i])) ++correct;
  }
  CHECK(static_cast<double>(correct) / static_cast<double>(a.test.samples) > 0.85);

  SECTION("through load(), with a validation split") {
    ioca::data::LoadOptions opt;
    opt.dataset = "synthetic";
    opt.data_dir = "/nonexistent";  // ignored
    opt.validation_size = 1000;
    opt.synthetic = ioca::data::SyntheticSpec{};
    const ioca::data::Splits s = ioca::data::load(opt);
    CHECK(s.train.samples == 5000);
    CHECK(s.validation.samples == 1000);
    CHECK(same_bits(s.test.x, a.test.x));
    CHECK(s.validation.name == "synthetic");
  }
  SECTION("bad specs are user errors") {
    ioca::data::SyntheticSpec bad;
    bad.classes = 1;
    CHECK_THROWS_AS(ioca::data::make_synthetic(bad), ioca::Error);
    bad = {};
    bad.features = 0;
    CHECK_THROWS_AS(ioca::data::make_synthetic(bad), ioca::Error);
    bad = {};
    bad.noise = -1;
    CHECK_THROWS_AS(ioca::data::make_synthetic(bad), ioca::Error);
  }
}
