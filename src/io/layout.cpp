#include "io/layout.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "ioca/core.hpp"

namespace ioca::io {
namespace {

// The path of the group a layout lives in ("/" for a file's root).
std::string group_of(const std::string& prefix) {
  return prefix.empty() ? "/" : prefix;
}

void add_attributes(Record& r, const std::string& path, const Attributes& attributes,
                    const std::set<std::string>& reserved) {
  for (const auto& [k, v] : attributes)
    if (!reserved.count(k)) r.attribute(path, k, v);
}

}  // namespace

void add_model(Record& r, const std::string& prefix, const nn::Mlp& net,
               const Attributes& attributes) {
  const std::string m = group_of(prefix);
  r.attribute(m, "ioca_model_format", model_format_version);
  r.attribute(m, "input_mean", static_cast<double>(net.input_mean));
  r.attribute(m, "input_std", static_cast<double>(net.input_std));
  add_attributes(r, m, attributes, {"ioca_model_format", "input_mean", "input_std"});
  for (int l = 0; l < net.num_layers(); ++l) {
    const std::string g = prefix + "/layers/" + std::to_string(l);
    const auto out = static_cast<std::uint64_t>(net.out_size(l)),
               in = static_cast<std::uint64_t>(net.in_size(l));
    r.add(g + "/weight", std::vector<float>(net.weight(l), net.weight(l) + out * in), {out, in});
    r.add(g + "/bias", std::vector<float>(net.bias(l), net.bias(l) + out), {out});
    r.attribute(g, "activation", std::string(nn::to_string(net.activation(l))));
  }
}

nn::Mlp model_from_record(const Record& r, const std::string& prefix) {
  const std::string m = group_of(prefix);
  std::vector<int> sizes;
  std::vector<nn::Activation> acts;
  for (int l = 0;; ++l) {
    const std::string g = prefix + "/layers/" + std::to_string(l);
    const DatasetEntry* w = nullptr;
    for (const auto& d : r.datasets)
      if (d.path == g + "/weight") w = &d;
    if (!w) break;
    if (w->dims.size() != 2) throw Error("task " + r.key + ": " + w->path + " is not 2-D");
    if (l == 0) sizes.push_back(static_cast<int>(w->dims[1]));
    sizes.push_back(static_cast<int>(w->dims[0]));
    std::string act;
    for (const auto& a : r.attributes)
      if (a.path == g && a.name == "activation") act = std::get<std::string>(a.value);
    acts.push_back(nn::parse_activation(act));
  }
  if (acts.empty()) throw Error("task " + r.key + " holds no model");
  nn::Mlp net(sizes, acts);
  for (int l = 0; l < net.num_layers(); ++l) {
    const std::string g = prefix + "/layers/" + std::to_string(l);
    const auto w = r.find(g + "/weight").values<float>();
    const auto b = r.find(g + "/bias").values<float>();
    std::copy(w.begin(), w.end(), net.weight(l));
    std::copy(b.begin(), b.end(), net.bias(l));
  }
  for (const auto& a : r.attributes) {
    if (a.path != m) continue;
    if (a.name == "input_mean") net.input_mean = static_cast<float>(std::get<double>(a.value));
    if (a.name == "input_std") net.input_std = static_cast<float>(std::get<double>(a.value));
  }
  return net;
}

void add_measures(Record& r, const std::string& prefix, const info::Measures& m,
                  const Attributes& attributes) {
  const std::string base = group_of(prefix);
  r.attribute(base, "ioca_measures_format", measures_format_version);
  r.attribute(base, "samples", static_cast<std::int64_t>(m.samples));
  r.attribute(base, "classes", static_cast<std::int64_t>(m.classes));
  r.attribute(base, "units", std::string("bits"));
  // The measure settings first, in the order the study's /study/records manifest has
  // always listed them (a file's attributes have no order; the manifest's bytes do).
  const std::vector<std::string> first{"binning",           "bins", "zero_bin", "estimator",
                                       "model_fingerprint", "split"};
  for (const auto& k : first)
    if (attributes.count(k)) r.attribute(base, k, attributes.at(k));
  std::set<std::string> reserved{"ioca_measures_format", "samples", "classes", "units"};
  reserved.insert(first.begin(), first.end());
  add_attributes(r, base, attributes, reserved);
  for (std::size_t k = 0; k < m.layers.size(); ++k) {
    const auto& L = m.layers[k];
    const std::string g = prefix + "/layers/" + std::to_string(k);
    const std::uint64_t n = L.entropy.size();
    for (const auto& name : info::quantity_names())
      if (!info::optional_quantity(name) || !info::quantity(L, name).empty())
        r.add(g + "/" + name, info::quantity(L, name), {n});
    r.add(g + "/bin_low", L.bin_low, {n});
    r.add(g + "/bin_high", L.bin_high, {n});
    r.add(g + "/kl_selectivity_class", L.kl_selectivity_class, {n});
    r.add(g + "/bins_used", std::vector<std::int64_t>(L.bins_used.begin(), L.bins_used.end()), {n});
    if (!L.histograms.empty())
      r.add(
          g + "/histogram", L.histograms,
          {n, static_cast<std::uint64_t>(L.histogram_bins), static_cast<std::uint64_t>(m.classes)});
    if (L.pairs) {
      const info::LayerPairs& p = *L.pairs;
      const std::uint64_t P = p.size();
      r.add(g + "/pairs/first", p.first, {P});
      r.add(g + "/pairs/second", p.second, {P});
      for (const auto& name : info::pair_quantity_names())
        r.add(g + "/pairs/" + name, info::pair_quantity(p, name), {P});
    }
  }
}

info::Measures measures_from_record(const Record& r, const std::string& prefix, int hidden_layers) {
  info::Measures m;
  for (int k = 0; k < hidden_layers; ++k) {
    const std::string g = prefix + "/layers/" + std::to_string(k);
    info::LayerMeasures L;
    for (const auto& name : info::quantity_names()) {
      const std::string path = g + "/" + name;
      // An optional quantity may be absent (a checkpoint of an earlier ioca, no MI null).
      if (info::optional_quantity(name) &&
          std::none_of(r.datasets.begin(), r.datasets.end(),
                       [&](const DatasetEntry& d) { return d.path == path; }))
        continue;
      info::quantity(L, name) = r.find(path).values<double>();
    }
    L.kl_selectivity_class = r.find(g + "/kl_selectivity_class").values<std::int64_t>();
    m.layers.push_back(std::move(L));
  }
  return m;
}

Attributes measure_attributes(const info::MeasureOptions& o, const std::string& split,
                              const std::string& model_fingerprint) {
  Attributes a{{"binning", std::string(info::to_string(o.binning.rule))},
               {"bins", static_cast<std::int64_t>(o.binning.bins)},
               {"zero_bin", static_cast<std::int64_t>(o.binning.zero_bin)},
               {"estimator", std::string(info::to_string(o.estimator))},
               {"split", split},
               {"model_fingerprint", model_fingerprint}};
  if (o.binning.threshold) a["threshold"] = static_cast<double>(*o.binning.threshold);
  if (o.mi_null_permutations > 0) {
    a["mi_null_permutations"] = static_cast<std::int64_t>(o.mi_null_permutations);
    a["mi_null_seed"] = static_cast<std::int64_t>(o.mi_null_seed);
  }
  return a;
}

void add_information_plane(Record& r, const std::string& prefix, const info::InformationPlane& p) {
  const std::string g = prefix + "/information_plane";
  r.add(g + "/entropy", p.entropy, {p.entropy.size()});
  r.add(g + "/mutual_information", p.mutual_information, {p.mutual_information.size()});
  r.attribute(g, "units", std::string("bits"));
}

void add_training_plane(Record& r, const std::string& prefix, const info::TrainingPlane& p) {
  const std::string g = prefix + "/training/information_plane";
  const std::uint64_t S = p.epochs.size();
  r.attribute(g, "binning", std::string(info::to_string(p.options.binning.rule)));
  r.attribute(g, "bins", static_cast<std::int64_t>(p.options.binning.bins));
  r.attribute(g, "kde_noise_variance", p.options.noise_variance);
  r.attribute(g, "samples", static_cast<std::int64_t>(p.samples));
  r.attribute(g, "log2_samples", std::log2(static_cast<double>(p.samples)));
  r.attribute(g, "split", p.split);
  r.attribute(g, "units", std::string("bits"));
  r.add(g + "/epochs", p.epochs, {S});
  const std::size_t H = p.points.empty() ? 0 : p.points.front().binned_entropy.size();
  for (std::size_t l = 0; l < H; ++l) {
    // Each quantity's trajectory: layer l of every snapshot, in epoch order.
    const auto series = [&](auto member) {
      std::vector<std::decay_t<decltype((p.points.front().*member)[0])>> v;
      for (const auto& point : p.points) v.push_back((point.*member).at(l));
      return v;
    };
    const std::string k = g + "/layers/" + std::to_string(l);
    r.add(k + "/binned_entropy", series(&info::SnapshotLayers::binned_entropy), {S});
    r.add(k + "/binned_mutual_information",
          series(&info::SnapshotLayers::binned_mutual_information), {S});
    r.add(k + "/saturated", series(&info::SnapshotLayers::saturated), {S});
    r.add(k + "/kde_upper_xt", series(&info::SnapshotLayers::kde_upper_xt), {S});
    r.add(k + "/kde_upper_ty", series(&info::SnapshotLayers::kde_upper_ty), {S});
  }
}

void add_hidden_widths(Record& r, const std::string& prefix, const std::vector<int>& widths) {
  r.add(prefix + "/hidden_widths", std::vector<std::int64_t>(widths.begin(), widths.end()),
        {widths.size()});
}

namespace {

// accuracy [P], loss [P], per_class_accuracy [P, C], ablated [P], order [n].
void add_curve(Record& r, const std::string& g, const ablation::Curve& c, std::uint64_t classes,
               const std::vector<std::int64_t>& order) {
  const std::uint64_t P = c.ablated.size();
  r.add(g + "/accuracy", c.accuracy, {P});
  r.add(g + "/loss", c.loss, {P});
  r.add(g + "/per_class_accuracy", c.per_class_accuracy, {P, classes});
  r.add(g + "/ablated", c.ablated, {P});
  r.add(g + "/order", order, {order.size()});
}

// R curves on the same points: accuracy and loss [R, P], per_class_accuracy [R, P, C],
// ablated [P], order [R, n].
void add_random(Record& r, const std::string& g, const RandomCurves& rc, std::uint64_t classes,
                const ablation::Scope& scope) {
  std::vector<double> acc, loss, pca;
  std::vector<std::int64_t> order;
  for (std::size_t i = 0; i < rc.curves.size(); ++i) {
    const auto& c = rc.curves[i];
    acc.insert(acc.end(), c.accuracy.begin(), c.accuracy.end());
    loss.insert(loss.end(), c.loss.begin(), c.loss.end());
    pca.insert(pca.end(), c.per_class_accuracy.begin(), c.per_class_accuracy.end());
    const auto idx = ablation::order_indices(scope, rc.orders[i]);
    order.insert(order.end(), idx.begin(), idx.end());
  }
  const std::uint64_t R = rc.curves.size(), P = rc.curves.front().ablated.size(),
                      n = rc.orders.front().size();
  r.add(g + "/accuracy", acc, {R, P});
  r.add(g + "/loss", loss, {R, P});
  r.add(g + "/per_class_accuracy", pca, {R, P, classes});
  r.add(g + "/ablated", rc.curves.front().ablated, {P});
  r.add(g + "/order", order, {R, n});
}

}  // namespace

void add_ablation_curves(Record& r, const std::string& prefix, const AblationResults& results) {
  std::map<std::string, ablation::Scope> scopes;  // each scope's group gets @neurons once
  const auto scope = [&](const std::string& name) -> const ablation::Scope& {
    auto it = scopes.find(name);
    if (it == scopes.end())
      it = scopes.emplace(name, ablation::make_scope(results.hidden_widths, name)).first;
    return it->second;
  };
  for (const auto& o : results.ordered) scope(o.scope);
  for (const auto& rc : results.random) scope(rc.scope);
  for (const auto& c : results.custom) scope(c.scope);
  const std::string base = prefix + "/ablation/";
  for (const auto& [name, s] : scopes)
    r.attribute(base + name, "neurons", static_cast<std::int64_t>(s.neurons.size()));
  const auto C = static_cast<std::uint64_t>(results.classes);
  for (const auto& o : results.ordered) {
    const std::string g =
        base + o.scope + "/" + o.quantity + "/" + std::string(to_string(o.direction));
    add_curve(r, g, o.curve, C, ablation::order_indices(scope(o.scope), o.order));
    if (o.tied) r.attribute(g, "tied", *o.tied);
  }
  for (const auto& rc : results.random)
    add_random(r, base + rc.scope + "/random", rc, C, scope(rc.scope));
  for (const auto& c : results.custom)
    add_curve(r, base + c.scope + "/custom/" + c.name, c.curve, C,
              ablation::order_indices(scope(c.scope), c.order));
}

void add_single_damage(Record& r, const std::string& prefix, const ablation::SingleDamage& d) {
  const std::string g = prefix + "/single_neuron";
  r.attribute(g, "intact_accuracy", d.intact_accuracy);
  r.attribute(g, "intact_loss", d.intact_loss);
  for (std::size_t l = 0; l < d.accuracy_drop.size(); ++l) {
    const std::uint64_t w = d.accuracy_drop[l].size();
    r.add(g + "/layers/" + std::to_string(l) + "/accuracy_drop", d.accuracy_drop[l], {w});
    r.add(g + "/layers/" + std::to_string(l) + "/loss_increase", d.loss_increase[l], {w});
  }
}

void add_pair_interaction(Record& r, const std::string& prefix,
                          const std::vector<ablation::PairSelection>& selections,
                          const ablation::PairDamage& together,
                          const ablation::SingleDamage& alone) {
  std::size_t total = 0;
  for (const auto& s : selections) total += s.pairs.size();
  if (together.accuracy_drop.size() != total || together.loss_increase.size() != total)
    throw std::logic_error("add_pair_interaction: one pair damage per selected pair");
  std::size_t at = 0;  // the first pair of this selection in `together`
  for (const auto& s : selections) {
    const std::size_t Q = s.pairs.size();
    if (s.group.size() != Q || s.redundancy.size() != Q || s.synergy.size() != Q)
      throw std::logic_error("add_pair_interaction: a selection's columns differ in length");
    if (Q == 0) continue;  // a layer without pairs (one neuron) gets no group
    const auto slice = [&](const std::vector<double>& v) {
      return std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(at),
                                 v.begin() + static_cast<std::ptrdiff_t>(at + Q));
    };
    ablation::PairDamage own;
    own.accuracy_drop = slice(together.accuracy_drop);
    own.loss_increase = slice(together.loss_increase);
    const ablation::PairInteraction interaction = ablation::pair_interaction(s.pairs, own, alone);
    std::vector<std::int64_t> first, second, group;
    for (std::size_t q = 0; q < Q; ++q) {
      if (s.pairs[q].layer != s.layer)
        throw std::logic_error("add_pair_interaction: a pair outside its selection's layer");
      first.push_back(s.pairs[q].first);
      second.push_back(s.pairs[q].second);
      group.push_back(static_cast<std::int64_t>(s.group[q]));
    }
    const std::string g = prefix + "/pair_interaction/layers/" + std::to_string(s.layer);
    r.add(g + "/first", first, {Q});
    r.add(g + "/second", second, {Q});
    r.add(g + "/group", group, {Q});
    r.add(g + "/accuracy_drop", own.accuracy_drop, {Q});
    r.add(g + "/loss_increase", own.loss_increase, {Q});
    r.add(g + "/accuracy_interaction", interaction.accuracy, {Q});
    r.add(g + "/loss_interaction", interaction.loss, {Q});
    r.add(g + "/redundancy", s.redundancy, {Q});
    r.add(g + "/synergy", s.synergy, {Q});
    r.attribute(g, "count", s.count);
    r.attribute(g, "groups", std::string(ablation::pair_group_names));
    at += Q;
  }
}

}  // namespace ioca::io
