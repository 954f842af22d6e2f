#include "study/worker.hpp"

#include <chrono>

#include "ioca/core.hpp"
#include "ioca/io.hpp"
#include "ioca/version.hpp"

namespace ioca::study {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string key_of(const data::LoadOptions& o) {
  io::Attributes a;
  io::add_data_attributes(o, a);
  std::string k = o.data_dir;
  for (const auto& [name, v] : a) {
    k += "|" + name + "=";
    if (const auto* s = std::get_if<std::string>(&v))
      k += *s;
    else if (const auto* d = std::get_if<double>(&v))
      k += std::to_string(*d);
    else
      k += std::to_string(std::get<std::int64_t>(v));
  }
  return k;
}

const data::Dataset& split_named(const data::Splits& s, const std::string& name) {
  if (name == "train") return s.train;
  if (name == "test") return s.test;
  return s.validation;
}

// Position of each neuron in the scope's enumeration (what the file stores as `order`).
std::vector<std::int64_t> order_indices(const nn::Mlp& net, const ablation::Scope& scope,
                                        const std::vector<ablation::Neuron>& order) {
  std::vector<std::int64_t> offset(static_cast<std::size_t>(net.num_hidden()), 0);
  if (scope.name == "network")
    for (int l = 1; l < net.num_hidden(); ++l)
      offset[static_cast<std::size_t>(l)] =
          offset[static_cast<std::size_t>(l - 1)] + net.out_size(l - 1);
  std::vector<std::int64_t> out;
  out.reserve(order.size());
  for (const auto& n : order) out.push_back(offset[static_cast<std::size_t>(n.layer)] + n.index);
  return out;
}

// The constant each neuron is set to when ablated: 0, or its mean on the estimation split.
ablation::AblationValues ablation_values(const nn::Mlp& net, const info::Measures& m,
                                         ablation::AblateTo to) {
  ablation::AblationValues values = ablation::zero_values(net);
  if (to == ablation::AblateTo::mean)
    for (std::size_t l = 0; l < values.size(); ++l)
      for (std::size_t j = 0; j < values[l].size(); ++j)
        values[l][j] = static_cast<float>(m.layers[l].mean_activation[j]);
  return values;
}

bool wants_single(const StudyConfig& c) {
  return c.single ||
         std::find(c.quantities.begin(), c.quantities.end(), "single_damage") != c.quantities.end();
}

}  // namespace

void Worker::add_seconds(double PhaseSeconds::*phase, double seconds) {
  const std::lock_guard<std::mutex> lock(mutex_);
  seconds_.*phase += seconds;
}

const data::Splits& Worker::splits(const data::LoadOptions& o) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const std::string k = key_of(o);
  auto it = data_.find(k);
  if (it == data_.end()) {
    const auto t = Clock::now();
    it = data_.emplace(k, data::load(o)).first;
    seconds_.load += seconds_since(t);  // under the lock already
  }
  return it->second;
}

Record Worker::run(const Task& task, const std::function<bool()>& should_stop) {
  const NetworkSpec& n = plan_.networks.at(static_cast<std::size_t>(task.network));
  return task.kind == TaskKind::prepare ? prepare(n, task, should_stop) : sweep(n, task);
}

