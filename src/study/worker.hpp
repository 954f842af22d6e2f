#pragma once
// Runs one task of the plan on this rank through the per-network pipeline (ioca/pipeline.hpp)
// and returns its record. Keeps the data sets it has loaded and the few prepared networks
// (model, measures, single-neuron damage) its recent sweeps needed; any other is fetched
// when a sweep needs it (from the checkpoint on disk), so a rank's memory does not grow
// with the number of networks of the study.
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
  // Where sweeps get the record of their network's prepare task (called under a lock,
  // from any thread).
  void set_prepared_source(std::function<Record(int network)> source) { source_ = std::move(source); }
  const PhaseSeconds& seconds() const { return seconds_; }

 private:
  const data::Splits& splits(const data::LoadOptions& o);
  // With train.snapshots, a trained network's information plane over training goes to
  // *plane and the seconds its snapshots took to *snapshot_seconds.
  io::Model network(const NetworkSpec& n, const data::Splits& sp,
                    const std::function<bool()>& should_stop,
                    std::optional<info::TrainingPlane>* plane, double* snapshot_seconds);
  pipeline::Snapshots snapshots() const;
  nn::TrainOptions train_options(const NetworkSpec& n) const;  // the seed is the network's
  pipeline::Settings settings() const;
  Record prepare(const NetworkSpec& n, const Task& task, const std::function<bool()>& should_stop);
  Record sweep(const NetworkSpec& n, const Task& task);
  void add_pair_interactions(Record& r, const NetworkSpec& n, const pipeline::Preparation& prep,
                             const data::Dataset& test);
  // The prepared network, one per measure setting (the same network, each setting's
  // measures), from the cache or the source (most recently used kept).
  std::shared_ptr<const std::vector<Prepared>> prepared(int network);
  std::vector<Prepared> adopt(const Record& prepare_record, int network) const;

  const StudyConfig& config_;
  const Plan& plan_;
  std::map<std::string, data::Splits> data_;
  std::function<Record(int)> source_;
  std::list<std::pair<int, std::shared_ptr<const std::vector<Prepared>>>> prepared_;  // most recent first
  std::mutex prepared_mutex_;
  void add_seconds(double PhaseSeconds::*phase, double seconds);

  std::mutex mutex_;  // guards data_ and seconds_ when tasks run concurrently
  PhaseSeconds seconds_;
};

}  // namespace ioca::study
