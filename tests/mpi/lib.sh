# Shared helpers of the MPI tests; source after setting $ioca and $mpiexec.
# Gives what tests/e2e/lib.sh gives, plus: study_config FILE [extra INI lines], and
# run_ranks RANKS THREADS ARGS... (ioca on RANKS ranks of THREADS OpenMP threads each) and
# run_single ARGS... (one process, see below).
# shellcheck source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# mpiexec -q: no Open MPI banner after a non-zero exit (ioca prints the one line that counts).

# one_rank_options: for mpiexec -n 1. When its one process exits with a non-zero status, Open
# MPI's mpiexec waits twice its odls_base_sigkill_timeout (1 s) for other processes to kill
# before it exits itself; with one process there are none (`mpiexec -n 1 false`: 2.1 s, with
# the timeout 0: 0.1 s), and the tests expect many such failures. Runs of several ranks keep
# the default, as users run them.
one_rank_options=(--mca odls_base_sigkill_timeout 0)
run_ranks() {
  local ranks=$1 threads=$2 extra=()
  shift 2
  ((ranks > 1)) || extra=("${one_rank_options[@]}")
  "$mpiexec" -q -n "$ranks" "${extra[@]}" --oversubscribe --bind-to none -x OMP_NUM_THREADS="$threads" \
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$ioca" "$@"
}

# run_single ARGS...: a single-process command (ioca merge, ioca convert, ioca run) as users
# run it, an MPI singleton. Under tests/sanitize.sh (IOCA_SINGLETON_VIA_MPIEXEC=1) every
# command that starts MPI runs as one rank of mpiexec instead, through the wrapper below, so
# that a test calling "$ioca" run directly is covered too: LeakSanitizer's exit-time scan
# crashes in Open MPI singletons ("Tracer caught signal 11", no leak reported). A singleton
# loads libraries with dynamic thread-local storage that ranks of mpiexec do not, and GCC 12's
# LeakSanitizer records one of their blocks at an address that is not memory (with
# LSAN_OPTIONS=verbosity=1:log_threads=1: "DTLS 11 at 0x000000003b83-0x000400004c85"), then
# faults scanning it. While Open MPI unloaded those libraries at MPI_Finalize, it crashed in
# some CI runs only (presumably when one of them stayed loaded); the sanitizer build now keeps
# them all loaded (tests/sanitizers/keep_libraries_loaded.c), and every sanitized singleton
# crashes. The ranks mpiexec starts are checked cleanly. The plain CTest run keeps testing the singleton
# path; both run the same code once MPI is initialised.
run_single() { "$ioca" "$@"; }
if [ "${IOCA_SINGLETON_VIA_MPIEXEC:-0}" = 1 ]; then
  ioca_binary=$(realpath "$ioca")
  ioca=$tmp/ioca-via-mpiexec
  cat >"$ioca" <<WRAPPER
#!/usr/bin/env bash
# Not already a rank of mpiexec, and a command that starts MPI: one rank of mpiexec.
if [ -z "\${OMPI_COMM_WORLD_SIZE:-}" ]; then
  case "\${1:-}" in
    run | merge | convert)
      exec "$mpiexec" -q -n 1 ${one_rank_options[*]} --oversubscribe --bind-to none "$ioca_binary" "\$@" ;;
  esac
fi
exec "$ioca_binary" "\$@"
WRAPPER
  chmod +x "$ioca"
fi

# Test samples of the synthetic data of every MPI test (the study's and the standalone
# `ioca train` runs it is compared with), which the ablation sweeps go through at every step.
# tests/sanitize.sh uses 500 (two of the sweeps' 256-row chunks, the second partial; 1000
# gives four), where every run is about 6 times slower: its tests took 9% less CPU time.
test_samples=${IOCA_TEST_SYNTHETIC_TEST_SAMPLES:-1000}

# A small study on synthetic data: 2 architectures' worth of work in seconds.
study_config() {
  cat >"$1" <<INI
name = test
[data]
datasets = synthetic
synthetic_samples = 3000
synthetic_test_samples = $test_samples
synthetic_features = 32
[network]
hidden = 24x16
activations = relu, tanh
seeds = 1, 2
[train]
epochs = 2
[ablation]
quantities = entropy, mutual_information, kl_selectivity, selectivity_index, outgoing_l2, single_damage
random = 3
[run]
checkpoint_interval = 60
INI
  shift
  for line in "$@"; do echo "$line" >>"$1"; done
}

# signal_ranks SIGNAL PID: sends SIGNAL to the ioca processes below PID (a background
# run_ranks), and to nothing else on the machine.
descendants() {
  local child
  for child in $(pgrep -P "$1"); do
    echo "$child"
    descendants "$child"
  done
}
signal_ranks() {
  local pid
  for pid in $(descendants "$2"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ioca ] && kill -"$1" "$pid" 2>/dev/null
  done
  return 0
}
