/* A test-only LD_PRELOAD shim that makes writes fail, for tests/e2e/write_faults.sh.
 * It wraps the C library's write calls (write, pwrite, writev, pwritev and their 64-bit
 * and v2 forms: what HDF5's sec2 driver and Open MPI's fbtl use) and acts on writes to
 * files whose path contains IOCA_FAULT_PATH, in processes whose MPI rank
 * (OMPI_COMM_WORLD_RANK, PMIX_RANK) is IOCA_FAULT_RANK when that is set:
 *   IOCA_FAULT_ACTION=eio     every such write from IOCA_FAULT_AFTER bytes on fails (EIO)
 *   IOCA_FAULT_ACTION=enospc  the same with ENOSPC
 *   IOCA_FAULT_ACTION=short   that write is cut short once (half its bytes, at least 1)
 *   IOCA_FAULT_ACTION=fill    once, first fills the file system with IOCA_FAULT_FILL (a file
 *                             on it, written until it is full), then lets the write proceed:
 *                             the kernel itself then reports ENOSPC, as on a disk that fills
 *   IOCA_FAULT_ACTION=hang    fills the file system as `fill` does, then never returns from
 *                             that write (a write stuck in a full or dead file system that
 *                             reports nothing): only ioca's write watchdog can end the job
 *   IOCA_FAULT_ACTION=pause   once, before a matching file is created (open with O_CREAT),
 *                             creates the file IOCA_FAULT_PAUSED and waits (at most 60 s)
 *                             until IOCA_FAULT_CONTINUE exists: the test acts meanwhile (say,
 *                             remounts the file system read-only), and the create then
 *                             meets what it did
 * IOCA_FAULT_AFTER (default 0) counts the bytes this process wrote to matching files before.
 * IOCA_FAULT_STAMP, when set, is a file created at the first action (its time: the fault's).
 * Each action is logged once to stderr ("write_fault: ..."). Not part of ioca. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static long long written;      /* bytes written to matching files so far */
static int filled, shortened;  /* one-time actions done */

static int this_rank(void) {
  const char* rank = getenv("IOCA_FAULT_RANK");
  if (rank && *rank) {
    const char* mine = getenv("OMPI_COMM_WORLD_RANK");
    if (!mine) mine = getenv("PMIX_RANK");
    if (!mine || strcmp(mine, rank) != 0) return 0;
  }
  return 1;
}

static int matches(int fd) {
  const char* want = getenv("IOCA_FAULT_PATH");
  if (!want || !*want || !this_rank()) return 0;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  return strstr(path, want) != NULL;
}

/* Logs an action; the first one also creates IOCA_FAULT_STAMP (when set), whose time
 * stamp is the moment of the fault, for the test's time to exit. */
static void say(const char* what) {
  const char* stamp = getenv("IOCA_FAULT_STAMP");
  if (stamp && *stamp) {
    const int fd = (int)syscall(SYS_openat, AT_FDCWD, stamp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) close(fd);
  }
  char line[512];
  const int n = snprintf(line, sizeof line, "write_fault: %s (pid %d)\n", what, (int)getpid());
  if (n > 0) syscall(SYS_write, 2, line, (size_t)n);
}

