#!/usr/bin/env bash
# The default job: the quick study (jobs/studies/quick.ini: real MNIST, 64x32 ReLU and tanh
# networks, 2 seeds, every quantity, direction and scope, 5 random orders) on 2 MPI ranks,
# then its analysis: the summary tables here and the figures and tables in
# out/quick-report/index.html. Results in out/quick.h5.
#
# In a checkout it runs build/ioca on data/ and writes out/ there. Installed (cmake
# --install; <prefix>/share/ioca/jobs/run-default.sh, e.g. after `module load ioca`) it runs
# the ioca on PATH (else <prefix>/bin/ioca) on $IOCA_DATA (else ./data) and writes ./out
# (IOCA_OUT changes it).
set -euo pipefail
home=$(cd "$(dirname "$0")/.." && pwd)
if [ -x "$home/build/ioca" ]; then  # a checkout
  cd "$home"
  ioca=$home/build/ioca out=out analysis=$home/analysis
else                                # installed: <prefix>/share/ioca
  ioca=$(command -v ioca || echo "$home/../../bin/ioca")
  out=${IOCA_OUT:-$PWD/out} analysis=$home/analysis
  [ -x "$ioca" ] || { echo "run-default.sh: no ioca binary (module load ioca, or put it on PATH)" >&2; exit 2; }
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Open MPI refuses root unless told; -q keeps its banners out of error output.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
ranks=${IOCA_RANKS:-2}
threads=${OMP_NUM_THREADS:-1}
start=$(date +%s)
mpiexec -q -n "$ranks" --oversubscribe --bind-to none -x OMP_NUM_THREADS="$threads" \
  "$ioca" run --config "$home/jobs/studies/quick.ini" --out "$out/quick.h5" --force
plural() { [ "$1" = 1 ] && echo "$1 $2" || echo "$1 ${2}s"; }
echo "quick study: $(plural "$ranks" rank) x $(plural "$threads" thread), $(($(date +%s) - start)) s; results in $out/quick.h5" >&2
cd "$analysis"
/usr/bin/python3 -m ioca_analysis summary "$out/quick.h5"
/usr/bin/python3 -m ioca_analysis report "$out/quick.h5" -o "$out/quick-report" >/dev/null
echo "report: $out/quick-report/index.html" >&2
