#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "cli/options.hpp"
#include "ioca/ablation.hpp"
#include "ioca/core.hpp"
#include "ioca/info.hpp"
#include "ioca/pipeline.hpp"
#include "ioca/version.hpp"

namespace ioca::cli {
namespace {

// "a,b,c" into its items (spaces around items ignored); empty items are an error.
std::vector<std::string> split_list(const std::string& text, const std::string& option) {
  std::vector<std::string> items;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b == std::string::npos) throw UsageError(option + " has an empty item: '" + text + "'");
    item = item.substr(b, e - b + 1);
    if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
  }
  if (items.empty() || text.back() == ',')
    throw UsageError(option + " has an empty item: '" + text + "'");
  return items;
}

std::string valid_quantities() {
  std::string s;
  for (const auto& q : info::quantity_names()) s += q + ", ";
  return s + std::string(pipeline::single_damage);
}

bool is_measured_quantity(const std::string& q) {
  const auto& names = info::quantity_names();
  return std::find(names.begin(), names.end(), q) != names.end();
}

}  // namespace

AblateArgs parse_ablate_args(const std::vector<std::string>& args, std::string* help_text) {
  po::options_description desc(
      "ioca ablate: cumulative ablation curves of a model's hidden neurons on the test split,\n"
      "in orders given by per-neuron quantities, random orders and custom orders");
  desc.add_options()("model", po::value<std::string>(), "model file (HDF5)")(
      "measures", po::value<std::string>(),
      "measures file of that model (ioca measure --out); needed to order by a measured "
      "quantity and for --ablate-to mean")(
      "scope", po::value<std::string>()->default_value("all"),
      "all, or a comma-separated list of layer0, layer1, ..., network (all hidden neurons)")(
      "by", po::value<std::string>()->default_value("entropy,mutual_information,kl_selectivity"),
      "quantities to order by, comma-separated: any quantity of the measures file, or "
      "single_damage (the accuracy drop from ablating the neuron alone)")(
      "direction", po::value<std::string>()->default_value("ascending,descending"),
      "ascending, descending or both (comma-separated)")(
      "random", po::value<int>()->default_value(10), "random orders per scope (0 for none)")(
      "seed", po::value<long long>(),
      "seed of the random orders and of tie-breaking in the quantity orders (default: the "
      "model's seed attribute, else 1)")(
      "order-file", po::value<std::string>(),
      "custom orders: one per line, '<scope> <name> <i1> <i2> ...' with indices into the "
      "scope's enumeration (layer by layer for network); # starts a comment line")(
      "ablate-to", po::value<std::string>()->default_value("zero"),
      "value of an ablated neuron: zero | mean (its mean activation from the measures file)")(
      "steps", po::value<long long>()->default_value(0),
      "record the curves at 0 and this many evenly spaced points (0: after every ablation)")(
      "single", po::bool_switch(), "compute single-neuron damage (the default)")(
      "no-single", po::bool_switch(), "skip single-neuron damage")(
      "engine", po::value<std::string>()->default_value("fast"),
      "fast (rank-1 updates) | naive (full masked forward passes; the reference)")(
      "chunk-rows", po::value<long long>()->default_value(256),
      "test samples per task (bounds memory)")(
      "memory-budget", po::value<long long>()->default_value(512),
      "MiB for the test samples processed at once (results do not change)")(
      "out", po::value<std::string>(), "ablation file to write (HDF5)")("quiet", po::bool_switch(),
                                                                        "no progress on stderr");
  desc.add(data_options());
  po::variables_map vm;
  AblateArgs a;
  if (!parse("ablate", args, desc, vm, help_text)) return a;
  a.data = read_data_args(vm);
  if (!vm.count("model")) throw UsageError("--model is required");
  a.model = vm["model"].as<std::string>();
  if (vm.count("measures")) a.measures = vm["measures"].as<std::string>();
  const auto scopes = split_list(vm["scope"].as<std::string>(), "--scope");
  if (std::find(scopes.begin(), scopes.end(), "all") == scopes.end()) a.scopes = scopes;
  a.by = split_list(vm["by"].as<std::string>(), "--by");
  for (const auto& q : a.by)
    if (!is_measured_quantity(q) && q != pipeline::single_damage)
      throw UsageError("unknown quantity '" + q + "' in --by (valid: " + valid_quantities() + ")");
  a.directions.clear();
  for (const auto& d : split_list(vm["direction"].as<std::string>(), "--direction"))
    a.directions.push_back(ablation::parse_direction(d));
  a.random = vm["random"].as<int>();
  if (a.random < 0 || a.random > 1000000)
    throw UsageError("--random must be between 0 and 1000000, not " + std::to_string(a.random));
  if (vm.count("seed")) {
    const long long seed = vm["seed"].as<long long>();
    if (seed < 0) throw UsageError("--seed must be >= 0");
    a.seed = static_cast<std::uint64_t>(seed);
  }
  if (vm.count("order-file")) a.order_file = vm["order-file"].as<std::string>();
  a.ablate_to = ablation::parse_ablate_to(vm["ablate-to"].as<std::string>());
  a.steps = vm["steps"].as<long long>();
  if (a.steps < 0) throw UsageError("--steps must be >= 0, not " + std::to_string(a.steps));
  if (vm["single"].as<bool>() && vm["no-single"].as<bool>())
    throw UsageError("give --single or --no-single, not both");
  a.single = !vm["no-single"].as<bool>();
  a.sweep.engine = ablation::parse_engine(vm["engine"].as<std::string>());
  const long long chunk = vm["chunk-rows"].as<long long>();
  if (chunk < 1 || chunk > (1LL << 24))
    throw UsageError("--chunk-rows must be between 1 and 16777216");
  a.sweep.chunk_rows = static_cast<std::size_t>(chunk);
  a.sweep.memory_budget_bytes = memory_budget_bytes(vm);
  if (!vm.count("out")) throw UsageError("--out is required");
  a.out = vm["out"].as<std::string>();
  a.quiet = vm["quiet"].as<bool>();
  return a;
}

