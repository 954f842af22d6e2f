#pragma once
// The study grid as tasks. Networks: data set x architecture x activation x seed (or the
// given model files). Per network one `prepare` task (train or load, evaluate, measure,
// information plane, single-neuron damage) and, once it is done, its sweep tasks: per scope,
// one per quantity (every direction) and one for the random orders.
#include <cstdint>
#include <string>
#include <vector>

#include "ioca/study.hpp"

namespace ioca::study {

struct NetworkSpec {
  int index = 0;
  std::string name;        // the group under /networks
  std::string model_file;  // empty: trained
  data::LoadOptions data;
  std::vector<int> hidden;
  nn::Activation activation = nn::Activation::relu;
  std::uint64_t seed = 1;  // training seed (trained) or the model's seed attribute, else 1
  std::vector<std::string> scopes;
};

enum class TaskKind { prepare, sweep };

struct Task {
  std::string key;  // unique; also orders the records in the file
  TaskKind kind = TaskKind::prepare;
  int network = 0;
  std::string scope;  // sweeps
  std::string group;  // sweeps: a quantity, or "random"
  int setting = 0;    // sweeps: the measure setting whose measures order (index into
                      // StudyConfig::measure_settings); 0 for quantities of no binning
};

struct Plan {
  std::vector<NetworkSpec> networks;
  std::vector<Task> tasks;  // every prepare task, then every sweep task
};

// Reads the header of every model file (bad files throw ioca::FileError). Deterministic:
// every rank builds the same plan.
Plan make_plan(const StudyConfig& config);

std::string prefix_of(const NetworkSpec& n);  // "/networks/<name>"
// Where a measure setting's measures, information plane and sweeps go: the network's group
// for the first setting (as in a study of that setting alone), else
// "/networks/<name>/settings/<setting name>".
std::string setting_prefix(const NetworkSpec& n, const StudyConfig& config, int setting);

}  // namespace ioca::study
