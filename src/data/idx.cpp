// IDX files (MNIST, Fashion-MNIST), raw or gzipped, and the gzip layer shared by all readers.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ioca/core.hpp"
#include "ioca/data.hpp"

namespace ioca::data {
namespace {

constexpr std::uint32_t images_magic = 0x00000803;
constexpr std::uint32_t labels_magic = 0x00000801;
constexpr std::uint8_t type_unsigned_byte = 0x08;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string hex(std::uint32_t value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, value);
  return buf;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw FileError(path, "is a directory, not a file");
  errno = 0;
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    if (errno == ENOENT) throw FileError(path, "file not found");
    throw FileError(path, std::string("cannot open: ") + std::strerror(errno));
  }
  // Read the size the file claims in one go, then keep reading until EOF in case it grew
  // or the size was unknown (a pipe).
  std::vector<std::uint8_t> bytes;
  const auto claimed = std::filesystem::file_size(path, ec);
  std::size_t want = ec ? std::size_t{1} << 20 : static_cast<std::size_t>(claimed) + 1;
  for (;;) {
    const std::size_t old = bytes.size();
    bytes.resize(old + want);
    const std::size_t got = std::fread(bytes.data() + old, 1, want, f.get());
    bytes.resize(old + got);
    if (got < want) break;
    want = std::max(want, std::size_t{1} << 20);
  }
  if (std::ferror(f.get())) throw FileError(path, "read error");
  return bytes;
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  errno = 0;
  FilePtr f(std::fopen(path.c_str(), "wb"));
  if (!f) throw FileError(path, std::string("cannot create: ") + std::strerror(errno));
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size() ||
      std::fclose(f.release()) != 0) {
    throw FileError(path, "write failed");
  }
}

bool is_gzip(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// Decompresses one or more concatenated gzip members (as `gzip -d` does).
std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& in, const std::string& path) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw std::bad_alloc();
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};

  // First output size: the trailer's ISIZE (size mod 2^32 of the last member) when it is
  // plausible, but never more than 8x the input, since a damaged file's "ISIZE" is noise and
  // must not trigger a huge allocation. The buffer doubles as needed.
  const std::size_t cap = in.size() * 8 + (std::size_t{1} << 16);
  std::size_t guess = in.size() * 4;
  if (in.size() >= 18) {
    const std::size_t n = in.size();
    const std::size_t isize = std::size_t{in[n - 4]} | std::size_t{in[n - 3]} << 8 |
                              std::size_t{in[n - 2]} << 16 | std::size_t{in[n - 1]} << 24;
    if (isize >= n / 2) guess = isize;
  }
  std::vector<std::uint8_t> out(std::min(guess, cap) + 1);  // +1: no regrow just to see the end

  // zlib counts in uInt: feed input and output in pieces so files over 4 GiB work.
  constexpr std::size_t max_piece = std::numeric_limits<uInt>::max();
  std::size_t in_pos = 0;
  std::size_t out_pos = 0;
  for (;;) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      const std::size_t piece = std::min(in.size() - in_pos, max_piece);
      zs.next_in = const_cast<Bytef*>(in.data() + in_pos);  // zlib's API is not const-correct
      zs.avail_in = static_cast<uInt>(piece);
      in_pos += piece;
    }
    if (out_pos == out.size()) out.resize(out.size() * 2);
    const std::size_t out_piece = std::min(out.size() - out_pos, max_piece);
    zs.next_out = out.data() + out_pos;
    zs.avail_out = static_cast<uInt>(out_piece);

    const int rc = inflate(&zs, Z_NO_FLUSH);
    out_pos += out_piece - zs.avail_out;
    if (rc == Z_STREAM_END) {
      const std::size_t rest = zs.avail_in + (in.size() - in_pos);
      if (rest == 0) break;
      // Another member follows, or trailing junk we refuse rather than silently ignore.
      const std::uint8_t* next = zs.next_in;
      if (zs.avail_in == 0) next = in.data() + in_pos;
      if (rest < 2 || next[0] != 0x1f || next[1] != 0x8b) {
        throw FileError(path, "corrupt gzip file: " + std::to_string(rest) +
                                  " bytes of unexpected data after the end of the gzip stream");
      }
      if (inflateReset(&zs) != Z_OK) throw std::logic_error("inflateReset failed");
      continue;
    }
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
      throw FileError(path,
                      std::string("corrupt gzip data (") + (zs.msg ? zs.msg : "bad stream") + ")");
    }
    // Z_BUF_ERROR with all input consumed and output space left: the stream just stops.
    if (zs.avail_in == 0 && in_pos == in.size() && zs.avail_out != 0) {
      throw FileError(path, "corrupt gzip data (truncated: the gzip stream ends early)");
    }
  }
  out.resize(out_pos);
  out.shrink_to_fit();
  return out;
}

