#pragma once
// Runs one task of the plan on this rank through the per-network pipeline (ioca/pipeline.hpp)
// and returns its record. Keeps the data sets it has loaded and the prepared networks
// (model, measures, single-neuron damage) that sweeps need.
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>

#include "ioca/pipeline.hpp"
#include "study/plan.hpp"
#include "study/record.hpp"

namespace ioca::study {

// Thrown out of a task that was stopped part-way (a signal, or another rank's error).
class TaskInterrupted : public std::runtime_error {
 public:
  TaskInterrupted() : std::runtime_error("task interrupted") {}
};

using Prepared = pipeline::Prepared;

struct PhaseSeconds {
  double train = 0, measure = 0, single = 0, ablate = 0, load = 0;
};

class Worker {
 public:
  Worker(const StudyConfig& config, const Plan& plan) : config_(config), plan_(plan) {}
  // should_stop is polled between epochs of training; when it returns true the task stops
  // with TaskInterrupted.
  Record run(const Task& task, const std::function<bool()>& should_stop);
  // run() may be called from several threads at once (each task then runs on one thread).
  // Makes a prepare task's record (from any rank) available to sweeps on this rank.
  void adopt(const Record& prepare_record);
  bool prepared(int network) const { return prepared_.count(network) != 0; }
  const PhaseSeconds& seconds() const { return seconds_; }

 private:
  const data::Splits& splits(const data::LoadOptions& o);
  io::Model network(const NetworkSpec& n, const data::Splits& sp,
                    const std::function<bool()>& should_stop);
  nn::TrainOptions train_options(const NetworkSpec& n) const;  // the seed is the network's
  pipeline::Settings settings() const;
  Record prepare(const NetworkSpec& n, const Task& task, const std::function<bool()>& should_stop);
  Record sweep(const NetworkSpec& n, const Task& task);

  const StudyConfig& config_;
  const Plan& plan_;
  std::map<std::string, data::Splits> data_;
  std::map<int, Prepared> prepared_;
  void add_seconds(double PhaseSeconds::*phase, double seconds);

  std::mutex mutex_;  // guards data_ and seconds_ when tasks run concurrently
  PhaseSeconds seconds_;
};

}  // namespace ioca::study
