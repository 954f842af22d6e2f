#include "study/worker.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "io/hdf5.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"

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

bool wants_single(const StudyConfig& c) {
  return c.single || std::find(c.quantities.begin(), c.quantities.end(), pipeline::single_damage) !=
                         c.quantities.end();
}

// The group attributes of /networks/<name>.
io::Attributes network_attributes(const NetworkSpec& n, const StudyConfig& c,
                                  const pipeline::Preparation& prep) {
  const nn::Mlp& net = prep.prepared.net;
  std::string hidden;
  for (const int w : ablation::hidden_widths(net))
    hidden += (hidden.empty() ? "" : ",") + std::to_string(w);
  io::Attributes a{{"index", static_cast<std::int64_t>(n.index)},
                   {"dataset", n.data.dataset},
                   {"hidden", hidden},
                   {"activation", std::string(nn::to_string(net.activation(0)))},
                   {"seed", static_cast<std::int64_t>(n.seed)},
                   {"source", n.model_file.empty() ? std::string("trained") : n.model_file},
                   {"classes", static_cast<std::int64_t>(net.output_size())},
                   {"test_accuracy", prep.test.accuracy},
                   {"test_loss", prep.test.loss},
                   {"test_samples", static_cast<std::int64_t>(prep.test.samples)},
                   {"model_fingerprint", prep.prepared.fingerprint},
                   {"measure_split", c.measure_split},
                   {"measure_samples", static_cast<std::int64_t>(prep.measure_samples)},
                   {"ablate_to", std::string(ablation::to_string(c.ablate_to))},
                   {"random_repeats", static_cast<std::int64_t>(c.random)},
                   {"ablation_seed", static_cast<std::int64_t>(n.seed)},
                   {"steps", static_cast<std::int64_t>(c.steps)}};
  const io::Attributes measure = io::measure_attributes(c.measure, c.measure_split, "");
  for (const char* k : {"binning", "bins", "zero_bin", "estimator"}) a[k] = measure.at(k);
  // Only in studies that use them, so that a study without stays as it always was.
  if (c.measure_settings.size() > 1) {
    std::string names;
    for (const auto& s : c.measure_settings) names += (names.empty() ? "" : ",") + s.name;
    a["measure_settings"] = names;
  }
  if (!c.split_seeds.empty()) a["split_seed"] = static_cast<std::int64_t>(n.data.split_seed);
  return a;
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

nn::TrainOptions Worker::train_options(const NetworkSpec& n) const {
  nn::TrainOptions options = config_.train;
  options.seed = n.seed;
  return options;
}

pipeline::Settings Worker::settings() const {
  pipeline::Settings s;
  s.measure_split = config_.measure_split;
  s.measure = config_.measure;
  s.ablate_to = config_.ablate_to;
  s.single = wants_single(config_);
  s.sweep.chunk_rows = config_.chunk_rows;
  s.sweep.memory_budget_bytes = config_.memory_budget_bytes;
  return s;
}

// The information plane over training of the study's trained networks (train.snapshots).
pipeline::Snapshots Worker::snapshots() const {
  pipeline::Snapshots s;
  s.epochs = config_.snapshots;
  s.split = config_.measure_split;
  s.max_samples = config_.snapshot_samples;
  s.options = config_.snapshot;
  return s;
}

// The network of a prepare task: loaded, or trained (its attributes as `ioca train` writes
// them, without timings: those go to /provenance).
io::Model Worker::network(const NetworkSpec& n, const data::Splits& sp,
                          const std::function<bool()>& should_stop,
                          std::optional<info::TrainingPlane>* plane, double* snapshot_seconds) {
  if (!n.model_file.empty()) {
    io::Model m = [&] {
      const auto lock = io::h5::library_lock();  // sweeps may read the checkpoint meanwhile
      return io::load_model(n.model_file);
    }();
    nn::check_compatible(m.net, sp.test, n.model_file);
    const std::string overlap = pipeline::training_overlap_warning(
        m, n.data, sp, config_.measure_split, n.model_file);
    if (!overlap.empty()) std::fprintf(stderr, "ioca run: %s\n", overlap.c_str());
    return m;
  }
  pipeline::Trained trained = pipeline::train_with_snapshots(
      sp, n.hidden, n.activation, train_options(n), snapshots(), [&](const nn::EpochStats&) {
        if (should_stop && should_stop()) throw TaskInterrupted();
      });
  *plane = std::move(trained.plane);
  *snapshot_seconds = trained.snapshot_seconds;
  return {std::move(trained.net), {}, {}};
}

Record Worker::prepare(const NetworkSpec& n, const Task& task,
                       const std::function<bool()>& should_stop) {
  const data::Splits& sp = splits(n.data);
  // Before training: the snapshots measure this split too.
  if (pipeline::split_named(sp, config_.measure_split).samples == 0)
    throw Error("network " + n.name + ": the " + config_.measure_split + " split of " +
                n.data.dataset + " is empty (set data.validation_size > 0 or measure.split)");
  const auto t = Clock::now();
  std::optional<info::TrainingPlane> training_plane;
  double snapshot_seconds = 0;
  io::Model model = network(n, sp, should_stop, &training_plane, &snapshot_seconds);
  // The snapshots are measures: their time goes to that phase, not to training.
  add_seconds(&PhaseSeconds::train, seconds_since(t) - snapshot_seconds);
  add_seconds(&PhaseSeconds::measure, snapshot_seconds);
  const pipeline::Preparation prep =
      pipeline::prepare(std::move(model.net), sp, settings(), "network " + n.name);
  add_seconds(&PhaseSeconds::train, prep.evaluate_seconds);
  add_seconds(&PhaseSeconds::measure, prep.measure_seconds);
  add_seconds(&PhaseSeconds::single, prep.single_seconds);
  const pipeline::Prepared& p = prep.prepared;
  if (n.model_file.empty())
    model.attributes = pipeline::trained_attributes(n.data, sp, n.hidden, n.activation,
                                                    train_options(n), p.net, prep.test);

  Record r;
  r.key = task.key;
  const std::string prefix = prefix_of(n);
  for (const auto& [k, v] : network_attributes(n, config_, prep)) r.attribute(prefix, k, v);
  io::add_hidden_widths(r, prefix, ablation::hidden_widths(p.net));
  io::add_model(r, prefix + "/model", p.net, model.attributes);
  io::add_measures(r, prefix + "/measures", p.measures,
                   io::measure_attributes(config_.measure, config_.measure_split, p.fingerprint));
  io::add_information_plane(r, prefix, prep.plane);
  if (training_plane) io::add_training_plane(r, prefix, *training_plane);
  if (prep.single) io::add_single_damage(r, prefix, *prep.single);
  if (config_.pair_interactions > 0) add_pair_interactions(r, n, prep, sp.test);
  // The further measure settings: measures and information plane of each, on the same split.
  const data::Dataset& estimation = pipeline::split_named(sp, config_.measure_split);
  for (std::size_t k = 1; k < config_.measure_settings.size(); ++k) {
    const info::MeasureOptions& o = config_.measure_settings[k].options;
    const auto tm = Clock::now();
    const info::Measures m = info::measure(p.net, estimation, o);
    const info::InformationPlane plane = info::information_plane(p.net, estimation, o);
    add_seconds(&PhaseSeconds::measure, seconds_since(tm));
    const std::string where = setting_prefix(n, config_, static_cast<int>(k));
    io::add_measures(r, where + "/measures", m,
                     io::measure_attributes(o, config_.measure_split, p.fingerprint));
    io::add_information_plane(r, where, plane);
  }
  return r;
}

// Pairs of each hidden layer ablated together: the most redundant, the most synergistic and
// random ones by the first measure setting's pairs, against the single-neuron damage (both
// required by the config). Their time counts as single-neuron damage.
void Worker::add_pair_interactions(Record& r, const NetworkSpec& n,
                                   const pipeline::Preparation& prep, const data::Dataset& test) {
  const auto t = Clock::now();
  const pipeline::Prepared& p = prep.prepared;
  const std::uint64_t seed =
      derive_seed(n.seed, {hash_name("pair_interaction"), hash_name(p.fingerprint)});
  std::vector<ablation::PairSelection> selections;
  std::vector<ablation::NeuronPair> pairs;
  for (int l = 0; l < p.net.num_hidden(); ++l) {
    const auto& lp = p.measures.layers.at(static_cast<std::size_t>(l)).pairs;
    if (!lp) throw std::logic_error("pair interactions without the pairs of layer " + std::to_string(l));
    selections.push_back(ablation::interaction_pairs(l, lp->first, lp->second, lp->redundancy,
                                                     lp->synergy, config_.pair_interactions, seed));
    pairs.insert(pairs.end(), selections.back().pairs.begin(), selections.back().pairs.end());
  }
  const ablation::PairDamage together =
      ablation::pair_damage(p.net, test, p.values, pairs, settings().sweep);
  io::add_pair_interaction(r, prefix_of(n), selections, together, *prep.single);
  add_seconds(&PhaseSeconds::single, seconds_since(t));
}

std::vector<Prepared> Worker::adopt(const Record& r, int index) const {
  if (index < 0 || index >= static_cast<int>(plan_.networks.size()) ||
      plan_.tasks[static_cast<std::size_t>(index)].key != r.key)
    throw Error("task record '" + r.key + "' belongs to no network of this study");
  const NetworkSpec& n = plan_.networks[static_cast<std::size_t>(index)];
  const std::string prefix = prefix_of(n);
  Prepared p;
  p.net = io::model_from_record(r, prefix + "/model");
  p.measures = io::measures_from_record(r, prefix + "/measures", p.net.num_hidden());
  p.fingerprint = nn::fingerprint(p.net);
  if (wants_single(config_))
    for (int l = 0; l < p.net.num_hidden(); ++l)
      p.single_accuracy_drop.push_back(
          r.find(prefix + "/single_neuron/layers/" + std::to_string(l) + "/accuracy_drop")
              .values<double>());
  p.values = pipeline::ablation_values(p.net, p.measures, config_.ablate_to, "network " + n.name);
  // One per measure setting: the same network, its ablation values (from the first
  // setting's mean activations, which no setting changes) and damage, its own measures.
  std::vector<Prepared> all{p};
  for (std::size_t k = 1; k < config_.measure_settings.size(); ++k) {
    Prepared more = p;
    more.measures = io::measures_from_record(
        r, setting_prefix(n, config_, static_cast<int>(k)) + "/measures", p.net.num_hidden());
    all.push_back(std::move(more));
  }
  return all;
}

std::shared_ptr<const std::vector<Prepared>> Worker::prepared(int network) {
  const std::lock_guard<std::mutex> lock(prepared_mutex_);
  for (auto it = prepared_.begin(); it != prepared_.end(); ++it)
    if (it->first == network) {
      prepared_.splice(prepared_.begin(), prepared_, it);
      return it->second;
    }
  if (!source_) throw std::logic_error("no source of prepared networks");
  auto p = std::make_shared<const std::vector<Prepared>>(adopt(source_(network), network));
  prepared_.emplace_front(network, p);
  // A few per thread: the tasks running now, and the next ones of the same networks.
  const std::size_t keep = 4 * static_cast<std::size_t>(std::max(1, max_threads()));
  while (prepared_.size() > keep) prepared_.pop_back();
  return p;
}

Record Worker::sweep(const NetworkSpec& n, const Task& task) {
  const auto t = Clock::now();
  const std::shared_ptr<const std::vector<Prepared>> held = prepared(n.index);
  const Prepared& p = held->at(static_cast<std::size_t>(task.setting));
  const ablation::Scope scope = ablation::make_scope(p.net, task.scope);
  io::AblationResults results = pipeline::no_orders(p.net);
  if (task.group == "random")
    pipeline::add_random_orders(results, scope, n.seed, p.fingerprint, config_.random);
  else
    pipeline::add_quantity_orders(results, p, scope, task.group, config_.directions, n.seed,
                                  "network " + n.name);
  pipeline::sweep(p, splits(n.data).test, results, settings().sweep, config_.steps);
  Record r;
  r.key = task.key;
  io::add_ablation_curves(r, setting_prefix(n, config_, task.setting), results);
  add_seconds(&PhaseSeconds::ablate, seconds_since(t));
  return r;
}

}  // namespace ioca::study