namespace {

using ablation::Neuron;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct CustomOrder {
  std::string scope, name;
  std::vector<Neuron> order;
};

// Reads and checks the order file against the network's scopes.
std::vector<CustomOrder> read_order_file(const std::string& path, const nn::Mlp& net) {
  std::ifstream in(path);
  if (!in) throw FileError(path, "cannot open the order file");
  std::vector<CustomOrder> out;
  std::set<std::pair<std::string, std::string>> names;
  std::map<std::string, ablation::Scope> scopes;
  for (const auto& s : ablation::all_scope_names(net))
    scopes.emplace(s, ablation::make_scope(net, s));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto bad = [&](const std::string& problem) {
      throw FileError(path, "line " + std::to_string(number) + ": " + problem);
    };
    std::istringstream words(line);
    std::string scope, name, token;
    if (!(words >> scope) || scope[0] == '#') continue;
    const auto it = scopes.find(scope);
    if (it == scopes.end()) {
      std::string valid;
      for (const auto& [s, _] : scopes) valid += (valid.empty() ? "" : ", ") + s;
      bad("unknown scope '" + scope + "' (this network has: " + valid + ")");
    }
    if (!(words >> name)) bad("expected '<scope> <name> <i1> <i2> ...'");
    if (!std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        }))
      bad("order name '" + name + "' may only use letters, digits, '_' and '-'");
    if (!names.insert({scope, name}).second)
      bad("a second order named '" + name + "' for scope " + scope);
    const auto& neurons = it->second.neurons;
    std::vector<bool> used(neurons.size(), false);
    CustomOrder c{scope, name, {}};
    while (words >> token) {
      long long i = -1;
      const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), i);
      if (ec != std::errc() || end != token.data() + token.size())
        bad("'" + token + "' is not a neuron index");
      if (i < 0 || i >= static_cast<long long>(neurons.size()))
        bad("index " + token + " is out of range for scope " + scope + " (0 to " +
            std::to_string(neurons.size() - 1) + ")");
      if (used[static_cast<std::size_t>(i)]) bad("index " + token + " appears twice");
      used[static_cast<std::size_t>(i)] = true;
      c.order.push_back(neurons[static_cast<std::size_t>(i)]);
    }
    if (c.order.empty()) bad("order '" + name + "' names no neurons");
    out.push_back(std::move(c));
  }
  if (in.bad()) throw FileError(path, "cannot read the order file");
  return out;
}

