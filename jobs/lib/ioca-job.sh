# shellcheck shell=bash
# jobs/lib/ioca-job.sh — shared by the sbatch scripts in jobs/ (sourced, not run).
#
# ioca_job_run ARGS...   runs `ioca run ARGS...` as one job step and handles time limits:
#
#   SIGUSR1 to the batch shell   (#SBATCH --signal=B:USR1@SECONDS: the time limit is near)
#       forwarded to the step; ioca writes a checkpoint and exits 3; then the job requeues
#       itself (scontrol requeue) and, started again, resumes (the scripts pass --resume).
#   SIGTERM to the batch shell   (scancel, the time limit itself, preemption)
#       forwarded to the step as SIGUSR1 (srun answers SIGTERM by killing the step at once,
#       before ioca could checkpoint); the job is NOT requeued: a cancelled job stays
#       cancelled; resubmit the same command to resume from the checkpoint.
#   step exit status 0 → the job succeeds; 3 → requeue (unless SIGTERM came, or requeued
#   IOCA_MAX_REQUEUES times already, default 50); 2 (bad input or usage: running again
#   cannot help) → the job fails with it.
#   any other failure: a rank killed (the OOM killer, a crashed or lost node) or an error
#       inside MPI or ioca → requeue, to resume from the last checkpoint, at most
#       IOCA_MAX_FAILURE_REQUEUES times (default 2; counted in the job's Comment field),
#       then the job fails with the step's status.
#   When one rank ends, srun ends the others --wait seconds later (IOCA_STEP_WAIT, default
#   30): a rank that dies never leaves the others waiting for it until the time limit.
#
# Environment (all optional):
#   IOCA_BIN          the ioca binary (default: `ioca` on PATH, else $IOCA_HOME/build/ioca, else
#                     the installed <prefix>/bin/ioca when IOCA_HOME is <prefix>/share/ioca)
#   IOCA_LAUNCHER     srun (default) | mpirun | none (run ioca directly in the batch shell)
#   IOCA_SRUN_MPI     srun --mpi value (default pmix; Debian's Open MPI does not work with pmi2)
#   IOCA_CPU_BIND     srun --cpu-bind value (default cores; `none` to let tasks float)
#   IOCA_MAX_REQUEUES give up requeueing after this many restarts (default 50)
#   IOCA_MAX_FAILURE_REQUEUES  requeue after this many failed steps at most (default 2)
#   IOCA_STEP_WAIT    srun --wait: seconds the ranks may outlive the first that ends (30)
#   OMP_PROC_BIND, OMP_PLACES  kept when set; defaults close and cores (see ioca_job_env)
#   IOCA_DATA         data sets; default: ./data if present, else $IOCA_HOME/data

_ioca_step_pid=
_ioca_signal=
_ioca_signal_count=0

ioca_job_log() { echo "ioca-job[$(date +%H:%M:%S)]: $*" >&2; }

# ioca_job_binary: sets IOCA_BIN, or fails with a clear message.
ioca_job_binary() {
  if [ -n "${IOCA_BIN:-}" ]; then
    [ -x "$IOCA_BIN" ] || { ioca_job_log "IOCA_BIN=$IOCA_BIN is not an executable file"; return 2; }
  elif command -v ioca >/dev/null 2>&1; then
    IOCA_BIN=$(command -v ioca)
  elif [ -x "${IOCA_HOME:-}/build/ioca" ]; then
    IOCA_BIN=$IOCA_HOME/build/ioca
  elif [ -n "${IOCA_HOME:-}" ] && [ -x "$IOCA_HOME/../../bin/ioca" ]; then
    # installed (cmake --install): IOCA_HOME is <prefix>/share/ioca, the binary <prefix>/bin/ioca
    IOCA_BIN=$(cd "$IOCA_HOME/../../bin" && pwd)/ioca
  else
    ioca_job_log "no ioca binary: not on PATH, not in ${IOCA_HOME:-<IOCA_HOME unset>}/build/ nor an installed prefix (run ./setup.sh, module load ioca, or set IOCA_BIN)"
    return 2
  fi
  export IOCA_BIN
}

