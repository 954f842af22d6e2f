// The study runner. Ranks claim tasks from a shared counter (dynamic load balancing) out of
// a pool of tasks whose inputs exist. A rank that finds the pool empty, or sees a request
// (checkpoint interval, signal, error), joins a synchronisation: ranks exchange the keys and
// sizes of their new records, write them collectively as the next file of the checkpoint
// chain (study/checkpoint.hpp) and drop them from memory; a new pool starts. A sweep reads
// its prepared network back from the chain, so no rank holds the results of the study, and
// the finished file is compacted from the chain in rounds of bounded size. Every rank goes
// through the same sequence of collective steps, so an error or a signal on one rank ends
// the run on all ranks, with one message, never a hang.
#include <fcntl.h>
#include <omp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "ioca/core.hpp"
#include "ioca/study.hpp"
#include "ioca/version.hpp"
#include "io/hdf5.hpp"
#include "study/checkpoint.hpp"
#include "study/mpi.hpp"
#include "study/output_lock.hpp"
#include "study/plan.hpp"
#include "study/packed_file.hpp"
#include "study/sync.hpp"
#include "study/worker.hpp"

namespace ioca::study {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

volatile std::sig_atomic_t signal_received = 0;
extern "C" void on_stop_signal(int s) { signal_received = s; }

// What a rank reports at a synchronisation (and the exit status it implies).
enum StatusCode : std::int64_t { ok = 0, internal_error = 1, bad_input = 2, interrupted = 3 };
struct Status {
  std::int64_t code = ok;
  std::string message;
};

enum Request : std::int64_t { no_request = 0, checkpoint_request = 1, stop_request = 2,
                              error_request = 3 };

std::string hex64(std::uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Runs fn on every rank and agrees on the outcome: if any rank failed, every rank throws
// the first failure (in rank order), as ioca::Error when it was bad input.
void agree(const std::function<void()>& fn) {
  Status s;
  try {
    fn();
  } catch (const Error& e) {
    s = {bad_input, e.what()};
  } catch (const std::bad_alloc&) {
    s = {internal_error, "out of memory"};
  } catch (const std::exception& e) {
    s = {internal_error, e.what()};
  }
  Bytes mine(sizeof s.code + s.message.size());
  std::memcpy(mine.data(), &s.code, sizeof s.code);
  std::memcpy(mine.data() + sizeof s.code, s.message.data(), s.message.size());
  for (const auto& b : mpi::allgather(mine)) {
    std::int64_t code = 0;
    std::memcpy(&code, b.data(), sizeof code);
    if (code == ok) continue;
    const std::string message(b.begin() + sizeof code, b.end());
    if (code == bad_input) throw Error(message);
    throw std::runtime_error(message);
  }
}

// A file rename that survives a crash: the data reaches the disk before the name changes.
// A sync that fails (a file system that reports a full disk or an I/O error only on flush)
// fails the rename: the file it would replace stays.
void durable_rename(const std::string& from, const std::string& to) {
  const int fd = ::open(from.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    throw FileError(to, io::write_failure_message("cannot write " + from, to, e));
  }
  ::close(fd);
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec)
    throw FileError(to, io::write_failure_message("cannot rename " + from + " into place", to, ec.value()));
  const std::string dir = fs::path(to).parent_path().empty() ? "." : fs::path(to).parent_path().string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// A write that failed inside collective HDF5 / MPI-IO calls on this rank. The other ranks
// cannot be told: they may be inside a collective write waiting for this one (Open MPI's
// two-phase I/O, a collective close), and would wait there forever. So this rank prints the
// one line, removes its unfinished file (it would only take space) and ends every rank.
// When several ranks fail at once (a full disk fails them all), one line is enough: rank 0
// reports at once, any other rank only after a pause of 3 s or more, by which time rank 0's abort has ended
// it if rank 0 failed too.
[[noreturn]] void abort_write(const std::string& tmp, const std::string& message) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(3000 + 100 * rank, 8000)));
  std::fprintf(stderr, "ioca run: error: %s\n", message.c_str());
  std::fflush(stderr);
  std::error_code ignored;
  fs::remove(tmp, ignored);
  MPI_Abort(MPI_COMM_WORLD, bad_input);
  std::_Exit(bad_input);  // MPI_Abort does not return
}

// The safety net of abort_write, for a rank that never returns from a collective write
// (a failure that HDF5 or MPI-IO swallows and then waits on): while a file is written, a
// thread watches it. When the file has not changed for `stall` and its file system shows a
// problem (read-only, no free blocks, a test write there fails), the write cannot finish:
// the thread prints the one line and ends every rank. A slow but healthy write (a busy
// parallel file system, another rank still reading its share) never trips it. (MPI_Abort
// from a thread that is not the main one: MPI_THREAD_FUNNELED does not promise it works,
// Open MPI's does; nothing else can end ranks blocked inside MPI.)
class WriteWatchdog {
 public:
  WriteWatchdog(std::string tmp, std::string shown, std::chrono::seconds stall)
      : tmp_(std::move(tmp)), shown_(std::move(shown)), stall_(stall), thread_([this] { watch(); }) {}
  ~WriteWatchdog() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  WriteWatchdog(const WriteWatchdog&) = delete;
  WriteWatchdog& operator=(const WriteWatchdog&) = delete;

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    std::pair<std::int64_t, std::int64_t> last{-1, -1};  // size, mtime (ns)
    auto changed = Clock::now();
    while (!wake_.wait_for(lock, std::chrono::seconds(1), [&] { return done_; })) {
      struct stat st {};
      const std::pair<std::int64_t, std::int64_t> now =
          ::stat(tmp_.c_str(), &st) == 0
              ? std::pair<std::int64_t, std::int64_t>{st.st_size, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec}
              : std::pair<std::int64_t, std::int64_t>{-1, -1};
      if (now != last) {
        last = now;
        changed = Clock::now();
        continue;
      }
      if (Clock::now() - changed < stall_) continue;
      const std::string cause = io::write_failure_cause(tmp_);
      if (cause.empty()) {
        changed = Clock::now();  // healthy, only slow: look again after another stall
        continue;
      }
      abort_write(tmp_, shown_ + ": the write stopped making progress: " + cause);
    }
  }

  const std::string tmp_, shown_;
  const std::chrono::seconds stall_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is set
};

