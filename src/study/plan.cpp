#include "study/plan.hpp"

#include <filesystem>
#include <set>

#include "ioca/core.hpp"
#include "ioca/io.hpp"

namespace ioca::study {

std::string prefix_of(const NetworkSpec& n) { return "/networks/" + n.name; }

std::string setting_prefix(const NetworkSpec& n, const StudyConfig& c, int setting) {
  if (setting == 0) return prefix_of(n);
  return prefix_of(n) + "/settings/" + c.measure_settings.at(static_cast<std::size_t>(setting)).name;
}

std::string setting_name(const info::MeasureOptions& o) {
  const std::string estimator(info::to_string(o.estimator));
  if (o.binning.rule == info::Binning::binary) return "binary-" + estimator;
  return std::string(info::to_string(o.binning.rule)) + "-" + std::to_string(o.binning.bins) + "-" +
         estimator;
}

bool depends_on_binning(const std::string& quantity) {
  static const std::set<std::string> independent{
      "selectivity_index", "mean_activation", "mean_abs_activation", "activation_variance",
      "outgoing_l1",       "outgoing_l2",     "single_damage"};
  return independent.count(quantity) == 0;
}

namespace {

std::string widths_name(const std::vector<int>& hidden, const char* sep) {
  std::string s;
  for (int w : hidden) s += (s.empty() ? "" : sep) + std::to_string(w);
  return s;
}

std::vector<std::string> scopes_for(const StudyConfig& c, std::size_t hidden_layers,
                                    const std::string& network) {
  std::vector<std::string> all;
  for (std::size_t l = 0; l < hidden_layers; ++l) all.push_back("layer" + std::to_string(l));
  all.push_back("network");
  if (c.scopes.empty()) return all;
  for (const auto& s : c.scopes)
    if (std::find(all.begin(), all.end(), s) == all.end())
      throw Error("scope '" + s + "' does not exist in network " + network + " (it has " +
                  std::to_string(hidden_layers) + " hidden layers)");
  return c.scopes;
}

}  // namespace

Plan make_plan(const StudyConfig& c) {
  Plan p;
  std::set<std::string> names;
  if (!c.model_files.empty()) {
    for (std::size_t i = 0; i < c.model_files.size(); ++i) {
      const std::string& path = c.model_files[i];
      const io::Model m = io::load_model(path);
      NetworkSpec n;
      n.index = static_cast<int>(i);
      n.model_file = path;
      n.name = "model" + std::to_string(i) + "-" + std::filesystem::path(path).stem().string();
      n.data.dataset = c.datasets.empty() ? "mnist" : c.datasets.front();
      n.data.validation_size = c.validation_size.value_or(10000);
      n.data.split_seed = c.split_seed;
      n.data.synthetic = c.synthetic;
      io::apply_data_attributes(m.attributes, n.data);
      data::check_dataset_name(n.data.dataset);
      n.data.data_dir = c.data_dir.empty() ? data::default_data_dir(n.data.dataset) : c.data_dir;
      for (int l = 0; l < m.net.num_hidden(); ++l) n.hidden.push_back(m.net.out_size(l));
      if (n.hidden.empty()) throw FileError(path, "the network has no hidden layer to study");
      n.activation = m.net.activation(0);
      n.seed = static_cast<std::uint64_t>(io::attribute_int(m.attributes, "seed", 1));
      n.scopes = scopes_for(c, n.hidden.size(), n.name);
      p.networks.push_back(std::move(n));
    }
  } else {
    for (const auto& ds : c.datasets)
      for (const auto& hidden : c.architectures)
        for (const auto act : c.activations)
          for (std::size_t si = 0; si < c.seeds.size(); ++si) {
            const std::uint64_t seed = c.seeds[si];
            NetworkSpec n;
            n.index = static_cast<int>(p.networks.size());
            n.name = ds + "-" + std::string(nn::to_string(act)) + "-" + widths_name(hidden, "x") +
                     "-s" + std::to_string(seed);
            n.data.dataset = ds;
            n.data.data_dir = c.data_dir.empty() ? data::default_data_dir(ds) : c.data_dir;
            n.data.validation_size = c.validation_size.value_or(ds == "synthetic" ? 1000 : 10000);
            n.data.split_seed = c.split_seeds.empty() ? c.split_seed : c.split_seeds.at(si);
            n.data.synthetic = c.synthetic;
            n.hidden = hidden;
            n.activation = act;
            n.seed = seed;
            n.scopes = scopes_for(c, hidden.size(), n.name);
            p.networks.push_back(std::move(n));
          }
  }
  for (const auto& n : p.networks)
    if (!names.insert(n.name).second)
      throw Error("two networks of the study would both be named '" + n.name +
                  "' (repeated data set, architecture, activation, seed or model file name)");

  // Keys sort by network index first (zero-padded), so the file lists networks in order.
  const auto key_base = [](const NetworkSpec& n) {
    char idx[16];
    std::snprintf(idx, sizeof idx, "%06d", n.index);
    return std::string(idx) + "/" + n.name;
  };
  for (const auto& n : p.networks)
    p.tasks.push_back({key_base(n) + "/prepare", TaskKind::prepare, n.index, "", ""});
  for (const auto& n : p.networks)
    for (const auto& s : n.scopes) {
      for (const auto& q : c.quantities) {
        p.tasks.push_back({key_base(n) + "/sweep/" + s + "/" + q, TaskKind::sweep, n.index, s, q});
        // The further measure settings of a quantity that depends on them: "<q>/<setting>".
        if (depends_on_binning(q))
          for (std::size_t k = 1; k < c.measure_settings.size(); ++k)
            p.tasks.push_back({key_base(n) + "/sweep/" + s + "/" + q + "/" +
                                   c.measure_settings[k].name,
                               TaskKind::sweep, n.index, s, q, static_cast<int>(k)});
      }
      if (c.random > 0)
        p.tasks.push_back(
            {key_base(n) + "/sweep/" + s + "/random", TaskKind::sweep, n.index, s, "random"});
    }
  return p;
}

}  // namespace ioca::study
