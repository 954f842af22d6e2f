#pragma once
// `ioca run --dry-run`: what a study would do and roughly what it would cost, before any
// cluster time is spent on it. Lists the networks and tasks, estimates the results file's
// size from the array shapes, and estimates the time of each phase from a short
// calibration (the data sets loaded, a few training batches, a measure pass, single-neuron
// damage and one ablation curve of a freshly initialised network of each architecture, on
// subsets, extrapolated). Writes no file.
#include <string>

#include "ioca/study.hpp"

namespace ioca::study {

struct DryRunOptions {
  std::string config_file;  // for the suggested sbatch line ("" if none was given)
  std::string out;          // likewise
};

// Collective: rank 0 calibrates and prints the report on stdout (an error as one line on
// stderr); every rank returns rank 0's exit status.
int dry_run(const MpiSession& mpi, const StudyConfig& config, const DryRunOptions& options);

}  // namespace ioca::study
