#!/usr/bin/env bash
# A private one-node Slurm cluster on this machine, for trying the job scripts and for the
# slurm-labelled tests: munged, slurmctld and slurmd run in the background from one state
# directory, without systemd and without touching /etc/slurm. Needs root and Debian's
# slurm-wlm and munge (scripts/setup.sh --with slurm).
#
#   scripts/slurm/local_cluster.sh start    # idempotent; prints the SLURM_CONF to export
#   scripts/slurm/local_cluster.sh status   # exit 0 when all three daemons answer
#   scripts/slurm/local_cluster.sh stop     # cancels jobs, stops daemons, removes the directory
#   scripts/slurm/local_cluster.sh env      # prints `export SLURM_CONF=...` for eval
#
# Client commands (sbatch, srun, scontrol, squeue) find the cluster through SLURM_CONF;
# sbatch exports the submitter's environment, so srun and scontrol inside a job find it too.
set -euo pipefail

STATE_DIR=${MLPTRAIN_SLURM_DIR:-${TMPDIR:-/tmp}/mlptrain-slurm}
CONF=$STATE_DIR/slurm.conf
MUNGE_DIR=$STATE_DIR/munge
MUNGE_KEY=${MUNGE_KEY:-/etc/munge/munge.key}
# Every daemon gets this variable; `stop` finds a straggler (a slurmstepd whose job would
# not die) by it, and never touches a process it did not start.
MARKER="MLPTRAIN_LOCAL_SLURM=$STATE_DIR"

log() { echo "local_cluster: $*" >&2; }
die() { log "$*"; exit 1; }

