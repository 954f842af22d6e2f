// The ablation file: /ablation/<scope>/{<quantity>/<direction>, random, custom/<name>},
// /single_neuron/layers/K, /hidden_widths, attributes at the root (see README.md).
#include <set>

#include "io/attributes.hpp"
#include "io/hdf5.hpp"
#include "io/layout.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"
#include "ioca/version.hpp"

namespace ioca::io {
namespace {

using ablation::Curve;
using ablation::Neuron;

// A scope of these widths; empty for a name that is not one.
ablation::Scope scope_of(const std::vector<int>& widths, const std::string& name) {
  try {
    return ablation::make_scope(widths, name);
  } catch (const Error&) {
    return {};
  }
}

// ---------------------------------------------------------------------------------------
// Writing.

void check_curve(const Curve& c, std::size_t classes, const std::string& where) {
  const std::size_t P = c.ablated.size();
  if (P == 0 || c.accuracy.size() != P || c.loss.size() != P ||
      c.per_class_accuracy.size() != P * classes)
    throw Error("ablation results: the curve of " + where + " has inconsistent lengths");
}

// Checks everything before any file exists: names, shapes, scopes, no curve twice.
void check_results(const AblationResults& r) {
  const auto C = static_cast<std::size_t>(r.classes);
  if (r.classes < 1) throw Error("ablation results: no classes");
  const auto scope = [&](const std::string& name) {
    if (scope_of(r.hidden_widths, name).neurons.empty())
      throw Error("ablation results: unknown scope '" + name + "'");
  };
  std::set<std::string> seen;
  for (const auto& o : r.ordered) {
    const std::string where =
        o.scope + "/" + o.quantity + "/" + std::string(to_string(o.direction));
    if (o.quantity.empty() || o.quantity == "random" || o.quantity == "custom" ||
        o.quantity.find('/') != std::string::npos)
      throw Error("ablation results: bad quantity name '" + o.quantity + "'");
    if (!seen.insert(where).second) throw Error("ablation results: " + where + " given twice");
    scope(o.scope);
    check_curve(o.curve, C, where);
    const auto n = static_cast<std::int64_t>(scope_of(r.hidden_widths, o.scope).neurons.size());
    if (o.tied && (*o.tied < 0 || *o.tied > n || *o.tied == 1))
      throw Error("ablation results: " + where + " has a tied count outside 0, 2..n");
  }
  for (const auto& rc : r.random) {
    if (!seen.insert(rc.scope + "/random").second)
      throw Error("ablation results: random curves of " + rc.scope + " given twice");
    scope(rc.scope);
    if (rc.orders.size() != rc.curves.size() || rc.curves.empty())
      throw Error("ablation results: random curves of " + rc.scope + ": one order per curve");
    for (const auto& c : rc.curves) {
      check_curve(c, C, rc.scope + "/random");
      if (c.ablated != rc.curves.front().ablated)
        throw Error("ablation results: random curves of " + rc.scope + " differ in their points");
    }
    for (const auto& o : rc.orders)
      if (o.size() != rc.orders.front().size())
        throw Error("ablation results: random orders of " + rc.scope + " differ in length");
  }
  for (const auto& c : r.custom) {
    const std::string where = c.scope + "/custom/" + c.name;
    if (c.name.empty() || c.name.find('/') != std::string::npos || c.name == ".")
      throw Error("ablation results: bad custom order name '" + c.name + "'");
    if (!seen.insert(where).second) throw Error("ablation results: " + where + " given twice");
    scope(c.scope);
    check_curve(c.curve, C, where);
  }
  if (r.single) {
    const auto H = r.hidden_widths.size();
    if (r.single->accuracy_drop.size() != H || r.single->loss_increase.size() != H)
      throw Error("ablation results: single-neuron damage needs one entry per hidden layer");
    for (std::size_t l = 0; l < H; ++l)
      if (r.single->accuracy_drop[l].size() != static_cast<std::size_t>(r.hidden_widths[l]) ||
          r.single->loss_increase[l].size() != static_cast<std::size_t>(r.hidden_widths[l]))
        throw Error("ablation results: single-neuron damage of layer " + std::to_string(l) +
                    " does not match its width");
  }
}

}  // namespace

void save_ablation(const std::string& path, const AblationResults& r,
                   const Attributes& attributes) {
  check_results(r);
  Attributes a = attributes;
  a["ioca_ablation_format"] = ablation_format_version;
  a["ioca_version"] = std::string(version_string);
  a["classes"] = static_cast<std::int64_t>(r.classes);
  if (r.single) {
    a["intact_accuracy"] = r.single->intact_accuracy;
    a["intact_loss"] = r.single->intact_loss;
  }
  Record record;
  for (const auto& [k, v] : a) record.attribute("/", k, v);
  add_hidden_widths(record, "", r.hidden_widths);
  add_ablation_curves(record, "", r);
  if (r.single) add_single_damage(record, "", *r.single);
  write_record_file(path, record);
}

// ---------------------------------------------------------------------------------------
// Reading.

namespace {

struct AblationFileReader {
  const h5::File& f;
  std::size_t classes;