// Checks that the measures file belongs to this very network.
void check_measures(const io::MeasuresFile& m, const std::string& measures_path, const nn::Mlp& net,
                    const std::string& model_path) {
  const std::string mine = nn::fingerprint(net);
  const std::string theirs = io::attribute_string(m.attributes, "model_fingerprint", "");
  if (theirs.empty())
    throw FileError(measures_path,
                    "has no model_fingerprint attribute, so it cannot be checked "
                    "against model " +
                        model_path);
  if (theirs != mine)
    throw Error("measures file " + measures_path + " is from another model than " + model_path +
                " (model fingerprint " + theirs + " in the measures file, " + mine +
                " of the model)");
  const auto& layers = m.measures.layers;
  if (layers.size() != static_cast<std::size_t>(net.num_hidden()))
    throw FileError(measures_path, "has " + std::to_string(layers.size()) +
                                       " hidden layers but model " + model_path + " has " +
                                       std::to_string(net.num_hidden()));
  for (int l = 0; l < net.num_hidden(); ++l)
    if (layers[static_cast<std::size_t>(l)].entropy.size() !=
        static_cast<std::size_t>(net.out_size(l)))
      throw FileError(measures_path,
                      "layer " + std::to_string(l) + " has " +
                          std::to_string(layers[static_cast<std::size_t>(l)].entropy.size()) +
                          " neurons but model " + model_path + " has " +
                          std::to_string(net.out_size(l)));
}

// Accuracy at the recorded point nearest to `target` ablations ('-' beyond the curve's end).
std::string accuracy_near(const std::vector<std::int64_t>& ablated, const std::vector<double>& acc,
                          double target) {
  if (target > static_cast<double>(ablated.back()) + 0.5) return "-";
  std::size_t best = 0;
  for (std::size_t i = 1; i < ablated.size(); ++i)
    if (std::abs(static_cast<double>(ablated[i]) - target) <
        std::abs(static_cast<double>(ablated[best]) - target))
      best = i;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", acc[best]);
  return buf;
}

void print_row(const std::string& scope, const std::string& label, std::size_t n,
               const std::vector<std::int64_t>& ablated, const std::vector<double>& acc) {
  std::printf("%-9s %-36s", scope.c_str(), label.c_str());
  for (double f : {0.0, 0.25, 0.5, 0.75, 1.0})
    std::printf(" %7s", accuracy_near(ablated, acc, f * static_cast<double>(n)).c_str());
  std::printf("\n");
}

void print_summary(const io::AblationResults& r, const std::vector<std::string>& scopes,
                   const nn::Mlp& net) {
  std::printf("%-9s %-36s %7s %7s %7s %7s %7s\n", "scope", "order (test accuracy at % ablated)",
              "0%", "25%", "50%", "75%", "100%");
  for (const auto& s : scopes) {
    const std::size_t n = ablation::make_scope(net, s).neurons.size();
    for (const auto& o : r.ordered)
      if (o.scope == s)
        print_row(s, o.quantity + " " + std::string(ablation::to_string(o.direction)), n,
                  o.curve.ablated, o.curve.accuracy);
    for (const auto& rc : r.random)
      if (rc.scope == s) {
        std::vector<double> mean(rc.curves.front().accuracy.size(), 0.0);
        for (const auto& c : rc.curves)
          for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += c.accuracy[i];
        for (auto& v : mean) v /= static_cast<double>(rc.curves.size());
        print_row(s, "random (mean of " + std::to_string(rc.curves.size()) + ")", n,
                  rc.curves.front().ablated, mean);
      }
    for (const auto& c : r.custom)
      if (c.scope == s) print_row(s, "custom " + c.name, n, c.curve.ablated, c.curve.accuracy);
  }
}

