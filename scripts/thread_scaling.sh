#!/usr/bin/env bash
# Thread scaling on one many-core machine, with the BLAS core mlptrain picks and the ones a
# user can force: `mlptrain bench --json` on 784-1024-1024-10 (batch 2048) and 784-256-128-10
# (batch 1024), 16 shards each (shard shapes never depend on threads), at every thread count;
# the same with OPENBLAS_CORETYPE set by the user (each --user-cores name: the note path) and
# with oneDNN fp32 / bf16 at 1 thread and the most threads; then the determinism checks
# (digits, 16 shards, and 2 shards of a network whose shards teams of threads share: one
# weights fingerprint at every thread count). Prints markdown tables (with each run's
# evaluation speed: bench's forward passes, a lane per shard, or per thread where there are
# more threads) and keeps every JSON object.
#
#   scripts/thread_scaling.sh [--bin PATH] [--threads 1,2,4,8,16] [--seconds S]
#       [--networks 784-1024-1024-10/2048,784-256-128-10/1024] [--shards 16]
#       [--user-cores Haswell,Prescott] [--no-onednn] [--out DIR]
#
# Defaults: build/mlptrain, powers of two up to the CPUs in the affinity mask (and that count),
# 2 s per point, --out bench-results/scaling. Speed-up is against this run's 1-thread point of
# the same network and core; efficiency is samples/s over bench's in-process GEMM ceiling (T
# concurrent callers of the shards' rows, or with more threads than shards the team members'
# blocks of a shard; builds before 2026-12-04 used batch/T rows, larger GEMMs than the shards
# below 16 threads, and smaller than a team's blocks); peak fraction is GFLOP/s over the FMA
# peak.
# Exit status: 0; 1 when a point or the determinism check failed (a point mlptrain refuses
# here, such as bf16 on a CPU without it, is reported as skipped); 2 for bad arguments.
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "thread_scaling.sh: $*" >&2; exit 2; }

BIN=build/mlptrain THREADS="" SECONDS_PER_POINT=2 USER_CORES="Haswell,Prescott" ONEDNN=1
OUTDIR=bench-results/scaling NETWORKS_ARG=784-1024-1024-10/2048,784-256-128-10/1024 SHARDS=16
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin|--threads|--seconds|--user-cores|--out|--networks|--shards)
            [[ $# -ge 2 ]] || die "$1 needs a value (see --help)" ;;&
        --bin) BIN=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --seconds) SECONDS_PER_POINT=$2; shift 2 ;;
        --user-cores) USER_CORES=$2; shift 2 ;;
        --out) OUTDIR=$2; shift 2 ;;
        --networks) NETWORKS_ARG=$2; shift 2 ;;
        --shards) SHARDS=$2; shift 2 ;;
        --no-onednn) ONEDNN=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
