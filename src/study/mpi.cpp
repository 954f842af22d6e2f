#include "study/mpi.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "ioca/study.hpp"
#include "study/packed_file.hpp"

namespace ioca::study {

MpiSession::MpiSession() {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    // Open MPI 4.1's osc/rdma fails to create the task counter's window ("invalid window")
    // once ranks on different hosts talk over TCP; its other one-sided components work
    // there (sm on one host, ucx, pt2pt). Only a default: the user's own OMPI_MCA_osc wins,
    // and other MPI libraries ignore the variable.
    setenv("OMPI_MCA_osc", "^rdma", 0);
    int provided = 0;
    mpi::check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
               "MPI_Init_thread");
    if (provided < MPI_THREAD_FUNNELED)
      throw mpi::MpiError("the MPI library does not provide MPI_THREAD_FUNNELED");
  }
  // Errors come back as return codes (turned into exceptions), never abort silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  // After a failed write a results file is left open on purpose; MPI_Finalize would make
  // HDF5 close it (its shutdown hangs on MPI_COMM_SELF), and libhdf5 1.10 crashes doing so.
  // The process is ending with an error anyway: it ends without finalising.
  if (!finalised && !results_files_left_open()) MPI_Finalize();
}

namespace mpi {

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw MpiError(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

std::vector<Bytes> allgather(const Bytes& mine) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // Sizes first (64-bit: a rank may send more than 2 GiB in principle; we refuse that).
  if (mine.size() > static_cast<std::size_t>(INT32_MAX))
    throw MpiError("a rank's results exceed 2 GiB in one exchange");
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  check(MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  long long total = 0;
  for (int r = 0; r < size; ++r) {
    offsets[static_cast<std::size_t>(r)] = static_cast<int>(total);
    total += counts[static_cast<std::size_t>(r)];
    if (total > INT32_MAX) throw MpiError("the ranks' results exceed 2 GiB in one exchange");
  }
  Bytes all(static_cast<std::size_t>(total));
  check(MPI_Allgatherv(mine.data(), n, MPI_CHAR, all.data(), counts.data(), offsets.data(),
                       MPI_CHAR, MPI_COMM_WORLD),
        "MPI_Allgatherv");
  std::vector<Bytes> out(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r) {
    const auto b = all.begin() + offsets[static_cast<std::size_t>(r)];
    out[static_cast<std::size_t>(r)].assign(b, b + counts[static_cast<std::size_t>(r)]);
  }
  return out;
}

double allreduce_sum(double v) {
  double out = 0.0;
  check(MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

std::int64_t allreduce_max(std::int64_t v) {
  std::int64_t out = 0;
  check(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

void barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

void progress() {
  int flag = 0;
  check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE),
        "MPI_Iprobe");
}

std::vector<std::string> host_names() {
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  const auto all = allgather(Bytes(name, name + len));
  std::vector<std::string> out;
  for (const auto& b : all) out.emplace_back(b.begin(), b.end());
  return out;
}

SharedCounters::SharedCounters() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const MPI_Aint bytes = rank == 0 ? static_cast<MPI_Aint>(slots * sizeof(std::int64_t)) : 0;
  check(MPI_Win_allocate(bytes, sizeof(std::int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &base_,
                         &win_),
        "MPI_Win_allocate");
  if (rank == 0) std::fill(base_, base_ + slots, 0);
  barrier();
  check(MPI_Win_lock_all(0, win_), "MPI_Win_lock_all");
}

SharedCounters::~SharedCounters() {
  if (win_ == MPI_WIN_NULL) return;
  MPI_Win_unlock_all(win_);
  MPI_Win_free(&win_);
}

std::int64_t SharedCounters::atomic(Slot s, std::int64_t v, MPI_Op op) {
  std::int64_t old = 0;
  check(MPI_Fetch_and_op(&v, &old, MPI_INT64_T, 0, s, op, win_), "MPI_Fetch_and_op");
  check(MPI_Win_flush(0, win_), "MPI_Win_flush");
  return old;
}

std::int64_t SharedCounters::fetch_add(Slot s, std::int64_t v) { return atomic(s, v, MPI_SUM); }
std::int64_t SharedCounters::fetch_max(Slot s, std::int64_t v) { return atomic(s, v, MPI_MAX); }
std::int64_t SharedCounters::read(Slot s) { return atomic(s, 0, MPI_NO_OP); }

void SharedCounters::reset(std::int64_t next, std::int64_t request, std::int64_t done) {
  barrier();  // nobody touches the counters any more
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    atomic(next_task, next, MPI_REPLACE);
    atomic(sync_request, request, MPI_REPLACE);
    atomic(tasks_done, done, MPI_REPLACE);
  }
  barrier();  // everyone sees the new values
}

}  // namespace mpi
}  // namespace ioca::study
