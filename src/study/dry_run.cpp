#include "study/dry_run.hpp"

#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <functional>
#include <map>
#include <new>
#include <set>
#include <sstream>

#include "ioca/core.hpp"
#include "ioca/io.hpp"
#include "study/plan.hpp"

namespace ioca::study {
namespace {

using Clock = std::chrono::steady_clock;

// Assumptions for the write phase, which cannot be timed without writing: collective
// HDF5 writes through MPI-IO on a local disk, per array (packing and index rows) and per
// byte, for the three passes over the results (checkpoint segments, then the final
// compaction reading them back and writing the file); thread-seconds summed over ranks,
// from tests/bench/study_scale.sh (a parallel file system differs).
constexpr double write_seconds_per_array = 6e-5;
constexpr double write_bytes_per_second = 200e6;
// Bytes of the index tables per array (results format 2).
constexpr double index_bytes_per_array = 120;
// Subset sizes of the calibration: enough batches and rows to time, small enough to be quick.
constexpr std::size_t calibration_train_batches = 32;
constexpr std::size_t calibration_measure_rows = 2000;
constexpr std::size_t calibration_single_rows = 512;
constexpr std::size_t calibration_sweep_rows = 256;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Mean seconds of one call, repeated until at least 50 ms have passed (tiny networks take
// microseconds; one call would time the clock). At most 20 calls.
double time_call(const std::function<void()>& f) {
  const auto start = Clock::now();
  int calls = 0;
  do {
    f();
    ++calls;
  } while (seconds_since(start) < 0.05 && calls < 20);
  return seconds_since(start) / calls;
}

// The first rows of a data set (the calibration runs on subsets and scales by rows).
data::Dataset head(const data::Dataset& d, std::size_t rows) {
  data::Dataset s;
  s.name = d.name;
  s.features = d.features;
  s.classes = d.classes;
  s.samples = std::min(rows, d.samples);
  s.x.assign(d.x.begin(), d.x.begin() + static_cast<std::ptrdiff_t>(s.samples * d.features));
  s.y.assign(d.y.begin(), d.y.begin() + static_cast<std::ptrdiff_t>(s.samples));
  return s;
}

double ratio(std::size_t all, std::size_t part) {
  return part == 0 ? 0.0 : static_cast<double>(all) / static_cast<double>(part);
}

const data::Dataset& split_named(const data::Splits& s, const std::string& name) {
  if (name == "train") return s.train;
  if (name == "test") return s.test;
  return s.validation;
}

std::string data_key(const data::LoadOptions& o) {
  io::Attributes a;
  io::add_data_attributes(o, a);
  std::ostringstream k;
  k << o.data_dir;
  for (const auto& [name, v] : a) {
    k << "|" << name << "=";
    std::visit([&](const auto& x) { k << x; }, v);
  }
  return k.str();
}

std::string widths_name(const std::vector<int>& hidden) {
  std::string s;
  for (int w : hidden) s += (s.empty() ? "" : "x") + std::to_string(w);
  return s;
}

// Sweep tasks per network and scope that order by a quantity: once per measure setting for
// quantities that depend on the binning, once for the others.
double quantity_sweeps(const StudyConfig& c) {
  double n = 0;
  for (const auto& q : c.quantities)
    n += depends_on_binning(q) ? static_cast<double>(std::max<std::size_t>(1, c.measure_settings.size())) : 1.0;
  return n;
}
double measure_settings(const StudyConfig& c) {
  return static_cast<double>(std::max<std::size_t>(1, c.measure_settings.size()));
}

bool wants_single(const StudyConfig& c) {
  return c.single ||
         std::find(c.quantities.begin(), c.quantities.end(), "single_damage") != c.quantities.end();
}

// Networks that cost the same: one data set, architecture, activation and source.
struct Group {
  const NetworkSpec* first = nullptr;
  std::size_t networks = 0;
};

// Per network of a group: seconds per phase (one thread), the longest task chain, the
// results' bytes and arrays.
struct Cost {
  double train = 0, measure = 0, single = 0, ablate = 0;
  double longest = 0;  // prepare plus the network's largest sweep task
  double values = 0, arrays = 0;  // raw bytes of the arrays, and their number
};

class Calibration {
 public:
  explicit Calibration(const StudyConfig& config) : c_(config) {}

  const data::Splits& splits(const data::LoadOptions& o) {
    const std::string k = data_key(o);
    auto it = data_.find(k);
    if (it == data_.end()) {
      const auto t = Clock::now();
      it = data_.emplace(k, data::load(o)).first;
      load_seconds_ += seconds_since(t);
    }
    return it->second;
  }
  double load_seconds() const { return load_seconds_; }

  Cost network_cost(const NetworkSpec& n);

 private:
  void add_results_size(const NetworkSpec& n, const nn::Mlp& net, Cost& cost) const;

  const StudyConfig& c_;
  std::map<std::string, data::Splits> data_;
  double load_seconds_ = 0;
};

// The arrays a network's tasks add to the results file (docs/study.md), as raw bytes.
void Calibration::add_results_size(const NetworkSpec& n, const nn::Mlp& net, Cost& cost) const {
  const auto add = [&](double values, double item_bytes) {
    cost.values += values * item_bytes;
    cost.arrays += 1;
  };
  const int H = net.num_hidden();
  for (int l = 0; l < net.num_layers(); ++l) {
    add(static_cast<double>(net.in_size(l)) * net.out_size(l), 4);  // weight
    add(net.out_size(l), 4);                                       // bias
  }
  add(H, 8);  // hidden_widths
  for (int l = 0; l < H; ++l) {
    const double w = net.out_size(l);
    for (double k = 0; k < measure_settings(c_); ++k) {  // the measures of every setting
      for (const auto& q : info::quantity_names())  // the MI null only when asked for
        if (q.rfind("mutual_information_null", 0) != 0 || c_.measure.mi_null_permutations > 0)
          add(w, 8);
      for (int q = 0; q < 2; ++q) add(w, 8);  // bin_low, bin_high
      for (int q = 0; q < 2; ++q) add(w, 8);  // kl_selectivity_class, bins_used (int64)
      if (c_.measure.pairs) {  // first, second (int64) and 6 float64 pair quantities
        const double pairs = w * (w - 1) / 2;
        for (std::size_t q = 0; q < 2 + info::pair_quantity_names().size(); ++q) add(pairs, 8);
      }
    }
    if (wants_single(c_))
      for (int q = 0; q < 2; ++q) add(w, 8);  // accuracy_drop, loss_increase
    if (c_.pair_interactions > 0 && w > 1) {  // 3 groups: first, second, group + 6 float64
      const double selected = 3 * std::min(static_cast<double>(c_.pair_interactions), w * (w - 1) / 2);
      for (int q = 0; q < 9; ++q) add(selected, 8);
    }
  }
  for (double k = 0; k < measure_settings(c_); ++k) add(H, 8), add(H, 8);  // information plane
  if (!c_.snapshots.empty() && n.model_file.empty()) {  // the information plane over training
    const auto S = static_cast<double>(c_.snapshots.size());
    add(S, 8);  // epochs
    for (int l = 0; l < H; ++l)
      for (int q = 0; q < 5; ++q) add(S, 8);  // 4 float64 and saturated (int64) per layer
  }
  const double C = net.output_size();
  for (const auto& scope : n.scopes) {
    const auto neurons = static_cast<std::int64_t>(ablation::make_scope(net, scope).neurons.size());
    const auto n_scope = static_cast<double>(neurons);
    const double P = static_cast<double>(ablation::even_points(neurons, c_.steps).size());
    const auto curves = [&](double R) {  // accuracy, loss, per_class_accuracy, ablated, order
      add(R * P, 8), add(R * P, 8), add(R * P * C, 8), add(P, 8), add(R * n_scope, 8);
    };
    if (!c_.quantities.empty())
      for (double i = 0; i < quantity_sweeps(c_) * static_cast<double>(c_.directions.size()); ++i)
        curves(1);
    if (c_.random > 0) curves(c_.random);
  }
}

// Times each phase of one network of n's kind on subsets of its data and scales by rows:
// training by the training samples and epochs, the rest by the rows they pass over.
Cost Calibration::network_cost(const NetworkSpec& n) {
  const data::Splits& sp = splits(n.data);
  Cost cost;
  nn::Mlp net;
  if (n.model_file.empty()) {
    net = nn::make_mlp(static_cast<int>(sp.train.features), n.hidden, n.activation,
                       sp.train.classes, derive_seed(n.seed, {hash_name("init")}));
    nn::TrainOptions options = c_.train;
    options.epochs = 1;
    const data::Dataset batches =
        head(sp.train, calibration_train_batches * static_cast<std::size_t>(c_.train.batch_size));
    const double epoch = time_call([&] {
      nn::Mlp copy = net;
      nn::train(copy, batches, options);
    });
    cost.train = epoch * ratio(sp.train.samples, batches.samples) * c_.train.epochs;
    if (sp.validation.samples) {  // validation accuracy recorded with the model
      const data::Dataset rows = head(sp.validation, calibration_measure_rows);
      cost.train += time_call([&] { nn::evaluate(net, rows); }) *
                    ratio(sp.validation.samples, rows.samples);
    }
  } else {
    cost.train = time_call([&] { net = io::load_model(n.model_file).net; });
    nn::check_compatible(net, sp.test, n.model_file);  // as the run would, before any work
  }
  const data::Dataset test_rows = head(sp.test, calibration_measure_rows);
  cost.train += time_call([&] { nn::evaluate(net, test_rows); }) *
                ratio(sp.test.samples, test_rows.samples);

  const data::Dataset& estimation = split_named(sp, c_.measure_split);
  const data::Dataset rows = head(estimation, calibration_measure_rows);
  if (rows.samples) {
    cost.measure = time_call([&] {
                     info::measure(net, rows, c_.measure);
                     info::information_plane(net, rows, c_.measure);
                   }) *
                   ratio(estimation.samples, rows.samples) * measure_settings(c_);
  }

  // The snapshots of the information plane over training: binning grows with the samples N,
  // the KDE bound with N^2 (timed apart on up to 2,000 rows, scaled each by its own law).
  if (!c_.snapshots.empty() && n.model_file.empty() && rows.samples) {
    const std::size_t N = c_.snapshot_samples == 0
                              ? estimation.samples
                              : std::min(c_.snapshot_samples, estimation.samples);
    const data::Dataset subset = head(estimation, std::min(N, calibration_measure_rows));
    info::MeasureOptions binned;
    binned.binning = c_.snapshot.binning;
    binned.activation_cache_bytes = c_.snapshot.activation_cache_bytes;
    const double binning = time_call([&] { info::information_plane(net, subset, binned); });
    const double both = time_call([&] { info::plane_snapshot(net, subset, c_.snapshot); });
    const double r = ratio(N, subset.samples);
    cost.measure += static_cast<double>(c_.snapshots.size()) *
                    (binning * r + std::max(0.0, both - binning) * r * r);
  }

  ablation::SweepOptions so;
  so.chunk_rows = c_.chunk_rows;
  so.memory_budget_bytes = c_.memory_budget_bytes;
  const ablation::AblationValues values = ablation::zero_values(net);
  if (wants_single(c_)) {
    const data::Dataset single_rows = head(sp.test, calibration_single_rows);
    cost.single = time_call([&] { ablation::single_neuron_damage(net, single_rows, values, so); }) *
                  ratio(sp.test.samples, single_rows.samples);
  }
  if (c_.pair_interactions > 0) {  // as many pairs of neighbours as will be selected
    std::vector<ablation::NeuronPair> pairs;
    for (int l = 0; l < net.num_hidden(); ++l) {
      const std::int64_t w = net.out_size(l);
      const std::int64_t count = w > 1 ? 3 * std::min(c_.pair_interactions, w * (w - 1) / 2) : 0;
      for (std::int64_t q = 0; q < count; ++q)
        pairs.push_back({l, static_cast<int>(q % w), static_cast<int>((q + 1) % w)});
    }
    const data::Dataset single_rows = head(sp.test, calibration_single_rows);
    cost.single += time_call([&] { ablation::pair_damage(net, single_rows, values, pairs, so); }) *
                   ratio(sp.test.samples, single_rows.samples);
  }

  // One curve per scope (every step, or the configured points), then by curves per task.
  const data::Dataset sweep_rows = head(sp.test, calibration_sweep_rows);
  double largest_task = 0;
  const bool sweeps = !c_.quantities.empty() || c_.random > 0;
  for (const auto& scope_name : sweeps ? n.scopes : std::vector<std::string>{}) {
    const ablation::Scope scope = ablation::make_scope(net, scope_name);
    const auto N = static_cast<std::int64_t>(scope.neurons.size());
    if (c_.steps > 0) so.record_at = ablation::even_points(N, c_.steps);
    const std::vector<std::vector<ablation::Neuron>> order{ablation::random_order(scope, 1)};
    const double curve =
        time_call([&] { ablation::run_sweeps(net, sweep_rows, values, order, so); }) *
        ratio(sp.test.samples, sweep_rows.samples);
    const double per_quantity = curve * static_cast<double>(c_.directions.size());
    cost.ablate += per_quantity * quantity_sweeps(c_) + curve * c_.random;
    largest_task = std::max(
        {largest_task, c_.quantities.empty() ? 0.0 : per_quantity, curve * c_.random});
    so.record_at.clear();
  }
  cost.longest = cost.train + cost.measure + cost.single + largest_task;
  add_results_size(n, net, cost);
  return cost;
}

// ---- the report

std::string thousands(double v) {
  const auto n = static_cast<long long>(std::llround(v));
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return n < 0 ? "-" + s : s;
}

std::string bytes_text(double b) {
  char buf[32];
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  return buf;
}

std::string duration_text(double s) {
  char buf[32];
  if (s < 120)
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 7200)
    std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  return buf;
}

// SLURM's --time, rounded up to whole minutes.
std::string slurm_time(double s) {
  const auto minutes = static_cast<long long>(std::ceil(s / 60.0));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:00", minutes / 60, minutes % 60);
  return buf;
}

// "1-4, 7, 9-10": seeds compactly.
std::string seeds_text(std::vector<std::uint64_t> seeds) {
  std::string s;
  for (std::size_t i = 0; i < seeds.size();) {
    std::size_t j = i;
    while (j + 1 < seeds.size() && seeds[j + 1] == seeds[j] + 1) ++j;
    s += (s.empty() ? "" : ", ") + std::to_string(seeds[i]);
    if (j > i) s += (j == i + 1 ? ", " : "-") + std::to_string(seeds[j]);
    i = j + 1;
  }
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

void print_networks(const StudyConfig& c, const Plan& plan, Calibration& cal) {
  std::printf("networks: %s", thousands(static_cast<double>(plan.networks.size())).c_str());
  if (!c.model_files.empty()) {
    std::printf(" model files\n");
    const std::size_t shown = std::min<std::size_t>(plan.networks.size(), 8);
    for (std::size_t i = 0; i < shown; ++i) {
      const NetworkSpec& n = plan.networks[i];
      std::printf("  %s  (%s, %s %s)\n", n.model_file.c_str(), n.data.dataset.c_str(),
                  widths_name(n.hidden).c_str(), std::string(nn::to_string(n.activation)).c_str());
    }
    if (plan.networks.size() > shown) std::printf("  ... and %zu more\n", plan.networks.size() - shown);
  } else {
    std::vector<std::string> archs, acts;
    for (const auto& a : c.architectures) archs.push_back(widths_name(a));
    for (auto a : c.activations) acts.emplace_back(nn::to_string(a));
    std::printf(" = %zu data set%s x %zu architecture%s x %zu activation%s x %zu seed%s\n",
                c.datasets.size(), c.datasets.size() == 1 ? "" : "s", archs.size(),
                archs.size() == 1 ? "" : "s", acts.size(), acts.size() == 1 ? "" : "s",
                c.seeds.size(), c.seeds.size() == 1 ? "" : "s");
    // Several one-layer architectures as the config spells them: 64; 32 (64, 32 would read
    // as one network's widths).
    std::string arch_text = join(archs);
    if (archs.size() >= 2 && std::all_of(c.architectures.begin(), c.architectures.end(),
                                         [](const std::vector<int>& a) { return a.size() == 1; }))
      std::replace(arch_text.begin(), arch_text.end(), ',', ';');
    std::printf("  architectures: %s\n  activations: %s\n  seeds: %s\n", arch_text.c_str(),
                join(acts).c_str(), seeds_text(c.seeds).c_str());
  }
  std::set<std::string> shown;
  for (const auto& n : plan.networks) {
    const std::string k = data_key(n.data);
    if (!shown.insert(k).second) continue;
    const data::Splits& sp = cal.splits(n.data);
    std::printf("  data set %s: %zu features, %d classes; %s train / %s validation / %s test\n",
                n.data.dataset.c_str(), sp.train.features, sp.train.classes,
                thousands(static_cast<double>(sp.train.samples)).c_str(),
                thousands(static_cast<double>(sp.validation.samples)).c_str(),
                thousands(static_cast<double>(sp.test.samples)).c_str());
  }
}

void print_tasks(const StudyConfig& c, const Plan& plan) {
  std::map<std::string, std::size_t> by_scope;
  std::size_t prepare = 0, sweeps = 0;
  for (const auto& t : plan.tasks)
    if (t.kind == TaskKind::prepare)
      ++prepare;
    else
      ++sweeps, ++by_scope[t.scope];
  std::printf("tasks: %s = %s prepare + %s sweeps\n", thousands(static_cast<double>(plan.tasks.size())).c_str(),
              thousands(static_cast<double>(prepare)).c_str(),
              thousands(static_cast<double>(sweeps)).c_str());
  if (sweeps == 0) return;
  std::string scopes;
  for (const auto& [scope, count] : by_scope)
    scopes += (scopes.empty() ? "" : ", ") + scope + " " + thousands(static_cast<double>(count));
  std::printf("  sweeps by scope: %s (per network and scope: %zu quantit%s x %zu direction%s%s)\n",
              scopes.c_str(), c.quantities.size(), c.quantities.size() == 1 ? "y" : "ies",
              c.directions.size(), c.directions.size() == 1 ? "" : "s",
              c.random > 0 ? (", plus one of " + std::to_string(c.random) + " random orders").c_str()
                           : "");
  if (c.measure_settings.size() > 1) {
    std::string names, binned;
    for (const auto& m : c.measure_settings) names += (names.empty() ? "" : ", ") + m.name;
    for (const auto& q : c.quantities)
      if (depends_on_binning(q)) binned += (binned.empty() ? "" : ", ") + q;
    std::printf("  measure settings: %zu (%s); the sweeps of %s run once per setting\n",
                c.measure_settings.size(), names.c_str(), binned.empty() ? "no quantity" : binned.c_str());
  }
}

void print_snapshots(const StudyConfig& c) {
  if (c.snapshots.empty()) return;
  std::string epochs;
  for (const int e : c.snapshots) epochs += (epochs.empty() ? "" : ", ") + std::to_string(e);
  std::printf(
      "  information plane over training: %zu snapshots per trained network (epochs "
      "%s) on the %s split (%s), %s binning with %d bins and the KDE bound at noise "
      "variance %g\n",
      c.snapshots.size(), epochs.c_str(), c.measure_split.c_str(),
      c.snapshot_samples
          ? ("at most " + thousands(static_cast<double>(c.snapshot_samples)) + " samples").c_str()
          : "every sample",
      std::string(info::to_string(c.snapshot.binning.rule)).c_str(), c.snapshot.binning.bins,
      c.snapshot.noise_variance);
}

struct Totals {
  double load = 0, train = 0, measure = 0, single = 0, ablate = 0;
  double longest = 0, values = 0, arrays = 0, config_text = 0;
  double compute() const { return train + measure + single + ablate; }
  double file_bytes() const { return values + arrays * index_bytes_per_array + config_text; }
};

// The write phase in thread-seconds summed over ranks: every result is written once into a
// checkpoint segment, then read back and written once more into the final file; the ranks
// share that work.
double write_seconds(const Totals& t) {
  return t.arrays * write_seconds_per_array + 3 * t.file_bytes() / write_bytes_per_second;
}

double wall_seconds(const Totals& t, const StudyConfig&, int ranks) {
  const double compute = std::max(t.compute() / ranks, t.longest);
  return t.load + compute + write_seconds(t) / ranks;
}

// printf, then the text wrapped at 96 columns (the explanation is a paragraph).
void print_wrapped(const char* format, ...) __attribute__((format(printf, 1, 2)));
void print_wrapped(const char* format, ...) {
  char buf[4096];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  std::istringstream words(buf);
  std::string word, line;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > 96) {
      std::printf("%s\n", line.c_str());
      line = "  ";
    }
    line += (line.empty() || line == "  " ? "" : " ") + word;
  }
  if (!line.empty()) std::printf("%s\n", line.c_str());
}

void print_estimates(const StudyConfig& c, const DryRunOptions& o, const Totals& t,
                     std::size_t tasks) {
  std::printf("results file: about %s, estimated for results format 2:\n  %s bytes of array "
              "values in %s arrays, + %.0f bytes of index tables per array and the config text\n",
              bytes_text(t.file_bytes()).c_str(), thousands(t.values).c_str(),
              thousands(t.arrays).c_str(), index_bytes_per_array);
  const double write = write_seconds(t);
  std::printf("\n");
  print_wrapped("estimated thread-seconds per phase (summed over ranks at 1 thread per rank, as "
                "/provenance records them):");
  std::printf("  load     %10.1f  per rank (each rank loads the data sets once)\n", t.load);
  std::printf("  train    %10.1f\n  measure  %10.1f\n  single   %10.1f\n  ablate   %10.1f\n",
              t.train, t.measure, t.single, t.ablate);
  std::printf("  write    %10.1f\n", write);
  print_wrapped(
      "how: estimates, not measurements of this study. The data sets were loaded once and timed. "
      "For one network of each data set, architecture and activation, freshly initialised "
      "(untrained), on one thread: %zu training batches timed and scaled to the training set "
      "and %d epoch%s; evaluation, the measure pass and single-neuron damage timed on up to "
      "%zu/%zu/%zu rows and scaled to the split (snapshots of the information plane over "
      "training: binning scaled by their samples, the KDE bound by their square); one "
      "ablation curve per scope timed on %zu test rows and scaled by test rows and curves "
      "(directions x quantities, random orders). "
      "Trained weights leave the work of each step the same. The write "
      "phase is not timed: assumed %.2f ms per array and %.0f MB/s for three passes over the "
      "results (written into checkpoint segments, read back and written into the final file; "
      "results format 2).",
      calibration_train_batches, c.train.epochs, c.train.epochs == 1 ? "" : "s",
      calibration_measure_rows, calibration_measure_rows, calibration_single_rows,
      calibration_sweep_rows, write_seconds_per_array * 1e3, write_bytes_per_second / 1e6);

  const std::string config = o.config_file.empty() ? "CONFIG" : o.config_file;
  const std::string out = o.out.empty() ? "OUT" : o.out;
  std::printf("\n");
  print_wrapped("suggested SLURM requests (1 thread per rank; wall = load + max(compute / ranks, "
                "longest network) + write; --time with 50%% margin):");
  // Doubling the ranks until it saves less than 10% (the longest network or the write
  // dominate), the run would be shorter than two minutes (then start-up and
  // synchronisations, not modelled here, dominate), or there are more ranks than tasks.
  std::vector<int> ranks_list{1};
  for (int r = 2; r <= 4096 && static_cast<std::size_t>(r) <= tasks; r *= 2) {
    if (wall_seconds(t, c, r) > 0.9 * wall_seconds(t, c, r / 2)) break;
    if (wall_seconds(t, c, r / 2) < 120) break;
    ranks_list.push_back(r);
  }
  for (int r : ranks_list) {
    const double wall = wall_seconds(t, c, r);
    std::printf("  sbatch -n %-3d -c 1 --time=%s jobs/study.sbatch %s %s   # about %s\n", r,
                slurm_time(std::max(60.0, wall * 1.5)).c_str(), config.c_str(), out.c_str(),
                duration_text(wall).c_str());
  }
  print_wrapped("(a job that runs out of time checkpoints and is requeued by jobs/study.sbatch, "
                "so an estimate on the low side costs a requeue, not the work)");
}

int report(const StudyConfig& c, const DryRunOptions& o) {
  const Plan plan = make_plan(c);
  std::printf("ioca run --dry-run: study '%s' (nothing below was run and no file is written)\n\n",
              c.name.c_str());
  Calibration cal(c);
  print_networks(c, plan, cal);
  print_tasks(c, plan);
  print_snapshots(c);

  std::map<std::string, Group> groups;
  for (const auto& n : plan.networks) {
    const std::string k = data_key(n.data) + "|" + widths_name(n.hidden) + "|" +
                          std::string(nn::to_string(n.activation)) + "|" +
                          (n.model_file.empty() ? "trained" : "model");
    Group& g = groups[k];
    if (!g.first) g.first = &n;
    ++g.networks;
  }
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(1);  // a task runs on one thread (docs/study.md)
  Totals t;
  for (const auto& [key, g] : groups) {
    const Cost cost = cal.network_cost(*g.first);
    const auto k = static_cast<double>(g.networks);
    t.train += k * cost.train, t.measure += k * cost.measure, t.single += k * cost.single;
    t.ablate += k * cost.ablate, t.values += k * cost.values, t.arrays += k * cost.arrays;
    t.longest = std::max(t.longest, cost.longest);
  }
  omp_set_num_threads(saved_threads);
  t.load = cal.load_seconds();
  t.config_text = static_cast<double>(c.canonical_text.size());
  print_estimates(c, o, t, plan.tasks.size());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int dry_run(const MpiSession& mpi, const StudyConfig& config, const DryRunOptions& options) {
  int status = 0;
  if (mpi.rank() == 0) {
    try {
      status = report(config, options);
    } catch (const Error& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "ioca run: error: %s\n", e.what());
      status = 2;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "ioca run: out of memory\n");
      status = 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ioca run: internal error: %s\n", e.what());
      status = 1;
    }
  }
  // The other ranks wait for rank 0 and leave with its status (no rank computes twice).
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return status;
}

}  // namespace ioca::study
