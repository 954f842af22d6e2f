// The study runner. Ranks claim tasks from a shared counter (dynamic load balancing) out of
// a pool of tasks whose inputs exist. A rank that finds the pool empty, or sees a request
// (checkpoint interval, signal, error), joins a synchronisation: every rank's new records
// are exchanged (prepared networks in full, sweeps by layout only), the new results are
// written collectively to a checkpoint file that is renamed into place (the chain of
// study/checkpoint.hpp), and a new pool starts. Every rank goes through the same sequence of
// collective steps, so an error or a signal on one rank ends the run on all ranks, with one
// message, never a hang.
#include <fcntl.h>
#include <omp.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <set>

#include "ioca/core.hpp"
#include "ioca/study.hpp"
#include "ioca/version.hpp"
#include "study/checkpoint.hpp"
#include "study/mpi.hpp"
#include "study/plan.hpp"
#include "study/results_file.hpp"
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

// The bytes of a record's datasets (the same on every rank, whether it holds the data or not).
std::uint64_t data_bytes(const Record& r) {
  std::uint64_t n = 0;
  for (const auto& d : r.datasets) n += d.elements() * dtype_size(d.type);
  return n;
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
void durable_rename(const std::string& from, const std::string& to) {
  const int fd = ::open(from.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw FileError(to, "cannot rename " + from + " into place: " + ec.message());
  const std::string dir = fs::path(to).parent_path().empty() ? "." : fs::path(to).parent_path().string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
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
    total += params * 4 + neurons * 8 * 20;
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
  void log(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void prepare_output();
  void load_checkpoint(const std::string& path);
  void remove_checkpoint_files(bool keep_base) const;
  std::vector<const Task*> pool() const;
  void work(const std::vector<const Task*>& pool, mpi::SharedCounters& counters);
  bool should_stop(mpi::SharedCounters& counters);
  Status synchronise(mpi::SharedCounters& counters, std::int64_t* request);
  void write(bool final);
  void progress(mpi::SharedCounters* counters, bool force);

  const MpiSession& mpi_;
  const StudyConfig& config_;
  const RunOptions& options_;
  Plan plan_;
  Worker worker_;
  std::string checkpoint_path_;
  std::map<std::string, Record> records_;  // completed tasks by key (data: own + prepare)
  std::vector<Record> fresh_;              // completed here since the last synchronisation
  Status local_;                           // this rank's failure, reported at the next sync
  std::set<std::string> saved_;            // tasks in the checkpoint chain on disk
  bool continuing_ = false;                // a checkpoint was loaded (--resume)
  std::string checkpoint_id_;              // the chain's id ("": write a new base next)
  int segments_ = 0;                       // the chain's segments so far
  std::uint64_t base_bytes_ = 0, segment_bytes_ = 0;  // data in the base / in its segments
  std::size_t resumed_ = 0;
  std::size_t done_before_pool_ = 0;
  int checkpoints_ = 0;
  std::int64_t checkpoint_bytes_ = 0;  // size of the checkpoint files written by this run
  double write_seconds_ = 0.0;
  Clock::time_point start_ = Clock::now(), last_write_ = Clock::now(), last_progress_{};
  Clock::time_point last_poll_{};
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
  checkpoint_path_ = out + ".checkpoint";
  io::check_writable(out);
  if (fs::exists(out) && !options_.force) {
    if (!options_.resume)
      throw FileError(out, "exists (use --force to overwrite it, or --resume to continue a run)");
    const ResultsHeader h = read_results_header(out);
    if (io::attribute_string(h.root, "study_config", "") != config_.canonical_text)
      throw FileError(out, "holds the results of a different study config (use --force to "
                           "overwrite it)");
    if (io::attribute_int(h.root, "complete", 0) != 1)
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

void Runner::load_checkpoint(const std::string& path) {
  CheckpointChain chain = read_checkpoint(path);
  if (io::attribute_string(chain.root, "study_config", "") != config_.canonical_text) {
    if (!options_.force)
      throw FileError(path, "is a checkpoint of a different study config; resuming it would mix "
                            "studies (use --force to discard it and start over)");
    return;  // --force: start over
  }
  std::set<std::string> keys;
  for (const auto& t : plan_.tasks) keys.insert(t.key);
  std::vector<std::vector<Record*>> to_read(chain.files.size());
  for (std::size_t i = 0; i < chain.records.size(); ++i) {
    Record& r = chain.records[i];
    const std::size_t file = chain.file_of[i];
    if (!keys.count(r.key))
      throw FileError(chain.files[file], "damaged checkpoint: unknown task " + r.key);
    (file == 0 ? base_bytes_ : segment_bytes_) += data_bytes(r);
    r.owner = static_cast<int>(i % static_cast<std::size_t>(mpi_.size()));
    saved_.insert(r.key);
    Record& kept = records_.emplace(r.key, std::move(r)).first->second;
    if (kept.owner == mpi_.rank() || kept.key.ends_with("/prepare")) to_read[file].push_back(&kept);
  }
  for (std::size_t f = 0; f < chain.files.size(); ++f) read_record_data(chain.files[f], to_read[f]);
  for (auto& [key, r] : records_)
    if (key.ends_with("/prepare")) worker_.adopt(r);
  resumed_ = records_.size();
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

// The tasks whose inputs exist, in the order ranks claim them: prepare tasks first (they
// unlock sweeps), then sweeps from the largest (curves x neurons in the scope) down. Claiming
// the largest first keeps the end of a pool from waiting on one long sweep, and a rank that
// runs tasks side by side (see work) gets pairs of similar length. The order changes no
// result: every task's inputs and seeds depend only on the config.
std::vector<const Task*> Runner::pool() const {
  std::vector<const Task*> p;
  for (const auto& t : plan_.tasks)
    if (!records_.count(t.key) && (t.kind == TaskKind::prepare || worker_.prepared(t.network)))
      p.push_back(&t);
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
// task's result is the same for any thread count, so this changes no bit.)
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
    std::atomic<bool> stop_seen{false};
    const auto run_one = [&](std::int64_t k) {
      const Task& task = *pool[static_cast<std::size_t>(first + k)];
      Status& s = failed[static_cast<std::size_t>(k)];
      try {
        done[static_cast<std::size_t>(k)] = worker_.run(task, [&] {
          if (signal_received || stop_seen) return true;
          // Only the main thread may call MPI (MPI_THREAD_FUNNELED).
          if (omp_get_thread_num() == 0 && should_stop(counters)) stop_seen = true;
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
    };
    if (count == 1) {
      run_one(0);
    } else {
      omp_set_max_active_levels(1);  // inside each task, parallel regions run on one thread
#pragma omp parallel for num_threads(static_cast<int>(count)) schedule(static, 1)
      for (std::int64_t k = 0; k < count; ++k) run_one(k);
    }
    bool dropped = false;
    for (std::int64_t k = 0; k < count; ++k) {
      auto& r = done[static_cast<std::size_t>(k)];
      const Status& s = failed[static_cast<std::size_t>(k)];
      if (r) {
        r->owner = mpi_.rank();
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

Status Runner::synchronise(mpi::SharedCounters& counters, std::int64_t* request) {
  // This rank's status and new records: prepared networks with their data (every rank
  // needs them for sweeps), sweeps by layout only (the owner writes their data).
  Bytes mine(sizeof local_.code);
  std::memcpy(mine.data(), &local_.code, sizeof local_.code);
  Bytes message(local_.message.begin(), local_.message.end());
  const std::uint64_t message_size = message.size();
  mine.insert(mine.end(), reinterpret_cast<const char*>(&message_size),
              reinterpret_cast<const char*>(&message_size) + sizeof message_size);
  mine.insert(mine.end(), message.begin(), message.end());
  for (const auto& r : fresh_) serialize(r, r.key.ends_with("/prepare"), mine);
  const auto all = mpi::allgather(mine);
  *request = counters.read(mpi::SharedCounters::sync_request);

  Status global;
  for (int rank = 0; rank < mpi_.size(); ++rank) {
    const Bytes& b = all[static_cast<std::size_t>(rank)];
    std::int64_t code = 0;
    std::uint64_t n = 0;
    std::memcpy(&code, b.data(), sizeof code);
    std::memcpy(&n, b.data() + sizeof code, sizeof n);
    const std::size_t head = sizeof code + sizeof n + n;
    if (code != ok && global.code == ok)
      global = {code, std::string(b.begin() + sizeof code + sizeof n, b.begin() + static_cast<std::ptrdiff_t>(head))};
    if (rank == mpi_.rank()) {
      for (auto& r : fresh_) records_.emplace(r.key, std::move(r));
      continue;
    }
    for (auto& r : deserialize_all(Bytes(b.begin() + static_cast<std::ptrdiff_t>(head), b.end()),
                                   "records from rank " + std::to_string(rank))) {
      r.owner = rank;
      records_.emplace(r.key, std::move(r));
    }
  }
  fresh_.clear();
  for (auto& [key, r] : records_)
    if (key.ends_with("/prepare") && !worker_.prepared(plan_.tasks[static_cast<std::size_t>(
                                          std::stoi(key.substr(0, key.find('/'))))].network))
      worker_.adopt(r);
  if (global.code == ok && *request == stop_request) global = {interrupted, "stopped by a signal"};
  return global;
}

void Runner::write(bool final) {
  const auto t = Clock::now();
  const PhaseSeconds& s = worker_.seconds();
  io::Attributes provenance{
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
  std::set<std::string> hosts;
  for (const auto& h : mpi::host_names()) hosts.insert(h);
  std::string host_list;
  for (const auto& h : hosts) host_list += (host_list.empty() ? "" : ",") + h;
  provenance["hosts"] = host_list;
  for (const char* var : {"SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
                          "SLURM_RESTART_COUNT", "SLURM_JOB_NODELIST"}) {
    const char* v = std::getenv(var);
    std::string name = var;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(ch));
    provenance[name] = std::string(v ? v : "");
  }

  FileContents c;
  c.root = {{"ioca_results_format", results_format_version},
            {"ioca_version", std::string(version_string)},
            {"git_commit", std::string(git_commit)},
            {"study_name", config_.name},
            {"study_config", config_.canonical_text},
            {"study_config_hash", hex64(hash_name(config_.canonical_text))},
            {"complete", static_cast<std::int64_t>(final ? 1 : 0)},
            {"networks", static_cast<std::int64_t>(plan_.networks.size())},
            {"tasks", static_cast<std::int64_t>(plan_.tasks.size())},
            {"tasks_done", static_cast<std::int64_t>(records_.size())}};
  c.provenance = std::move(provenance);

  // What to write: the study (final), a new checkpoint base (every task so far), or a
  // segment (the tasks finished since the last checkpoint file). A new base once the
  // segments hold as much data as the base, or there are many of them.
  constexpr int max_segments = 64;
  std::uint64_t new_bytes = 0;
  for (const auto& [key, r] : records_)
    if (!saved_.count(key)) new_bytes += data_bytes(r);
  const bool segment = !final && !checkpoint_id_.empty() && segments_ < max_segments &&
                       segment_bytes_ + new_bytes <= base_bytes_;
  for (const auto& [key, r] : records_)
    if (!segment || !saved_.count(key)) c.records.push_back(&r);
  std::string target = options_.out;
  if (!final) {
    if (!segment) {
      // A new chain: its id, from rank 0's random device (identical on every rank).
      std::random_device device;
      const std::int64_t mine = mpi_.rank() == 0
          ? static_cast<std::int64_t>((std::uint64_t{device()} << 31) ^ device()) : 0;
      checkpoint_id_ = hex64(static_cast<std::uint64_t>(mpi::allreduce_max(mine)));
    }
    target = segment ? checkpoint_segment_path(checkpoint_path_, segments_ + 1) : checkpoint_path_;
    c.root["checkpoint_id"] = checkpoint_id_;
    c.root["checkpoint_segment"] = static_cast<std::int64_t>(segment ? segments_ + 1 : 0);
  }
  const std::string tmp = target + ".tmp";
  try {
    write_results(tmp, target, mpi_.rank(), c);
  } catch (const std::exception& e) {
    // Inside collective HDF5 calls the other ranks cannot be told: end the job.
    std::fprintf(stderr, "ioca run: error: %s\n", e.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, bad_input);
  }
  agree([&] {
    if (mpi_.rank() == 0) durable_rename(tmp, target);
    // Only once the new file is in place: the chain it replaces (final: every checkpoint
    // file; a new base: the old segments).
    if (!segment) remove_checkpoint_files(!final);
  });
  if (segment) {
    ++segments_;
    segment_bytes_ += new_bytes;
  } else {
    segments_ = 0;
    segment_bytes_ = 0;
    base_bytes_ = 0;
    for (const auto& [key, r] : records_) base_bytes_ += data_bytes(r);
  }
  for (const auto& [key, r] : records_) saved_.insert(key);
  if (!final) {
    std::error_code ec;
    const auto size = mpi_.rank() == 0 ? fs::file_size(target, ec) : 0;
    checkpoint_bytes_ += mpi::allreduce_max(ec ? 0 : static_cast<std::int64_t>(size));
    ++checkpoints_;
  }
  last_write_ = Clock::now();
  write_seconds_ += std::chrono::duration<double>(Clock::now() - t).count();
}

int Runner::run() {
  // Every rank builds the same plan; a bad config or model file is reported once.
  agree([&] {
    plan_ = make_plan(config_);
    if (mpi_.rank() == 0) prepare_output();
  });
  if (options_.resume && fs::exists(options_.out) && !options_.force) {
    log("%s is already complete; nothing to do", options_.out.c_str());
    return ok;
  }
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
  done_before_pool_ = records_.size();
  log("study '%s': %zu networks, %zu tasks (%zu done before), %d ranks x %d threads, kernels %s",
      config_.name.c_str(), plan_.networks.size(), plan_.tasks.size(), resumed_, mpi_.size(),
      max_threads(), std::string(kernel_isa()).c_str());

  mpi::SharedCounters counters;
  for (;;) {
    const auto p = pool();
    if (p.empty()) {
      if (records_.size() != plan_.tasks.size())
        throw std::logic_error("no task can run but the study is not complete");
      write(true);
      progress(nullptr, true);
      log("done in %.1f s; results in %s",
          std::chrono::duration<double>(Clock::now() - start_).count(), options_.out.c_str());
      return ok;
    }
    work(p, counters);
    std::int64_t request = no_request;
    const Status status = synchronise(counters, &request);
    if (records_.size() != saved_.size() && records_.size() != plan_.tasks.size()) write(false);
    counters.reset(0, no_request, 0);
    done_before_pool_ = records_.size();
    if (records_.size() != plan_.tasks.size()) progress(nullptr, true);
    if (status.code == interrupted) {
      log("stopped by a signal: %zu of %zu tasks are in %s; continue with --resume",
          records_.size(), plan_.tasks.size(), checkpoint_path_.c_str());
      return exit_interrupted;
    }
    if (status.code != ok) {
      // One line: the error, and where the work done so far is kept.
      std::string kept;
      if (saved_.size() > resumed_)
        kept = " [" + std::to_string(saved_.size()) + " finished tasks are kept in " +
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