  [[noreturn]] void fail(const std::string& problem) const { throw FileError(f.path, problem); }

  h5::Array<double> doubles(hid_t g, const std::string& where, const std::string& name,
                            const std::vector<hsize_t>& dims) const {
    if (!h5::exists(g, name)) fail("missing dataset " + where + "/" + name);
    auto a = h5::read_double_dataset(f, g, name);
    if (a.dims != dims) fail(where + "/" + name + " has the wrong shape");
    return a;
  }
  h5::Array<std::int64_t> ints(hid_t g, const std::string& where, const std::string& name) const {
    if (!h5::exists(g, name)) fail("missing dataset " + where + "/" + name);
    return h5::read_int_dataset(f, g, name);
  }

  std::vector<Neuron> order(const ablation::Scope& s, const std::int64_t* idx, std::size_t n,
                            const std::string& where) const {
    std::vector<Neuron> out;
    std::set<std::int64_t> seen;
    for (std::size_t i = 0; i < n; ++i) {
      if (idx[i] < 0 || idx[i] >= static_cast<std::int64_t>(s.neurons.size()) ||
          !seen.insert(idx[i]).second)
        fail(where + "/order has an index out of range or repeated (" + std::to_string(idx[i]) +
             ")");
      out.push_back(s.neurons[static_cast<std::size_t>(idx[i])]);
    }
    return out;
  }

  std::vector<std::int64_t> ablated(hid_t g, const std::string& where,
                                    std::size_t order_length) const {
    auto a = ints(g, where, "ablated");
    if (a.dims.size() != 1 || a.data.empty()) fail(where + "/ablated must be 1-D and not empty");
    for (std::size_t i = 0; i < a.data.size(); ++i)
      if (a.data[i] < 0 || a.data[i] > static_cast<std::int64_t>(order_length) ||
          (i > 0 && a.data[i] <= a.data[i - 1]))
        fail(where + "/ablated must increase from 0 to at most the order's length");
    return a.data;
  }

