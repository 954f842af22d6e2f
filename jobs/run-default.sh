#!/usr/bin/env bash
# The default job: the quick study (jobs/studies/quick.ini: real MNIST, 64x32 ReLU and tanh
# networks, 2 seeds, every quantity, direction and scope, 5 random orders) on 2 MPI ranks,
# then its analysis: the summary tables here and the figures and tables in
# out/quick-report/index.html. Results in out/quick.h5.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
# Open MPI refuses root unless told; -q keeps its banners out of error output.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
ranks=${IOCA_RANKS:-2}
threads=${OMP_NUM_THREADS:-1}
start=$(date +%s)
mpiexec -q -n "$ranks" --oversubscribe --bind-to none -x OMP_NUM_THREADS="$threads" \
  ./build/ioca run --config jobs/studies/quick.ini --out out/quick.h5 --force
echo "quick study: $ranks ranks x $threads threads, $(($(date +%s) - start)) s; results in out/quick.h5" >&2
cd analysis
/usr/bin/python3 -m ioca_analysis summary ../out/quick.h5
/usr/bin/python3 -m ioca_analysis report ../out/quick.h5 -o ../out/quick-report >/dev/null
echo "report: out/quick-report/index.html" >&2
