#!/usr/bin/env bash
# A small synthetic study (test_study in tests/slurm/lib.sh) on a 3-node SLURM cluster of
# real hosts (jobs/local-slurm start --nodes 3: each node a network and UTS namespace with
# its own host name, address, /tmp and boot id; MPI between nodes over TCP through a
# bridge), and what goes wrong on clusters. One scenario
# per run; each compares its results with the same study run on one host outside SLURM
# (h5diff --exclude-path /provenance):
#
#   study        jobs/multinode.sbatch over all 3 nodes, 2 ranks per node: the job
#                completes, /provenance names 3 hosts, the ranks ran where SLURM put them.
#   rank-killed  SIGKILL to one rank on a node other than the batch host, mid-run: every
#                rank has ended within 60 s, the job requeues itself, resumes from its
#                checkpoint and completes.
#   node-down    a 2-node job loses a node (its slurmd and its ranks killed, the node marked
#                down): SLURM requeues the job onto the nodes that remain; it resumes.
#   array        jobs/array.sbatch, one seed per task, the tasks on different nodes, merged
#                with `ioca merge`.
#
# Usage: tests/slurm/multinode.sh path/to/ioca SCENARIO    (exit 77: skipped, e.g. not root)
# IOCA_SLURM_TEST_TIMEOUT: seconds a job may take in all (default 600).
test_nodes=3
scenario=${2:-}
case $scenario in
  study | rank-killed | node-down | array) ;;
  *) echo "usage: $0 path/to/ioca study|rank-killed|node-down|array" >&2; exit 2 ;;
esac
test_scenario=$scenario
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "$0")/lib.sh" "$1"
echo "     scenario $test_scenario on $("$local_slurm" exec sinfo -h -o '%D nodes: %N' 2>/dev/null)"

test_study "$tmp/study.ini"
job_timeout=${IOCA_SLURM_TEST_TIMEOUT:-600}
cd "$tmp" || exit 1

# reference: the study on this host, 2 ranks, outside SLURM. Kept between runs (and shared
# by the scenarios) under /var/tmp/ioca-multinode-reference, keyed by the binary and the
# study; prints its path.
reference() {
  local cache=/var/tmp/ioca-multinode-reference key file start
  key=$(cat "$ioca" "$tmp/study.ini" | sha256sum | cut -c1-16)
  file=$cache/study-$key.h5
  mkdir -p "$cache"
  (
    flock -w 900 8 || exit 1
    if [ ! -e "$file" ]; then
      find "$cache" -name '*-*.h5' -delete # other binaries' or studies' references
      start=$SECONDS
      OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        mpiexec -q -n 2 --oversubscribe --bind-to none "$ioca" run --quiet \
        --config "$tmp/study.ini" --out "$file" >"$cache/reference.log" 2>&1 ||
        { cat "$cache/reference.log" >&2; exit 1; }
      echo "     reference: the study on one host, 2 ranks, in $((SECONDS - start)) s" >&2
    fi
  ) 8>"$cache/.lock" 9>&- || return 1
  echo "$file"
}

# same_as_reference FILE WHAT: FILE's results equal the one-host run's.
same_as_reference() {
  local ref
  ref=$(reference) || { fail "$2: no reference run"; return; }
  if h5diff --exclude-path /provenance "$ref" "$1" >"$tmp/h5diff.out" 2>&1; then
    pass "$2 equal the one-host run (h5diff --exclude-path /provenance)"
  else
    fail "$2 differ from the one-host run: $(head -n 5 "$tmp/h5diff.out")"
  fi
}

# ioca_pids JOB [NODE]: the ioca processes of a job (on one node, or on any).
ioca_pids() {
  local p env
  for p in $(pgrep -x ioca || true); do
    env=$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ") || continue
    grep -qx "SLURM_JOB_ID=$1" <<<"$env" || continue
    [ -z "${2:-}" ] || grep -qx "SLURMD_NODENAME=$2" <<<"$env" || continue
    echo "$p"
  done
}

