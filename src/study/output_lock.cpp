#include "study/output_lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "ioca/core.hpp"

namespace ioca::study {
namespace {

std::string read_text(const std::string& path, bool* exists) {
  std::ifstream in(path);
  *exists = static_cast<bool>(in);
  std::ostringstream s;
  if (in) s << in.rdbuf();
  return s.str();
}

// /proc/<pid>/stat after the command name (which may hold spaces and parentheses): " S ppid
// ...", field 3 first; "" when there is no such process (or no /proc).
std::string stat_fields(long long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return "";
  const auto paren = text.rfind(')');
  return paren == std::string::npos ? "" : text.substr(paren + 1);
}

// Field 22 of /proc/<pid>/stat: when the process started (clock ticks since boot). With the
// pid it names one process: a pid reused by a later process has another start time. 0 when
// unknown.
long long process_start(long long pid) {
  std::istringstream fields(stat_fields(pid));
  std::string field;
  for (int i = 3; i <= 22; ++i)  // state is field 3, starttime field 22
    if (!(fields >> field)) return 0;
  try {
    return std::stoll(field);
  } catch (const std::exception&) {
    return 0;
  }
}

// Field 3 of /proc/<pid>/stat: 'Z' (zombie) or 'X' (dead) for a process that has ended but
// whose parent has not collected it yet (ranks killed by an MPI_Abort, for a moment).
bool process_exited(long long pid) {
  const std::string fields = stat_fields(pid);
  if (fields.size() < 2) return false;
  return fields[1] == 'Z' || fields[1] == 'X';
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::string describe(const LockHolder& h) {
  std::string s = "host " + h.host + ", pid " + std::to_string(h.pid);
  if (!h.started.empty()) s += ", started " + h.started;
  if (!h.slurm_job.empty()) s += ", SLURM job " + h.slurm_job;
  return s;
}

}  // namespace

std::optional<LockHolder> parse_lock(const std::string& text) {
  LockHolder h;
  bool have_host = false, have_pid = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    try {
      if (key == "host") h.host = value, have_host = !value.empty();
      else if (key == "pid") h.pid = std::stoll(value), have_pid = h.pid > 0;
      else if (key == "pid_start") h.pid_start = std::stoll(value);
      else if (key == "started") h.started = value;
      else if (key == "slurm_job") h.slurm_job = value;
      else if (key == "slurm_restart") h.slurm_restart = std::stoll(value);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (!have_host || !have_pid) return std::nullopt;
  return h;
}

std::string format_lock(const LockHolder& h) {
  return "ioca run lock: one writer per output\nhost=" + h.host + "\npid=" + std::to_string(h.pid) +
         "\npid_start=" + std::to_string(h.pid_start) + "\nstarted=" + h.started +
         "\nslurm_job=" + h.slurm_job + "\nslurm_restart=" + std::to_string(h.slurm_restart) + "\n";
}

LockHolder this_process_holder() {
  LockHolder h;
  h.host = host_name();
  h.pid = static_cast<long long>(::getpid());
  h.pid_start = process_start(h.pid);
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  h.started = buf;
  // An array task is its own job for this purpose (SLURM_JOB_ID differs per task).
  if (const char* job = std::getenv("SLURM_JOB_ID")) h.slurm_job = job;
  if (const char* restart = std::getenv("SLURM_RESTART_COUNT")) h.slurm_restart = std::atoll(restart);
  return h;
}

HolderState judge_holder(const LockHolder& h, const LockHolder& me) {
  // A requeued SLURM job starts again only after SLURM ended its earlier run, on any host.
  if (!h.slurm_job.empty() && h.slurm_job == me.slurm_job && h.slurm_restart < me.slurm_restart)
    return {true, true, "an earlier run of this SLURM job (restart " + std::to_string(h.slurm_restart) + ")"};
  if (h.host != me.host) return {false, false, "on another host, which cannot be checked from here"};
  if (h.pid == me.pid && h.pid_start == me.pid_start)
    return {false, true, "this very process"};  // cannot happen: a process takes its lock once
  const bool alive = ::kill(static_cast<pid_t>(h.pid), 0) == 0 || errno == EPERM;
  if (!alive || process_exited(h.pid)) return {true, true, "pid " + std::to_string(h.pid) + " is gone"};
  const long long start = process_start(h.pid);
  if (h.pid_start != 0 && start != 0 && start != h.pid_start)
    return {true, true, "pid " + std::to_string(h.pid) + " is now another process"};
  return {false, true, "pid " + std::to_string(h.pid) + " is running"};
}

OutputLock::OutputLock(const std::string& out, bool force, std::string* note) {
  const std::string lock = out + ".lock";
  const LockHolder me = this_process_holder();
  const std::string text = format_lock(me);
  // The lock appears with its whole content at once: written under a private name, then
  // linked to the lock's name, which fails if it exists (atomic, also on NFS).
  const std::string mine = lock + "." + me.host + "." + std::to_string(me.pid);
  {
    const int fd = ::open(mine.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) throw FileError(lock, std::string("cannot create the output's lock: ") + std::strerror(errno));
    const ssize_t n = ::write(fd, text.data(), text.size());
    const int write_errno = errno;
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size()) || !synced) {
      ::unlink(mine.c_str());
      throw FileError(lock, std::string("cannot write the output's lock: ") +
                                std::strerror(n < 0 ? write_errno : ENOSPC));
    }
  }
  if (note) note->clear();
  for (int attempt = 0; attempt < 10; ++attempt) {
    int linked = ::link(mine.c_str(), lock.c_str());
    if (linked != 0 && (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS)) {
      // A file system without hard links: an exclusive create, then the content.
      const int fd = ::open(lock.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
      if (fd >= 0) {
        const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
        ::close(fd);
        if (!written) {
          ::unlink(lock.c_str());
          ::unlink(mine.c_str());
          throw FileError(lock, "cannot write the output's lock");
        }
        linked = 0;
      }
    }
    if (linked == 0) {
      ::unlink(mine.c_str());
      path_ = lock;
      text_ = text;
      return;
    }
    if (errno != EEXIST) {
      const int e = errno;
      ::unlink(mine.c_str());
      throw FileError(lock, std::string("cannot create the output's lock: ") + std::strerror(e));
    }
    bool exists = false;
    const std::string held = read_text(lock, &exists);
    if (!exists) continue;  // released meanwhile: try again
    const auto holder = parse_lock(held);
    if (!holder) {
      ::unlink(mine.c_str());
      throw FileError(out, "is locked by " + lock + ", which is not an ioca lock file (remove it "
                           "if no run writes " + out + ")");
    }
    const HolderState state = judge_holder(*holder, me);
    if (!state.ended && (state.checkable || !force)) {
      ::unlink(mine.c_str());
      if (state.checkable)
        throw FileError(out, "is being written by another run (" + describe(*holder) + "; lock " +
                                 lock + "); wait for it to end, or choose another --out" +
                                 (force ? " (--force never breaks the lock of a live run)" : ""));
      throw FileError(out, "is locked by a run on " + holder->host + " (" + describe(*holder) +
                               "; lock " + lock + "), " + state.why +
                               "; if that run has ended, use --force to break the lock");
    }
    // Taken over: moved aside under a private name first, so that of two runs taking over
    // the same stale lock only one removes it (the other finds a new holder next round).
    const std::string aside = lock + ".stale." + me.host + "." + std::to_string(me.pid);
    if (::rename(lock.c_str(), aside.c_str()) != 0) continue;
    bool aside_exists = false;
    if (read_text(aside, &aside_exists) != held) {
      // Someone took the lock between our read and the rename: give theirs back.
      if (::link(aside.c_str(), lock.c_str()) != 0 && errno != EEXIST) {
        // Nothing to do: the next round reports whoever holds it now.
      }
      ::unlink(aside.c_str());
      continue;
    }
    ::unlink(aside.c_str());
    if (note)
      *note = (state.ended ? "took over the lock of a run that has ended (" + describe(*holder) + ": " + state.why + ")"
                           : "--force: broke the lock of a run that cannot be checked (" + describe(*holder) + ")");
  }
  ::unlink(mine.c_str());
  throw FileError(out, "cannot take the output's lock " + lock + " (other runs keep taking it)");
}

OutputLock& OutputLock::operator=(OutputLock&& o) noexcept {
  if (this != &o) {
    release();
    path_ = std::move(o.path_);
    text_ = std::move(o.text_);
    o.path_.clear();
  }
  return *this;
}

void OutputLock::release() {
  if (path_.empty()) return;
  // Only our own lock: a run that --force broke it must not remove its successor's.
  bool exists = false;
  if (read_text(path_, &exists) == text_) ::unlink(path_.c_str());
  path_.clear();
}

OutputLock::~OutputLock() { release(); }

}  // namespace ioca::study
