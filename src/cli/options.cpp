#include "cli/options.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "ioca/core.hpp"

namespace ioca::cli {
namespace {

// Boost.Program_options 1.74 builds an error's message by replacing placeholders such as
// %value% in a loop that never ends when the replacement contains that placeholder itself
// (`--epochs %value%` hung; found by tests/fuzz fuzz_config). So before what(), break every
// placeholder-like "%name" in the user's text into "% name".
struct ErrorText : po::error_with_option_name {
  static std::string of(po::error& e) {
    auto* named = dynamic_cast<po::error_with_option_name*>(&e);
    if (!named) return e.what();
    const auto defuse = [](std::string& s) {
      for (std::size_t i = s.find('%'); i != std::string::npos; i = s.find('%', i + 1))
        if (i + 1 < s.size() &&
            (std::isalpha(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '_'))
          s.insert(i + 1, " ");
    };
    for (auto& [key, value] : named->*(&ErrorText::m_substitutions)) defuse(value);
    for (auto& [key, value] : named->*(&ErrorText::m_substitution_defaults)) defuse(value.second);
    return e.what();
  }
};

}  // namespace

bool parse(const std::string& command, const std::vector<std::string>& args,
           po::options_description& desc, po::variables_map& vm, std::string* help_text) {
  desc.add_options()("config", po::value<std::string>(),
                     "INI file with the same keys as the long options (command line wins)")(
      "help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::ostringstream os;
      os << "usage: ioca " << command << " [options]\n\n" << desc;
      if (help_text) *help_text = os.str();
      return false;
    }
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::error_code ec;
      if (std::filesystem::is_directory(path, ec))
        throw FileError(path, "is a folder, not a config file");
      std::ifstream in(path);
      if (!in) throw FileError(path, "cannot open config file");
      try {
        po::store(po::parse_config_file(in, desc, false), vm);
      } catch (po::error& e) {
        throw FileError(path, ErrorText::of(e));
      }
      if (in.bad()) throw FileError(path, "cannot read config file");
    }
    po::notify(vm);
  } catch (po::error& e) {
    throw UsageError(ErrorText::of(e));
  }
  return true;
}

po::options_description data_options() {
  po::options_description d("Data");
  d.add_options()("dataset", po::value<std::string>(),
                  "mnist | fashion-mnist | cifar10 | synthetic (default: the model's, else mnist)")(
      "data-dir", po::value<std::string>(),
      "folder with the data set's files (default: $IOCA_DATA/<dataset>, else data/<dataset>)")(
      "validation-size", po::value<long long>(),
      "training samples held out as the validation split (default: the model's, else 10000; "
      "synthetic: 1000)")("split-seed", po::value<long long>(),
                          "seed of the train/validation split (default: the model's, else 0)")(
      "synthetic-samples", po::value<long long>()->default_value(6000),
      "synthetic: training-set size")("synthetic-test-samples",
                                      po::value<long long>()->default_value(2000),
                                      "synthetic: test-set size")(
      "synthetic-features", po::value<long long>()->default_value(64), "synthetic: input features")(
      "synthetic-classes", po::value<long long>()->default_value(10), "synthetic: classes")(
      "synthetic-noise", real_value(0.35),
      "synthetic: noise standard deviation")(
      "synthetic-seed", po::value<long long>()->default_value(7), "synthetic: data seed");
  return d;
}

namespace {
// Synthetic data of absurd size (each option within its bounds, the product not) is bad
// input, not an "out of memory" internal error: at most 4e9 values (16 GB) per set.
std::string synthetic_too_large(const data::SyntheticSpec& s) {
  constexpr double max_values = 4e9;
  const double most = static_cast<double>(std::max(s.train_samples, s.test_samples));
  if (most * static_cast<double>(s.features) <= max_values) return "";
  return std::to_string(std::max(s.train_samples, s.test_samples)) + " samples of " +
         std::to_string(s.features) + " features is too large (at most 4e9 values)";
}

long long positive(const po::variables_map& vm, const char* key, long long max) {
  const long long v = vm[key].as<long long>();
  if (v <= 0 || v > max)
    throw UsageError(std::string("--") + key + " must be between 1 and " + std::to_string(max) +
                     ", not " + std::to_string(v));
  return v;
}
}  // namespace