# wait_until SECONDS CMD...: polls CMD every half second; fails after SECONDS.
wait_until() {
  local secs=$1 i
  shift
  for ((i = 0; i < secs * 2; i++)); do
    "$@" && return 0
    sleep 0.5
  done
  return 1
}
job_running() { [ "$(job_field "$job_id" JobState)" = RUNNING ]; }
checkpoint_written() { [ -s "$tmp/results.h5.checkpoint" ]; }
ranks_running() { [ -n "$(ioca_pids "$job_id")" ]; }
no_ranks() { [ -z "$(ioca_pids "$job_id")" ]; }

# submit_study NODES OUT [ioca run options]: the study through multinode.sbatch.
submit_study() {
  local nodes=$1 out=$2
  shift 2
  submit --job-name=ioca-$test_scenario -N "$nodes" --ntasks-per-node=2 -c 1 \
    --output="$tmp/job.out" --export=ALL,IOCA_BIN="$ioca" \
    "$repo/jobs/multinode.sbatch" "$tmp/study.ini" "$out" "$@"
}

# await_checkpoint: waits for the job's first checkpoint (so that a resume has work to keep).
await_checkpoint() {
  wait_until 120 job_running || { fail "job $job_id did not start"; return 1; }
  wait_until 120 checkpoint_written || { fail "job $job_id wrote no checkpoint"; return 1; }
  wait_until 30 ranks_running || { fail "job $job_id has no ranks running"; return 1; }
}

# The job resumed (restart 1, some tasks done before) and its results are the reference's.
check_resumed() {
  local restarts
  restarts=$(job_field "$job_id" Restarts)
  check "job $job_id completed (state $(job_field "$job_id" JobState))" [ "$(job_field "$job_id" JobState)" = COMPLETED ]
  check "the job was requeued (Restarts=$restarts)" [ "${restarts:-0}" -ge 1 ]
  check "the job ran again as restart 1" grep -q "restart 1, nodes" "$tmp/job.out"
  local before
  before=$(sed -n 's/.*tasks (\([0-9]*\) done before).*/\1/p' "$tmp/job.out" | tail -n 1)
  echo "     resume line: $(grep "done before" "$tmp/job.out" | tail -n 1)"
  check "the requeued run resumed from the checkpoint (${before:-0} tasks done before)" [ "${before:-0}" -gt 0 ]
  check "no checkpoint left behind" [ ! -e "$tmp/results.h5.checkpoint" ]
  same_as_reference "$tmp/results.h5" "the requeued job's results"
}