static void fill_disk(void) {
  const char* filler = getenv("IOCA_FAULT_FILL");
  if (!filler) return;
  const int fd = open(filler, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return; /* another rank fills */
  static char block[1 << 16];
  while (syscall(SYS_write, fd, block, sizeof block) > 0) {
  }
  /* The last partial blocks too: a file system is full only when no byte fits. */
  while (syscall(SYS_write, fd, block, 1) > 0) {
  }
  fsync(fd);
  close(fd);
  say("filled the file system");
}

/* How much of a write of `count` bytes to let through: count, a shorter length, or -1 with
 * errno set. */
static ssize_t decide(int fd, size_t count) {
  if (!matches(fd)) return (ssize_t)count;
  const char* action = getenv("IOCA_FAULT_ACTION");
  const char* after = getenv("IOCA_FAULT_AFTER");
  const long long from = after ? atoll(after) : 0;
  if (!action || written + (long long)count <= from) {
    written += (long long)count;
    return (ssize_t)count;
  }
  if (strcmp(action, "eio") == 0 || strcmp(action, "enospc") == 0) {
    static int told;
    if (!told++) say(strcmp(action, "eio") == 0 ? "injected EIO" : "injected ENOSPC");
    errno = strcmp(action, "eio") == 0 ? EIO : ENOSPC;
    return -1;
  }
  if (strcmp(action, "short") == 0 && !shortened && count > 1) {
    shortened = 1;
    say("cut a write short");
    written += (long long)(count / 2);
    return (ssize_t)(count / 2);
  }
  if (strcmp(action, "hang") == 0) {
    if (!filled) {
      filled = 1;
      fill_disk();
    }
    say("holding a write forever");
    for (;;) pause();
  }
  if (strcmp(action, "fill") == 0 && !filled) {
    filled = 1;
    fill_disk();
  }
  written += (long long)count;
  return (ssize_t)count;
}

/* The iovecs cut to `keep` bytes (into `out`, at most 1024). */
static int cut_iov(const struct iovec* iov, int n, size_t keep, struct iovec* out) {
  int k = 0;
  for (int i = 0; i < n && keep > 0 && k < 1024; ++i) {
    out[k] = iov[i];
    if (out[k].iov_len > keep) out[k].iov_len = keep;
    keep -= out[k].iov_len;
    ++k;
  }
  return k;
}

static size_t iov_bytes(const struct iovec* iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  return total;
}

#define REAL(name, ret, args) \
  static ret(*real) args = NULL;  \
  if (!real) real = (ret(*) args)dlsym(RTLD_NEXT, name)

ssize_t write(int fd, const void* buf, size_t count) {
  REAL("write", ssize_t, (int, const void*, size_t));
  const ssize_t n = decide(fd, count);
  return n < 0 ? -1 : real(fd, buf, (size_t)n);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  REAL("pwrite", ssize_t, (int, const void*, size_t, off_t));
  const ssize_t n = decide(fd, count);
  return n < 0 ? -1 : real(fd, buf, (size_t)n, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  REAL("pwrite64", ssize_t, (int, const void*, size_t, off_t));
  const ssize_t n = decide(fd, count);
  return n < 0 ? -1 : real(fd, buf, (size_t)n, offset);
}

#define VECTORED(call, ...)                                                       \
  const size_t total = iov_bytes(iov, iovcnt);                                    \
  const ssize_t n = decide(fd, total);                                            \
  if (n < 0) return -1;                                                           \
  if ((size_t)n == total) return call(fd, iov, iovcnt, ##__VA_ARGS__);            \
  struct iovec cut[1024];                                                         \
  const int k = cut_iov(iov, iovcnt, (size_t)n, cut);                             \
  return call(fd, cut, k, ##__VA_ARGS__)

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  REAL("writev", ssize_t, (int, const struct iovec*, int));
  VECTORED(real);
}

ssize_t pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  REAL("pwritev", ssize_t, (int, const struct iovec*, int, off_t));
  VECTORED(real, offset);
}

ssize_t pwritev64(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  REAL("pwritev64", ssize_t, (int, const struct iovec*, int, off_t));
  VECTORED(real, offset);
}

ssize_t pwritev2(int fd, const struct iovec* iov, int iovcnt, off_t offset, int flags) {
  REAL("pwritev2", ssize_t, (int, const struct iovec*, int, off_t, int));
  VECTORED(real, offset, flags);
}

static int paused;

static void maybe_pause(const char* path, int flags) {
  const char* want = getenv("IOCA_FAULT_PATH");
  const char* action = getenv("IOCA_FAULT_ACTION");
  if (paused || !want || !*want || !action || strcmp(action, "pause") != 0) return;
  if (!(flags & O_CREAT) || !strstr(path, want) || !this_rank()) return;
  paused = 1;
  const char* flag = getenv("IOCA_FAULT_PAUSED");
  const char* go = getenv("IOCA_FAULT_CONTINUE");
  if (!flag || !go) return;
  const int fd = (int)syscall(SYS_openat, AT_FDCWD, flag, O_WRONLY | O_CREAT, 0600);
  if (fd >= 0) close(fd);
  say("paused before creating a file");
  for (int i = 0; i < 6000 && access(go, F_OK) != 0; ++i) {
    const struct timespec tick = {0, 10 * 1000 * 1000};
    nanosleep(&tick, NULL);
  }
}

#define OPEN_MODE(flags, last)                  \
  mode_t mode = 0;                              \
  if ((flags) & (O_CREAT | O_TMPFILE)) {        \
    va_list ap;                                 \
    va_start(ap, last);                         \
    mode = (mode_t)va_arg(ap, int);             \
    va_end(ap);                                 \
  }

int open(const char* path, int flags, ...) {
  OPEN_MODE(flags, flags);
  REAL("open", int, (const char*, int, ...));
  maybe_pause(path, flags);
  return real(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  OPEN_MODE(flags, flags);
  REAL("open64", int, (const char*, int, ...));
  maybe_pause(path, flags);
  return real(path, flags, mode);
}

int openat(int dir, const char* path, int flags, ...) {
  OPEN_MODE(flags, flags);
  REAL("openat", int, (int, const char*, int, ...));
  maybe_pause(path, flags);
  return real(dir, path, flags, mode);
}

int openat64(int dir, const char* path, int flags, ...) {
  OPEN_MODE(flags, flags);
  REAL("openat64", int, (int, const char*, int, ...));
  maybe_pause(path, flags);
  return real(dir, path, flags, mode);
}
