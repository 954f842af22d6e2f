// `ioca <command> ...`: dispatch and the mapping of exceptions to exit statuses.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "ioca/cli.hpp"
#include "ioca/core.hpp"
#include "ioca/version.hpp"

namespace ioca::cli {
namespace {

constexpr const char* usage =
    "usage: ioca <command> [options]   (ioca <command> --help for its options)\n"
    "\n"
    "Information-Ordered Cumulative Ablation: which neurons of a trained network matter,\n"
    "and do information-theoretic quantities predict it?\n"
    "\n"
    "commands:\n"
    "  train      train a fully-connected network and write a model file\n"
    "  evaluate   accuracy and loss of a model file on a data split\n"
    "  measure    per-neuron entropy, mutual information, selectivity and baselines\n"
    "  ablate     cumulative ablation curves: neurons ordered by a quantity, random, custom\n"
    "  run        a whole study on MPI ranks into one results file (mpiexec -n N ioca run ...)\n"
    "  merge      combine the results files of an array job into one\n"
    "  convert    a results file into format 2 (packed) or 1 (nested groups), or some networks\n"
    "\n"
    "  --help     this text\n"
    "  --version  version, git commit and kernel instruction set\n";

// The --config file a parse error came from, or "" when the command line alone gives it.
// Options are checked after the command line and the config file are merged, so parse
// again without the config file: unless that gives the same error, the file's values did.
template <class Parse>
std::string config_to_blame(const std::vector<std::string>& args, Parse parse,
                            const std::string& error) {
  std::vector<std::string> rest;
  std::string config;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config = args[++i];
    } else if (args[i].rfind("--config=", 0) == 0) {
      config = args[i].substr(9);
    } else {
      rest.push_back(args[i]);
    }
  }
  if (config.empty()) return "";
  try {
    std::string help;
    parse(rest, &help);
  } catch (const std::exception& e) {
    if (error == e.what()) return "";
  }
  return config;
}

template <class Args, class Parse, class Run>
int run_command(const std::vector<std::string>& args, Parse parse, Run run) {
  std::string help;
  Args parsed;
  try {
    parsed = parse(args, &help);
  } catch (const FileError&) {
    throw;
  } catch (const Error& e) {  // a bad value in the config file names the file
    if (const auto config = config_to_blame(args, parse, e.what()); !config.empty())
      throw FileError(config, e.what());
    throw;
  } catch (const UsageError& e) {
    if (const auto config = config_to_blame(args, parse, e.what()); !config.empty())
      throw FileError(config, e.what());
    throw;
  }
  if (!help.empty()) {
    std::fputs(help.c_str(), stdout);
    return exit_ok;
  }
  return run(parsed);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string command = args.empty() ? "" : args.front();
  if (!args.empty()) args.erase(args.begin());
  try {
    if (command.empty() || command == "--help" || command == "-h" || command == "help") {
      std::fputs(usage, command.empty() ? stderr : stdout);
      return command.empty() ? exit_bad_input : exit_ok;
    }
    if (command == "--version") {
      std::printf("ioca %s (git %s, kernels %s)\ncpu: %s\n", version_string, git_commit,
                  std::string(kernel_isa()).c_str(), machine_description().c_str());
      return exit_ok;
    }
    if (command == "train") return run_command<TrainArgs>(args, parse_train_args, run_train);
    if (command == "evaluate")
      return run_command<EvaluateArgs>(args, parse_evaluate_args, run_evaluate);
    if (command == "measure")
      return run_command<MeasureArgs>(args, parse_measure_args, run_measure);
    if (command == "ablate") return run_command<AblateArgs>(args, parse_ablate_args, run_ablate);
    if (command == "run") return run_study_command(args);
    if (command == "merge") return run_merge_command(args);
    if (command == "convert") return run_convert_command(args);
    std::fprintf(stderr, "ioca: unknown command '%s' (see ioca --help)\n", command.c_str());
    return exit_bad_input;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "ioca %s: %s (see ioca %s --help)\n", command.c_str(), e.what(),
                 command.c_str());
    return exit_bad_input;
  } catch (const Error& e) {
    std::fprintf(stderr, "ioca %s: error: %s\n", command.c_str(), e.what());
    return exit_bad_input;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ioca %s: out of memory\n", command.c_str());
    return exit_internal_error;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ioca %s: internal error: %s\n", command.c_str(), e.what());
    return exit_internal_error;
  }
}

}  // namespace ioca::cli
