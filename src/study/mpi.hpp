#pragma once
// MPI for the study runner: every call is checked and a failure becomes ioca::MpiError
// (MPI_ERRORS_RETURN is set on the communicator), plus the few patterns the runner needs.
#include <mpi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ioca::study::mpi {

class MpiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws MpiError naming the call when rc is not MPI_SUCCESS.
void check(int rc, const char* call);

using Bytes = std::vector<char>;

// Every rank's bytes, in rank order, on every rank.
std::vector<Bytes> allgather(const Bytes& mine);
// Sum / max over ranks.
double allreduce_sum(double v);
std::int64_t allreduce_max(std::int64_t v);
void barrier();
// Host name of every rank, in rank order.
std::vector<std::string> host_names();

// Enters MPI's progress engine once (MPI_Iprobe) and returns at once.
void progress();

// A few 64-bit counters that live on rank 0 and that any rank updates (MPI one-sided
// atomics in a passive-target epoch held for the object's life): the next task to claim,
// the synchronisation request, the tasks done. On one host, or with hardware atomics
// (InfiniBand, UCX), an update needs no help from rank 0; over TCP the one-sided
// components are emulated and an update completes only when rank 0 enters MPI, which is
// why a rank's main thread keeps calling progress() while its tasks run (Runner::work).
class SharedCounters {
 public:
  enum Slot { next_task = 0, sync_request = 1, tasks_done = 2, slots = 3 };
  SharedCounters();  // collective
  ~SharedCounters();  // collective
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;
  std::int64_t fetch_add(Slot s, std::int64_t v);
  std::int64_t fetch_max(Slot s, std::int64_t v);
  std::int64_t read(Slot s);
  // Collective: every slot back to zero (or the given value) once all ranks arrive.
  void reset(std::int64_t next, std::int64_t request, std::int64_t done);

 private:
  std::int64_t atomic(Slot s, std::int64_t v, MPI_Op op);
  MPI_Win win_ = MPI_WIN_NULL;
  std::int64_t* base_ = nullptr;
};

}  // namespace ioca::study::mpi