  // An ordered or custom curve group.
  void curve(hid_t g, const ablation::Scope& s, const std::string& where,
             std::vector<Neuron>& order_out, Curve& c) const {
    auto o = ints(g, where, "order");
    if (o.dims.size() != 1) fail(where + "/order must be 1-D");
    order_out = order(s, o.data.data(), o.data.size(), where);
    c.ablated = ablated(g, where, o.data.size());
    const auto P = static_cast<hsize_t>(c.ablated.size());
    c.accuracy = doubles(g, where, "accuracy", {P}).data;
    c.loss = doubles(g, where, "loss", {P}).data;
    c.per_class_accuracy =
        doubles(g, where, "per_class_accuracy", {P, static_cast<hsize_t>(classes)}).data;
  }
};

}  // namespace

AblationFile load_ablation(const std::string& path) {
  h5::File f = h5::open_file_read(path);
  AblationFile out;
  out.attributes = read_attributes(f, f.handle.id());
  if (!out.attributes.count("ioca_ablation_format"))
    throw FileError(path, "not an ioca ablation file (no ioca_ablation_format attribute)");
  const std::int64_t version = attribute_int(out.attributes, "ioca_ablation_format", 0);
  if (version != ablation_format_version)
    throw FileError(path, "ablation file format " + std::to_string(version) +
                              " is not supported (this ioca reads format " +
                              std::to_string(ablation_format_version) + ")");
  AblationResults& r = out.results;
  r.classes = static_cast<int>(attribute_int(out.attributes, "classes", 0));
  if (r.classes < 1) throw FileError(path, "root attribute classes is missing or not positive");
  const AblationFileReader rd{f, static_cast<std::size_t>(r.classes)};
  {
    auto w = rd.ints(f.handle.id(), "", "hidden_widths");
    if (w.dims.size() != 1 || w.data.empty()) rd.fail("/hidden_widths must be 1-D and not empty");
    for (auto v : w.data) {
      if (v < 1 || v > (std::int64_t{1} << 30)) rd.fail("/hidden_widths has a bad width");
      r.hidden_widths.push_back(static_cast<int>(v));
    }
  }

  h5::Handle ablation_group = h5::open_group(f, f.handle.id(), "ablation");
  for (const auto& scope_name : h5::list_children(f, ablation_group.id(), "/ablation")) {
    const std::string where = "/ablation/" + scope_name;
    const ablation::Scope s = scope_of(r.hidden_widths, scope_name);
    if (s.neurons.empty()) rd.fail(where + " is not a scope of this network");
    h5::Handle sg = h5::open_group(f, ablation_group.id(), scope_name);
    if (h5::read_int_attribute(f, sg.id(), "neurons", where + "@neurons") !=
        static_cast<std::int64_t>(s.neurons.size()))
      rd.fail(where + "@neurons does not match the hidden widths");
    for (const auto& child : h5::list_children(f, sg.id(), where)) {
      const std::string cw = where + "/" + child;
      h5::Handle cg = h5::open_group(f, sg.id(), child);
      if (child == "random") {
        RandomCurves rc;
        rc.scope = scope_name;
        auto o = rd.ints(cg.id(), cw, "order");
        if (o.dims.size() != 2 || o.dims[0] == 0) rd.fail(cw + "/order must be [R, n] with R > 0");
        const auto R = o.dims[0], n = o.dims[1];
        for (hsize_t i = 0; i < R; ++i)
          rc.orders.push_back(rd.order(s, o.data.data() + i * n, static_cast<std::size_t>(n), cw));
        const auto ablated = rd.ablated(cg.id(), cw, static_cast<std::size_t>(n));
        const auto P = static_cast<hsize_t>(ablated.size());
        const auto C = static_cast<hsize_t>(r.classes);
        const auto acc = rd.doubles(cg.id(), cw, "accuracy", {R, P}).data;
        const auto loss = rd.doubles(cg.id(), cw, "loss", {R, P}).data;
        const auto pca = rd.doubles(cg.id(), cw, "per_class_accuracy", {R, P, C}).data;
        for (hsize_t i = 0; i < R; ++i) {
          Curve c;
          c.ablated = ablated;
          c.accuracy.assign(acc.begin() + static_cast<std::ptrdiff_t>(i * P),
                            acc.begin() + static_cast<std::ptrdiff_t>((i + 1) * P));
          c.loss.assign(loss.begin() + static_cast<std::ptrdiff_t>(i * P),
                        loss.begin() + static_cast<std::ptrdiff_t>((i + 1) * P));
          c.per_class_accuracy.assign(pca.begin() + static_cast<std::ptrdiff_t>(i * P * C),
                                      pca.begin() + static_cast<std::ptrdiff_t>((i + 1) * P * C));
          rc.curves.push_back(std::move(c));
        }
        r.random.push_back(std::move(rc));
      } else if (child == "custom") {
        for (const auto& name : h5::list_children(f, cg.id(), cw)) {
          CustomCurve c;
          c.scope = scope_name;
          c.name = name;
          h5::Handle g = h5::open_group(f, cg.id(), name);
          rd.curve(g.id(), s, cw + "/" + name, c.order, c.curve);
          r.custom.push_back(std::move(c));
        }
      } else {
        for (const auto& dir : h5::list_children(f, cg.id(), cw)) {
          if (dir != "ascending" && dir != "descending")
            rd.fail(cw + "/" + dir + ": the direction must be ascending or descending");
          OrderedCurve o;
          o.scope = scope_name;
          o.quantity = child;
          o.direction = ablation::parse_direction(dir);
          h5::Handle g = h5::open_group(f, cg.id(), dir);
          rd.curve(g.id(), s, cw + "/" + dir, o.order, o.curve);
          if (H5Aexists(g.id(), "tied") > 0) {  // absent in files from before random ties
            o.tied = h5::read_int_attribute(f, g.id(), "tied", cw + "/" + dir + "@tied");
            const auto n = static_cast<std::int64_t>(s.neurons.size());
            if (*o.tied < 0 || *o.tied > n || *o.tied == 1)
              rd.fail(cw + "/" + dir + "@tied must be 0 or between 2 and the scope's neurons");
          }
          r.ordered.push_back(std::move(o));
        }
      }
    }
  }

  if (h5::exists(f.handle.id(), "single_neuron")) {
    ablation::SingleDamage d;
    h5::Handle single = h5::open_group(f, f.handle.id(), "single_neuron");
    h5::Handle layers = h5::open_group(f, single.id(), "layers");
    for (std::size_t l = 0; l < r.hidden_widths.size(); ++l) {
      const std::string where = "/single_neuron/layers/" + std::to_string(l);
      h5::Handle g = h5::open_group(f, layers.id(), std::to_string(l));
      const std::vector<hsize_t> dims{static_cast<hsize_t>(r.hidden_widths[l])};
      d.accuracy_drop.push_back(rd.doubles(g.id(), where, "accuracy_drop", dims).data);
      d.loss_increase.push_back(rd.doubles(g.id(), where, "loss_increase", dims).data);
    }
    d.intact_accuracy = h5::read_double_attribute(f, single.id(), "intact_accuracy",
                                                  "/single_neuron@intact_accuracy");
    d.intact_loss =
        h5::read_double_attribute(f, single.id(), "intact_loss", "/single_neuron@intact_loss");
    r.single = std::move(d);
  }
  return out;
}

}  // namespace ioca::io