pid_alive() {  # pid_alive FILE: the pid in FILE is a running process
    local pid
    [[ -r "$1" ]] || return 1
    pid=$(<"$1")
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

process_gone() { ! kill -0 "$1" 2>/dev/null; }

port_in_use() {  # something listens on 127.0.0.1:PORT (bash's /dev/tcp: no ss/netstat needed)
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {  # free_port FIRST [EXCEPT]: the first port from FIRST that nothing listens on
    local port=$1
    while port_in_use "$port" || [[ "$port" == "${2:-}" ]]; do
        port=$((port + 1))
        ((port < 65000)) || die "no free port found above $1"
    done
    echo "$port"
}

wait_for() {  # wait_for SECONDS COMMAND...: poll every 0.2 s until COMMAND succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

no_jobs() {  # no job pending, running or completing
    [[ -z "$(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null)" ]]
}

node_idle() {  # the one node has registered and can take jobs
    [[ "$(SLURM_CONF=$CONF sinfo -h -N -o %T 2>/dev/null)" =~ ^(idle|mixed|allocated) ]]
}

check_prerequisites() {
    [[ $EUID -eq 0 ]] || die "needs root (the cluster runs its daemons and jobs as root: SlurmUser=root)"
    local tool
    for tool in munged slurmctld slurmd sbatch scontrol sinfo runuser; do
        command -v "$tool" >/dev/null ||
            die "$tool not found; install Slurm and MUNGE: scripts/setup.sh --with slurm (apt-get install slurm-wlm munge)"
    done
    id munge >/dev/null 2>&1 || die "no 'munge' user; reinstall the munge package"
    if [[ ! -s "$MUNGE_KEY" ]]; then
        # Debian's munge package creates the key at install time; make one if it is missing.
        log "creating the MUNGE key $MUNGE_KEY"
        install -d -o munge -g munge -m 0700 "$(dirname "$MUNGE_KEY")"
        mungekey --create --keyfile="$MUNGE_KEY"
        chown munge:munge "$MUNGE_KEY"
        chmod 0600 "$MUNGE_KEY"
    fi
}

write_config() {
    local ctld_port slurmd_port node cpus memory
    ctld_port=$(free_port 16817)
    slurmd_port=$(free_port $((ctld_port + 1)) "$ctld_port")
    node=$(hostname -s)
    # `slurmd -C` prints this node's CPUs, sockets, cores, threads and memory exactly as
    # slurmd will register them; declaring more would drain the node, fewer would waste.
    local hardware
    hardware=$(slurmd -C | sed -n 's/^NodeName=[^ ]* //p')
    cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hardware")
    memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hardware")
    cat >"$CONF" <<EOF
# Written by scripts/slurm/local_cluster.sh: a one-node cluster for testing job scripts.
ClusterName=mlptrain-local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
# Our own munged socket. cred_expire (default 120 s, minimum 5) is also how long a
# requeued batch job waits before it may start again (BeginTime = requeue + cred_expire
# + 1, slurmctld's batch_requeue_fini): with the default, every requeue costs two minutes.
AuthInfo=socket=$MUNGE_DIR/munge.socket,cred_expire=5
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/slurmctld.log
SlurmdLogFile=$STATE_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups and no systemd here: processes are tracked through /proc and not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Debian's default, and common: a plain srun starts independent processes, not MPI ranks.
MpiDefault=none
JobRequeue=1
ReturnToService=2
# Schedule at once on every event and re-check pending jobs every 2 s, so that a requeued
# job starts as soon as its BeginTime passes (the default main-loop interval is 60 s).
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
# Finished jobs stay visible to scontrol (ExitCode, Restarts) for 10 minutes.
MinJobAge=600
# SIGTERM to SIGKILL at a time limit, cancel or requeue: long enough for a checkpoint.
KillWait=30
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# One line per finished run of a job (also each requeued run), with its exit code.
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE_DIR/jobcomp.log
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    log "slurm.conf: node $node, CPUs=$cpus RealMemory=${memory}M, ports $ctld_port/$slurmd_port"
}

start_munged() {
    if pid_alive "$MUNGE_DIR/munged.pid"; then return; fi
    install -d -o munge -g munge -m 0755 "$MUNGE_DIR"
    runuser -u munge -- env "$MARKER" munged --socket="$MUNGE_DIR/munge.socket" \
        --key-file="$MUNGE_KEY" --pid-file="$MUNGE_DIR/munged.pid" \
        --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" ||
        die "munged did not start; see $MUNGE_DIR/munged.log"
    wait_for 10 test -S "$MUNGE_DIR/munge.socket" || die "munged made no socket; see $MUNGE_DIR/munged.log"
}

start() {
    check_prerequisites
    if status >/dev/null 2>&1; then
        log "already running"
        echo "export SLURM_CONF=$CONF"
        return
    fi
    # A half-started or crashed cluster: clear it away and start afresh.
    if [[ -d "$STATE_DIR" ]]; then
        stop >/dev/null 2>&1 || die "could not clear away the old cluster in $STATE_DIR"
    fi
    install -d -m 0755 "$STATE_DIR" "$STATE_DIR/state" "$STATE_DIR/spool"
    write_config
    start_munged
    # Both daemons fork into the background and write their pid files (-i: no old state).
    env "$MARKER" SLURM_CONF="$CONF" slurmctld -i -f "$CONF" ||
        die "slurmctld did not start; see $STATE_DIR/slurmctld.log"
    wait_for 20 env SLURM_CONF="$CONF" scontrol ping ||
        die "slurmctld does not answer; see $STATE_DIR/slurmctld.log"
    env "$MARKER" SLURM_CONF="$CONF" slurmd -f "$CONF" -N "$(hostname -s)" ||
        die "slurmd did not start; see $STATE_DIR/slurmd.log"
    wait_for 30 node_idle || die "the node did not become idle; see $STATE_DIR/slurmd.log and slurmctld.log"
    log "up: $(SLURM_CONF=$CONF sinfo -h -o '%P %a %D %T %C')"
    echo "export SLURM_CONF=$CONF"
}

status() {
    local ok=0 name
    for name in munge/munged slurmctld slurmd; do
        if pid_alive "$STATE_DIR/$name.pid"; then
            echo "${name#munge/}: running (pid $(<"$STATE_DIR/$name.pid"))"
        else
            echo "${name#munge/}: not running"
            ok=1
        fi
    done
    if ((ok == 0)); then
        echo "SLURM_CONF=$CONF"
        SLURM_CONF=$CONF sinfo -N -o '%N %T %C %m' || ok=1
        SLURM_CONF=$CONF squeue -o '%i %j %T %M %r' || ok=1
    fi
    return "$ok"
}

marked_pids() {  # processes started by this cluster (the daemons and their slurmstepds)
    local file pid
    # -z: environ entries end with NUL; -x: the whole entry. Unreadable entries are skipped.
    # shellcheck disable=SC2013  # /proc paths have no spaces
    for file in $(grep -lzxF "$MARKER" /proc/[0-9]*/environ 2>/dev/null); do
        pid=${file#/proc/}
        pid=${pid%/environ}
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] || echo "$pid"
    done
}

stop() {
    if [[ ! -d "$STATE_DIR" ]]; then
        log "not running"
        return 0
    fi
    export SLURM_CONF=$CONF
    if pid_alive "$STATE_DIR/slurmctld.pid"; then
        # Cancel every job first so that slurmd ends their processes (SIGTERM, then SIGKILL
        # after KillWait); requeueable jobs must not come back while we shut down.
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [[ -n "$jobs" ]]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            wait_for 40 no_jobs || log "jobs still listed: $(squeue -h -o %i | tr '\n' ' ')"
        fi
        scontrol shutdown >/dev/null 2>&1 || true
    fi
    local name pid
    for name in slurmd slurmctld munge/munged; do
        if pid_alive "$STATE_DIR/$name.pid"; then
            pid=$(<"$STATE_DIR/$name.pid")
            kill -TERM "$pid" 2>/dev/null || true
            wait_for 15 process_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Stragglers carry our marker in their environment: a slurmstepd still cleaning up.
    local stragglers
    stragglers=$(marked_pids)
    if [[ -n "$stragglers" ]]; then
        log "ending leftover processes: $(tr '\n' ' ' <<<"$stragglers")"
        # shellcheck disable=SC2086
        kill -TERM $stragglers 2>/dev/null || true
        sleep 1
        stragglers=$(marked_pids)
        # shellcheck disable=SC2086
        [[ -z "$stragglers" ]] || kill -KILL $stragglers 2>/dev/null || true
    fi
    rm -rf "$STATE_DIR"
    # Nothing may survive a stop: say so (and fail) if a process or the directory did.
    stragglers=$(marked_pids)
    if [[ -n "$stragglers" || -e "$STATE_DIR" ]]; then
        log "left behind: processes ${stragglers:-none}, directory $([[ -e "$STATE_DIR" ]] && echo "$STATE_DIR" || echo none)"
        return 1
    fi
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *)
        echo "usage: $0 start|stop|status|env   (state in \$MLPTRAIN_SLURM_DIR, default ${TMPDIR:-/tmp}/mlptrain-slurm)" >&2
        exit 2
        ;;
esac