case $test_scenario in
  study)
    submit_study 3 "$tmp/results.h5"
    wait_job "$job_id" "$job_timeout" || true
    show_log "$tmp/job.out"
    check "job $job_id completed (state $(job_field "$job_id" JobState))" [ "$(job_field "$job_id" JobState)" = COMPLETED ]
    # A rank that fails (a crash at start, say) is requeued and resumed; here none may.
    check "the job ran once, without a restart (Restarts=$(job_field "$job_id" Restarts))" \
      [ "$(job_field "$job_id" Restarts)" = 0 ]
    check "the job ran 6 ranks on nodes node[1-3]" grep -q "nodes node\[1-3\], tasks 6 x 1 thread$" "$tmp/job.out"
    check "ranks 0-1 ran on node1, 2-3 on node2, 4-5 on node3" \
      grep -q "3 hosts: node1: ranks 0-1; node2: ranks 2-3; node3: ranks 4-5" "$tmp/job.out"
    hosts=$(h5dump -a /provenance/hosts "$tmp/results.h5" 2>/dev/null | sed -n 's/^ *(0): *"\(.*\)"/\1/p')
    rank_hosts=$(h5dump -a /provenance/rank_hosts "$tmp/results.h5" 2>/dev/null | sed -n 's/^ *(0): *"\(.*\)"/\1/p')
    echo "     /provenance hosts = $hosts; rank_hosts = $rank_hosts"
    check "/provenance names 3 distinct hosts" [ "$(tr ',' '\n' <<<"$hosts" | sort -u | grep -c .)" = 3 ]
    check "/provenance rank_hosts is node1,node1,node2,node2,node3,node3" \
      [ "$rank_hosts" = node1,node1,node2,node2,node3,node3 ]
    same_as_reference "$tmp/results.h5" "the 3-node job's results"
    ;;

  rank-killed)
    submit_study 3 "$tmp/results.h5" --run.checkpoint_interval 1
    if await_checkpoint; then
      victim=$(ioca_pids "$job_id" node3 | sed -n 1p)
      echo "     SIGKILL to rank pid $victim on node3 ($(date +%T)); the batch script runs on node1"
      kill -KILL "$victim"
      killed=$SECONDS
      if wait_until 90 no_ranks; then
        ended=$((SECONDS - killed))
        echo "     every rank had ended $ended s after the kill"
        check "the job's ranks all ended within 60 s of the kill ($ended s)" [ "$ended" -lt 60 ]
      else
        fail "ranks still running 90 s after the kill: $(ioca_pids "$job_id" | tr '\n' ' ')"
      fi
    fi
    wait_job "$job_id" "$job_timeout" || true
    show_log "$tmp/job.out"
    check "the job saw the rank die" grep -q "a rank ended by signal" "$tmp/job.out"
    check "the job requeued itself" grep -q "requeueing job $job_id (restart 1)" "$tmp/job.out"
    check_resumed
    ;;

  node-down)
    # 2 of the 3 nodes, so that one is left to take the requeued job.
    submit_study 2 "$tmp/results.h5" --run.checkpoint_interval 1
    if await_checkpoint; then
      batch_host=$(job_field "$job_id" BatchHost)
      victim=$(scontrol show hostnames "$(job_field "$job_id" NodeList)" | grep -vx "$batch_host" | sed -n 1p)
      echo "     node $victim dies ($(date +%T)): its slurmd and everything on it killed; batch host $batch_host"
      pids=$(ip netns pids "$IOCA_SLURM_NETNS-$victim" | tr '\n' ' ')
      # shellcheck disable=SC2086
      kill -KILL $pids
      scontrol update NodeName="$victim" State=DOWN Reason="test: node died"
      killed=$SECONDS
      wait_until 90 no_ranks && echo "     every rank had ended $((SECONDS - killed)) s after the node died" ||
        fail "ranks still running 90 s after the node died"
    fi
    wait_job "$job_id" "$job_timeout" || true
    show_log "$tmp/job.out"
    nodes_after=$(job_field "$job_id" NodeList)
    echo "     the requeued job ran on $nodes_after"
    left_out() { [ -n "${victim:-}" ] && ! scontrol show hostnames "$nodes_after" | grep -qx "$victim"; }
    check "the requeued job left out ${victim:-the dead node}" left_out
    check_resumed
    # The node comes back for whatever runs next on this cluster.
    "$local_slurm" start --nodes "$test_nodes" >/dev/null 2>&1 || fail "$victim did not come back"
    ;;

  array)
    # Two tasks of 2 CPUs each: a node each.
    submit --job-name=ioca-array --array=0-1 -N 1 -n 2 -c 1 --output="$tmp/array-%a.out" \
      --export=ALL,IOCA_BIN="$ioca" "$repo/jobs/array.sbatch" "$tmp/study.ini" "$tmp/parts"
    array_id=$job_id
    wait_job "$array_id" "$job_timeout" || true
    hosts=()
    for task in 0 1; do
      show_log "$tmp/array-$task.out"
      check "array task $task completed" [ "$(job_field "${array_id}_$task" JobState)" = COMPLETED ]
      hosts+=("$(job_field "${array_id}_$task" BatchHost)")
    done
    echo "     array task 0 ran on ${hosts[0]}, task 1 on ${hosts[1]}"
    check "array task 0 ran seed 1" grep -q "seeds 1 (of 2)" "$tmp/array-0.out"
    check "array task 1 ran seed 2" grep -q "seeds 2 (of 2)" "$tmp/array-1.out"
    different() { [ -n "${hosts[0]}" ] && [ "${hosts[0]}" != "${hosts[1]}" ]; }
    check "the array tasks ran on different nodes" different
    if "$ioca" merge "$tmp/merged.h5" "$tmp/parts-0.h5" "$tmp/parts-1.h5" 2>"$tmp/merge.err"; then
      pass "ioca merge merged.h5 parts-0.h5 parts-1.h5"
      same_as_reference "$tmp/merged.h5" "the merged array job's results"
    else
      fail "ioca merge: $(cat "$tmp/merge.err")"
    fi
    ;;
esac
finish