DataArgs read_data_args(const po::variables_map& vm) {
  DataArgs a;
  if (vm.count("dataset")) {
    a.dataset = vm["dataset"].as<std::string>();
    data::check_dataset_name(*a.dataset);
  }
  if (vm.count("data-dir")) a.data_dir = vm["data-dir"].as<std::string>();
  if (vm.count("validation-size")) {
    const long long v = vm["validation-size"].as<long long>();
    if (v < 0) throw UsageError("--validation-size must be >= 0");
    a.validation_size = static_cast<std::size_t>(v);
  }
  if (vm.count("split-seed")) {
    const long long v = vm["split-seed"].as<long long>();
    if (v < 0) throw UsageError("--split-seed must be >= 0");
    a.split_seed = static_cast<std::uint64_t>(v);
  }
  a.synthetic.train_samples =
      static_cast<std::size_t>(positive(vm, "synthetic-samples", 100'000'000));
  a.synthetic.test_samples =
      static_cast<std::size_t>(positive(vm, "synthetic-test-samples", 100'000'000));
  a.synthetic.features = static_cast<std::size_t>(positive(vm, "synthetic-features", 1'000'000));
  a.synthetic.classes = static_cast<int>(positive(vm, "synthetic-classes", 1000));
  if (a.synthetic.classes < 2) throw UsageError("--synthetic-classes must be at least 2");
  a.synthetic.noise = vm["synthetic-noise"].as<double>();
  if (!(a.synthetic.noise >= 0.0 && a.synthetic.noise < 100.0))
    throw UsageError("--synthetic-noise must be in [0, 100)");
  const long long seed = vm["synthetic-seed"].as<long long>();
  if (seed < 0) throw UsageError("--synthetic-seed must be >= 0");
  a.synthetic.seed = static_cast<std::uint64_t>(seed);
  if (const auto problem = synthetic_too_large(a.synthetic); !problem.empty())
    throw UsageError("--synthetic-samples, --synthetic-test-samples, --synthetic-features: " +
                     problem);
  for (const char* key : {"synthetic-samples", "synthetic-test-samples", "synthetic-features",
                          "synthetic-classes", "synthetic-noise", "synthetic-seed"})
    if (vm.count(key) && !vm[key].defaulted()) a.synthetic_given.insert(key);
  return a;
}