# --bin and --out are read from where the script was called.
[[ $BIN == build/mlptrain || $BIN == /* ]] || BIN=$CALLER_DIR/$BIN
[[ $OUTDIR == bench-results/scaling || $OUTDIR == /* ]] || OUTDIR=$CALLER_DIR/$OUTDIR
if [[ $BIN == build/mlptrain && ! -x $BIN ]]; then scripts/build.sh >/dev/null; fi
[[ -x $BIN ]] || die "no executable mlptrain at '$BIN' (build it with scripts/build.sh or pass --bin)"
[[ $SECONDS_PER_POINT =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--seconds takes a number of seconds, got '$SECONDS_PER_POINT'"
CPUS=$(nproc)
if [[ -z $THREADS ]]; then
    THREADS=1
    for ((t = 2; t < CPUS; t *= 2)); do THREADS+=",$t"; done
    ((CPUS > 1)) && THREADS+=",$CPUS"
fi
[[ $THREADS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--threads takes a list such as 1,2,4, got '$THREADS'"
IFS=, read -r -a THREAD_LIST <<<"$THREADS"
[[ $SHARDS =~ ^[1-9][0-9]*$ ]] || die "--shards takes a positive count, got '$SHARDS'"
[[ $NETWORKS_ARG =~ ^[1-9][0-9]*(-[1-9][0-9]*)+/[1-9][0-9]*(,[1-9][0-9]*(-[1-9][0-9]*)+/[1-9][0-9]*)*$ ]] ||
    die "--networks takes LAYERS/BATCH items such as 784-1024-1024-10/2048,4-16-3/64, got '$NETWORKS_ARG'"
NETWORKS=()
for item in ${NETWORKS_ARG//,/ }; do NETWORKS+=("${item%/*} ${item#*/}"); done
MOST=${THREAD_LIST[-1]}
mkdir -p "$OUTDIR"
JSONL=$OUTDIR/scaling.jsonl
: >"$JSONL"

# point LABEL ENV... -- BENCH_ARGS...: one bench run, its JSON object (with "label") appended.
# A run mlptrain refuses with exit status 2 (bf16 on a CPU without it, a build without oneDNN)
# is reported as skipped; any other failure as FAILED, and the script then exits 1.
FAILURES=0
point() {
    local label=$1; shift
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    local line rc=0
    line=$(env "${envs[@]}" "$BIN" bench --shards "$SHARDS" --seconds "$SECONDS_PER_POINT" \
        --warmup-seconds 0.5 --json "$@" 2>"$OUTDIR/last.err" | tail -n 1) || rc=$?
    if ((rc == 0)) && [[ $line == '{'* ]]; then
        python3 -c 'import json,sys; j=json.loads(sys.argv[1]); j["label"]=sys.argv[2]; print(json.dumps(j))' \
            "$line" "$label" >>"$JSONL"
        printf '  %-34s %s\n' "$label $*" "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print("%s samples/s, core %s, efficiency %.2f" % (format(j["samples_per_s"], ",.0f"), j.get("blas_core"), j.get("efficiency", 0)))' "$line")"
    elif ((rc == 2)); then
        printf '  %-34s skipped: %s\n' "$label $*" "$(head -c 300 "$OUTDIR/last.err" | tr '\n' ' ')"
    else
        printf '  %-34s FAILED (exit %s): %s\n' "$label $*" "$rc" "$(head -c 300 "$OUTDIR/last.err" | tr '\n' ' ')"
        FAILURES=$((FAILURES + 1))
    fi
}

echo "thread_scaling.sh: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $CPUS CPUs, threads $THREADS, $(date -u +%FT%TZ)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-(unset)}"
{ "$BIN" bench --layers 4,8,3 --batch-size 16 --steps 1 --warmup 0 --no-ceiling 2>&1 || true; } | sed -n '1,12p' | sed 's/^/  | /'

for net in "${NETWORKS[@]}"; do
    read -r layers batch <<<"$net"
    layers=${layers//-/,}
    echo "network $layers, batch $batch, $SHARDS shards"
    for t in "${THREAD_LIST[@]}"; do
        point auto -- --layers "$layers" --batch-size "$batch" --threads "$t"
    done
    for core in ${USER_CORES//,/ }; do
        for t in 1 "$MOST"; do
            point "user:$core" OPENBLAS_CORETYPE="$core" -- --layers "$layers" --batch-size "$batch" --threads "$t"
        done
    done
    if ((ONEDNN)); then
        for t in 1 "$MOST"; do
            point onednn -- --layers "$layers" --batch-size "$batch" --threads "$t" --gemm onednn
            point bf16 -- --layers "$layers" --batch-size "$batch" --threads "$t" --precision bf16
        done
    fi
done

echo "determinism: data/digits.csv, $SHARDS shards (scripts/determinism.sh)"
scripts/determinism.sh --bin "$BIN" --threads "$THREADS" --shards "$SHARDS" 2>&1 | sed 's/^/  /' ||
    FAILURES=$((FAILURES + 1))
# Hidden layers big enough for teams of threads to share each of 2 shards (where the kernels
# split exactly; the lines say when a team ran).
echo "determinism with teams: data/digits.csv, 64-1024-1024-10, batch 256, 2 shards (scripts/determinism.sh)"
scripts/determinism.sh --bin "$BIN" --threads "$THREADS" --shards 2 --layers 1024,1024 --batch-size 256 2>&1 |
    sed 's/^/  /' || FAILURES=$((FAILURES + 1))

python3 - "$JSONL" <<'PY' | tee "$OUTDIR/scaling.md"
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
if runs:
    print("\n| network | kernels | threads | samples/s | speed-up | GEMM ceiling | efficiency | peak fraction "
          "| evaluation samples/s (lanes) | BLAS core (why) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
base = {}
for r in runs:
    net = "-".join(map(str, r["layers"])) + f" b{r['batch_size']}"
    kind = r["label"]
    if kind in ("onednn", "bf16"):  # a bf16 run on a network too small to gain falls back to fp32
        kind = f"oneDNN {r['precision']}" if r["gemm"] == "onednn" else f"{kind} (fell back to {r['gemm']} {r['precision']})"
    key = (net, kind)
    if r["threads"] == 1:
        base[key] = r["samples_per_s"]
    speedup = f"{r['samples_per_s'] / base[key]:.2f}" if key in base else "n/a"
    ceiling = r.get("ceiling_samples_per_s")
    core = "oneDNN" if r["gemm"] == "onednn" else f"{r.get('blas_core')} ({r.get('blas_core_reason')})"
    limits = f"{ceiling:,.0f} | {r['efficiency']:.2f} | {r['peak_fraction']:.3f}" if ceiling else "n/a | n/a | n/a"
    evaluation = f"{r['eval_samples_per_s']:,.0f} ({r['eval_lanes']})" if r.get("eval_samples_per_s") else "n/a"
    print(f"| {net} | {kind} | {r['threads']} | {r['samples_per_s']:,.0f} | {speedup} | {limits} | {evaluation} | {core} |")
if runs:
    r = runs[0]
    print(f"\nFMA peak {r.get('peak_gflops', 0):,.0f} GFLOP/s ({r.get('peak_isa')}) at {r['threads']} thread(s); "
          f"BLAS self-test {r.get('blas_self_test_ms', 0):.1f} ms, selection {r.get('blas_selection_ms', 0):.1f} ms; "
          f"{r['environment'].get('cpu_model')}, ISA {r['environment'].get('isa_flags')}; oneDNN: {r['environment'].get('onednn')}")
PY
echo "JSON objects: $JSONL"
if ((FAILURES)); then echo "thread_scaling.sh: $FAILURES failure(s), above" >&2; exit 1; fi
