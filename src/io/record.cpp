#include "io/record.hpp"

#include <cstring>

#include "ioca/core.hpp"

namespace ioca::io {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

std::uint64_t DatasetEntry::elements() const {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

// FNV-1a 64 with the offset basis ioca has always used (one digit short of FNV's standard
// 14695981039346656037): a file format contract now (docs/study.md), so kept.
std::uint64_t checksum(const char* data, std::size_t n) {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

namespace {
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::i64;
  else {
    static_assert(std::is_same_v<T, std::uint8_t>);
    return DType::u8;
  }
}
}  // namespace

template <class T>
void Record::add(const std::string& path, const std::vector<T>& v,
                 std::vector<std::uint64_t> dims) {
  DatasetEntry e;
  e.path = path;
  e.type = dtype_of<T>();
  e.dims = std::move(dims);
  if (e.elements() != v.size())
    throw std::logic_error("record " + key + ": " + path + " has " + std::to_string(v.size()) +
                           " values for its shape");
  const auto* p = reinterpret_cast<const char*>(v.data());
  e.data.assign(p, p + v.size() * sizeof(T));
  e.checksum = checksum(e.data.data(), e.data.size());
  datasets.push_back(std::move(e));
}
template void Record::add(const std::string&, const std::vector<float>&, std::vector<std::uint64_t>);
template void Record::add(const std::string&, const std::vector<double>&, std::vector<std::uint64_t>);
template void Record::add(const std::string&, const std::vector<std::int64_t>&,
                          std::vector<std::uint64_t>);
template void Record::add(const std::string&, const std::vector<std::uint8_t>&,
                          std::vector<std::uint64_t>);

const DatasetEntry& Record::find(const std::string& path) const {
  for (const auto& d : datasets)
    if (d.path == path) return d;
  throw Error("task " + key + " has no dataset " + path);
}

bool Record::has_data() const {
  for (const auto& d : datasets)
    if (d.data.size() != d.elements() * dtype_size(d.type)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// Bytes: little-endian fixed-width integers, strings as length + bytes.

namespace {

constexpr std::uint32_t record_magic = 0x494f4352;  // "IOCR"

struct RecordWriter {
  Bytes& out;
  void raw(const void* p, std::size_t n) {
    const auto* c = static_cast<const char*>(p);
    out.insert(out.end(), c, c + n);
  }
  void u64(std::uint64_t v) { raw(&v, 8); }
  void u8(std::uint8_t v) { raw(&v, 1); }
  void str(const std::string& s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
};

struct RecordReader {
  const Bytes& in;
  std::size_t pos = 0;
  const std::string& what;
  void need(std::size_t n) {
    if (n > in.size() - pos) throw Error(what + ": truncated or damaged task records");
  }
  void raw(void* p, std::size_t n) {
    need(n);
    std::memcpy(p, in.data() + pos, n);
    pos += n;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    raw(&v, 8);
    return v;
  }
  std::uint8_t u8() {
    std::uint8_t v = 0;
    raw(&v, 1);
    return v;
  }
  std::string str() {
    const std::uint64_t n = u64();
    need(n);
    std::string s(in.data() + pos, static_cast<std::size_t>(n));
    pos += n;
    return s;
  }
};

}  // namespace

void serialize(const Record& r, bool with_data, Bytes& out) {
  RecordWriter w{out};
  w.u64(record_magic);
  w.str(r.key);
  w.u64(r.datasets.size());
  for (const auto& d : r.datasets) {
    w.str(d.path);
    w.u8(static_cast<std::uint8_t>(d.type));
    w.u64(d.dims.size());
    for (auto x : d.dims) w.u64(x);
    w.u64(d.checksum);
    w.u8(with_data ? 1 : 0);
    if (with_data) {
      w.u64(d.data.size());
      w.raw(d.data.data(), d.data.size());
    }
  }
  w.u64(r.attributes.size());
  for (const auto& a : r.attributes) {
    w.str(a.path);
    w.str(a.name);
    if (const auto* s = std::get_if<std::string>(&a.value)) {
      w.u8(0);
      w.str(*s);
    } else if (const auto* d = std::get_if<double>(&a.value)) {
      w.u8(1);
      w.raw(d, 8);
    } else {
      w.u8(2);
      w.u64(static_cast<std::uint64_t>(std::get<std::int64_t>(a.value)));
    }
  }
}

std::vector<Record> deserialize_all(const Bytes& in, const std::string& what) {
  RecordReader rd{in, 0, what};
  std::vector<Record> out;
  while (rd.pos < in.size()) {
    if (rd.u64() != record_magic) throw Error(what + ": damaged task records (bad marker)");
    Record r;
    r.key = rd.str();
    const std::uint64_t nd = rd.u64();
    if (nd > in.size()) throw Error(what + ": damaged task records (dataset count)");
    for (std::uint64_t i = 0; i < nd; ++i) {
      DatasetEntry d;
      d.path = rd.str();
      const std::uint8_t t = rd.u8();
      if (t > 3) throw Error(what + ": damaged task records (type)");
      d.type = static_cast<DType>(t);
      const std::uint64_t rank = rd.u64();
      if (rank > 8) throw Error(what + ": damaged task records (rank)");
      for (std::uint64_t k = 0; k < rank; ++k) d.dims.push_back(rd.u64());
      d.checksum = rd.u64();
      if (rd.u8()) {
        const std::uint64_t n = rd.u64();
        rd.need(n);
        if (n != d.elements() * dtype_size(d.type))
          throw Error(what + ": damaged task records (" + d.path + " size)");
        d.data.assign(in.data() + rd.pos, in.data() + rd.pos + n);
        rd.pos += n;
      }
      r.datasets.push_back(std::move(d));
    }
    const std::uint64_t na = rd.u64();
    if (na > in.size()) throw Error(what + ": damaged task records (attribute count)");
    for (std::uint64_t i = 0; i < na; ++i) {
      AttributeEntry a;
      a.path = rd.str();
      a.name = rd.str();
      const std::uint8_t kind = rd.u8();
      if (kind == 0) {
        a.value = rd.str();
      } else if (kind == 1) {
        double d = 0;
        rd.raw(&d, 8);
        a.value = d;
      } else if (kind == 2) {
        a.value = static_cast<std::int64_t>(rd.u64());
      } else {
        throw Error(what + ": damaged task records (attribute kind)");
      }
      r.attributes.push_back(std::move(a));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace ioca::io