// How long a file being written may stand still, its file system showing a problem, before
// the watchdog ends the job: well inside the 30 s a failed write may take to end a job.
// IOCA_WRITE_STALL=<seconds> changes it (a testing aid: tests/e2e/write_faults.sh).
std::chrono::seconds write_stall() {
  const char* v = std::getenv("IOCA_WRITE_STALL");
  const int seconds = v && *v ? std::atoi(v) : 10;
  return std::chrono::seconds(std::clamp(seconds, 1, 3600));
}

// About how many bytes a results file of these tasks takes (uncompressed: an upper bound
// for the compressed final file): the values, the index tables' rows (strings of the
// file's width), and HDF5's metadata.
std::uint64_t file_bytes(const std::vector<TaskSize>& sizes) {
  std::uint64_t width = 1, bytes = 1 << 20;
  for (const auto& z : sizes) width = std::max<std::uint64_t>(width, static_cast<std::uint64_t>(z.string_width));
  for (const auto& z : sizes)
    bytes += z.bytes() + (width + 80) + static_cast<std::uint64_t>(z.datasets) * (width + 80) +
             static_cast<std::uint64_t>(z.attributes) * (3 * width + 40);
  return bytes;
}

std::string mebibytes(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// Rank 0, before a file is written: fails (every rank agrees, nothing is aborted) when its
// file system has clearly no room for it. A disk that fills while the file is written is
// caught by the write itself (abort_write).
void check_room(const std::string& target, std::uint64_t bytes) {
  const std::string dir = fs::path(target).parent_path().empty() ? "." : fs::path(target).parent_path().string();
  struct statvfs info {};
  if (::statvfs(dir.c_str(), &info) != 0) return;
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(info.f_bavail) * info.f_frsize;
  if (free_bytes < bytes)
    throw FileError(target, "cannot write it: no space left on device (about " + mebibytes(bytes) +
                                " needed, " + mebibytes(free_bytes) + " free in " + dir + ")");
}

// A rough upper bound of the results file's size, to fail before computing when it cannot
// fit (the checkpoint and the final file exist side by side for a moment).
std::uint64_t estimate_bytes(const Plan& plan, const StudyConfig& c) {
  std::uint64_t total = 1 << 20;
  for (const auto& n : plan.networks) {
    std::uint64_t neurons = 0, params = 0, prev = 3072;  // inputs unknown here: CIFAR-sized
    for (int w : n.hidden) {
      neurons += static_cast<std::uint64_t>(w);
      params += (prev + 1) * static_cast<std::uint64_t>(w);
      prev = static_cast<std::uint64_t>(w);
    }
    params += (prev + 1) * 10;
    total += params * 4 + neurons * 8 * 20 * std::max<std::uint64_t>(1, c.measure_settings.size());
    const std::uint64_t classes = 10;
    for (const auto& t : plan.tasks) {
      if (t.network != n.index || t.kind != TaskKind::sweep) continue;
      const std::uint64_t size = neurons;  // any scope has at most every hidden neuron
      const std::uint64_t points = c.steps > 0 ? std::min<std::uint64_t>(size, static_cast<std::uint64_t>(c.steps)) + 1 : size + 1;
      const std::uint64_t curves = t.group == "random" ? static_cast<std::uint64_t>(c.random) : c.directions.size();
      total += curves * (points * (3 + classes) * 8 + size * 8) + 4096;
    }
  }
  return total;
}

class Runner {
 public:
  Runner(const MpiSession& mpi, const StudyConfig& config, const RunOptions& options)
      : mpi_(mpi), config_(config), options_(options), plan_(), worker_(config_, plan_) {}

  int run();

 private:
  // Where a finished task's record is: a file of the checkpoint chain and its row there.
  struct Location {
    std::size_t file = 0, row = 0;
    TaskSize size;
  };

  void log(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void prepare_output();
  void index_tasks();
  std::size_t task_index(const std::string& key) const;
  void load_checkpoint(const std::string& path);
  void remove_checkpoint_files(bool keep_base) const;
  std::vector<const Task*> pool() const;
  void work(const std::vector<const Task*>& pool, mpi::SharedCounters& counters);
  bool should_stop(mpi::SharedCounters& counters);
  Status synchronise(mpi::SharedCounters& counters, std::int64_t* request,
                     std::vector<TaskEntry>* fresh);
  io::Attributes root_attributes(bool complete) const;
  io::Attributes provenance() const;
  std::string new_checkpoint_id() const;
  void write_segment(const std::vector<TaskEntry>& fresh);
  void compact_chain(const std::string& target, io::Attributes root, Storage storage);
  void rebase();
  void finish();
  void committed(const std::string& tmp, const std::string& target, bool remove_chain,
                 bool checkpoint, std::chrono::steady_clock::time_point started);
  Record read_task(const Location& where);
  void progress(mpi::SharedCounters* counters, bool force);
  void log_rank_hosts();

  const MpiSession& mpi_;
  const StudyConfig& config_;
  const RunOptions& options_;
  Plan plan_;
  Worker worker_;
  OutputLock lock_;  // rank 0: <out>.lock, for the run's whole life
  std::string checkpoint_path_;
  std::vector<std::size_t> by_key_;             // plan task indices, sorted by key
  std::vector<std::optional<Location>> done_;   // by plan task index: finished, and where
  std::size_t done_count_ = 0;
  std::vector<Record> fresh_;                   // finished here since the last sync
  std::vector<std::string> files_;              // the checkpoint chain: base, then segments
  Status local_;                                // this rank's failure, reported at the next sync
  bool continuing_ = false;                     // a checkpoint was loaded (--resume)
  std::string checkpoint_id_;                   // the chain's id
  int segments_ = 0;                            // the chain's segments so far
  std::size_t resumed_ = 0;
  std::size_t done_before_pool_ = 0;
  int checkpoints_ = 0;
  std::int64_t checkpoint_bytes_ = 0;  // size of the checkpoint files written by this run
  double write_seconds_ = 0.0;
  // Open files of the chain (readers of finished records), most recently used first.
  std::list<std::pair<std::size_t, std::unique_ptr<ResultsSource>>> open_files_;
  std::mutex read_mutex_;
  Clock::time_point start_ = Clock::now(), last_write_ = Clock::now(), last_progress_{};
  Clock::time_point last_poll_{};
  // IOCA_TASK_TIMES=<prefix>: every finished task's key, kind, seconds and result bytes, one
  // line each, into <prefix>.<rank> (for tests/bench/task_sizes.sh; results do not change).
  std::unique_ptr<FILE, int (*)(FILE*)> task_times_{nullptr, &std::fclose};
  std::string started_ = now_iso8601();
};

void Runner::log(const char* fmt, ...) const {
  if (options_.quiet || mpi_.rank() != 0) return;
  va_list args;
  va_start(args, fmt);
  std::fputs("ioca run: ", stderr);
  std::vfprintf(stderr, fmt, args);
  std::fputc('\n', stderr);
  va_end(args);
}

void Runner::prepare_output() {
  const std::string& out = options_.out;
  io::check_writable(out);
  if (fs::exists(out) && !options_.force) {
    if (!options_.resume)
      throw FileError(out, "exists (use --force to overwrite it, or --resume to continue a run)");
    const auto h = open_results(out);
    if (!same_study_config(io::attribute_string(h->root(), "study_config", ""), config_.canonical_text))
      throw FileError(out, "holds the results of a different study config (use --force to "
                           "overwrite it)");
    if (io::attribute_int(h->root(), "complete", 0) != 1)
      throw FileError(out, "is not a complete results file (damaged?); remove it or use --force");
  }
  // Room for the checkpoint and the final file, before any computing.
  struct statvfs fsinfo {};
  const std::string dir = fs::path(out).parent_path().empty() ? "." : fs::path(out).parent_path().string();
  if (::statvfs(dir.c_str(), &fsinfo) == 0) {
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(fsinfo.f_bavail) * fsinfo.f_frsize;
    const std::uint64_t need = 2 * estimate_bytes(plan_, config_);
    if (free_bytes < need)
      throw FileError(out, "not enough free space in " + dir + " for the results (about " +
                               std::to_string(need >> 20) + " MiB needed, " +
                               std::to_string(free_bytes >> 20) + " MiB free)");
  }
}

void Runner::index_tasks() {
  by_key_.resize(plan_.tasks.size());
  for (std::size_t i = 0; i < by_key_.size(); ++i) by_key_[i] = i;
  std::sort(by_key_.begin(), by_key_.end(),
            [&](std::size_t a, std::size_t b) { return plan_.tasks[a].key < plan_.tasks[b].key; });
  done_.assign(plan_.tasks.size(), std::nullopt);
}

// The plan index of a task key; plan_.tasks.size() when the study has no such task.
std::size_t Runner::task_index(const std::string& key) const {
  const auto it = std::lower_bound(by_key_.begin(), by_key_.end(), key,
                                   [&](std::size_t i, const std::string& k) { return plan_.tasks[i].key < k; });
  return it != by_key_.end() && plan_.tasks[*it].key == key ? *it : plan_.tasks.size();
}

void Runner::load_checkpoint(const std::string& path) {
  const CheckpointChain chain = read_checkpoint(path);
  if (!same_study_config(io::attribute_string(chain.root, "study_config", ""),
                         config_.canonical_text)) {
    if (!options_.force)
      throw FileError(path, "is a checkpoint of a different study config; resuming it would mix "
                            "studies (use --force to discard it and start over)");
    return;  // --force: start over
  }
  files_ = chain.files;
  for (std::size_t i = 0; i < chain.tasks.size(); ++i) {
    const std::size_t t = task_index(chain.tasks[i].key);
    if (t == plan_.tasks.size())
      throw FileError(chain.files[chain.file_of[i]], "damaged checkpoint: unknown task " + chain.tasks[i].key);
    done_[t] = Location{chain.file_of[i], chain.row_of[i], chain.tasks[i].size};
    ++done_count_;
  }
  // Every record is read once, by one rank, and its checksums checked: a damaged checkpoint
  // is named now, not after hours of computing.
  for (std::size_t t = static_cast<std::size_t>(mpi_.rank()); t < done_.size();
       t += static_cast<std::size_t>(mpi_.size()))
    if (done_[t]) read_task(*done_[t]);
  resumed_ = done_count_;
  checkpoint_id_ = chain.id;
  segments_ = chain.segments;
  continuing_ = true;
}

// Rank 0: removes the checkpoint files (with keep_base, all but the base itself).
void Runner::remove_checkpoint_files(bool keep_base) const {
  if (mpi_.rank() != 0) return;
  for (const auto& f : checkpoint_files(checkpoint_path_)) {
    if (keep_base && f == checkpoint_path_) continue;
    std::error_code ec;
    fs::remove(f, ec);
    if (ec) throw FileError(f, "cannot remove an old checkpoint file: " + ec.message());
  }
}

// The record of a finished task, read back from the checkpoint chain (any thread; HDF5
// calls are serialised).
Record Runner::read_task(const Location& where) {
  const std::lock_guard<std::mutex> lock(read_mutex_);
  const auto hdf5 = io::h5::library_lock();
  auto it = std::find_if(open_files_.begin(), open_files_.end(),
                         [&](const auto& f) { return f.first == where.file; });
  if (it == open_files_.end()) {
    open_files_.emplace_front(where.file, open_results(files_.at(where.file)));
    constexpr std::size_t keep_open = 2;  // each keeps a chunk cache per column
    while (open_files_.size() > keep_open) open_files_.pop_back();
  } else {
    open_files_.splice(open_files_.begin(), open_files_, it);
  }
  return open_files_.front().second->read(where.row);
}

// The tasks whose inputs exist, in the order ranks claim them: prepare tasks first (they
// unlock sweeps), then sweeps from the largest (curves x neurons in the scope) down. Claiming
// the largest first keeps the end of a pool from waiting on one long sweep, and a rank that
// runs tasks side by side (see work) gets pairs of similar length. The order changes no
// result: every task's inputs and seeds depend only on the config.
std::vector<const Task*> Runner::pool() const {
  std::vector<const Task*> p;
  for (std::size_t i = 0; i < plan_.tasks.size(); ++i) {
    const Task& t = plan_.tasks[i];
    // A network's prepare task is the plan's task number <network index>.
    if (!done_[i] && (t.kind == TaskKind::prepare || done_[static_cast<std::size_t>(t.network)]))
      p.push_back(&t);
  }
  const auto cost = [&](const Task* t) -> std::uint64_t {
    if (t->kind == TaskKind::prepare) return UINT64_MAX;
    const auto& hidden = plan_.networks[static_cast<std::size_t>(t->network)].hidden;
    std::uint64_t neurons = 0;  // scopes are "network" or "layer<K>" (checked by make_plan)
    if (t->scope == "network")
      for (int w : hidden) neurons += static_cast<std::uint64_t>(w);
    else
      neurons = static_cast<std::uint64_t>(hidden.at(std::stoul(t->scope.substr(5))));
    const std::uint64_t curves = t->group == "random" ? static_cast<std::uint64_t>(config_.random)
                                                      : config_.directions.size();
    return curves * neurons;
  };
  std::stable_sort(p.begin(), p.end(),
                   [&](const Task* a, const Task* b) { return cost(a) > cost(b); });
  return p;
}

bool Runner::should_stop(mpi::SharedCounters& counters) {
  if (signal_received) return true;
  // Another rank's signal or error: asked at most every 0.2 s.
  const auto now = Clock::now();
  if (now - last_poll_ < std::chrono::milliseconds(200)) return false;
  last_poll_ = now;
  return counters.read(mpi::SharedCounters::sync_request) >= stop_request;
}

// Claims tasks and runs them until the pool is empty or a synchronisation is requested. A
// rank with T OpenMP threads claims T tasks at a time and runs them side by side, one thread
// each: small-batch training does not speed up with threads, independent tasks do. (Every
// task's result is the same for any thread count, so this changes no bit.) The tasks run on
// worker threads while the main thread, the only one that may call MPI, keeps MPI moving:
// over TCP another rank's claim on rank 0's counter completes only when rank 0 enters MPI.
void Runner::work(const std::vector<const Task*>& pool, mpi::SharedCounters& counters) {
  using S = mpi::SharedCounters;
  const auto threads = static_cast<std::int64_t>(std::max(1, max_threads()));
  const auto size = static_cast<std::int64_t>(pool.size());
  for (;;) {
    if (signal_received) {
      counters.fetch_max(S::sync_request, stop_request);
      return;
    }
    if (counters.read(S::sync_request) != no_request) return;
    const std::int64_t first = counters.fetch_add(S::next_task, threads);
    if (first >= size) return;
    const std::int64_t count = std::min(threads, size - first);

    std::vector<std::optional<Record>> done(static_cast<std::size_t>(count));
    std::vector<Status> failed(static_cast<std::size_t>(count));
    std::vector<double> seconds(static_cast<std::size_t>(count), 0.0);
    std::atomic<bool> stop_seen{false};
    std::atomic<std::int64_t> running{count};
    bool main_runs_tasks = false;
    const auto run_one = [&](std::int64_t k) {
      const Task& task = *pool[static_cast<std::size_t>(first + k)];
      Status& s = failed[static_cast<std::size_t>(k)];
      const auto started = Clock::now();
      try {
        done[static_cast<std::size_t>(k)] = worker_.run(task, [&] {
          if (signal_received || stop_seen) return true;
          // The main thread itself runs tasks only when OpenMP gave it no workers.
          if (main_runs_tasks && should_stop(counters)) stop_seen = true;
          return stop_seen.load();
        });
      } catch (const TaskInterrupted&) {
        s = {interrupted, ""};
      } catch (const Error& e) {
        s = {bad_input, e.what()};
      } catch (const std::bad_alloc&) {
        s = {internal_error, "out of memory in task " + task.key};
      } catch (const std::exception& e) {
        s = {internal_error, std::string(e.what()) + " (task " + task.key + ")"};
      }
      seconds[static_cast<std::size_t>(k)] = std::chrono::duration<double>(Clock::now() - started).count();
    };
    // Inside each of several tasks, parallel regions run on one thread; a lone task may
    // use all of them.
    omp_set_max_active_levels(count == 1 ? 2 : 1);
#pragma omp parallel num_threads(static_cast<int>(count) + 1)
    {
      // OpenMP may give fewer threads than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC): the
      // workers share the tasks out, and a lone main thread runs them itself.
      const int team = omp_get_num_threads(), thread = omp_get_thread_num();
      if (team == 1) {
        main_runs_tasks = true;
        for (std::int64_t k = 0; k < count; ++k) run_one(k), --running;
      } else if (thread == 0) {
        // Only the main thread may call MPI (MPI_THREAD_FUNNELED). It sleeps between
        // calls, so it takes next to no CPU time from the tasks.
        try {
          while (running.load() > 0) {
            if (!stop_seen && should_stop(counters)) stop_seen = true;
            mpi::progress();
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
        } catch (const std::exception&) {
          stop_seen = true;  // MPI itself failed: the tasks stop, the synchronisation reports it
        }
      } else {
        for (std::int64_t k = thread - 1; k < count; k += team - 1) run_one(k), --running;
      }
    }
    bool dropped = false;
    for (std::int64_t k = 0; k < count; ++k) {
      auto& r = done[static_cast<std::size_t>(k)];
      const Status& s = failed[static_cast<std::size_t>(k)];
      if (r) {
        if (task_times_)
          std::fprintf(task_times_.get(), "%s\t%s\t%.6f\t%llu\n", r->key.c_str(),
                       pool[static_cast<std::size_t>(first + k)]->kind == TaskKind::prepare ? "prepare" : "sweep",
                       seconds[static_cast<std::size_t>(k)],
                       static_cast<unsigned long long>(size_of(*r).bytes()));
        fresh_.push_back(std::move(*r));
        counters.fetch_add(S::tasks_done, 1);
      } else if (s.code == interrupted) {
        dropped = true;  // runs again after a resume
      } else if (local_.code == ok) {
        local_ = s;
      }
    }
    if (local_.code != ok) {
      counters.fetch_max(S::sync_request, error_request);
      return;
    }
    if (dropped) {
      if (signal_received) counters.fetch_max(S::sync_request, stop_request);
      return;
    }
    if (Clock::now() - last_write_ >
        std::chrono::duration<double>(config_.checkpoint_interval_seconds))
      counters.fetch_max(S::sync_request, checkpoint_request);
    progress(&counters, false);
  }
}

void Runner::progress(mpi::SharedCounters* counters, bool force) {
  if (options_.quiet || mpi_.rank() != 0) return;
  const auto now = Clock::now();
  if (!force && now - last_progress_ < std::chrono::seconds(2)) return;
  last_progress_ = now;
  const std::size_t in_pool =
      counters ? static_cast<std::size_t>(counters->read(mpi::SharedCounters::tasks_done)) : 0;
  const std::size_t done = done_before_pool_ + in_pool, total = plan_.tasks.size();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = static_cast<double>(done - resumed_) / std::max(elapsed, 1e-9);
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
  std::fprintf(stderr, "ioca run: %zu/%zu tasks (%.0f%%), %.2f tasks/s, %.0f s elapsed, ETA %.0f s\n",
               done, total, 100.0 * static_cast<double>(done) / static_cast<double>(total), rate,
               elapsed, eta);
}

// Every rank's status and the keys and sizes of its new records (study/sync.hpp). `fresh`
// gets every rank's new tasks, rank by rank, each with its owner.
Status Runner::synchronise(mpi::SharedCounters& counters, std::int64_t* request,
                           std::vector<TaskEntry>* fresh) {
  const SyncStatus all = exchange_new_tasks({local_.code, local_.message}, fresh_, fresh);
  *request = counters.read(mpi::SharedCounters::sync_request);
  Status global{all.code, all.message};
  if (global.code == ok && *request == stop_request) global = {interrupted, "stopped by a signal"};
  return global;
}

io::Attributes Runner::root_attributes(bool complete) const {
  return {{"ioca_version", std::string(version_string)},
          {"git_commit", std::string(git_commit)},
          {"study_name", config_.name},
          {"study_config", config_.canonical_text},
          {"study_config_hash", hex64(hash_name(config_.canonical_text))},
          {"complete", static_cast<std::int64_t>(complete ? 1 : 0)},
          {"networks", static_cast<std::int64_t>(plan_.networks.size())},
          {"tasks", static_cast<std::int64_t>(plan_.tasks.size())},
          {"tasks_done", static_cast<std::int64_t>(done_count_)}};
}

// Collective (sums over ranks).
io::Attributes Runner::provenance() const {
  const PhaseSeconds& s = worker_.seconds();
  io::Attributes p{
      {"ranks", static_cast<std::int64_t>(mpi_.size())},
      {"threads_per_rank", static_cast<std::int64_t>(max_threads())},
      {"kernels", std::string(kernel_isa())},
      {"started", started_},
      {"wall_seconds", std::chrono::duration<double>(Clock::now() - start_).count()},
      {"checkpoints", static_cast<std::int64_t>(checkpoints_)},
      {"checkpoint_bytes", checkpoint_bytes_},
      {"resumed_tasks", static_cast<std::int64_t>(resumed_)},
      {"load_seconds", mpi::allreduce_sum(s.load)},
      {"train_seconds", mpi::allreduce_sum(s.train)},
      {"measure_seconds", mpi::allreduce_sum(s.measure)},
      {"single_seconds", mpi::allreduce_sum(s.single)},
      {"ablate_seconds", mpi::allreduce_sum(s.ablate)},
      {"write_seconds", mpi::allreduce_sum(write_seconds_)},
      {"ioca_version", std::string(version_string)},
      {"git_commit", std::string(git_commit)}};
  const auto rank_hosts = mpi::host_names();
  const std::set<std::string> hosts(rank_hosts.begin(), rank_hosts.end());
  std::string host_list, rank_list;
  for (const auto& h : hosts) host_list += (host_list.empty() ? "" : ",") + h;
  for (const auto& h : rank_hosts) rank_list += (rank_list.empty() ? "" : ",") + h;
  p["hosts"] = host_list;
  p["rank_hosts"] = rank_list;
  for (const char* var : {"SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
                          "SLURM_RESTART_COUNT", "SLURM_JOB_NODELIST"}) {
    const char* v = std::getenv(var);
    std::string name = var;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(ch));
    p[name] = std::string(v ? v : "");
  }
  return p;
}

// A new chain's id, from rank 0's random device (identical on every rank).
std::string Runner::new_checkpoint_id() const {
  std::random_device device;
  const std::int64_t mine = mpi_.rank() == 0
      ? static_cast<std::int64_t>((std::uint64_t{device()} << 31) ^ device()) : 0;
  return hex64(static_cast<std::uint64_t>(mpi::allreduce_max(mine)));
}

// After a file was written to tmp: renamed into place (rank 0; the data reaches the disk
// first), the files it replaces removed, the cost counted.
void Runner::committed(const std::string& tmp, const std::string& target, bool remove_chain,
                       bool checkpoint, Clock::time_point started) {
  agree([&] {
    if (mpi_.rank() == 0) {
      try {
        durable_rename(tmp, target);
      } catch (...) {
        std::error_code ignored;
        fs::remove(tmp, ignored);  // never left to look like a result; the old file stays
        throw;
      }
    }
    // Only once the new file is in place: the chain it replaces (final: every checkpoint
    // file; a new base: the old segments).
    if (remove_chain) remove_checkpoint_files(checkpoint);
  });
  if (checkpoint) {
    std::error_code ec;
    const auto size = mpi_.rank() == 0 ? fs::file_size(target, ec) : 0;
    checkpoint_bytes_ += mpi::allreduce_max(ec ? 0 : static_cast<std::int64_t>(size));
    ++checkpoints_;
  }
  last_write_ = Clock::now();
  write_seconds_ += std::chrono::duration<double>(Clock::now() - started).count();
  release_memory();  // the written records' memory back to the system: RSS stays flat
}

// The records finished since the last synchronisation (every rank's, in `fresh`) become the
// next file of the chain: its base when there is none yet, else a segment. Each rank writes
// its own records' rows and values, independently (Storage::plain: a checkpoint file's
// tables are not compressed, which would take a collective call per table and round, and
// those grow with the ranks); then they leave memory.
void Runner::write_segment(const std::vector<TaskEntry>& fresh) {
  const auto t = Clock::now();
  const bool base = files_.empty();
  if (base) checkpoint_id_ = new_checkpoint_id();
  const std::string target = base ? checkpoint_path_ : checkpoint_segment_path(checkpoint_path_, segments_ + 1);
  const std::string tmp = target + ".tmp";
  const std::size_t done_after = done_count_ + fresh.size();
  io::Attributes root = root_attributes(false);
  root["tasks_done"] = static_cast<std::int64_t>(done_after);
  root["checkpoint_id"] = checkpoint_id_;
  root["checkpoint_segment"] = static_cast<std::int64_t>(base ? 0 : segments_ + 1);
  const io::Attributes prov = provenance();
  agree([&] {
    if (mpi_.rank() != 0) return;
    std::vector<TaskSize> sizes;
    for (const auto& e : fresh) sizes.push_back(e.size);
    check_room(target, file_bytes(sizes));
  });
  // In rounds of at most segment_round_bytes per rank (every rank knows every rank's
  // sizes, so all agree on the number of rounds): a rank's memory then holds its results
  // and one round's tables, not its results twice over.
  constexpr std::uint64_t segment_round_bytes = std::uint64_t{4} << 20;
  std::vector<std::size_t> rounds_of(static_cast<std::size_t>(mpi_.size()), 0);
  std::vector<std::uint64_t> bytes_in(rounds_of.size(), 0);
  for (const auto& e : fresh) {  // the grouping of the loop below, for every rank
    const auto o = static_cast<std::size_t>(e.owner);
    if (rounds_of[o] == 0 || bytes_in[o] + e.size.bytes() > segment_round_bytes) {
      ++rounds_of[o];
      bytes_in[o] = 0;
    }
    bytes_in[o] += e.size.bytes();
  }
  const std::size_t rounds = *std::max_element(rounds_of.begin(), rounds_of.end());
  try {
    const WriteWatchdog watchdog(tmp, target, write_stall());
    PackedWriter writer(tmp, target, mpi_.rank(), fresh, Storage::plain);
    std::size_t next = 0;
    for (std::size_t k = 0; k < rounds; ++k) {
      std::vector<const Record*> mine;
      std::uint64_t bytes = 0;
      while (next < fresh_.size() &&
             (mine.empty() || bytes + size_of(fresh_[next]).bytes() <= segment_round_bytes)) {
        bytes += size_of(fresh_[next]).bytes();
        mine.push_back(&fresh_[next++]);
      }
      writer.write(mine);
    }
    if (next != fresh_.size()) throw std::logic_error("a segment's rounds left records unwritten");
    writer.finish(root, prov);
  } catch (const std::bad_alloc&) {
    abort_write(tmp, target + ": out of memory while writing the checkpoint");
  } catch (const std::exception& e) {
    abort_write(tmp, e.what());  // the previous checkpoint files are untouched
  }
  committed(tmp, target, false, true, t);
  files_.push_back(target);
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    const std::size_t index = task_index(fresh[i].key);
    if (index == plan_.tasks.size() || done_[index])
      throw std::logic_error("task " + fresh[i].key + " finished twice or unknown");
    done_[index] = Location{files_.size() - 1, i, fresh[i].size};
  }
  done_count_ = done_after;
  fresh_.clear();
  if (!base) ++segments_;
  // A long chain is compacted into a new base (reading and writing every result once), so
  // that a resume never opens thousands of files.
  if (segments_ >= config_.checkpoint_segments) rebase();
}

// Writes every finished task, in key order (so the file is the same for any ranks and
// threads and any history of checkpoints), from the chain into one new file: the finished
// file compressed, a new base of the chain plain (see write_segment).
void Runner::compact_chain(const std::string& target, io::Attributes root, Storage storage) {
  std::vector<Placement> placements;
  for (std::size_t i : by_key_)
    if (done_[i]) placements.push_back({done_[i]->file, done_[i]->row, {plan_.tasks[i].key, done_[i]->size, 0}});
  const std::string tmp = target + ".tmp";
  const io::Attributes prov = provenance();
  agree([&] {
    if (mpi_.rank() != 0) return;
    std::vector<TaskSize> sizes;
    for (const auto& p : placements) sizes.push_back(p.entry.size);
    check_room(target, file_bytes(sizes));
  });
  try {
    const WriteWatchdog watchdog(tmp, target, write_stall());
    compact(tmp, target, mpi_.rank(), mpi_.size(), std::move(placements),
            [&](const Placement& p) { return read_task(Location{p.source, p.row, p.entry.size}); },
            root, prov, std::uint64_t{4} << 20, storage);
  } catch (const std::bad_alloc&) {
    abort_write(tmp, target + ": out of memory while writing it");
  } catch (const std::exception& e) {
    abort_write(tmp, e.what());  // the checkpoint chain is untouched
  }
}

// The chain compacted into a new base (a new chain id); the old segments go.
void Runner::rebase() {
  const auto t = Clock::now();
  checkpoint_id_ = new_checkpoint_id();
  io::Attributes root = root_attributes(false);
  root["checkpoint_id"] = checkpoint_id_;
  root["checkpoint_segment"] = std::int64_t{0};
  compact_chain(checkpoint_path_, root, Storage::plain);
  {
    const std::lock_guard<std::mutex> lock(read_mutex_);
    open_files_.clear();  // the rows are now those of the new base
  }
  committed(checkpoint_path_ + ".tmp", checkpoint_path_, true, true, t);
  files_ = {checkpoint_path_};
  segments_ = 0;
  std::size_t row = 0;
  for (std::size_t i : by_key_)
    if (done_[i]) done_[i]->file = 0, done_[i]->row = row++;
}

// Collective. On more than one host, which ranks run where ("node1: ranks 0-1; ...").
void Runner::log_rank_hosts() {
  const auto rank_hosts = mpi::host_names();
  std::vector<std::pair<std::string, std::vector<std::size_t>>> by_host;  // first-seen order
  for (std::size_t r = 0; r < rank_hosts.size(); ++r) {
    auto it = std::find_if(by_host.begin(), by_host.end(),
                           [&](const auto& e) { return e.first == rank_hosts[r]; });
    if (it == by_host.end()) it = by_host.insert(by_host.end(), {rank_hosts[r], {}});
    it->second.push_back(r);
  }
  if (by_host.size() < 2) return;
  std::string text;
  for (const auto& [host, ranks] : by_host) {
    text += (text.empty() ? "" : "; ") + host + ": ranks ";
    // Consecutive ranks as a range: 0-3,8.
    for (std::size_t i = 0; i < ranks.size();) {
      std::size_t j = i;
      while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
      text += (i ? "," : "") + std::to_string(ranks[i]) + (j > i ? "-" + std::to_string(ranks[j]) : "");
      i = j + 1;
    }
  }
  log("%zu hosts: %s", by_host.size(), text.c_str());
}

// The finished study, compacted from the chain into <out>; the checkpoint files go. The
// file's own writing counts in its provenance (write_seconds, wall_seconds): set once it is
// written, before it is renamed into place.
void Runner::finish() {
  const auto t = Clock::now();
  compact_chain(options_.out, root_attributes(true), Storage::compressed);
  {
    const std::lock_guard<std::mutex> lock(read_mutex_);
    open_files_.clear();
  }
  const std::string tmp = options_.out + ".tmp";
  const double write = mpi::allreduce_sum(write_seconds_ + std::chrono::duration<double>(Clock::now() - t).count());
  const double wall = std::chrono::duration<double>(Clock::now() - start_).count();
  agree([&] {
    if (mpi_.rank() != 0) return;
    try {
      update_provenance(tmp, {{"write_seconds", write}, {"wall_seconds", wall}});
    } catch (...) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw;
    }
  });
  committed(tmp, options_.out, true, false, t);
}