data::LoadOptions resolve_data(const DataArgs& args, const io::Attributes* attrs,
                               const std::string& model_path) {
  data::LoadOptions o;
  const io::Attributes none;
  const io::Attributes& a = attrs ? *attrs : none;
  // A model file's value is checked like the option it stands for.
  const auto fail = [&](const std::string& problem) {
    if (model_path.empty()) throw Error("model attribute " + problem);
    throw FileError(model_path, "attribute " + problem);
  };
  const auto attr_int = [&](const char* key, std::int64_t fallback, std::int64_t low,
                            std::int64_t high) {
    const std::int64_t v = io::attribute_int(a, key, fallback);
    if (v < low || v > high)
      fail(std::string(key) + " = " + std::to_string(v) + " is out of range (" +
           std::to_string(low) + " to " + std::to_string(high) + ")");
    return v;
  };
  constexpr std::int64_t any = std::numeric_limits<std::int64_t>::max();
  o.dataset = args.dataset ? *args.dataset : io::attribute_string(a, "dataset", "mnist");
  try {
    data::check_dataset_name(o.dataset);
  } catch (const Error& e) {
    if (args.dataset) throw;
    fail(std::string("dataset: ") + e.what());
  }
  o.data_dir = args.data_dir.empty() ? data::default_data_dir(o.dataset) : args.data_dir;
  const long long default_validation = o.dataset == "synthetic" ? 1000 : 10000;
  o.validation_size =
      args.validation_size
          ? *args.validation_size
          : static_cast<std::size_t>(attr_int("validation_size", default_validation, 0, any));
  o.split_seed = args.split_seed ? *args.split_seed
                                 : static_cast<std::uint64_t>(attr_int("split_seed", 0, 0, any));
  o.synthetic = args.synthetic;
  if (o.dataset == "synthetic" && attrs && a.count("synthetic_seed")) {
    // A model trained on synthetic data regenerates exactly that data (bounds as the
    // --synthetic-* options), except where the user gave an option: a larger test set,
    // say, drawn from the same distribution.
    const auto from_model = [&](const char* option) {
      return args.synthetic_given.count(option) == 0;
    };
    if (from_model("synthetic-samples"))
      o.synthetic.train_samples =
          static_cast<std::size_t>(attr_int("synthetic_samples", 6000, 1, 100'000'000));
    if (from_model("synthetic-test-samples"))
      o.synthetic.test_samples =
          static_cast<std::size_t>(attr_int("synthetic_test_samples", 2000, 1, 100'000'000));
    if (from_model("synthetic-features"))
      o.synthetic.features =
          static_cast<std::size_t>(attr_int("synthetic_features", 64, 1, 1'000'000));
    if (from_model("synthetic-classes"))
      o.synthetic.classes = static_cast<int>(attr_int("synthetic_classes", 10, 2, 1000));
    if (from_model("synthetic-seed"))
      o.synthetic.seed = static_cast<std::uint64_t>(attr_int("synthetic_seed", 7, 0, any));
    if (from_model("synthetic-noise"))
      if (const auto it = a.find("synthetic_noise"); it != a.end())
        if (const auto* d = std::get_if<double>(&it->second)) o.synthetic.noise = *d;
    if (!(o.synthetic.noise >= 0.0 && o.synthetic.noise < 100.0))
      fail("synthetic_noise = " + std::to_string(o.synthetic.noise) + " is out of range [0, 100)");
    if (const auto problem = synthetic_too_large(o.synthetic); !problem.empty())
      fail("synthetic_*: " + problem);
  }
  return o;
}

std::size_t memory_budget_bytes(const po::variables_map& vm) {
  const long long mib = vm["memory-budget"].as<long long>();
  if (mib < 0 || mib > (1LL << 24))
    throw UsageError("--memory-budget must be between 0 and 16777216 MiB, not " +
                     std::to_string(mib));
  return static_cast<std::size_t>(mib) << 20;
}

std::vector<int> parse_snapshot_epochs(const std::string& text, int epochs,
                                       const std::string& option,
                                       const std::string& epochs_option) {
  std::vector<int> out;
  if (text.find_first_not_of(" \t") == std::string::npos) return out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b == std::string::npos)
      throw UsageError("--" + option + " has an empty item: '" + text + "'");
    item = item.substr(b, e - b + 1);
    long long v = -1;
    std::size_t used = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
    }
    if (used != item.size() || v < 0)
      throw UsageError("--" + option + ": '" + item + "' is not an epoch (a whole number >= 0)");
    if (v > epochs)
      throw UsageError("--" + option + ": epoch " + item + " is after the last epoch (--" +
                       epochs_option + " " + std::to_string(epochs) + ")");
    if (std::find(out.begin(), out.end(), static_cast<int>(v)) != out.end())
      throw UsageError("--" + option + " names epoch " + item + " twice");
    out.push_back(static_cast<int>(v));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string check_split_name(const std::string& split) {
  if (split != "test" && split != "validation" && split != "train")
    throw UsageError("--split must be test, validation or train, not '" + split + "'");
  return split;
}

}  // namespace ioca::cli

namespace ioca::cli {
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}
}  // namespace ioca::cli
