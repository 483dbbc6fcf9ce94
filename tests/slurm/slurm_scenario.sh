#!/usr/bin/env bash
# The Slurm scenarios of the job scripts against a private one-node cluster
# (scripts/slurm/local_cluster.sh): the real, unmodified scripts/slurm/*.sbatch are submitted
# with sbatch as a user would, and checked from outside (exit code, restart count, and the
# weights fingerprint of the same run outside Slurm).
#
#   tests/slurm/slurm_scenario.sh SCENARIO        # exit 0 pass, 1 fail, 77 skip (no Slurm, not root)
#   tests/slurm/slurm_scenario.sh cluster-start   # CTest's fixture: one cluster for all scenarios
#   tests/slurm/slurm_scenario.sh cluster-stop    # ... and its end (fails if anything is left)
#
# SCENARIO: straight, preempt, timelimit, requeue, duplicate, mpi, mpi_resize, mpirun.
# A scenario uses the cluster in $MLPTRAIN_SLURM_DIR when one runs there (CTest starts it
# once, which saves a start and a stop per scenario), else starts its own in its temporary
# directory and stops it at exit. Either way it leaves no job and no file behind: its jobs
# are cancelled (and waited for) and its directory removed on every exit path.
# Environment: MLPTRAIN_BINARY (the built mlptrain, required for scenarios),
# MLPTRAIN_SOURCE_DIR (the repository; default: two levels above this script),
# MLPTRAIN_SLURM_CACHE (cached reference fingerprints; default: the binary's
# directory/slurm-tests), MLPTRAIN_SLURM_KEEP (a directory to copy the job logs and the
# cluster's job completion log to, for a report), MLPTRAIN_SLURM_SUMMARY (a file to append
# a passed scenario's job ids, restart counts and fingerprints to).
set -uo pipefail

SCENARIO=${1:?usage: slurm_scenario.sh SCENARIO|cluster-start|cluster-stop}
SOURCE_DIR=${MLPTRAIN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CLUSTER=$SOURCE_DIR/scripts/slurm/local_cluster.sh
SECONDS=0

say() { printf '[%3ds] %s: %s\n' "$SECONDS" "$SCENARIO" "$*"; }
skip() { say "SKIPPED: $*"; exit 77; }

slurm_missing() {  # why this machine cannot run the scenarios, or nothing
    if [[ $EUID -ne 0 ]]; then
        echo "needs root for a private Slurm cluster (SlurmUser=root)"
        return
    fi
    local tool
    for tool in sbatch srun scontrol squeue slurmctld slurmd munged; do
        command -v "$tool" >/dev/null || { echo "$tool not installed (scripts/setup.sh --with slurm)"; return; }
    done
}

case "$SCENARIO" in
    cluster-start)
        : "${MLPTRAIN_SLURM_DIR:?set MLPTRAIN_SLURM_DIR to the directory of the shared cluster}"
        missing=$(slurm_missing)
        [[ -z "$missing" ]] || skip "$missing"
        "$CLUSTER" start >/dev/null || { say "FAILED: local_cluster.sh start"; exit 1; }
        say "cluster up in $MLPTRAIN_SLURM_DIR"
        exit 0
        ;;
    cluster-stop)
        : "${MLPTRAIN_SLURM_DIR:?set MLPTRAIN_SLURM_DIR to the directory of the shared cluster}"
        if [[ ! -d "$MLPTRAIN_SLURM_DIR" ]]; then
            missing=$(slurm_missing)
            [[ -z "$missing" ]] || skip "$missing"
        fi
        # stop fails when a process of the cluster survives or its directory remains.
        "$CLUSTER" stop || { say "FAILED: local_cluster.sh stop"; exit 1; }
        say "cluster stopped, $MLPTRAIN_SLURM_DIR removed"
        exit 0
        ;;
esac

missing=$(slurm_missing)
[[ -z "$missing" ]] || skip "$missing"
BINARY=${MLPTRAIN_BINARY:?set MLPTRAIN_BINARY to the built mlptrain}
[[ -x "$BINARY" ]] || { say "FAILED: no mlptrain at $BINARY"; exit 1; }
BINARY=$(realpath "$BINARY")
CACHE=${MLPTRAIN_SLURM_CACHE:-$(dirname "$BINARY")/slurm-tests}