// The measures file, when given or needed, checked against the network.
std::optional<io::MeasuresFile> read_measures(const AblateArgs& a, const nn::Mlp& net) {
  const bool needed = a.ablate_to == ablation::AblateTo::mean ||
                      std::any_of(a.by.begin(), a.by.end(), is_measured_quantity);
  if (needed && a.measures.empty())
    throw UsageError(
        "--measures is required to order by a measured quantity or for --ablate-to mean");
  if (a.measures.empty()) return std::nullopt;
  io::MeasuresFile m = io::load_measures(a.measures);
  check_measures(m, a.measures, net, a.model);
  // An optional quantity the file lacks: say so before any work.
  for (const auto& q : a.by)
    if (is_measured_quantity(q) && info::quantity(m.measures.layers.at(0), q).empty())
      throw FileError(a.measures, "has no /layers/0/" + q +
                                      (q.rfind("mutual_information_null", 0) == 0
                                           ? " (measure with --mi-null K to order by it)"
                                           : " (written by an earlier ioca; measure again)"));
  return m;
}

// Quantity and random orders on the scopes asked for; custom orders on their own scope.
io::AblationResults plan_orders(const AblateArgs& a, const pipeline::Prepared& p,
                                const std::vector<std::string>& asked,
                                std::vector<CustomOrder> custom, std::uint64_t seed) {
  io::AblationResults r = pipeline::no_orders(p.net);
  for (const auto& s : asked)
    for (const auto& q : a.by)
      pipeline::add_quantity_orders(r, p, ablation::make_scope(p.net, s), q, a.directions, seed,
                                    a.measures);
  for (const auto& s : asked)
    pipeline::add_random_orders(r, ablation::make_scope(p.net, s), seed, p.fingerprint, a.random);
  for (auto& c : custom) r.custom.push_back({c.scope, c.name, std::move(c.order), {}});
  return r;
}

// Root attributes of the ablation file (without the wall times).
io::Attributes ablation_attributes(const AblateArgs& a, const data::LoadOptions& load,
                                   const pipeline::Prepared& p, std::size_t samples,
                                   std::uint64_t seed, const io::AblationResults& r) {
  io::Attributes attrs;
  io::add_data_attributes(load, attrs);
  attrs["model"] = a.model;
  attrs["model_fingerprint"] = p.fingerprint;
  if (!a.measures.empty()) attrs["measures"] = a.measures;
  attrs["ablate_to"] = std::string(ablation::to_string(a.ablate_to));
  attrs["engine"] = std::string(ablation::to_string(a.sweep.engine));
  attrs["split"] = std::string("test");
  attrs["samples"] = static_cast<std::int64_t>(samples);
  attrs["seed"] = static_cast<std::int64_t>(seed);
  attrs["random_repeats"] = static_cast<std::int64_t>(a.random);
  attrs["steps"] = static_cast<std::int64_t>(a.steps);
  attrs["chunk_rows"] = static_cast<std::int64_t>(a.sweep.chunk_rows);
  attrs["git_commit"] = std::string(git_commit);
  if (!a.order_file.empty()) attrs["order_file"] = a.order_file;
  if (!r.single) {
    // The intact network's test result, from entry 0 of any curve.
    const ablation::Curve* any = !r.ordered.empty()  ? &r.ordered.front().curve
                                 : !r.random.empty() ? &r.random.front().curves.front()
                                 : !r.custom.empty() ? &r.custom.front().curve
                                                     : nullptr;
    if (any) {
      attrs["intact_accuracy"] = any->accuracy.front();
      attrs["intact_loss"] = any->loss.front();
    }
  }
  return attrs;
}

// Single-neuron damage, when asked for or ordered by; fills p.single_accuracy_drop.
std::optional<ablation::SingleDamage> single_damage(const AblateArgs& a, pipeline::Prepared& p,
                                                    const data::Dataset& test, double& seconds) {
  if (!a.single && std::find(a.by.begin(), a.by.end(), pipeline::single_damage) == a.by.end())
    return std::nullopt;
  const auto t = Clock::now();
  if (!a.quiet)
    std::fprintf(stderr, "ioca ablate: single-neuron damage of %zu neurons (%zu test samples)\n",
                 ablation::make_scope(p.net, "network").neurons.size(), test.samples);
  ablation::SingleDamage d = ablation::single_neuron_damage(p.net, test, p.values, a.sweep);
  p.single_accuracy_drop = d.accuracy_drop;
  seconds = seconds_since(t);
  return d;
}