Record Worker::prepare(const NetworkSpec& n, const Task& task,
                       const std::function<bool()>& should_stop) {
  const data::Splits& sp = splits(n.data);
  const std::string prefix = prefix_of(n);
  nn::Mlp net;
  io::Attributes model_attrs;
  auto t = Clock::now();
  if (!n.model_file.empty()) {
    io::Model m = io::load_model(n.model_file);
    net = std::move(m.net);
    model_attrs = std::move(m.attributes);
    nn::check_compatible(net, sp.test, n.model_file);
  } else {
    net = nn::make_mlp(static_cast<int>(sp.train.features), n.hidden, n.activation,
                       sp.train.classes, derive_seed(n.seed, {hash_name("init")}));
    nn::TrainOptions options = config_.train;
    options.seed = n.seed;
    nn::train(net, sp.train, options, [&](const nn::EpochStats&) {
      if (should_stop && should_stop()) throw TaskInterrupted();
    });
    // The attributes `ioca train` writes, without timings (those go to /provenance).
    io::add_data_attributes(n.data, model_attrs);
    io::add_training_attributes(n.hidden, n.activation, options, model_attrs);
    if (sp.validation.samples)
      model_attrs["validation_accuracy"] = nn::evaluate(net, sp.validation).accuracy;
  }
  const nn::Evaluation test = nn::evaluate(net, sp.test);
  if (n.model_file.empty()) {
    model_attrs["test_accuracy"] = test.accuracy;
    model_attrs["test_loss"] = test.loss;
  }
  add_seconds(&PhaseSeconds::train, seconds_since(t));

  t = Clock::now();
  const data::Dataset& estimation = split_named(sp, config_.measure_split);
  if (estimation.samples == 0)
    throw Error("network " + n.name + ": the " + config_.measure_split + " split of " +
                n.data.dataset + " is empty (set data.validation_size > 0 or measure.split)");
  const info::Measures measures = info::measure(net, estimation, config_.measure);
  const info::InformationPlane plane = info::information_plane(net, estimation, config_.measure);
  add_seconds(&PhaseSeconds::measure, seconds_since(t));

  const ablation::AblationValues values = ablation_values(net, measures, config_.ablate_to);

  Record r;
  r.key = task.key;
  const std::string fingerprint = nn::fingerprint(net);
  const auto H = static_cast<std::uint64_t>(net.num_hidden());
  std::string hidden;
  for (int l = 0; l < net.num_hidden(); ++l)
    hidden += (hidden.empty() ? "" : ",") + std::to_string(net.out_size(l));
  const std::map<std::string, io::AttributeValue> network_attrs{
      {"index", static_cast<std::int64_t>(n.index)},
      {"dataset", n.data.dataset},
      {"hidden", hidden},
      {"activation", std::string(nn::to_string(net.activation(0)))},
      {"seed", static_cast<std::int64_t>(n.seed)},
      {"source", n.model_file.empty() ? std::string("trained") : n.model_file},
      {"classes", static_cast<std::int64_t>(net.output_size())},
      {"test_accuracy", test.accuracy},
      {"test_loss", test.loss},
      {"test_samples", static_cast<std::int64_t>(test.samples)},
      {"model_fingerprint", fingerprint},
      {"binning", std::string(info::to_string(config_.measure.binning.rule))},
      {"bins", static_cast<std::int64_t>(config_.measure.binning.bins)},
      {"zero_bin", static_cast<std::int64_t>(config_.measure.binning.zero_bin)},
      {"estimator", std::string(info::to_string(config_.measure.estimator))},
      {"measure_split", config_.measure_split},
      {"measure_samples", static_cast<std::int64_t>(estimation.samples)},
      {"ablate_to", std::string(ablation::to_string(config_.ablate_to))},
      {"random_repeats", static_cast<std::int64_t>(config_.random)},
      {"ablation_seed", static_cast<std::int64_t>(n.seed)},
      {"steps", static_cast<std::int64_t>(config_.steps)}};
  for (const auto& [k, v] : network_attrs) r.attribute(prefix, k, v);
  std::vector<std::int64_t> widths;
  for (int l = 0; l < net.num_hidden(); ++l) widths.push_back(net.out_size(l));
  r.add(prefix + "/hidden_widths", widths, {H});
  add_model(r, prefix, net, model_attrs);
  add_measures(r, prefix, measures);
  for (const char* k : {"binning", "bins", "zero_bin", "estimator", "model_fingerprint"})
    r.attribute(prefix + "/measures", k, network_attrs.at(k));
  r.attribute(prefix + "/measures", "split", config_.measure_split);
  r.add(prefix + "/information_plane/entropy", plane.entropy, {H});
  r.add(prefix + "/information_plane/mutual_information", plane.mutual_information, {H});
  r.attribute(prefix + "/information_plane", "units", std::string("bits"));

  if (wants_single(config_)) {
    t = Clock::now();
    ablation::SweepOptions so;
    so.chunk_rows = config_.chunk_rows;
    so.memory_budget_bytes = config_.memory_budget_bytes;
    const ablation::SingleDamage d = ablation::single_neuron_damage(net, sp.test, values, so);
    add_seconds(&PhaseSeconds::single, seconds_since(t));
    const std::string g = prefix + "/single_neuron";
    r.attribute(g, "intact_accuracy", d.intact_accuracy);
    r.attribute(g, "intact_loss", d.intact_loss);
    for (std::size_t l = 0; l < d.accuracy_drop.size(); ++l) {
      const std::uint64_t w = d.accuracy_drop[l].size();
      r.add(g + "/layers/" + std::to_string(l) + "/accuracy_drop", d.accuracy_drop[l], {w});
      r.add(g + "/layers/" + std::to_string(l) + "/loss_increase", d.loss_increase[l], {w});
    }
  }
  return r;
}

Prepared Worker::adopt(const Record& r, int index) const {
  if (index < 0 || index >= static_cast<int>(plan_.networks.size()) ||
      plan_.tasks[static_cast<std::size_t>(index)].key != r.key)
    throw Error("task record '" + r.key + "' belongs to no network of this study");
  const NetworkSpec& n = plan_.networks[static_cast<std::size_t>(index)];
  const std::string prefix = prefix_of(n);
  Prepared p;
  p.net = model_from_record(r, prefix);
  p.measures = measures_from_record(r, prefix, p.net.num_hidden());
  p.fingerprint = nn::fingerprint(p.net);
  if (wants_single(config_))
    for (int l = 0; l < p.net.num_hidden(); ++l)
      p.single_accuracy_drop.push_back(
          r.find(prefix + "/single_neuron/layers/" + std::to_string(l) + "/accuracy_drop")
              .values<double>());
  p.values = ablation_values(p.net, p.measures, config_.ablate_to);
  return p;
}