# The training runs. Digits with four shards so that 1, 2 and 4 MPI ranks give the same
# weights; a checkpoint at every epoch end (the scripts' --checkpoint-dir). Both runs must
# outlast their signal with room to spare on a fast machine (Zen 5, 2 cores):
# - SHORT (~2 s) the ~0.5 s from its 'epoch 3/' line to the signal that preempt, requeue
#   and mpi_resize send then (at 60 epochs, 0.4 s, mpi_resize's landed at 68 % of the run);
# - LONG (~11 s) the ~5 s until the first SIGUSR1 of the --time=1 --signal=B:USR1@30 job
#   (see wait_for_check); at 400 epochs, 3.7 s, it finished first twice in CI. The resumed
#   run still ends long before the next check 30 s later.
# shellcheck disable=SC2054  # the commas are mlptrain's (--layers 128,64)
SHORT=(--data data/digits.csv --layers 128,64 --batch-size 32 --shards 4 --epochs 300 --seed 3)
# shellcheck disable=SC2054
LONG=(--data data/digits.csv --layers 256,128 --batch-size 32 --shards 4 --epochs 1200 --seed 3)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlptrain-slurm-test.XXXXXX")
chmod 0755 "$WORK"  # munged runs as the munge user and must reach its socket below (own cluster)
OWN_CLUSTER=1
if [[ -n "${MLPTRAIN_SLURM_DIR:-}" ]] && "$CLUSTER" status >/dev/null 2>&1; then
    OWN_CLUSTER=0
else
    export MLPTRAIN_SLURM_DIR=$WORK/cluster
fi
export SLURM_CONF=$MLPTRAIN_SLURM_DIR/slurm.conf
# Open MPI refuses root without these (mpirun scenario). Ranks that wait in MPI yield the
# CPU instead of spinning: on 2 busy cores, spinning ranks made a 1-s run take 14-18 s.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
JOBS=()
SUMMARY=()

