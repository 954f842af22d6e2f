#pragma once
// Shared pieces of option parsing (private to the cli module).
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "ioca/cli.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"

namespace ioca::cli {

namespace po = boost::program_options;

// Parses args against desc, reading "--config FILE" (INI, same keys) underneath the
// command line. Returns false (and fills help_text) when --help was given.
bool parse(const std::string& command, const std::vector<std::string>& args,
           po::options_description& desc, po::variables_map& vm, std::string* help_text);

// A double option with a default, shown in --help as its shortest exact text (0.35, not
// boost's 0.34999999999999998).
inline po::typed_value<double>* real_value(double v) {
  return po::value<double>()->default_value(v, shortest(v));
}

// --dataset, --data-dir, --validation-size, --split-seed, --synthetic-*.
po::options_description data_options();
DataArgs read_data_args(const po::variables_map& vm);

// Fills the options the user left unset from a model's attributes, then loads the splits.
// Values taken from the model's attributes are checked like their options; a bad one is an
// error naming model_path.
data::LoadOptions resolve_data(const DataArgs& args, const io::Attributes* model_attributes,
                               const std::string& model_path = "");

// The snapshot epochs of --snapshots / train.snapshots ("0, 1, 2, 5, 10"), sorted: each a
// whole number from 0 (before training) to `epochs`, none twice. Empty text gives none.
// Errors name `option` and, for an epoch too late, `epochs_option`.
std::vector<int> parse_snapshot_epochs(const std::string& text, int epochs,
                                       const std::string& option, const std::string& epochs_option);

// Checks a --split value (test, validation or train; pipeline::split_named picks it).
std::string check_split_name(const std::string& split);
// --memory-budget (MiB, 0 to 2^24) in bytes.
std::size_t memory_budget_bytes(const po::variables_map& vm);

}  // namespace ioca::cli

namespace ioca::cli {
// A JSON string literal with quotes and escapes.
std::string json_string(const std::string& s);
}  // namespace ioca::cli
