#!/usr/bin/env bash
# Benchmarks `mlptrain bench` on a fixed grid (3 networks x threads 1..nproc x the kernel sets):
# a Markdown table to stdout and bench-results/bench.md, every JSON object and the environment
# record to bench-results/bench.json. --compare-pytorch trains mlptrain and PyTorch on the same
# real rows (scripts/compare_torch.py) at every point, interleaved. --compare OLD.json NEW.json
# prints the per-point ratios of two recorded runs (scripts/bench_report.py).
set -euo pipefail

CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The grid: "layers batch" pairs. Threads: 1..nproc unless --threads is given.
NETWORKS=(
    "4,16,3 16"
    "784,256,128,10 64"
    "784,1024,1024,10 256"
)

usage() {
    cat <<'EOF'
Usage: scripts/bench.sh [--seconds N] [--compare-pytorch] [--rounds N] [--threads LIST]
                        [--kernels env|unset|both] [--gemms LIST] [--out DIR]
                        [--no-build | --binary PATH]
       scripts/bench.sh --compare OLD.json NEW.json

Builds mlptrain (scripts/build.sh), then runs `mlptrain bench --json` on this grid:
  4-16-3 batch 16, 784-256-128-10 batch 64, 784-1024-1024-10 batch 256,
  each at threads 1..nproc (shards: mlptrain's default for the batch size), under each
  kernel set: the environment as it is ("env"; this workplace sets OPENBLAS_CORETYPE=Haswell)
  and with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in that one command ("unset":
  mlptrain runs the widest core the CPU supports), when the two give different cores.
Prints a Markdown table (the core; samples/s, steps/s, us/step, GFLOP/s; the GEMM ceiling
measured in the same process and efficiency = GFLOP/s / ceiling, in windows of steps each
beside its own ceiling, and against the ceiling in lock step (its callers held to the
slowest one's rate, as a synchronized step is); the FMA peak and peak fraction = GFLOP/s / peak), where a step's
time goes (shard passes, reduction, update, and the time of the step's GEMMs alone at the
ceiling's rate), the 1 -> 2 thread speed-up on 784-1024-1024-10 per core, last a table of
issues 9 and 10's targets that the grid covers (2 threads; measured median, holds or not;
scripts/bench_report.py targets DIR/bench.json [DIR/bench_gemms.json] prints it again), and writes
DIR/bench.md (the same text and the environment record) and DIR/bench.json
({"environment": ..., "records": [every object measured, each with "tool", "round",
"kernels" and "other_cpu_share" added]}). The "other load" column is the most CPU that other
processes took while the point ran, as a share of all CPUs: a point at T threads is
disturbed when it exceeds 1 - T/nproc (on a shared machine, wait for a quiet one and run
again). Progress goes to stderr. The binary is copied first, so a rebuild during the run
does not change what is measured.

Options:
  --seconds N        timed seconds per point (default 3; the warm-up (1 s, until the CPUs
                     reach their clock), the GEMM ceiling and the FMA peak add about 3 s per
                     mlptrain point)
  --compare-pytorch  at every point also train mlptrain and PyTorch (Debian's /usr/bin/python3
                     with python3-torch: `scripts/setup.sh --with torch`) on the same real rows
                     with the same settings, timed the same way (scripts/compare_torch.py:
                     Fashion-MNIST when installed, else data/digits.csv upscaled, and iris for
                     4-16-3; SGD lr 0.05 momentum 0.9; the median over epochs >= 2 of the
                     epoch's samples/s), interleaved with mlptrain bench (the order flips every
                     round). PyTorch runs at T torch + T OpenBLAS threads and, for T > 1, at
                     1 torch + T OpenBLAS threads; the table shows mlptrain's training speed on
                     those rows, PyTorch at T/T, PyTorch's best setting, and the ratio
                     mlptrain / PyTorch best (about 20 s more per point)
  --rounds N         rounds over the grid; each figure is the median over rounds
                     (default 2 with --compare-pytorch, else 1)
  --threads LIST     comma-separated thread counts instead of 1..nproc (e.g. 1,2)
  --kernels K        env, unset or both (default both: both when their cores differ)
  --gemms LIST       also run every point with these GEMM backends/precisions, right after
                     the default run of the same point (interleaved), and add a table with a
                     column per entry: openblas-widest (OpenBLAS fp32 on the widest kernel set
                     this CPU runs: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for that run),
                     onednn (--gemm onednn, fp32), bf16 (--precision bf16 on oneDNN; a network
                     too small to gain runs fp32 with a note, marked "fp32*"). Written to
                     DIR/bench_gemms.json. E.g. --gemms openblas-widest,onednn,bf16
  --out DIR          output directory (default: bench-results in the repository root)
  --no-build         skip the build; use build/mlptrain as it is
  --binary PATH      benchmark this mlptrain binary instead (no build), e.g. a build of
                     another commit, to compare with --compare
  --compare OLD NEW  print NEW/OLD samples/s per point of two bench.json files (medians over
                     rounds; points matched by tool, network, batch, threads, shards, core and
                     PyTorch setting) and flag the points whose environment records differ
                     (the date aside), naming the fields, and those whose cross-core round
                     trips differ more than 1.5x (the vCPUs placed differently); nothing is run
  -h, --help         show this help
Environment: MLPTRAIN_TORCH_PYTHON overrides the interpreter for torch (default /usr/bin/python3).
EOF
}

die() {
    echo "bench.sh: $*" >&2
    exit 2
}

SECONDS_PER_POINT=3
COMPARE=0
ROUNDS=""
THREAD_LIST=""
GEMM_LIST=""
OUT_DIR=""
BUILD=1
BINARY=build/mlptrain
KERNELS=both
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) [[ $# -ge 2 ]] || die "--seconds needs a value"; SECONDS_PER_POINT=$2; shift 2 ;;
        --seconds=*) SECONDS_PER_POINT=${1#--seconds=}; shift ;;
        --compare-pytorch) COMPARE=1; shift ;;
        --compare)
            [[ $# -eq 3 ]] || die "--compare takes two files, OLD.json NEW.json, and no other argument"
            REPORT=$PWD/scripts/bench_report.py
            cd "$CALLER_DIR"
            exec python3 "$REPORT" compare "$2" "$3" ;;
        --rounds) [[ $# -ge 2 ]] || die "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
        --rounds=*) ROUNDS=${1#--rounds=}; shift ;;
        --threads) [[ $# -ge 2 ]] || die "--threads needs a value"; THREAD_LIST=$2; shift 2 ;;
        --threads=*) THREAD_LIST=${1#--threads=}; shift ;;
        --kernels) [[ $# -ge 2 ]] || die "--kernels needs a value"; KERNELS=$2; shift 2 ;;
        --kernels=*) KERNELS=${1#--kernels=}; shift ;;
        --gemms) [[ $# -ge 2 ]] || die "--gemms needs a value"; GEMM_LIST=$2; shift 2 ;;
        --gemms=*) GEMM_LIST=${1#--gemms=}; shift ;;
        --out) [[ $# -ge 2 ]] || die "--out needs a value"; OUT_DIR=$2; shift 2 ;;
        --out=*) OUT_DIR=${1#--out=}; shift ;;
        --no-build) BUILD=0; shift ;;
        --binary) [[ $# -ge 2 ]] || die "--binary needs a path"; BINARY=$2; BUILD=0; shift 2 ;;
        --binary=*) BINARY=${1#--binary=}; BUILD=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

if [[ ! "$SECONDS_PER_POINT" =~ ^([0-9]+([.][0-9]*)?|[.][0-9]+)$ || "$SECONDS_PER_POINT" =~ ^[0.]+$ ]]; then
    die "--seconds expects a positive number, got '$SECONDS_PER_POINT'"
fi
[[ "$KERNELS" =~ ^(env|unset|both)$ ]] || die "--kernels expects env, unset or both, got '$KERNELS'"
[[ "$BINARY" == /* || "$BINARY" == build/mlptrain ]] || BINARY=$CALLER_DIR/$BINARY
if [[ -z "$OUT_DIR" ]]; then
    OUT_DIR=bench-results  # in the repository root
elif [[ "$OUT_DIR" != /* ]]; then
    OUT_DIR=$CALLER_DIR/$OUT_DIR  # as given, relative to where the script was called from
fi
if [[ -z "$ROUNDS" ]]; then
    ROUNDS=$((COMPARE ? 2 : 1))
fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds expects a positive integer, got '$ROUNDS'"
THREADS=()
if [[ -n "$THREAD_LIST" ]]; then
    IFS=',' read -r -a THREADS <<<"$THREAD_LIST"
    [[ ${#THREADS[@]} -gt 0 ]] || die "--threads expects a list like 1,2"
    for t in "${THREADS[@]}"; do
        [[ "$t" =~ ^[1-9][0-9]*$ ]] || die "--threads expects positive integers, got '$t'"
    done
else
    for ((t = 1; t <= $(nproc); ++t)); do THREADS+=("$t"); done
fi
# --gemms: the extra GEMM configurations, run by run_gemm_variants and reported by
# report_gemm_variants (both below), apart from the default grid's records.
GEMMS=()
if [[ -n "$GEMM_LIST" ]]; then
    IFS=',' read -r -a GEMMS <<<"$GEMM_LIST"
    for g in "${GEMMS[@]}"; do
        case "$g" in
            openblas-widest | onednn | bf16) ;;
            *) die "--gemms expects openblas-widest, onednn or bf16 (comma-separated), got '$g'" ;;
        esac
    done
fi
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the JSON handling"

TORCH_PYTHON=${MLPTRAIN_TORCH_PYTHON:-/usr/bin/python3}
if ((COMPARE)); then
    if ! "$TORCH_PYTHON" -c 'import torch' >/dev/null 2>&1; then
        die "--compare-pytorch needs torch for $TORCH_PYTHON; install it with: scripts/setup.sh --with torch"
    fi
fi

# Build (its output goes to stderr so stdout carries only the report).
if ((BUILD)); then
    if [[ -x scripts/build.sh ]]; then
        scripts/build.sh --target mlptrain >&2 || die "the build failed (see above); --no-build skips it"
    else
        cmake --build build --target mlptrain >&2 || die "the build failed (see above); --no-build skips it"
    fi
fi
[[ -x "$BINARY" ]] || die "$BINARY not found; build it first (scripts/build.sh)"

mkdir -p "$OUT_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlptrain-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RECORDS=$WORK/records.jsonl ERRLOG=$WORK/stderr TIMESLOG=$WORK/times
GEMM_RECORDS=$WORK/gemm_records.jsonl
# Benchmark a private copy, so that a rebuild during the run cannot swap or remove the binary.
MLPTRAIN=$WORK/mlptrain
cp "$BINARY" "$MLPTRAIN"
: >"$RECORDS"
: >"$GEMM_RECORDS"

# The kernel sets, each a command prefix: "unset" clears the workplace's OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE in that one command; it runs only when its core differs from "env"'s.
kernel_env() {  # KERNELS -> the prefix, one word a line
    if [[ $1 == unset ]]; then printf '%s\n' env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE; else echo env; fi
}
core_of() {  # KERNELS -> the core that mlptrain runs under it
    local prefix
    mapfile -t prefix < <(kernel_env "$1")
    "${prefix[@]}" "$MLPTRAIN" bench --layers 4,3 --batch-size 4 --steps 1 --warmup 0 --no-ceiling --json 2>/dev/null |
        python3 -c 'import json, sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["blas_core"])'
}
KERNEL_SETS=("$KERNELS")
if [[ $KERNELS == both ]]; then
    ENV_CORE=$(core_of env) || die "mlptrain bench failed; run it by hand to see why"
    UNSET_CORE=$(core_of unset) || die "mlptrain bench failed with OPENBLAS_CORETYPE unset"
    KERNEL_SETS=(env)
    if [[ $ENV_CORE != "$UNSET_CORE" ]]; then
        KERNEL_SETS+=(unset)
        echo "bench.sh: kernel sets: $ENV_CORE (the environment as it is) and $UNSET_CORE (OPENBLAS_CORETYPE unset)" >&2
    else
        echo "bench.sh: one kernel set, $ENV_CORE (the same with OPENBLAS_CORETYPE unset)" >&2
    fi
fi

# Torch settings tried at T threads, as "torch_threads:openblas_threads".
torch_settings() {
    local t=$1
    echo "$t:$t"
    if ((t > 1)); then echo "1:$t"; fi
}

TOTAL=0
for t in "${THREADS[@]}"; do  # per point: bench, and with --compare-pytorch mlptrain train and torch
    TOTAL=$((TOTAL + (1 + COMPARE * (1 + $(torch_settings "$t" | wc -l))) * ${#NETWORKS[@]} * ${#KERNEL_SETS[@]} * ROUNDS))
done
# --gemms: every point also runs once per listed configuration (under the environment's kernels).
if ((${#GEMMS[@]})); then TOTAL=$((TOTAL + ${#NETWORKS[@]} * ${#THREADS[@]} * ROUNDS * ${#GEMMS[@]})); fi
RUN=0

# record TOOL ROUND KERNELS COMMAND...: runs one point under the kernel set and appends its JSON
# object to RECORDS, with "tool", "round", "kernels" and "other_cpu_share" added: the share of
# all CPUs that processes other than this point's were busy while it ran (from /proc/stat less
# the child's own CPU time), so that points disturbed by other work show up in the report.
record() {
    local tool=$1 round=$2 kernels=$3
    shift 3
    local json stat0 stat1 times0 times1 prefix
    mapfile -t prefix < <(kernel_env "$kernels")
    RUN=$((RUN + 1))
    stat0=$(head -n 1 /proc/stat)
    times >"$TIMESLOG"  # in this shell: a subshell would not see the children's CPU time
    times0=$(tail -n 1 "$TIMESLOG")
    if ! json=$("${prefix[@]}" "$@" 2>"$ERRLOG"); then
        echo "bench.sh: failed: ${prefix[*]} $*" >&2
        cat "$ERRLOG" >&2
        exit 1
    fi
    stat1=$(head -n 1 /proc/stat)
    times >"$TIMESLOG"
    times1=$(tail -n 1 "$TIMESLOG")
    json=$(printf '%s\n' "$json" | grep '^{' | tail -n 1)
    [[ -n "$json" ]] || { echo "bench.sh: no JSON from: $*" >&2; cat "$ERRLOG" >&2; exit 1; }
    printf '%s\n' "$json" | python3 -c '
import json, re, sys
sys.path.insert(0, "scripts")
import bench_report
run, total, rnd, tool, kernels, stat0, stat1, times0, times1 = sys.argv[1:10]
r = json.load(sys.stdin)
r["tool"], r["round"], r["kernels"] = tool, int(rnd), kernels
seconds = lambda t: sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", t))
child = seconds(times1) - seconds(times0)  # user + sys CPU seconds of the point
r["other_cpu_share"] = bench_report.other_cpu_share(stat0, stat1, child)
extra = " (torch %s + OpenBLAS %s threads)" % (r["threads"], r["blas_threads"]) if "blas_threads" in r else ""
load = " [other load %.0f%%]" % (100 * r["other_cpu_share"]) if r["other_cpu_share"] else ""
print("[%s/%s] round %s %-14s %s batch %s, %s thread(s)%s, %s: %.0f samples/s%s" % (
    run, total, rnd, tool, "-".join(map(str, r["layers"])), r["batch_size"], r["threads"], extra,
    r.get("blas_core"), r["samples_per_s"], load), file=sys.stderr)
print(json.dumps(r))' "$RUN" "$TOTAL" "$round" "$tool" "$kernels" "$stat0" "$stat1" "$times0" "$times1" >>"$RECORDS"
}

run_mlptrain() {  # ROUND KERNELS LAYERS BATCH THREADS
    record mlptrain "$1" "$2" "$MLPTRAIN" bench --layers "$3" --batch-size "$4" --threads "$5" \
        --seconds "$SECONDS_PER_POINT" --json
}

# The --gemms configurations of one point, in the listed order, into GEMM_RECORDS.
run_gemm_variants() {  # ROUND LAYERS BATCH THREADS
    local g
    local -a cmd
    for g in "${GEMMS[@]}"; do
        case "$g" in
            openblas-widest) cmd=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$MLPTRAIN" bench) ;;
            onednn) cmd=("$MLPTRAIN" bench --gemm onednn) ;;
            bf16) cmd=("$MLPTRAIN" bench --precision bf16) ;;
        esac
        RECORDS=$GEMM_RECORDS record "mlptrain:$g" "$1" env "${cmd[@]}" --layers "$2" --batch-size "$3" \
            --threads "$4" --seconds "$SECONDS_PER_POINT" --json
    done
}


# The fair pair (scripts/compare_torch.py): mlptrain train and PyTorch on the same real rows.
FAIR=("$TORCH_PYTHON" scripts/compare_torch.py --mlptrain "$MLPTRAIN" --python "$TORCH_PYTHON"
      --data-dir "$WORK/data" --one)
run_fair() {  # ROUND KERNELS LAYERS BATCH THREADS
    local setting
    record mlptrain-train "$1" "$2" "${FAIR[@]}" mlptrain --layers "$3" --batch-size "$4" --threads "$5"
    for setting in $(torch_settings "$5"); do
        record torch "$1" "$2" "${FAIR[@]}" torch --layers "$3" --batch-size "$4" --threads "$5" \
            --torch-threads "${setting%%:*}" --blas-threads "${setting##*:}"
    done
}

# The figures are only as good as the machine is quiet: measure how busy it is before starting.
cpu_busy_percent() {  # share of all CPUs busy over one second, from /proc/stat
    local a b
    a=$(head -n 1 /proc/stat) || return 0
    sleep 1
    b=$(head -n 1 /proc/stat) || return 0
    python3 -c '
import sys
a, b = ([int(x) for x in s.split()[1:]] for s in sys.argv[1:3])
d = [y - x for x, y in zip(a, b)]
idle = d[3] + (d[4] if len(d) > 4 else 0)
print(round(100 * (1 - idle / max(1, sum(d)))))' "$a" "$b"
}
BUSY=$(cpu_busy_percent || true)
if [[ -n "$BUSY" && "$BUSY" -ge 15 ]]; then
    echo "bench.sh: warning: the CPUs were ${BUSY}% busy before the benchmark started;" \
        "other work will make the figures noisy" >&2
fi

echo "bench.sh: $TOTAL runs (threads ${THREADS[*]}, kernel sets ${KERNEL_SETS[*]}, $ROUNDS round(s))" >&2
for ((round = 1; round <= ROUNDS; ++round)); do
    for net in "${NETWORKS[@]}"; do
        read -r layers batch <<<"$net"
        for t in "${THREADS[@]}"; do
            for kernels in "${KERNEL_SETS[@]}"; do
                if ((COMPARE && round % 2 == 0)); then
                    run_fair "$round" "$kernels" "$layers" "$batch" "$t"
                    run_mlptrain "$round" "$kernels" "$layers" "$batch" "$t"
                elif ((COMPARE)); then
                    run_mlptrain "$round" "$kernels" "$layers" "$batch" "$t"
                    run_fair "$round" "$kernels" "$layers" "$batch" "$t"
                else
                    run_mlptrain "$round" "$kernels" "$layers" "$batch" "$t"
                fi
            done
            if ((${#GEMMS[@]})); then run_gemm_variants "$round" "$layers" "$batch" "$t"; fi
        done
    done
done

# Report: medians over rounds, the Markdown table, the environment record; bench.json, bench.md.
python3 scripts/bench_report.py report "$RECORDS" "$OUT_DIR" "$COMPARE" "$ROUNDS" "$SECONDS_PER_POINT" \
    "$(nproc)" "${BUSY:-}"

# --gemms: one table per network and thread count, a column per GEMM configuration (the
# default run first), medians [min-max] over rounds; appended to bench.md and stdout, every
# object of the extra runs to bench_gemms.json.
report_gemm_variants() {
    python3 - "$RECORDS" "$GEMM_RECORDS" "$OUT_DIR" "$(uptime)" <<'PY'
import json, os, statistics, sys

records, gemm_records, out_dir, uptime = sys.argv[1:5]
runs = {}
def label(o):
    ran = "%s %s" % (o.get("gemm", "openblas"), o.get("precision", "fp32"))
    core = "" if o.get("gemm") == "onednn" else ", " + o.get("blas_core", "?")
    if o["tool"] == "mlptrain":
        return "default: " + ran + core
    fell_back = o.get("precision_requested", o.get("precision")) != o.get("precision")
    return o["tool"].split(":", 1)[1] + ": " + ran + core + ("*" if fell_back else "")
extra = []
for path in (records, gemm_records):
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            # The default column: bench under the environment's kernels (not the fair pair's
            # train runs, the torch runs or the "unset" kernel set, which openblas-widest covers).
            if o["tool"] != "mlptrain" and not o["tool"].startswith("mlptrain:"):
                continue
            if o["tool"] == "mlptrain" and o.get("kernels") != "env":
                continue
            if path == gemm_records:
                extra.append(o)
            key = ("-".join(map(str, o["layers"])), o["batch_size"], o["threads"])
            runs.setdefault(key, {}).setdefault(o["tool"], []).append(o)
out = ["", "## GEMM backends and precisions", "",
       "samples/s, median [min-max] over rounds (each configuration right after the default run of "
       "the same point); ceiling = the step's GEMM calls alone on the same backend and precision, "
       "efficiency = samples/s / ceiling samples/s, per window of steps beside its own ceiling (bench's "
       "median of 3); vs default = ratio of the medians. "
       "* = the request fell back (see gemm_notes in bench_gemms.json). "
       "Load when the report was written: " + uptime.strip() + ".", "",
       "| network | batch | threads | GEMMs | samples/s | ceiling samples/s | efficiency | vs default | other load |",
       "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
for (net, batch, threads), tools in runs.items():
    base = None
    for tool, objs in tools.items():
        sps = [o["samples_per_s"] for o in objs]
        m = statistics.median(sps)
        base = base or m
        ceiling = statistics.median(o.get("ceiling_samples_per_s", 0) for o in objs)
        eff = statistics.median(o["efficiency"] for o in objs)
        load = max((o.get("other_cpu_share") or 0) for o in objs)
        out.append(f"| {net} | {batch} | {threads} | {label(objs[0])} | {m:,.0f} [{min(sps):,.0f}-{max(sps):,.0f}] | "
                   f"{ceiling:,.0f} | {eff:.2f} | {m / base:.2f} | {100 * load:.0f}% |")
text = "\n".join(out) + "\n"
with open(os.path.join(out_dir, "bench.md"), "a") as f:
    f.write(text)
tmp = os.path.join(out_dir, "bench_gemms.json.tmp")
with open(tmp, "w") as f:
    f.write(json.dumps(extra, indent=1) + "\n")
os.replace(tmp, os.path.join(out_dir, "bench_gemms.json"))
sys.stdout.write(text)
PY
}
if ((${#GEMMS[@]})); then report_gemm_variants; fi
# Issues 9 and 10's targets that the grid covers, each measured median beside its target.
TARGET_FILES=("$OUT_DIR/bench.json")
if ((${#GEMMS[@]})); then TARGET_FILES+=("$OUT_DIR/bench_gemms.json"); fi
python3 scripts/bench_report.py targets "${TARGET_FILES[@]}" | tee -a "$OUT_DIR/bench.md"
echo "bench.sh: wrote $OUT_DIR/bench.md and $OUT_DIR/bench.json" \
    "$( ((${#GEMMS[@]})) && echo "and $OUT_DIR/bench_gemms.json")" >&2