job_field() {  # job_field JOBID FIELD: one field of `scontrol show job`, e.g. JobState
    scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

job_active() {  # the job is pending, running or on its way out (an unknown job is not)
    case "$(job_field "$1" JobState)" in
        "" | COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
            return 1 ;;
    esac
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ ${#JOBS[@]} -gt 0 ]]; then
        scancel "${JOBS[@]}" 2>/dev/null
        # Wait until Slurm has really ended them (KillWait is 30 s), so that the next
        # scenario finds the node empty and nothing of ours runs on.
        local job deadline=$((SECONDS + 60))
        for job in "${JOBS[@]}"; do
            while job_active "$job" && ((SECONDS < deadline)); do sleep 0.5; done
            if job_active "$job"; then
                say "FAILED: job $job still $(job_field "$job" JobState) after scancel"
                status=1
            fi
        done
    fi
    if [[ -n "${MLPTRAIN_SLURM_KEEP:-}" ]]; then
        mkdir -p "$MLPTRAIN_SLURM_KEEP/$SCENARIO"
        cp "$WORK"/*.log "$WORK"/*.out "$MLPTRAIN_SLURM_KEEP/$SCENARIO/" 2>/dev/null
        grep -h -E "JobId=($(IFS='|'; echo "${JOBS[*]:-none}")) " "$MLPTRAIN_SLURM_DIR/jobcomp.log" \
            >"$MLPTRAIN_SLURM_KEEP/$SCENARIO/jobcomp.log" 2>/dev/null
    fi
    if ((OWN_CLUSTER)); then
        "$CLUSTER" stop >/dev/null 2>&1 || { say "FAILED: local_cluster.sh stop"; status=1; }
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    say "FAILED: $*"
    local log
    for log in "$WORK"/*.log; do
        [[ -f "$log" ]] || continue
        echo "--- $log (last 30 lines)"
        tail -n 30 "$log"
    done
    if [[ -n "${JOB:-}" ]]; then
        echo "--- scontrol show job $JOB"
        scontrol show job "$JOB" 2>&1
    fi
    [[ -f "$MLPTRAIN_SLURM_DIR/jobcomp.log" ]] && { echo "--- jobcomp.log (last 10)"; tail -n 10 "$MLPTRAIN_SLURM_DIR/jobcomp.log"; }
    [[ -f "$MLPTRAIN_SLURM_DIR/slurmctld.log" ]] && { echo "--- slurmctld.log (last 20)"; tail -n 20 "$MLPTRAIN_SLURM_DIR/slurmctld.log"; }
    exit 1
}

# The fingerprint of a run outside Slurm, cached per binary and arguments.
reference_fingerprint() {
    local key file
    key=$( (sha256sum <"$BINARY"; printf '%s\n' "$@") | sha256sum | cut -c1-16)
    file=$CACHE/fingerprint-$key
    if [[ ! -s "$file" ]]; then
        mkdir -p "$CACHE"
        (cd "$WORK" && "$BINARY" train "$@" --quiet) | sed -n 's/^weights fingerprint: //p' >"$file.tmp"
        [[ -s "$file.tmp" ]] || fail "the reference run outside Slurm printed no fingerprint"
        mv "$file.tmp" "$file"
    fi
    cat "$file"
}

wait_for_end() {  # wait_for_end JOBID SECONDS: until the job is in a final state
    local deadline=$((SECONDS + $2))
    while job_active "$1"; do
        ((SECONDS < deadline)) || fail "job $1 still $(job_field "$1" JobState) after $2 s"
        sleep 0.5
    done
}

wait_for_log() {  # wait_for_log FILE PATTERN SECONDS
    local deadline=$((SECONDS + $3))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "no '$2' in $1 after $3 s"
        sleep 0.2
    done
}

wait_for_check() {  # wait_for_check LEAD: until LEAD s before slurmctld's next time-limit check
    # slurmctld checks time limits, and sends --signal warnings, every 30 s counted from its
    # start (PERIODIC_TIMEOUT); measured: warnings at start + 30.2 s for every job.
    local start now target
    start=$(stat -c %Y "$MLPTRAIN_SLURM_DIR/slurmctld.pid")
    now=$(date +%s)
    target=$((start + 30 - $1))
    while ((target < now)); do target=$((target + 30)); done
    sleep $((target - now))
}

submit() {  # submit [sbatch options] SCRIPT [training args]: sets JOB and LOG
    JOB=$(sbatch --parsable "$@") || fail "sbatch $* failed"
    JOB=${JOB%%;*}
    JOBS+=("$JOB")
    LOG=$WORK/$(job_field "$JOB" StdOut | xargs basename)
    say "submitted job $JOB"
}

check_finished() {  # check_finished EXPECTED_FINGERPRINT MIN_RESTARTS [MAX_RESTARTS]
    local state exit_code restarts fingerprint
    state=$(job_field "$JOB" JobState)
    exit_code=$(job_field "$JOB" ExitCode)
    restarts=$(job_field "$JOB" Restarts)
    fingerprint=$(sed -n 's/^weights fingerprint: //p' "$LOG" | tail -n 1)
    say "job $JOB: JobState=$state ExitCode=$exit_code Restarts=$restarts fingerprint=$fingerprint (reference $1)"
    SUMMARY+=("job $JOB restarts $restarts fingerprint $fingerprint reference $1")
    [[ "$state" == COMPLETED && "$exit_code" == 0:0 ]] || fail "job $JOB ended $state with ExitCode=$exit_code"
    ((restarts >= $2 && restarts <= ${3:-$2})) || fail "job $JOB restarted $restarts times, expected $2..${3:-$2}"
    [[ "$fingerprint" == "$1" ]] || fail "fingerprint $fingerprint differs from the run outside Slurm ($1)"
    [[ $(grep -c '^weights fingerprint: ' "$LOG") -eq 1 ]] || fail "more than one fingerprint in $LOG (duplicate trainings?)"
}

check_resumed() {  # check_resumed SIGNAL: the log shows the stop on SIGNAL and a resume
    grep -q "^stopped by signal $1 at step" "$LOG" || fail "no 'stopped by signal $1' in $LOG"
    grep -q '^resumed from ' "$LOG" || fail "no 'resumed from' in $LOG"
    say "$(grep -E "^(stopped by signal|resumed from) " "$LOG" | cut -c1-90 | tr '\n' '|')"
}

check_duplicate_refused() {  # check_duplicate_refused OUT STATUS: both srun tasks refused
    cat "$1"
    [[ $2 -eq 2 ]] || fail "srun --mpi=none -n 2 mlptrain exited $2, expected 2"
    local task
    for task in 0 1; do
        grep -q "^$task: mlptrain: error: started as task $task of 2 .*srun --mpi=pmix.*MpiDefault=pmix" "$1" ||
            fail "task $task did not refuse with a message naming srun --mpi=pmix and MpiDefault=pmix"
    done
    grep -q 'tasks 0-1: Exited with exit code 2' "$1" || fail "srun did not report exit code 2 for both tasks"
    ! grep -q 'weights fingerprint' "$1" || fail "a task trained"
}

# The submit directory holds what a user's would: build/mlptrain and data/, so that the
# scripts' defaults and relative paths are what is tested.
mkdir -p "$WORK/build"
ln -s "$BINARY" "$WORK/build/mlptrain"
ln -s "$SOURCE_DIR/data" "$WORK/data"
cd "$WORK" || fail "cannot enter $WORK"
TRAIN=$SOURCE_DIR/scripts/slurm/train.sbatch
TRAIN_MPI=$SOURCE_DIR/scripts/slurm/train_mpi.sbatch

if ((OWN_CLUSTER)); then
    "$CLUSTER" start >"$WORK/cluster-start.out" 2>&1 || { cat "$WORK/cluster-start.out"; fail "local_cluster.sh start failed"; }
    say "own cluster up"
else
    say "using the cluster in $MLPTRAIN_SLURM_DIR"
fi

case "$SCENARIO" in
    straight)
        expected=$(reference_fingerprint "${SHORT[@]}")
        submit --cpus-per-task=2 "$TRAIN" "${SHORT[@]}"
        wait_for_end "$JOB" 120
        check_finished "$expected" 0
        ;;
    preempt)
        expected=$(reference_fingerprint "${SHORT[@]}")
        submit --cpus-per-task=2 "$TRAIN" "${SHORT[@]}"
        wait_for_log "$LOG" '^epoch 3/' 60
        # What --signal=B:USR1@N delivers: SIGUSR1 to the batch shell alone.
        scancel --signal=USR1 --batch "$JOB" || fail "scancel --signal=USR1 --batch $JOB failed"
        wait_for_end "$JOB" 180
        check_resumed 10
        check_finished "$expected" 1
        ;;
    timelimit)
        expected=$(reference_fingerprint "${LONG[@]}")
        for attempt in 1 2; do
            # Run 1 starts 5 s before a check, so SIGUSR1 comes ~5 s into it whatever the
            # machine's speed; later runs get theirs up to 30 s in, or finish first.
            wait_for_check 5
            submit --cpus-per-task=2 --time=1 --signal=B:USR1@30 "$TRAIN" "${LONG[@]}"
            wait_for_end "$JOB" 300
            # A signal that lands in the ~0.1 s before the batch script runs is dropped by
            # Slurm (the run then just finishes: Restarts=0); in the first milliseconds of
            # bash, before its trap, it kills the shell (ExitCode 0:10). Slurm's timing, not
            # the script's: try once more.
            if [[ $attempt == 1 && ($(job_field "$JOB" Restarts) == 0 || $(job_field "$JOB" ExitCode) == 0:10) ]]; then
                say "job $JOB: the warning signal came before the script could take it ($(job_field "$JOB" JobState)" \
                    "$(job_field "$JOB" ExitCode), Restarts=$(job_field "$JOB" Restarts)); once more"
                continue
            fi
            break
        done
        check_resumed 10
        check_finished "$expected" 1 5
        ;;
    requeue)
        # A node failure stand-in: Slurm requeues the job itself, SIGTERM to all its processes.
        expected=$(reference_fingerprint "${SHORT[@]}")
        submit --cpus-per-task=2 "$TRAIN" "${SHORT[@]}"
        wait_for_log "$LOG" '^epoch 3/' 60
        scontrol requeue "$JOB" || fail "scontrol requeue $JOB failed"
        wait_for_end "$JOB" 180
        check_resumed 15
        check_finished "$expected" 1
        ;;
    duplicate)
        # Two tasks that MPI does not join must both refuse, before writing anything; the
        # same for bench. With the documented opt-out they train, independently.
        out=$WORK/duplicate-train.out
        srun --mpi=none -n 2 -l build/mlptrain train --data data/iris.csv --epochs 5 \
            --checkpoint-dir "$WORK/dup-checkpoints" --metrics-out "$WORK/dup-metrics.jsonl" >"$out" 2>&1
        status=$?
        say "srun --mpi=none -n 2 mlptrain train: exit $status"
        check_duplicate_refused "$out" "$status"
        [[ ! -e "$WORK/dup-checkpoints" && ! -e "$WORK/dup-metrics.jsonl" ]] || fail "a refused task wrote files"
        out=$WORK/duplicate-bench.out
        srun --mpi=none -n 2 -l build/mlptrain bench --layers 4,8,3 --batch-size 8 --steps 1 --warmup 0 \
            --no-ceiling >"$out" 2>&1
        status=$?
        say "srun --mpi=none -n 2 mlptrain bench: exit $status"
        check_duplicate_refused "$out" "$status"
        out=$WORK/independent.out
        MLPTRAIN_INDEPENDENT_TASKS=1 srun --mpi=none -n 2 -l build/mlptrain train --data data/iris.csv \
            --epochs 2 --quiet >"$out" 2>&1
        status=$?
        say "MLPTRAIN_INDEPENDENT_TASKS=1 srun --mpi=none -n 2 mlptrain train: exit $status"
        cat "$out"
        [[ $status -eq 0 && $(grep -c '^[01]: weights fingerprint: ' "$out") -eq 2 ]] ||
            fail "with MLPTRAIN_INDEPENDENT_TASKS=1 both tasks should train"
        SUMMARY+=("srun --mpi=none -n 2: train and bench exit 2 on both tasks, nothing written; opt-out: 2 trainings")
        ;;
    mpi)
        expected=$(reference_fingerprint "${SHORT[@]}")
        submit --nodes=1 --ntasks=2 --cpus-per-task=1 "$TRAIN_MPI" "${SHORT[@]}"
        wait_for_end "$JOB" 120
        grep -q ': srun --mpi=pmix --cpus-per-task=1 ' "$LOG" || fail "job $JOB did not launch with srun --mpi=pmix"
        check_finished "$expected" 0
        ;;
    mpi_resize)
        # Preempted on 2 ranks in a job that may not requeue (--no-requeue): the script's
        # `scontrol requeue` is refused, so it exits 75 and Slurm records FAILED 75:0. The
        # user resubmits on 1 task with CHECKPOINTS naming the first job's directory; the
        # checkpoint resumes on any number of ranks to the same weights. (Not 4 tasks: on
        # 2 CPUs that needs --overcommit, which Slurm rejects together with the script's
        # --ntasks-per-node, and a command line cannot unset that.)
        expected=$(reference_fingerprint "${SHORT[@]}")
        submit --no-requeue --nodes=1 --ntasks=2 --cpus-per-task=1 "$TRAIN_MPI" "${SHORT[@]}"
        first=$JOB
        wait_for_log "$LOG" '^epoch 3/' 60
        scancel --signal=USR1 --batch "$JOB" || fail "scancel --signal=USR1 --batch $JOB failed"
        wait_for_end "$JOB" 120
        state=$(job_field "$JOB" JobState) exit_code=$(job_field "$JOB" ExitCode)
        say "job $JOB: JobState=$state ExitCode=$exit_code Restarts=$(job_field "$JOB" Restarts)"
        [[ "$state" == FAILED && "$exit_code" == 75:0 ]] || fail "job $JOB ended $state $exit_code, expected FAILED 75:0"
        grep -q '^stopped by signal 10 at step' "$LOG" || fail "job $JOB did not checkpoint on SIGUSR1"
        SUMMARY+=("job $JOB (2 tasks) $state $exit_code, $(grep -o '^stopped by signal 10 at step [0-9]*' "$LOG")")
        CHECKPOINTS=checkpoints/mlptrain-mpi-$first submit --nodes=1 --ntasks=1 --ntasks-per-node=1 --cpus-per-task=2 \
            "$TRAIN_MPI" "${SHORT[@]}"
        wait_for_end "$JOB" 180
        grep -q 'run 1, 1 task(s)' "$LOG" || fail "job $JOB did not run 1 task"
        grep -q '^resumed from ' "$LOG" || fail "job $JOB did not resume job $first's checkpoint"
        check_finished "$expected" 0
        ;;
    mpirun)
        # The script's documented alternative launcher.
        expected=$(reference_fingerprint "${SHORT[@]}")
        MLPTRAIN_LAUNCHER=mpirun submit --nodes=1 --ntasks=2 --cpus-per-task=1 "$TRAIN_MPI" "${SHORT[@]}"
        wait_for_end "$JOB" 120
        grep -q ': mpirun -np 2 --bind-to none ' "$LOG" || fail "job $JOB did not launch with mpirun"
        check_finished "$expected" 0
        ;;
    *)
        say "unknown scenario"
        exit 2
        ;;
esac
for line in "${SUMMARY[@]}"; do
    say "summary: $line"
    if [[ -n "${MLPTRAIN_SLURM_SUMMARY:-}" ]]; then
        printf '%-11s %4ss  %s\n' "$SCENARIO" "$SECONDS" "$line" >>"$MLPTRAIN_SLURM_SUMMARY"
    fi
done
say "passed"