# ioca_job_env: OpenMP and MPI settings for the step.
ioca_job_env() {
  # One OpenMP thread per CPU given to each task (sbatch -c / --cpus-per-task).
  export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
  # Threads of a rank stay next to each other (close) on whole cores. This assumes each task
  # is bound to its own cores (srun --cpu-bind=cores with TaskPlugin task/affinity). Where
  # SLURM does not bind tasks and several tasks share a node, binding threads would put the
  # first thread of every rank on the same core, so then no OMP_PROC_BIND is set.
  local per_node=${SLURM_NTASKS_PER_NODE:-${SLURM_TASKS_PER_NODE:-1}}
  per_node=${per_node%%(*} # "2(x3)" → 2
  per_node=${per_node%%,*}
  if [ -z "${OMP_PROC_BIND:-}" ]; then
    if [ "${per_node:-1}" -gt 1 ] 2>/dev/null && ! _ioca_tasks_are_bound; then
      ioca_job_log "tasks are not bound to cores here (TaskPlugin without affinity); OMP_PROC_BIND left unset"
    else
      export OMP_PROC_BIND=close
    fi
  fi
  export OMP_PLACES=${OMP_PLACES:-cores}
  # Data sets: ioca looks in $IOCA_DATA/<data set>, else data/<data set> under the working
  # directory (where sbatch was run); a job submitted from elsewhere uses the checkout's.
  if [ -z "${IOCA_DATA:-}" ] && [ ! -d data ] && [ -d "${IOCA_HOME:-}/data" ]; then
    export IOCA_DATA=$IOCA_HOME/data
    ioca_job_log "IOCA_DATA=$IOCA_DATA"
  fi
  # Open MPI refuses to run as root unless told so (root is the usual user on a test VM).
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

_ioca_tasks_are_bound() {
  case ${IOCA_LAUNCHER:-srun} in
    srun)
      [ "${IOCA_CPU_BIND:-cores}" != none ] &&
        scontrol show config 2>/dev/null | grep -E '^TaskPlugin ' | grep -q affinity ;;
    mpirun) return 0 ;; # --bind-to core below
    *) return 1 ;;
  esac
}

_ioca_on_signal() {
  local sig=$1
  _ioca_signal_count=$((_ioca_signal_count + 1))
  # A TERM is never downgraded by a later USR1: it decides against requeueing.
  [ "$_ioca_signal" = TERM ] || _ioca_signal=$sig
  if [ -n "$_ioca_step_pid" ] && kill -0 "$_ioca_step_pid" 2>/dev/null; then
    ioca_job_log "SIG$sig received: asking ioca (pid $_ioca_step_pid) to checkpoint (SIGUSR1)"
    kill -USR1 "$_ioca_step_pid" 2>/dev/null || true
  else
    ioca_job_log "SIG$sig received"
  fi
}

# ioca_job_requeue: puts this job back in the queue; it starts again from the top of the
# script (and resumes). Returns non-zero when SLURM refuses.
ioca_job_requeue() {
  local restarts=${SLURM_RESTART_COUNT:-0} max=${IOCA_MAX_REQUEUES:-50}
  if [ -z "${SLURM_JOB_ID:-}" ]; then
    ioca_job_log "not running under SLURM: nothing to requeue"
    return 1
  fi
  if [ "$restarts" -ge "$max" ]; then
    ioca_job_log "already requeued $restarts times (IOCA_MAX_REQUEUES=$max): not requeueing again"
    return 1
  fi
  # An array task by ARRAYID_TASKID: the last task's SLURM_JOB_ID is the array's own id,
  # which would requeue every task of the array.
  local job=$SLURM_JOB_ID
  [ -z "${SLURM_ARRAY_JOB_ID:-}" ] || job=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
  # The requeue makes SLURM end this instance of the job at once (SIGTERM): log first.
  ioca_job_log "requeueing job $job (restart $((restarts + 1))); it will resume from the checkpoint"
  trap - USR1 TERM
  scontrol requeue "$job" && return 0
  ioca_job_log "scontrol requeue $job failed (submitted with --no-requeue, or JobRequeue=0 without --requeue?)"
  return 1
}

