// The measures file: /layers/K/<quantity> per hidden layer, attributes at the root.
#include "io/attributes.hpp"
#include "io/hdf5.hpp"
#include "io/layout.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"
#include "ioca/version.hpp"

namespace ioca::io {
namespace {

// Every per-neuron float64 array of a layer with its dataset name.
template <class Layer, class F>
void for_each_double(Layer& L, F&& f) {
  for (const auto& name : info::quantity_names()) f(name, info::quantity(L, name));
  f("bin_low", L.bin_low);
  f("bin_high", L.bin_high);
}

// /layers/K/pairs (measure --pairs): every dataset there, each of P = n(n-1)/2 entries.
info::LayerPairs read_pairs(const std::string& path, const h5::File& f, hid_t layer,
                            const std::string& where, std::size_t width) {
  h5::Handle g = h5::open_group(f, layer, "pairs");
  const std::string at = where + "/pairs/";
  const std::size_t P = width * (width - (width > 0 ? 1 : 0)) / 2;
  const auto check = [&](const std::string& name, std::size_t size, std::size_t dims) {
    if (dims != 1 || size != P)
      throw FileError(path, at + name + " must be 1-D with " + std::to_string(P) +
                                " entries (the pairs of " + std::to_string(width) + " neurons)");
  };
  const auto ints = [&](const std::string& name) {
    if (!h5::exists(g.id(), name)) throw FileError(path, "missing dataset " + at + name);
    auto a = h5::read_int_dataset(f, g.id(), name);
    check(name, a.data.size(), a.dims.size());
    return std::move(a.data);
  };
  info::LayerPairs p;
  p.first = ints("first");
  p.second = ints("second");
  for (std::size_t i = 0, k = 0; i < width; ++i)
    for (std::size_t j = i + 1; j < width; ++j, ++k)
      if (p.first[k] != static_cast<std::int64_t>(i) ||
          p.second[k] != static_cast<std::int64_t>(j))
        throw FileError(path, at + "first, second: pair " + std::to_string(k) + " is not (" +
                                  std::to_string(i) + ", " + std::to_string(j) + ")");
  for (const auto& name : info::pair_quantity_names()) {
    if (!h5::exists(g.id(), name)) throw FileError(path, "missing dataset " + at + name);
    auto a = h5::read_double_dataset(f, g.id(), name);
    check(name, a.data.size(), a.dims.size());
    info::pair_quantity(p, name) = std::move(a.data);
  }
  return p;
}

}  // namespace

void save_measures(const std::string& path, const info::Measures& m, const Attributes& attributes) {
  Attributes a = attributes;
  a["ioca_version"] = std::string(version_string);
  a["git_commit"] = std::string(git_commit);  // so a report of the file can name its build
  Record r;
  add_measures(r, "", m, a);
  write_record_file(path, r);
}

MeasuresFile load_measures(const std::string& path) {
  h5::File f = h5::open_file_read(path);
  MeasuresFile out;
  out.attributes = read_attributes(f, f.handle.id());
  if (!out.attributes.count("ioca_measures_format"))
    throw FileError(path, "not an ioca measures file (no ioca_measures_format attribute)");
  h5::Handle layers = h5::open_group(f, f.handle.id(), "layers");
  const auto names = h5::list_children(f, layers.id(), "/layers");
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::string where = "/layers/" + std::to_string(k);
    if (!h5::exists(layers.id(), std::to_string(k))) throw FileError(path, where + " is missing");
    h5::Handle g = h5::open_group(f, layers.id(), std::to_string(k));
    info::LayerMeasures L;
    std::size_t width = 0;
    bool first = true;
    for_each_double(L, [&](const std::string& name, std::vector<double>& v) {
      if (!h5::exists(g.id(), name)) {
        // Optional quantities stay empty: files of earlier ioca versions, no MI null.
        if (info::optional_quantity(name)) return;
        throw FileError(path, "missing dataset " + where + "/" + name);
      }
      auto a = h5::read_double_dataset(f, g.id(), name);
      if (a.dims.size() != 1) throw FileError(path, where + "/" + name + " must be 1-D");
      if (first) width = a.data.size();
      first = false;
      if (a.data.size() != width)
        throw FileError(path, where + "/" + name + " has " + std::to_string(a.data.size()) +
                                  " entries but the layer has " + std::to_string(width) +
                                  " neurons");
      v = std::move(a.data);
    });
    auto cls = h5::read_int_dataset(f, g.id(), "kl_selectivity_class");
    if (cls.data.size() != width)
      throw FileError(path, where + "/kl_selectivity_class has the wrong length");
    L.kl_selectivity_class = std::move(cls.data);
    if (h5::exists(g.id(), "bins_used")) {
      auto used = h5::read_int_dataset(f, g.id(), "bins_used");
      L.bins_used.assign(used.data.begin(), used.data.end());
    }
    if (h5::exists(g.id(), "pairs")) L.pairs = read_pairs(path, f, g.id(), where, width);
    out.measures.layers.push_back(std::move(L));
  }
  out.measures.samples = static_cast<std::size_t>(attribute_int(out.attributes, "samples", 0));
  out.measures.classes = static_cast<int>(attribute_int(out.attributes, "classes", 0));
  return out;
}

}  // namespace ioca::io
