// libFuzzer target: the IDX reader (raw and gzipped), ioca::data::read_idx_pair.
// Input layout: byte 0 = flags (bit 0: gzip the images part, bit 1: gzip the labels part,
// done here so that the IDX parser is also reached through valid gzip streams), bytes 1..4
// = length of the images part (little-endian, clamped to what is there), then the images
// file, then the labels file. tests/fuzz/make_corpus.py writes seeds in this layout.
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "ioca/core.hpp"
#include "ioca/data.hpp"

namespace {

std::vector<std::uint8_t> gzip(const std::uint8_t* data, std::size_t size) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(size)) + 64);
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string write_part(const char* name, const std::uint8_t* data, std::size_t size, bool gz) {
  if (!gz) return ioca_fuzz::write_file(name, data, size);
  const auto z = gzip(data, size);
  return ioca_fuzz::write_file(name, z.data(), z.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5 || size > (1u << 22)) return 0;
  const std::uint8_t flags = data[0];
  std::uint32_t images_size = 0;
  std::memcpy(&images_size, data + 1, 4);  // the fuzz machines are little-endian
  const std::uint8_t* body = data + 5;
  const std::size_t body_size = size - 5;
  const std::size_t n_images = std::min<std::size_t>(images_size, body_size);
  const std::string images = write_part("images", body, n_images, flags & 1);
  const std::string labels =
      write_part("labels", body + n_images, body_size - n_images, (flags & 2) != 0);
  try {
    // A successful read must be a consistent data set.
    ioca_fuzz::check_dataset(ioca::data::read_idx_pair(images, labels, "fuzz", 10), 10);
  } catch (const ioca::Error&) {
    // Bad input, reported as such: what the reader must do.
  }
  return 0;
}
