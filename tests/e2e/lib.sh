# Shared helpers of the end-to-end tests; source it after setting $ioca.
# Gives: $tmp (a temporary folder removed at exit), pass, fail, expect_status, finish.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Under tests/sanitize.sh: these tests start `ioca run`, which initialises Open MPI, and the
# suppressions of Open MPI's leaks need the full allocation stacks (tests/sanitizers/lsan.supp).
# The unit tests and fuzz replays never start MPI and keep the much cheaper fast unwinder.
[ -z "${ASAN_OPTIONS:-}" ] || export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
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
