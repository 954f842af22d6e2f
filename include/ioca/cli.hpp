#pragma once
// The command line: each command turns its arguments (and an optional INI config file with
// the same keys) into a plain options struct, checks it, then runs.
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "ioca/ablation.hpp"
#include "ioca/data.hpp"
#include "ioca/info.hpp"
#include "ioca/nn.hpp"
#include "ioca/pipeline.hpp"

namespace ioca::cli {

// Exit statuses.
inline constexpr int exit_ok = 0;
inline constexpr int exit_internal_error = 1;
inline constexpr int exit_bad_input = 2;

// A usage mistake: printed with a pointer to --help, exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Data-set selection shared by every command that reads data. Options left unset fall
// back to the model file's attributes (so evaluate sees the split the model was trained on).
struct DataArgs {
  std::optional<std::string> dataset;
  std::string data_dir;  // empty: default_data_dir
  std::optional<std::size_t> validation_size;
  std::optional<std::uint64_t> split_seed;
  data::SyntheticSpec synthetic;  // the --synthetic-* values, defaults included
  // The --synthetic-* options the user gave (e.g. "synthetic-test-samples"): these win over
  // a synthetic model's own data attributes, the others come from the model.
  std::set<std::string> synthetic_given;
};

struct TrainArgs {
  DataArgs data;
  std::vector<int> hidden{200, 200};
  nn::Activation activation = nn::Activation::relu;
  nn::TrainOptions train;
  pipeline::Snapshots snapshots;  // --snapshots and their settings (no epochs: none)
  std::string out;
  bool quiet = false;
};

struct EvaluateArgs {
  DataArgs data;
  std::string model;
  std::string split = "test";  // test | validation | train
  bool json = false;
  std::string predictions;  // file to write one predicted class per line
};

struct MeasureArgs {
  DataArgs data;
  std::string model;
  std::string split = "validation";
  info::MeasureOptions options;
  std::string out;
  bool print = false;
  bool quiet = false;  // no progress line on stderr
};

struct AblateArgs {
  DataArgs data;
  std::string model;
  std::string measures;             // required when a quantity or --ablate-to mean needs it
  std::vector<std::string> scopes;  // empty: all (layer0, layer1, ..., network)
  // Quantities to order by: names of info::quantity_names(), or "single_damage".
  std::vector<std::string> by{"entropy", "mutual_information", "kl_selectivity"};
  std::vector<ablation::Direction> directions{ablation::Direction::ascending,
                                              ablation::Direction::descending};
  int random = 10;                    // random orders per scope
  std::optional<std::uint64_t> seed;  // unset: the model's "seed" attribute, else 1
  std::string order_file;             // custom orders, "<scope> <name> <i1> <i2> ..." per line
  ablation::AblateTo ablate_to = ablation::AblateTo::zero;
  std::int64_t steps = 0;  // 0: record after every step; else at even_points(n, steps)
  bool single = true;      // also compute single-neuron damage
  ablation::SweepOptions sweep;
  std::string out;
  bool quiet = false;
};

// Parsers (throw UsageError or ioca::Error; "--help" sets help_text instead).
TrainArgs parse_train_args(const std::vector<std::string>& args, std::string* help_text);
EvaluateArgs parse_evaluate_args(const std::vector<std::string>& args, std::string* help_text);
MeasureArgs parse_measure_args(const std::vector<std::string>& args, std::string* help_text);
AblateArgs parse_ablate_args(const std::vector<std::string>& args, std::string* help_text);

int run_train(const TrainArgs& args);
int run_evaluate(const EvaluateArgs& args);
int run_measure(const MeasureArgs& args);
int run_ablate(const AblateArgs& args);
// `ioca run` and `ioca merge` parse and run in one step (MPI must start before parsing).
int run_study_command(const std::vector<std::string>& args);
int run_merge_command(const std::vector<std::string>& args);
int run_convert_command(const std::vector<std::string>& args);

// Entry point: dispatches on the command, maps exceptions to exit statuses.
int main(int argc, char** argv);

}  // namespace ioca::cli
