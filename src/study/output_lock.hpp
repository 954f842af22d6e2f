#pragma once
// One writer per output: `ioca run` holds <out>.lock for its whole life, a small text file
// naming the holder (host, pid, the pid's start time, the run's start, the SLURM job). A
// second run on the same output is refused, naming the holder. A lock whose holder has ended
// is taken over: on the same host a pid that is gone (or now belongs to another process), and
// on any host an earlier run of the same SLURM job (a requeued job: SLURM ended that run
// before starting this one). A lock on another host that is not this job's cannot be checked
// from here: --force breaks it; a live holder is never broken.
#include <optional>
#include <string>

namespace ioca::study {

struct LockHolder {
  std::string host, started, slurm_job;
  long long pid = 0, pid_start = 0, slurm_restart = 0;
};

// What the lock file says, or nothing when it is not a lock ioca wrote.
std::optional<LockHolder> parse_lock(const std::string& text);
std::string format_lock(const LockHolder& h);
LockHolder this_process_holder();

// Whether `h` (the holder of a lock) has certainly ended, as seen by `me`; `checkable` says
// whether that could be decided at all (false: another host, not an earlier run of this job).
struct HolderState {
  bool ended = false;
  bool checkable = true;
  std::string why;  // how it was decided, for the message
};
HolderState judge_holder(const LockHolder& h, const LockHolder& me);

class OutputLock {
 public:
  OutputLock() = default;
  // Takes <out>.lock or throws ioca::FileError naming the holder. `force` breaks a lock whose
  // holder cannot be checked (never a live one). `note` gets one line when a stale lock was
  // taken over or broken (empty otherwise).
  OutputLock(const std::string& out, bool force, std::string* note);
  ~OutputLock();  // removes the lock file if it is still ours
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  OutputLock(OutputLock&& o) noexcept : path_(std::move(o.path_)), text_(std::move(o.text_)) {
    o.path_.clear();
  }
  OutputLock& operator=(OutputLock&& o) noexcept;
  void release();
  const std::string& path() const { return path_; }

 private:
  std::string path_, text_;
};

}  // namespace ioca::study
