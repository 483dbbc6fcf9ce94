#!/usr/bin/env bash
# The speed of a step with the vCPUs placed close together and placed apart: on a VM the host
# moves the two vCPUs between cores that share a cache (cross-core round trip 50-80 ns) and
# cores that do not (350-600 ns), and what crosses cores in a step (the reduction most) moves
# with it (README, "Speed"). Runs the points that the efficiency targets name, 2 threads:
# 784-1024-1024-10 batch 256 and 784-256-128-10 batch 64, each with the environment's kernels
# and with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (the widest core; one set when the
# environment sets neither), and 784-1024-1024-10 batch 256 with --gemm onednn (fp32; when the
# build has oneDNN), in interleaved
# rounds of `mlptrain bench --json`, until every point has --runs runs in each placement or
# --minutes have passed; then prints, per point and placement, the runs and the medians of
# the round trip, samples/s, efficiency (plain and in lock step), the reduce and update phases,
# the share of steps whose update used plain weight stores and how many runs used them in a
# quarter of their steps or more, the step's GEMM calls over their time at the ceiling's
# rate, the point's efficiency target with whether the median holds it, and the most its
# measured GEMM calls and reduce and update sweeps allow (scripts/bench_report.py
# placement). Every run goes to DIR/placement.jsonl.
#
# usage: scripts/placement_bench.sh [--minutes M] [--runs N] [--seconds S] [--threshold NS]
#                                   [--weight-stores LIST] [--baseline PATH] [--keep-disturbed]
#                                   [--out DIR] [--no-build | --binary PATH]
#   --minutes M      stop after this many minutes even if a placement was not seen (default 30)
#   --runs N         runs wanted per point in each placement (default 3); a run during which
#                    other processes took CPUs it needed is "disturbed": kept in the records,
#                    left out of the count and the table (as bench.sh marks them)
#   --keep-disturbed count disturbed runs too (on a machine that is never idle)
#   --seconds S      timed seconds per run (default 2)
#   --threshold NS   a run is "close" when its round trip is below this (default 150)
#   --weight-stores LIST  comma-separated settings of mlptrain's --weight-stores (auto,
#                    streaming, plain; default auto): each point runs with each in turn, and
#                    one that fixes the kind is a point of its own ("Cooperlake, plain
#                    stores"). `--weight-stores streaming,plain,auto` measures what the
#                    update's stores do in each placement (README, "The step outside the GEMMs").
#   --baseline PATH  also run every point with this mlptrain binary (another build, e.g. the
#                    commit before a change), right before or after the measured one (the
#                    order flips every round), as a point of its own ("Cooperlake, baseline")
#   --out DIR        where placement.jsonl goes (default bench-results; it is replaced)
#   --no-build       use build/mlptrain as it is; --binary PATH: this binary instead
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "placement_bench.sh: $*" >&2; exit 2; }

CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MINUTES=30 RUNS=3 SECONDS_PER_RUN=2 THRESHOLD=150 OUT=bench-results BUILD=1 BINARY=build/mlptrain KEEP=0 STORES=auto
BASELINE=
number() {  # number FLAG VALUE: a positive number, else exit 2
    [[ $2 =~ ^[0-9]+([.][0-9]+)?$ && ! $2 =~ ^0+([.]0+)?$ ]] ||
        die "$1 expects a positive number, got '$2' (e.g. $1 3)"
}
while [[ $# -gt 0 ]]; do
    case "$1" in
        --minutes|--runs|--seconds|--threshold|--out|--binary|--weight-stores|--baseline)
            [[ $# -ge 2 ]] || die "$1 needs a value (see --help)" ;;&
        --minutes) number "$1" "$2"; MINUTES=$2; shift 2 ;;
        --runs) [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--runs expects a whole number >= 1, got '$2'"; RUNS=$2; shift 2 ;;
        --seconds) number "$1" "$2"; SECONDS_PER_RUN=$2; shift 2 ;;
        --threshold) number "$1" "$2"; THRESHOLD=$2; shift 2 ;;
        --out) OUT=$2; [[ $OUT = /* ]] || OUT=$CALLER_DIR/$OUT; shift 2 ;;
        --weight-stores)
            [[ $2 =~ ^(auto|streaming|plain)(,(auto|streaming|plain))*$ ]] ||
                die "--weight-stores expects a comma-separated list of auto, streaming, plain, got '$2' (e.g. --weight-stores streaming,plain,auto)"
            STORES=$2; shift 2 ;;
        --baseline) BASELINE=$2; [[ $BASELINE = /* ]] || BASELINE=$CALLER_DIR/$BASELINE; shift 2 ;;
        --keep-disturbed) KEEP=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --binary) BINARY=$2; [[ $BINARY = /* ]] || BINARY=$CALLER_DIR/$BINARY; BUILD=0; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
if [[ $BUILD = 1 ]]; then scripts/build.sh --target mlptrain >&2; fi
[[ -x $BINARY ]] || die "no mlptrain binary at $BINARY (build it with scripts/build.sh, or pass --binary)"
[[ -z $BASELINE || -x $BASELINE ]] || die "--baseline: no mlptrain binary at $BASELINE (e.g. an older commit's build/mlptrain)"
[[ $(nproc) -ge 2 ]] || die "needs 2 CPUs (this machine has $(nproc)): the placement is that of two vCPUs"
mkdir -p "$OUT"
RECORDS=$OUT/placement.jsonl
BIN=$(mktemp) BASE=$(mktemp)
trap 'rm -f "$BIN" "$BASE"' EXIT
cp "$BINARY" "$BIN"  # a rebuild during the run does not change what is measured
chmod +x "$BIN"
if [[ -n $BASELINE ]]; then cp "$BASELINE" "$BASE"; chmod +x "$BASE"; fi
/usr/bin/python3 scripts/placement_bench.py "$BIN" "$RECORDS" "$MINUTES" "$RUNS" "$SECONDS_PER_RUN" "$THRESHOLD" "$KEEP" \
    "$STORES" ${BASELINE:+"$BASE"}
