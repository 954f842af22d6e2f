// The model file of docs/file-formats.md: /layers/K/{weight [out,in], bias [out]} float32, attribute
// "activation" on /layers/K, optional root attributes input_mean / input_std.
#include <algorithm>
#include <cmath>
#include <limits>

#include "io/attributes.hpp"
#include "io/hdf5.hpp"
#include "io/layout.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"
#include "ioca/version.hpp"

namespace ioca::io {

void save_model(const std::string& path, const nn::Mlp& net, const Attributes& attributes,
                const info::TrainingPlane* plane) {
  Attributes a = attributes;
  a["ioca_version"] = std::string(version_string);
  Record r;
  add_model(r, "", net, a);
  if (plane) add_training_plane(r, "", *plane);
  write_record_file(path, r);
}

Model load_model(const std::string& path) {
  h5::File f = h5::open_file_read(path);
  const hid_t root = f.handle.id();
  h5::Handle layers = h5::open_group(f, root, "layers");
  const auto names = h5::list_children(f, layers.id(), "/layers");
  if (names.empty()) throw FileError(path, "/layers holds no layers");
  // Layers are named 0, 1, ..., K-1 with no gaps.
  for (const auto& name : names)
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
      throw FileError(path,
                      "unexpected entry /layers/" + name + " (layers are named 0, 1, 2, ...)");
  for (std::size_t k = 0; k < names.size(); ++k)
    if (!h5::exists(layers.id(), std::to_string(k)))
      throw FileError(path, "/layers must hold groups 0.." + std::to_string(names.size() - 1) +
                                " but /layers/" + std::to_string(k) + " is missing");

  std::vector<int> sizes;
  std::vector<nn::Activation> acts;
  std::vector<h5::Array<float>> weights, biases;
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::string where = "/layers/" + std::to_string(k);
    h5::Handle g = h5::open_group(f, layers.id(), std::to_string(k));
    auto w = h5::read_float_dataset(f, root, where + "/weight");
    auto b = h5::read_float_dataset(f, root, where + "/bias");
    if (w.dims.size() != 2 || w.dims[0] == 0 || w.dims[1] == 0)
      throw FileError(path, where + "/weight must be a non-empty 2-D array [out, in]");
    if (b.dims.size() != 1 || b.dims[0] != w.dims[0])
      throw FileError(path, where + "/bias must have shape [" + std::to_string(w.dims[0]) +
                                "] to match " + where + "/weight [" + std::to_string(w.dims[0]) +
                                ", " + std::to_string(w.dims[1]) + "]");
    if (w.dims[0] > 100'000'000 || w.dims[1] > 100'000'000)
      throw FileError(path, where + "/weight is implausibly large");
    if (k == 0) sizes.push_back(static_cast<int>(w.dims[1]));
    if (static_cast<hsize_t>(sizes.back()) != w.dims[1])
      throw FileError(path, where + "/weight takes " + std::to_string(w.dims[1]) +
                                " inputs but the layer before gives " +
                                std::to_string(sizes.back()));
    sizes.push_back(static_cast<int>(w.dims[0]));
    std::string act_name =
        h5::read_string_attribute(f, g.id(), "activation", where + "@activation");
    try {
      acts.push_back(nn::parse_activation(act_name));
    } catch (const Error& e) {
      throw FileError(path, where + "@activation: " + e.what());
    }
    for (float x : w.data)
      if (!std::isfinite(x)) throw FileError(path, where + "/weight holds NaN or infinite values");
    for (float x : b.data)
      if (!std::isfinite(x)) throw FileError(path, where + "/bias holds NaN or infinite values");
    weights.push_back(std::move(w));
    biases.push_back(std::move(b));
  }
  if (acts.back() != nn::Activation::identity)
    throw FileError(path, "the last layer /layers/" + std::to_string(acts.size() - 1) +
                              " must have activation 'identity' (softmax is implied)");

  Model model{nn::Mlp(sizes, acts), {}, {}};
  for (std::size_t k = 0; k < weights.size(); ++k) {
    const int l = static_cast<int>(k);
    std::copy(weights[k].data.begin(), weights[k].data.end(), model.net.weight(l));
    std::copy(biases[k].data.begin(), biases[k].data.end(), model.net.bias(l));
  }

  model.attributes = read_attributes(f, root);
  const auto read_input_attr = [&](const char* name, float fallback) {
    if (H5Aexists(root, name) <= 0) return fallback;
    const double v = h5::read_double_attribute(f, root, name, std::string("@") + name);
    // Finite as float32 too (found by fuzz_model: input_mean = 5.7e303 became infinity).
    if (!std::isfinite(v) || std::abs(v) > std::numeric_limits<float>::max())
      throw FileError(path, std::string("@") + name + " is not finite (as a float32)");
    return static_cast<float>(v);
  };
  model.net.input_mean = read_input_attr("input_mean", 0.0f);
  model.net.input_std = read_input_attr("input_std", 1.0f);
  if (!(model.net.input_std > 0.0f)) throw FileError(path, "@input_std must be > 0");
  model.attributes.erase("input_mean");
  model.attributes.erase("input_std");

  // The images a converted model was trained on: ioca warns when its split shares some.
  if (h5::exists(root, "training_indices")) {
    auto t = h5::read_int_dataset(f, root, "/training_indices");
    if (t.dims.size() != 1) throw FileError(path, "/training_indices must be a 1-D array");
    for (const std::int64_t i : t.data)
      if (i < 0)
        throw FileError(path, "/training_indices holds " + std::to_string(i) +
                                  " (indices into the training set are >= 0)");
    std::sort(t.data.begin(), t.data.end());
    t.data.erase(std::unique(t.data.begin(), t.data.end()), t.data.end());
    model.training_indices = std::move(t.data);
  }
  return model;
}

std::string attribute_string(const Attributes& a, const std::string& key,
                             const std::string& fallback) {
  const auto it = a.find(key);
  if (it == a.end()) return fallback;
  if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
  return fallback;
}

std::int64_t attribute_int(const Attributes& a, const std::string& key, std::int64_t fallback) {
  const auto it = a.find(key);
  if (it == a.end()) return fallback;
  if (const auto* i = std::get_if<std::int64_t>(&it->second)) return *i;
  if (const auto* d = std::get_if<double>(&it->second)) return static_cast<std::int64_t>(*d);
  return fallback;
}

}  // namespace ioca::io
