#pragma once
// The message of a synchronisation (study/runner.cpp): every rank's status and the keys and
// sizes of the records it finished since the last one (their data stays with the rank that
// computed them, which writes it into the checkpoint). One MPI_Allgatherv; every rank gets
// every rank's new tasks, because every rank writes its part of the next checkpoint file at
// offsets that depend on all of them. Shared with tests/bench/bench_scaling.cpp, which
// times it.
#include <cstdint>
#include <string>
#include <vector>

#include "study/packed_file.hpp"
#include "study/record.hpp"

namespace ioca::study {

struct SyncStatus {
  std::int64_t code = 0;  // 0: ok
  std::string message;
};

// Collective. `mine`: this rank's status; `records`: its new records (only their keys and
// sizes are sent). Appends every rank's new tasks to *fresh, rank by rank, each with its
// owner, and returns the first failing status in rank order (code 0 when none failed).
SyncStatus exchange_new_tasks(const SyncStatus& mine, const std::vector<Record>& records,
                              std::vector<TaskEntry>* fresh);

}  // namespace ioca::study
