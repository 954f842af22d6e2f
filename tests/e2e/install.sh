#!/usr/bin/env bash
# `cmake --install` into a fresh prefix, then a user's session as on a cluster: Environment
# Modules (Debian's environment-modules) `module use` + `module load ioca`, ioca --version,
# a tiny train and measure, the analysis package importable from the module's PYTHONPATH,
# the installed job scripts finding the installed binary; `module unload` takes it all back.
# usage: install.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1 src=$2
source "$src/tests/e2e/lib.sh"
prefix=$tmp/prefix
version=$(sed -n 's/^project(ioca VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")

if cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  pass "cmake --install --prefix"
else
  fail "cmake --install: $(tail -5 "$tmp/install.log")"
  finish "e2e install"
  exit 1
fi
for f in bin/ioca share/ioca/jobs/study.sbatch share/ioca/jobs/array.sbatch \
  share/ioca/jobs/hybrid.sbatch share/ioca/jobs/multinode.sbatch share/ioca/jobs/run-default.sh \
  share/ioca/jobs/lib/ioca-job.sh share/ioca/jobs/studies/quick.ini share/ioca/jobs/studies/paper.ini \
  share/ioca/analysis/ioca_analysis/__init__.py share/ioca/analysis/ioca_analysis/report.py \
  share/doc/ioca/LICENSE share/doc/ioca/CITATION.cff share/doc/ioca/docs/definitions.md \
  share/doc/ioca/docs/file-formats.md share/doc/ioca/docs/install.md "share/modulefiles/ioca/$version"; do
  [ -e "$prefix/$f" ] && pass "installed $f" || fail "not installed: $f"
done
for f in bin/ioca share/ioca/jobs/study.sbatch share/ioca/jobs/run-default.sh; do
  [ -x "$prefix/$f" ] || fail "$f is not executable"
done
[ ! -e "$prefix/share/ioca/jobs/local-slurm" ] && pass "the test harness jobs/local-slurm is not installed" ||
  fail "jobs/local-slurm installed"
[ -z "$(find "$prefix" -name __pycache__ -o -name '*.pyc')" ] && pass "no byte code installed" ||
  fail "byte code installed: $(find "$prefix" -name __pycache__)"
head -n 1 "$prefix/share/modulefiles/ioca/$version" | grep -q '^#%Module' &&
  grep -qF "set prefix {$prefix}" "$prefix/share/modulefiles/ioca/$version" &&
  pass "the module file is Tcl and names the prefix given at install time" ||
  fail "module file: $(cat "$prefix/share/modulefiles/ioca/$version")"

# A clean login shell: no build tree on PATH, nothing of the checkout in the environment.
cd "$tmp"
cat >session.sh <<SH
set -e
source /usr/share/modules/init/bash
module use "$prefix/share/modulefiles"
module load ioca
echo "which: \$(command -v ioca)"
echo "IOCA_HOME: \$IOCA_HOME"
ioca --version
ioca train --dataset synthetic --synthetic-samples 1200 --synthetic-test-samples 400 \\
  --validation-size 400 --hidden 16x8 --epochs 5 --lr 0.01 --quiet --out m.h5
ioca measure --model m.h5 --out measures.h5 --quiet
ioca ablate --model m.h5 --measures measures.h5 --random 2 --quiet --out ablation.h5
/usr/bin/python3 -c 'import ioca_analysis; print("python:", ioca_analysis.__file__); print("python version:", ioca_analysis.__version__)'
bash -c 'source "\$IOCA_HOME/jobs/lib/ioca-job.sh"; PATH=/usr/bin:/bin ioca_job_binary; echo "job binary: \$IOCA_BIN"'
module unload ioca
command -v ioca >/dev/null && echo "still on PATH after unload" || echo "unloaded"
SH
if [ ! -r /usr/share/modules/init/bash ]; then
  fail "Environment Modules are not installed (/usr/share/modules/init/bash; setup.sh installs environment-modules)"
else
  env -i HOME="$tmp" PATH=/usr/bin:/bin TERM=dumb bash --noprofile --norc session.sh >session.out 2>session.err
  status=$?
  [ "$status" -eq 0 ] && pass "module session ran (exit 0)" ||
    fail "module session (exit $status): $(tail -5 session.err)"
  cat session.out
  grep -qx "which: $prefix/bin/ioca" session.out && pass "module load puts the installed ioca on PATH" ||
    fail "ioca after module load: $(grep which: session.out)"
  grep -qx "IOCA_HOME: $prefix/share/ioca" session.out && pass "IOCA_HOME set" || fail "IOCA_HOME not set"
  grep -q "^ioca $version" session.out && pass "ioca --version says $version" ||
    fail "ioca --version: $(grep '^ioca' session.out)"
  [ -s m.h5 ] && [ -s measures.h5 ] && [ -s ablation.h5 ] && pass "train, measure, ablate ran" ||
    fail "train, measure, ablate wrote no files"
  [ ! -s session.err ] && pass "--quiet: nothing on stderr" || fail "stderr: $(head -5 session.err)"
  grep -qx "python: $prefix/share/ioca/analysis/ioca_analysis/__init__.py" session.out &&
    pass "ioca_analysis imports from the prefix" || fail "python: $(grep python: session.out)"
  grep -qx "python version: $version" session.out && pass "the installed ioca_analysis says version $version" ||
    fail "installed ioca_analysis: $(grep 'python version' session.out)"
  grep -qx "job binary: $prefix/bin/ioca" session.out &&
    pass "the installed job scripts find the installed binary (not on PATH)" ||
    fail "job scripts: $(grep 'job binary' session.out)"
  grep -qx "unloaded" session.out && pass "module unload takes ioca off PATH" || fail "module unload"
fi
finish "e2e install"