int Runner::run() {
  // Every rank builds the same plan; a bad config or model file is reported once.
  agree([&] {
    plan_ = make_plan(config_);
    if (mpi_.rank() != 0) return;
    // One writer per output, before anything looks at it (with or without --resume).
    io::check_writable(options_.out);
    std::string note;
    lock_ = OutputLock(options_.out, options_.force, &note);
    if (!note.empty()) log("%s", note.c_str());
    prepare_output();
  });
  if (options_.resume && fs::exists(options_.out) && !options_.force) {
    log("%s is already complete; nothing to do", options_.out.c_str());
    return ok;
  }
  index_tasks();
  release_memory();  // also caps what HDF5 keeps from now on
  worker_.set_prepared_source([this](int network) {
    const auto& where = done_.at(static_cast<std::size_t>(network));
    if (!where) throw std::logic_error("a sweep ran before its network was prepared");
    return read_task(*where);
  });
  checkpoint_path_ = options_.out + ".checkpoint";
  if (fs::exists(checkpoint_path_)) {
    if (!options_.resume && !options_.force)
      throw FileError(checkpoint_path_,
                      "a checkpoint of an interrupted run exists (use --resume to continue it, "
                      "or --force to start over)");
    if (options_.resume) agree([&] { load_checkpoint(checkpoint_path_); });
  }
  // Starting over (no checkpoint, or --force): the files of an earlier run go.
  if (!continuing_) agree([&] { remove_checkpoint_files(false); });
  // A checkpoint of an ioca before chains had ids cannot take segments: it becomes a base.
  if (continuing_ && checkpoint_id_.empty()) rebase();
  done_before_pool_ = done_count_;
  agree([&] {
    const char* prefix = std::getenv("IOCA_TASK_TIMES");
    if (!prefix || !*prefix) return;
    const std::string path = std::string(prefix) + "." + std::to_string(mpi_.rank());
    task_times_.reset(std::fopen(path.c_str(), "a"));
    if (!task_times_) throw FileError(path, "cannot open the task times file (IOCA_TASK_TIMES)");
  });
  log("study '%s': %s, %s (%zu done before), %s x %s, kernels %s", config_.name.c_str(),
      count_of(static_cast<long long>(plan_.networks.size()), "network").c_str(),
      count_of(static_cast<long long>(plan_.tasks.size()), "task").c_str(), resumed_,
      count_of(mpi_.size(), "rank").c_str(), count_of(max_threads(), "thread").c_str(),
      std::string(kernel_isa()).c_str());

  log_rank_hosts();

  mpi::SharedCounters counters;
  for (;;) {
    const auto p = pool();
    if (p.empty()) {
      if (done_count_ != plan_.tasks.size())
        throw std::logic_error("no task can run but the study is not complete");
      finish();
      progress(nullptr, true);
      log("done in %.1f s; results in %s",
          std::chrono::duration<double>(Clock::now() - start_).count(), options_.out.c_str());
      return ok;
    }
    work(p, counters);
    std::int64_t request = no_request;
    std::vector<TaskEntry> fresh;
    const Status status = synchronise(counters, &request, &fresh);
    if (!fresh.empty()) write_segment(fresh);
    counters.reset(0, no_request, 0);
    done_before_pool_ = done_count_;
    if (done_count_ != plan_.tasks.size()) progress(nullptr, true);
    if (status.code == interrupted) {
      log("stopped by a signal: %zu of %zu tasks are in %s; continue with --resume",
          done_count_, plan_.tasks.size(), checkpoint_path_.c_str());
      return exit_interrupted;
    }
    if (status.code != ok) {
      // One line: the error, and where the work done so far is kept.
      std::string kept;
      if (done_count_ > resumed_)
        kept = " [" + std::to_string(done_count_) + " finished tasks are kept in " +
               checkpoint_path_ + "; --resume continues]";
      if (mpi_.rank() == 0)
        std::fprintf(stderr, "ioca run: error: %s%s\n", status.message.c_str(), kept.c_str());
      return static_cast<int>(status.code);
    }
  }
}

}  // namespace

void catch_stop_signals() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_stop_signal);
}

int run(const MpiSession& mpi, const StudyConfig& config, const RunOptions& options) {
  Runner runner(mpi, config, options);
  try {
    return runner.run();
  } catch (const Error& e) {
    if (mpi.rank() == 0) std::fprintf(stderr, "ioca run: error: %s\n", e.what());
    return bad_input;
  } catch (const std::runtime_error& e) {
    if (mpi.rank() == 0) std::fprintf(stderr, "ioca run: error: %s\n", e.what());
    return internal_error;
  }
}

}  // namespace ioca::study
