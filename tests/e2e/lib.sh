# Shared helpers of the end-to-end tests; source it after setting $ioca.
# Gives: $tmp (a temporary folder removed at exit), pass, fail, expect_status, finish.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Under tests/sanitize.sh these tests start `ioca run`, which initialises Open MPI. They keep
# ASan's fast unwinder (half the CPU time of a sanitized run), with which the leaks inside Open
# MPI and HDF5 can only be suppressed by library: tests/sanitizers/lsan-mpi-libraries.supp.
sanitizers=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../sanitizers")
[ -z "${ASAN_OPTIONS:-}" ] ||
  export LSAN_OPTIONS="suppressions=$sanitizers/lsan-mpi-libraries.supp:print_suppressions=0"
# full_leak_stacks CMD...: runs CMD, under tests/sanitize.sh with the full unwinder and
# lsan.supp, whose entries name the MPI calls: they also catch a communicator or datatype that
# ioca creates and never frees. (Open MPI frees leftover windows, files and infos itself.)
full_leak_stacks() {
  if [ -n "${ASAN_OPTIONS:-}" ]; then
    ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" \
      LSAN_OPTIONS="suppressions=$sanitizers/lsan.supp:print_suppressions=0" "$@"
  else
    "$@"
  fi
}
failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

# expect_status CODE NAME CMD...: runs CMD, checks its exit status and that stderr is one line.
expect_status() {
  local want=$1 name=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  local got=$?
  if [ "$got" -ne "$want" ]; then
    fail "$name (exit $got, wanted $want): $(head -c 300 "$tmp/err")"
  elif [ "$want" -ne 0 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    fail "$name (stderr is not one line): $(cat "$tmp/err")"
  else
    pass "$name"
  fi
}

# finish NAME: the closing line and the exit status of the test script.
finish() {
  [ "$failures" -eq 0 ] && echo "$1: all checks passed" || echo "$1: $failures checks failed"
  [ "$failures" -eq 0 ]
}