// Says what will run (unless --quiet); returns the number of sweeps.
std::size_t print_plan(const AblateArgs& a, const io::AblationResults& r, std::size_t scopes,
                       std::size_t samples) {
  const std::size_t random = r.random.size() * static_cast<std::size_t>(a.random);
  const std::size_t sweeps = r.ordered.size() + random + r.custom.size();
  if (!a.quiet)
    std::fprintf(stderr,
                 "ioca ablate: %s (%zu ordered, %zu random, %zu custom) over %s, "
                 "%zu test samples, engine %s, ablate to %s, %s\n",
                 count_of(static_cast<long long>(sweeps), "sweep").c_str(), r.ordered.size(),
                 random, r.custom.size(), count_of(static_cast<long long>(scopes), "scope").c_str(),
                 samples, std::string(ablation::to_string(a.sweep.engine)).c_str(),
                 std::string(ablation::to_string(a.ablate_to)).c_str(),
                 count_of(max_threads(), "thread").c_str());
  return sweeps;
}

}  // namespace

int run_ablate(const AblateArgs& a) {
  const auto start = Clock::now();
  io::check_writable(a.out);
  io::Model model = io::load_model(a.model);
  if (model.net.num_hidden() < 1)
    throw FileError(a.model, "the network has no hidden layer to ablate");
  const std::vector<std::string> asked =
      a.scopes.empty() ? ablation::all_scope_names(model.net) : a.scopes;
  for (const auto& s : asked) ablation::make_scope(model.net, s);  // unknown scopes fail here
  std::optional<io::MeasuresFile> measures = read_measures(a, model.net);
  std::vector<CustomOrder> custom;
  if (!a.order_file.empty()) custom = read_order_file(a.order_file, model.net);
  std::vector<std::string> scope_names = asked;  // custom orders add their scopes
  for (const auto& c : custom)
    if (std::find(scope_names.begin(), scope_names.end(), c.scope) == scope_names.end())
      scope_names.push_back(c.scope);

  const data::LoadOptions load = resolve_data(a.data, &model.attributes, a.model);
  const data::Splits splits = data::load(load);
  const data::Dataset& test = splits.test;
  nn::check_compatible(model.net, test, a.model);
  // The test split shares no training image; this only checks the indices fit the data set.
  pipeline::training_overlap(model.training_indices, load, splits, "test", a.model);
  if (test.samples == 0) throw Error("the test split of " + load.dataset + " is empty");

  pipeline::Prepared p;
  if (measures) p.measures = std::move(measures->measures);
  p.values = pipeline::ablation_values(model.net, p.measures, a.ablate_to, a.measures);
  p.fingerprint = nn::fingerprint(model.net);
  p.net = std::move(model.net);
  const std::uint64_t seed =
      a.seed ? *a.seed : static_cast<std::uint64_t>(io::attribute_int(model.attributes, "seed", 1));

  double single_seconds = 0.0;
  std::optional<ablation::SingleDamage> single = single_damage(a, p, test, single_seconds);
  io::AblationResults r = plan_orders(a, p, asked, std::move(custom), seed);
  r.single = std::move(single);
  const std::size_t sweeps = print_plan(a, r, scope_names.size(), test.samples);
  const auto sweep_start = Clock::now();
  pipeline::sweep(p, test, r, a.sweep, a.steps);
  const double sweep_seconds = seconds_since(sweep_start);

  io::Attributes attrs = ablation_attributes(a, load, p, test.samples, seed, r);
  attrs["single_neuron_seconds"] = single_seconds;
  attrs["sweep_seconds"] = sweep_seconds;
  io::save_ablation(a.out, r, attrs);

  print_summary(r, scope_names, p.net);
  std::fflush(stdout);
  if (!a.quiet)
    std::fprintf(stderr,
                 "ioca ablate: %zu sweeps in %.2f s, single-neuron damage %.2f s, %.2f s in all; "
                 "saved %s\n",
                 sweeps, sweep_seconds, single_seconds, seconds_since(start), a.out.c_str());
  return exit_ok;
}

}  // namespace ioca::cli