# ioca_job_run ARGS...: see the top of this file. Exits the batch script.
ioca_job_run() {
  local -a launcher
  case ${IOCA_LAUNCHER:-srun} in
    srun)
      # srun does not inherit --cpus-per-task from the allocation since SLURM 22.05.
      # --kill-on-bad-exit=0: after a checkpoint every rank exits with status 3; killing the
      # slower ranks when the first one exits would turn 3 into "killed" (a cluster may
      # default to 1). ioca itself ends all ranks on an error (MPI_Abort).
      # --wait: after one rank ends (normally all end within a second or two of each
      # other), the rest are ended IOCA_STEP_WAIT seconds later, so that ranks left waiting
      # in MPI for a rank that was killed cannot hold the allocation.
      launcher=(srun --mpi="${IOCA_SRUN_MPI:-pmix}" --kill-on-bad-exit=0
        --wait="${IOCA_STEP_WAIT:-30}" --cpu-bind="${IOCA_CPU_BIND:-cores}")
      [ -z "${SLURM_CPUS_PER_TASK:-}" ] || launcher+=(--cpus-per-task="$SLURM_CPUS_PER_TASK") ;;
    mpirun)
      # Open MPI's mpirun reads the allocation itself; PE=c gives each rank c cores.
      launcher=(mpirun --map-by "slot:PE=${SLURM_CPUS_PER_TASK:-1}" --bind-to core) ;;
    none) launcher=() ;;
    *)
      ioca_job_log "IOCA_LAUNCHER=$IOCA_LAUNCHER: use srun, mpirun or none"
      exit 2 ;;
  esac

  ioca_job_binary || exit 2
  ioca_job_env
  trap '_ioca_on_signal USR1' USR1
  trap '_ioca_on_signal TERM' TERM

  ioca_job_log "job ${SLURM_JOB_ID:-none}${SLURM_ARRAY_TASK_ID:+ (array task $SLURM_ARRAY_TASK_ID)}, restart ${SLURM_RESTART_COUNT:-0}, nodes ${SLURM_JOB_NODELIST:-$(hostname)}, tasks ${SLURM_NTASKS:-1} x ${OMP_NUM_THREADS} thread$([ "$OMP_NUM_THREADS" = 1 ] || echo s)"
  ioca_job_log "${launcher[*]} $IOCA_BIN run $*"

  if ((_ioca_signal_count)); then
    # A signal came before the step started: there is no new work to save.
    ioca_job_log "signalled before the step started"
    [ "$_ioca_signal" = USR1 ] && ioca_job_requeue && exit 0
    exit 3
  fi

  "${launcher[@]}" "$IOCA_BIN" run "$@" &
  _ioca_step_pid=$!

  # `wait` returns early (status > 128) whenever a trapped signal arrives: then wait again.
  # Bash keeps a child's exit status, so waiting again after it ended returns that status
  # (and a step that really ended with status > 128 just gives the same status twice).
  local status seen
  while :; do
    seen=$_ioca_signal_count
    status=0
    wait "$_ioca_step_pid" || status=$?
    ((status > 128 && _ioca_signal_count != seen)) || break
  done
  _ioca_step_pid=

  case $status in
    0)
      ioca_job_log "ioca finished"
      exit 0 ;;
    3)
      if [ "$_ioca_signal" = TERM ]; then
        ioca_job_log "ioca checkpointed after SIGTERM (cancelled, out of time or preempted): not requeueing; resubmit the same command to resume"
        exit 3
      fi
      ioca_job_log "ioca checkpointed (exit status 3)"
      ioca_job_requeue && exit 0
      ioca_job_log "resubmit the same command to resume from the checkpoint"
      exit 3 ;;
    2)
      ioca_job_log "ioca failed with exit status 2 (bad input or usage; see its message above)"
      exit 2 ;;
    *)
      ioca_job_log "ioca failed with exit status $status$( ((status > 128)) && echo " (a rank ended by signal $((status - 128)))")"
      if [ -z "$_ioca_signal" ] && _ioca_count_failure; then
        ioca_job_requeue && exit 0
      fi
      exit "$status" ;;
  esac
}

# _ioca_count_failure: counts one more failed step in the job's Comment field (it survives
# requeues); fails once IOCA_MAX_FAILURE_REQUEUES steps have failed before.
_ioca_count_failure() {
  local max=${IOCA_MAX_FAILURE_REQUEUES:-2} failures job=${SLURM_JOB_ID:-}
  [ -n "$job" ] || return 1
  [ -z "${SLURM_ARRAY_JOB_ID:-}" ] || job=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
  failures=$(scontrol show job "$job" 2>/dev/null | sed -n 's/.*Comment=ioca-failed-steps:\([0-9]*\).*/\1/p' | head -n 1)
  failures=${failures:-0}
  if [ "$failures" -ge "$max" ]; then
    ioca_job_log "$failures failed steps already (IOCA_MAX_FAILURE_REQUEUES=$max): not requeueing"
    return 1
  fi
  scontrol update JobId="$job" Comment="ioca-failed-steps:$((failures + 1))" >/dev/null 2>&1 || true
  ioca_job_log "failed step $((failures + 1)) of at most $max that are requeued"
}