std::shared_ptr<const Prepared> Worker::prepared(int network) {
  const std::lock_guard<std::mutex> lock(prepared_mutex_);
  for (auto it = prepared_.begin(); it != prepared_.end(); ++it)
    if (it->first == network) {
      prepared_.splice(prepared_.begin(), prepared_, it);
      return it->second;
    }
  if (!source_) throw std::logic_error("no source of prepared networks");
  auto p = std::make_shared<const Prepared>(adopt(source_(network), network));
  prepared_.emplace_front(network, p);
  // A few per thread: the tasks running now, and the next ones of the same networks.
  const std::size_t keep = 4 * static_cast<std::size_t>(std::max(1, max_threads()));
  while (prepared_.size() > keep) prepared_.pop_back();
  return p;
}

Record Worker::sweep(const NetworkSpec& n, const Task& task) {
  const auto t = Clock::now();
  const std::shared_ptr<const Prepared> held = prepared(n.index);
  const Prepared& p = *held;
  const data::Splits& sp = splits(n.data);
  const ablation::Scope scope = ablation::make_scope(p.net, task.scope);
  const auto N = static_cast<std::int64_t>(scope.neurons.size());

  std::vector<std::vector<ablation::Neuron>> orders;
  if (task.group == "random") {
    for (int i = 0; i < config_.random; ++i)
      orders.push_back(ablation::random_order(
          scope, derive_seed(n.seed, {hash_name(p.fingerprint), hash_name(task.scope),
                                      static_cast<std::uint64_t>(i)})));
  } else {
    std::vector<double> v;
    for (const auto& nr : scope.neurons) {
      const auto l = static_cast<std::size_t>(nr.layer), j = static_cast<std::size_t>(nr.index);
      v.push_back(task.group == "single_damage"
                      ? p.single_accuracy_drop.at(l).at(j)
                      : info::quantity(p.measures.layers[l], task.group)[j]);
    }
    for (const auto d : config_.directions) orders.push_back(ablation::order_by_value(scope, v, d));
  }
  ablation::SweepOptions so;
  so.chunk_rows = config_.chunk_rows;
  so.memory_budget_bytes = config_.memory_budget_bytes;
  if (config_.steps > 0) so.record_at = ablation::even_points(N, config_.steps);
  const std::vector<ablation::Curve> curves =
      ablation::run_sweeps(p.net, sp.test, p.values, orders, so);

  Record r;
  r.key = task.key;
  const std::string base = prefix_of(n) + "/ablation/" + task.scope;
  r.attribute(base, "neurons", N);
  const auto C = static_cast<std::uint64_t>(p.net.output_size());
  if (task.group == "random") {
    const auto R = static_cast<std::uint64_t>(curves.size());
    const auto P = static_cast<std::uint64_t>(curves.front().ablated.size());
    std::vector<double> acc, loss, pca;
    std::vector<std::int64_t> order;
    for (std::size_t i = 0; i < curves.size(); ++i) {
      acc.insert(acc.end(), curves[i].accuracy.begin(), curves[i].accuracy.end());
      loss.insert(loss.end(), curves[i].loss.begin(), curves[i].loss.end());
      pca.insert(pca.end(), curves[i].per_class_accuracy.begin(),
                 curves[i].per_class_accuracy.end());
      const auto idx = order_indices(p.net, scope, orders[i]);
      order.insert(order.end(), idx.begin(), idx.end());
    }
    const std::string g = base + "/random";
    r.add(g + "/accuracy", acc, {R, P});
    r.add(g + "/loss", loss, {R, P});
    r.add(g + "/per_class_accuracy", pca, {R, P, C});
    r.add(g + "/ablated", curves.front().ablated, {P});
    r.add(g + "/order", order, {R, static_cast<std::uint64_t>(N)});
  } else {
    for (std::size_t i = 0; i < curves.size(); ++i) {
      const auto& c = curves[i];
      const auto P = static_cast<std::uint64_t>(c.ablated.size());
      const std::string g =
          base + "/" + task.group + "/" + std::string(ablation::to_string(config_.directions[i]));
      r.add(g + "/accuracy", c.accuracy, {P});
      r.add(g + "/loss", c.loss, {P});
      r.add(g + "/per_class_accuracy", c.per_class_accuracy, {P, C});
      r.add(g + "/ablated", c.ablated, {P});
      r.add(g + "/order", order_indices(p.net, scope, orders[i]), {static_cast<std::uint64_t>(N)});
    }
  }
  add_seconds(&PhaseSeconds::ablate, seconds_since(t));
  return r;
}

}  // namespace ioca::study