std::vector<std::uint8_t> gzip(const std::vector<std::uint8_t>& in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::bad_alloc();
  }
  struct End {
    z_stream* z;
    ~End() { deflateEnd(z); }
  } end{&zs};
  constexpr std::size_t max_piece = std::numeric_limits<uInt>::max();
  std::vector<std::uint8_t> out(
      deflateBound(&zs, static_cast<uLong>(std::min(in.size(), max_piece))) + 64);
  std::size_t in_pos = 0;
  std::size_t out_pos = 0;
  for (;;) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      const std::size_t piece = std::min(in.size() - in_pos, max_piece);
      zs.next_in = const_cast<Bytef*>(in.data() + in_pos);
      zs.avail_in = static_cast<uInt>(piece);
      in_pos += piece;
    }
    if (out_pos == out.size()) out.resize(out.size() * 2);
    const std::size_t out_piece = std::min(out.size() - out_pos, max_piece);
    zs.next_out = out.data() + out_pos;
    zs.avail_out = static_cast<uInt>(out_piece);
    const int flush = (in_pos == in.size() && zs.avail_in == 0) ? Z_FINISH : Z_NO_FLUSH;
    const int rc = deflate(&zs, flush);
    out_pos += out_piece - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::logic_error("deflate failed");
  }
  out.resize(out_pos);
  return out;
}

void put_u32(std::vector<std::uint8_t>& out, std::size_t value) {
  if (value > 0xffffffffu) throw std::invalid_argument("IDX dimension does not fit 32 bits");
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(value >> shift));
  }
}

// a * b, or false when it overflows std::size_t.
bool checked_mul(std::size_t a, std::size_t b, std::size_t& result) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return false;
  result = a * b;
  return true;
}

// The parsed header of an IDX file whose content has already been validated.
struct IdxData {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> bytes;  // whole (decompressed) file
  std::size_t offset = 0;           // start of the data
};

IdxData parse_idx(const std::string& path, std::uint32_t expected_magic, const char* kind,
                  const char* unit) {
  IdxData idx;
  idx.bytes = read_maybe_gzipped(path);
  const auto& b = idx.bytes;
  const std::size_t size = b.size();
  const std::size_t expected_dims = expected_magic & 0xff;
  const std::string expect =
      std::string(" (an IDX ") + kind + " file starts with magic " + hex(expected_magic, 8) + ")";
  if (size < 4) {
    throw FileError(path, "truncated: the file has " + std::to_string(size) +
                              " bytes, too short for an IDX header" + expect);
  }
  const std::uint32_t magic = std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 |
                              std::uint32_t{b[2]} << 8 | std::uint32_t{b[3]};
  if (b[0] != 0 || b[1] != 0) {
    throw FileError(path, "bad magic number " + hex(magic, 8) + ": not an IDX file" + expect);
  }
  if (b[2] != type_unsigned_byte) {
    throw FileError(path, "unsupported type code " + hex(b[2], 2) +
                              " (only 0x08, unsigned byte, is supported)");
  }
  if (std::size_t{b[3]} != expected_dims) {
    throw FileError(path, "wrong number of dimensions: " + std::to_string(b[3]) + ", expected " +
                              std::to_string(expected_dims) + expect);
  }
  idx.offset = 4 + 4 * expected_dims;
  if (size < idx.offset) {
    throw FileError(path, "truncated: the IDX header needs " + std::to_string(idx.offset) +
                              " bytes but the file has " + std::to_string(size) + " bytes");
  }
  for (std::size_t d = 0; d < expected_dims; ++d) {
    const std::uint8_t* p = b.data() + 4 + 4 * d;
    idx.dims.push_back(std::size_t{p[0]} << 24 | std::size_t{p[1]} << 16 | std::size_t{p[2]} << 8 |
                       std::size_t{p[3]});
  }

  // Human-readable shape for messages: "60000 images of 28x28".
  std::string shape = std::to_string(idx.dims[0]) + " " + unit;
  for (std::size_t d = 1; d < idx.dims.size(); ++d) {
    shape += (d == 1 ? " of " : "x") + std::to_string(idx.dims[d]);
  }
  if (std::find(idx.dims.begin(), idx.dims.end(), std::size_t{0}) != idx.dims.end()) {
    throw FileError(path, "zero dimension in header: header says " + shape);
  }
  std::size_t data_size = 1;
  for (const std::size_t d : idx.dims) {
    if (!checked_mul(data_size, d, data_size)) {
      throw FileError(
          path, "dimensions overflow: header says " + shape + ", more bytes than can be addressed");
    }
  }
  if (data_size > std::numeric_limits<std::size_t>::max() - idx.offset) {
    throw FileError(
        path, "dimensions overflow: header says " + shape + ", more bytes than can be addressed");
  }
  const std::size_t expected_size = idx.offset + data_size;
  const std::string says = "header says " + shape + " (" + std::to_string(expected_size) +
                           " bytes) but the file has " + std::to_string(size) + " bytes";
  if (size < expected_size) throw FileError(path, "truncated: " + says);
  if (size > expected_size) {
    throw FileError(
        path, "trailing data: " + says + " (" + std::to_string(size - expected_size) + " extra)");
  }
  return idx;
}

}  // namespace

