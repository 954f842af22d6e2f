#pragma once
// The command line: each command turns its arguments (and an optional INI config file with
// the same keys) into a plain options struct, checks it, then runs.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ioca/data.hpp"
#include "ioca/info.hpp"
#include "ioca/nn.hpp"

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
  data::SyntheticSpec synthetic;
};

struct TrainArgs {
  DataArgs data;
  std::vector<int> hidden{200, 200};
  nn::Activation activation = nn::Activation::relu;
  nn::TrainOptions train;
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
};

// Parsers (throw UsageError or ioca::Error; "--help" sets help_text instead).
TrainArgs parse_train_args(const std::vector<std::string>& args, std::string* help_text);
EvaluateArgs parse_evaluate_args(const std::vector<std::string>& args, std::string* help_text);
MeasureArgs parse_measure_args(const std::vector<std::string>& args, std::string* help_text);

int run_train(const TrainArgs& args);
int run_evaluate(const EvaluateArgs& args);
int run_measure(const MeasureArgs& args);

// Entry point: dispatches on the command, maps exceptions to exit statuses.
int main(int argc, char** argv);

}  // namespace ioca::cli