std::vector<std::uint8_t> read_maybe_gzipped(const std::string& path) {
  std::vector<std::uint8_t> bytes = read_file(path);
  if (is_gzip(bytes)) return gunzip(bytes, path);
  return bytes;
}

Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path,
                      const std::string& name, int classes) {
  if (classes < 1 || classes > 256) {
    throw std::invalid_argument("read_idx_pair: classes must be in 1..256");
  }
  Dataset d;
  d.name = name;
  d.classes = classes;
  {
    IdxData images = parse_idx(images_path, images_magic, "image", "images");
    d.samples = images.dims[0];
    d.features = images.dims[1] * images.dims[2];
    // Built from a view, not resized then filled: no pass of zeros over the largest array.
    const std::span<const std::uint8_t> pixels(images.bytes.data() + images.offset,
                                               d.samples * d.features);
    const auto scaled = pixels | std::views::transform(
                                     [](std::uint8_t b) { return static_cast<float>(b) / 255.0f; });
    reserve_large(d.x, pixels.size());
    d.x.assign(scaled.begin(), scaled.end());
  }
  const IdxData labels = parse_idx(labels_path, labels_magic, "label", "labels");
  if (labels.dims[0] != d.samples) {
    throw FileError(labels_path, "count mismatch: " + std::to_string(labels.dims[0]) +
                                     " labels but " + images_path + " has " +
                                     std::to_string(d.samples) + " images");
  }
  d.y.resize(d.samples);
  const std::uint8_t* src = labels.bytes.data() + labels.offset;
  for (std::size_t i = 0; i < d.samples; ++i) {
    if (src[i] >= classes) {
      throw FileError(labels_path, "label " + std::to_string(src[i]) + " of sample " +
                                       std::to_string(i) + " is out of range (expected 0.." +
                                       std::to_string(classes - 1) + ")");
    }
    d.y[i] = src[i];
  }
  return d;
}

void write_idx_images(const std::string& path, const std::vector<std::uint8_t>& pixels,
                      std::size_t count, std::size_t rows, std::size_t cols, bool gzip_it) {
  std::size_t n = 0;
  if (!checked_mul(count, rows, n) || !checked_mul(n, cols, n) || n != pixels.size()) {
    throw std::invalid_argument("write_idx_images: pixels.size() != count * rows * cols");
  }
  std::vector<std::uint8_t> out = {0, 0, type_unsigned_byte, 3};
  put_u32(out, count);
  put_u32(out, rows);
  put_u32(out, cols);
  out.insert(out.end(), pixels.begin(), pixels.end());
  write_file(path, gzip_it ? gzip(out) : out);
}

void write_idx_labels(const std::string& path, const std::vector<std::uint8_t>& labels,
                      bool gzip_it) {
  std::vector<std::uint8_t> out = {0, 0, type_unsigned_byte, 1};
  put_u32(out, labels.size());
  out.insert(out.end(), labels.begin(), labels.end());
  write_file(path, gzip_it ? gzip(out) : out);
}

}  // namespace ioca::data
