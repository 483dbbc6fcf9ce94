#!/usr/bin/env bash
# Benchmarks `mlptrain bench` on a fixed grid (3 networks x threads 1..nproc): a Markdown table
# to stdout and bench-results/bench.md, every JSON object to bench-results/bench.json.
# --compare-pytorch runs scripts/torch_bench.py on the same points, interleaved with mlptrain.
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
                        [--gemms LIST] [--out DIR] [--no-build] [--help]

Builds mlptrain (scripts/build.sh), then runs `mlptrain bench --json` on this grid:
  4-16-3 batch 16, 784-256-128-10 batch 64, 784-1024-1024-10 batch 256,
  each at threads 1..nproc (shards: mlptrain's default for the batch size).
Prints a Markdown table (samples/s, steps/s, us/step, GFLOP/s, the GEMM ceiling measured in
the same process, efficiency = GFLOP/s / ceiling) and the 1 -> 2 thread speed-up on
784-1024-1024-10, and writes DIR/bench.md (the same text) and DIR/bench.json (a JSON array
of every object measured, each with "tool", "round" and "other_cpu_share" added). The
"other load" column is the most CPU that other processes took while the point ran, as a
share of all CPUs: a point at T threads is disturbed when it exceeds 1 - T/nproc (on a
shared machine, wait for a quiet one and run again). Progress goes to stderr.
The binary is copied first, so a rebuild during the run does not change what is measured.

Options:
  --seconds N        timed seconds per point (default 3; the GEMM ceiling adds about 2 s
                     per mlptrain point, and torch about 2 s of start-up per point)
  --compare-pytorch  also run scripts/torch_bench.py (Debian's /usr/bin/python3 with
                     python3-torch: `scripts/setup.sh --with torch`) on every point,
                     interleaved with mlptrain (mlptrain, torch, mlptrain, torch, ...; the
                     order within a pair flips every round). torch is run at T torch threads
                     with OPENBLAS_NUM_THREADS=T, and for T > 1 also at 1 torch thread with
                     OPENBLAS_NUM_THREADS=T (the fastest setting on the project's machine);
                     the table shows torch at T/T, torch's best setting, and the ratio
                     mlptrain / torch-best
  --rounds N         rounds over the grid; each figure is the median over rounds
                     (default 2 with --compare-pytorch, else 1)
  --threads LIST     comma-separated thread counts instead of 1..nproc (e.g. 1,2)
  --gemms LIST       also run every point with these GEMM backends/precisions, right after
                     the default run of the same point (interleaved), and add a table with a
                     column per entry: openblas-widest (OpenBLAS fp32 on the widest kernel set
                     this CPU runs: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for that run),
                     onednn (--gemm onednn, fp32), bf16 (--precision bf16 on oneDNN; a network
                     too small to gain runs fp32 with a note, marked "fp32*"). Written to
                     DIR/bench_gemms.json. E.g. --gemms openblas-widest,onednn,bf16
  --out DIR          output directory (default: bench-results in the repository root)
  --no-build         skip the build; use build/mlptrain as it is
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
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) [[ $# -ge 2 ]] || die "--seconds needs a value"; SECONDS_PER_POINT=$2; shift 2 ;;
        --seconds=*) SECONDS_PER_POINT=${1#--seconds=}; shift ;;
        --compare-pytorch) COMPARE=1; shift ;;
        --rounds) [[ $# -ge 2 ]] || die "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
        --rounds=*) ROUNDS=${1#--rounds=}; shift ;;
        --threads) [[ $# -ge 2 ]] || die "--threads needs a value"; THREAD_LIST=$2; shift 2 ;;
        --threads=*) THREAD_LIST=${1#--threads=}; shift ;;
        --gemms) [[ $# -ge 2 ]] || die "--gemms needs a value"; GEMM_LIST=$2; shift 2 ;;
        --gemms=*) GEMM_LIST=${1#--gemms=}; shift ;;
        --out) [[ $# -ge 2 ]] || die "--out needs a value"; OUT_DIR=$2; shift 2 ;;
        --out=*) OUT_DIR=${1#--out=}; shift ;;
        --no-build) BUILD=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

if [[ ! "$SECONDS_PER_POINT" =~ ^([0-9]+([.][0-9]*)?|[.][0-9]+)$ || "$SECONDS_PER_POINT" =~ ^[0.]+$ ]]; then
    die "--seconds expects a positive number, got '$SECONDS_PER_POINT'"
fi
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
[[ -x build/mlptrain ]] || die "build/mlptrain not found; build it first (scripts/build.sh)"

mkdir -p "$OUT_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlptrain-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RECORDS=$WORK/records.jsonl ERRLOG=$WORK/stderr TIMESLOG=$WORK/times
GEMM_RECORDS=$WORK/gemm_records.jsonl
# Benchmark a private copy, so that a rebuild during the run cannot swap or remove the binary.
MLPTRAIN=$WORK/mlptrain
cp build/mlptrain "$MLPTRAIN"
: >"$RECORDS"
: >"$GEMM_RECORDS"

# Torch settings tried at T threads, as "torch_threads:openblas_threads".
torch_settings() {
    local t=$1
    echo "$t:$t"
    if ((t > 1)); then echo "1:$t"; fi
}

POINTS=$((${#NETWORKS[@]} * ${#THREADS[@]}))
TOTAL=$((POINTS * ROUNDS))
if ((COMPARE)); then
    TOTAL=0
    for t in "${THREADS[@]}"; do
        TOTAL=$((TOTAL + (1 + $(torch_settings "$t" | wc -l)) * ${#NETWORKS[@]} * ROUNDS))
    done
fi

if ((${#GEMMS[@]})); then TOTAL=$((TOTAL + POINTS * ROUNDS * ${#GEMMS[@]})); fi
RUN=0

# record TOOL ROUND COMMAND...: runs one point and appends its JSON object to RECORDS, with
# "tool", "round" and "other_cpu_share" added: the share of all CPUs that processes other than
# this point's were busy while it ran (from /proc/stat less the child's own CPU time), so that
# points disturbed by other work on a shared machine show up in the report.
record() {
    local tool=$1 round=$2
    shift 2
    local json stat0 stat1 times0 times1
    RUN=$((RUN + 1))
    stat0=$(head -n 1 /proc/stat)
    times >"$TIMESLOG"  # in this shell: a subshell would not see the children's CPU time
    times0=$(tail -n 1 "$TIMESLOG")
    if ! json=$("$@" 2>"$ERRLOG"); then
        echo "bench.sh: failed: $*" >&2
        cat "$ERRLOG" >&2
        exit 1
    fi
    stat1=$(head -n 1 /proc/stat)
    times >"$TIMESLOG"
    times1=$(tail -n 1 "$TIMESLOG")
    json=$(printf '%s\n' "$json" | grep '^{' | tail -n 1)
    [[ -n "$json" ]] || { echo "bench.sh: no JSON from: $*" >&2; cat "$ERRLOG" >&2; exit 1; }
    printf '%s\n' "$json" | python3 -c '
import json, os, re, sys
run, total, rnd, tool, stat0, stat1, times0, times1 = sys.argv[1:9]
r = json.load(sys.stdin)
r["tool"], r["round"] = tool, int(rnd)
a, b = ([int(x) for x in s.split()[1:]] for s in (stat0, stat1))
d = [y - x for x, y in zip(a, b)]
busy = (sum(d[:8]) - d[3] - d[4]) / os.sysconf("SC_CLK_TCK")  # user..steal, less idle and iowait
seconds = lambda t: sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", t))
child = seconds(times1) - seconds(times0)  # user + sys CPU seconds of the point
wall_cpu = sum(d[:8]) / os.sysconf("SC_CLK_TCK")
r["other_cpu_share"] = round(max(0.0, busy - child) / wall_cpu, 3) if wall_cpu > 0 else None
extra = " (torch %s + OpenBLAS %s threads)" % (r["threads"], r["blas_threads"]) if "blas_threads" in r else ""
load = " [other load %.0f%%]" % (100 * r["other_cpu_share"]) if r["other_cpu_share"] else ""
print("[%s/%s] round %s %-8s %s batch %s, %s thread(s)%s: %.0f samples/s%s" % (
    run, total, rnd, tool, "-".join(map(str, r["layers"])), r["batch_size"], r["threads"], extra,
    r["samples_per_s"], load), file=sys.stderr)
print(json.dumps(r))' "$RUN" "$TOTAL" "$round" "$tool" "$stat0" "$stat1" "$times0" "$times1" >>"$RECORDS"
}

run_mlptrain() {  # ROUND LAYERS BATCH THREADS
    record mlptrain "$1" "$MLPTRAIN" bench --layers "$2" --batch-size "$3" --threads "$4" \
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
        RECORDS=$GEMM_RECORDS record "mlptrain:$g" "$1" "${cmd[@]}" --layers "$2" --batch-size "$3" \
            --threads "$4" --seconds "$SECONDS_PER_POINT" --json
    done
}

run_torch() {  # ROUND LAYERS BATCH THREADS
    local setting
    for setting in $(torch_settings "$4"); do
        record torch "$1" "$TORCH_PYTHON" scripts/torch_bench.py --layers "$2" --batch-size "$3" \
            --threads "${setting%%:*}" --blas-threads "${setting##*:}" \
            --seconds "$SECONDS_PER_POINT" --json
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

echo "bench.sh: $TOTAL runs of about ${SECONDS_PER_POINT}s each (threads ${THREADS[*]}, $ROUNDS round(s))" >&2
for ((round = 1; round <= ROUNDS; ++round)); do
    for net in "${NETWORKS[@]}"; do
        read -r layers batch <<<"$net"
        for t in "${THREADS[@]}"; do
            if ((COMPARE && round % 2 == 0)); then
                run_torch "$round" "$layers" "$batch" "$t"
                run_mlptrain "$round" "$layers" "$batch" "$t"
            elif ((COMPARE)); then
                run_mlptrain "$round" "$layers" "$batch" "$t"
                run_torch "$round" "$layers" "$batch" "$t"
            else
                run_mlptrain "$round" "$layers" "$batch" "$t"
            fi
            if ((${#GEMMS[@]})); then run_gemm_variants "$round" "$layers" "$batch" "$t"; fi
        done
    done
done

# Report: medians over rounds, a Markdown table, the speed-up line; bench.json and bench.md.
python3 - "$RECORDS" "$OUT_DIR" "$COMPARE" "$ROUNDS" "$SECONDS_PER_POINT" "$(nproc)" "${BUSY:-}" <<'PY'
import datetime, json, os, platform, statistics, sys

records_path, out_dir, compare, rounds, seconds, ncpu, busy = sys.argv[1:8]
compare = compare == "1"
objects, mlp, torch = [], {}, {}
with open(records_path) as f:
    for line in f:
        obj = json.loads(line)
        tool = obj["tool"]
        objects.append(obj)
        if tool == "mlptrain":
            mlp.setdefault((tuple(obj["layers"]), obj["batch_size"], obj["threads"]), []).append(obj)
        else:
            # A torch setting belongs to thread count max(torch threads, OpenBLAS threads).
            key = (tuple(obj["layers"]), obj["batch_size"], max(obj["threads"], obj["blas_threads"]))
            setting = (obj["threads"], obj["blas_threads"])
            torch.setdefault(key, {}).setdefault(setting, []).append(obj)

def disturbed(obj):
    """Whether other processes took CPUs this run needed: more than the share it left idle."""
    share = obj.get("other_cpu_share")
    used = max(obj["threads"], obj.get("blas_threads", 0))
    return share is not None and share > max(0.0, 1 - used / int(ncpu)) + 0.05

for obj in objects:
    obj["disturbed"] = disturbed(obj)

def undisturbed(objs):
    """The runs to take the median of: the undisturbed ones, or all when every run was disturbed."""
    quiet = [o for o in objs if not o["disturbed"]]
    return quiet or objs

mlp = {k: undisturbed(v) for k, v in mlp.items()}
torch = {k: {s: undisturbed(v) for s, v in d.items()} for k, d in torch.items()}

def med(objs, field):
    return statistics.median(o[field] for o in objs)

def grouped(x, digits=0):
    return f"{x:,.{digits}f}"

header = ["network", "batch", "threads", "shards", "samples/s", "steps/s", "µs/step",
          "GFLOP/s", "ceiling GFLOP/s", "efficiency"]
if compare:
    header += ["torch samples/s (T/T)", "torch best samples/s (torch+BLAS thr.)", "mlptrain/torch best"]
header += ["other load"]
rows, ratios = [], []
for key in mlp:  # insertion order = grid order of round 1
    layers, batch, threads = key
    objs = mlp[key]
    sps = med(objs, "samples_per_s")
    row = ["-".join(map(str, layers)), str(batch), str(threads), str(objs[0]["shards"]),
           grouped(sps), grouped(med(objs, "steps_per_s"), 1), grouped(med(objs, "us_per_step"), 1),
           grouped(med(objs, "gflops"), 2), grouped(med(objs, "ceiling_gflops"), 2),
           f"{med(objs, 'efficiency'):.2f}"]
    if compare:
        settings = torch.get(key, {})
        medians = {s: med(v, "samples_per_s") for s, v in settings.items()}
        same = medians.get((threads, threads))
        best_setting = max(medians, key=medians.get) if medians else None
        if best_setting:
            best = medians[best_setting]
            ratios.append((row[0], batch, threads, sps, same, best, best_setting))
            # "*": a side of the ratio has only disturbed runs, so the ratio is not to be trusted.
            shaky = any(o["disturbed"] for o in objs + settings[best_setting])
            row += [grouped(same) if same is not None else "n/a",
                    f"{grouped(best)} ({best_setting[0]}+{best_setting[1]})",
                    f"{sps / best:.2f}" + ("*" if shaky else "")]
        else:
            row += ["n/a", "n/a", "n/a"]
    runs = objs + [o for v in torch.get(key, {}).values() for o in v]
    loads = [o["other_cpu_share"] for o in runs if o.get("other_cpu_share") is not None]
    row.append((f"{100 * max(loads):.0f}%" if loads else "n/a")
               + (" (disturbed)" if any(o["disturbed"] for o in runs) else ""))
    rows.append(row)

def table(header, rows):
    right = [False, True, True, True] + [True] * (len(header) - 4)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(" ---: " if r else " --- " for r in right) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)

blas = objects[0].get("blas", "?") if objects else "?"
torch_version = next((o["torch"] for o in objects if o["tool"] == "torch"), None)
out = []
out.append("# mlptrain bench results")
out.append("")
out.append(f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, host {platform.node()}, "
           f"{ncpu} CPUs, {seconds} s per point, median over {rounds} round(s)"
           + (", interleaved with PyTorch" if compare else "") + ".")
out.append(f"BLAS: {blas}.")
if busy:
    out.append(f"CPUs busy in the second before the run: {busy}%"
               + (" (other work was running: expect noisy figures)." if int(busy) >= 15 else "."))
if compare:
    out.append(f"PyTorch {torch_version}: T/T = T torch threads and OPENBLAS_NUM_THREADS=T; "
               "best = the faster of T/T and 1 torch thread + T OpenBLAS threads.")
out.append("GFLOP/s = 6 x parameters x samples/s; ceiling = the step's sgemm shapes run by "
           "T concurrent single-threaded callers on batch/T rows each, in the same process.")
out.append("other load = the most CPU that other processes took during a run of the point, "
           f"as a share of all {ncpu} CPUs; a run at T threads is disturbed when this exceeds "
           f"the share it leaves idle, 1 - T/{ncpu} (+5%). Medians leave disturbed runs out "
           "when a point has undisturbed ones; \"(disturbed)\" marks points that had none"
           + (", and * a ratio with such a side." if compare else "."))
out.append("")
out.append(table(header, rows))
out.append("")
n_disturbed = sum(o["disturbed"] for o in objects)
if n_disturbed:
    out.append(f"{n_disturbed} of {len(objects)} runs were disturbed by other processes "
               "(\"disturbed\": true in bench.json).")

def speedup(layers, a, b):
    x, y = mlp.get((layers, 256, a)), mlp.get((layers, 256, b))
    if not x or not y:
        return f"n/a (needs threads {a} and {b} in the grid)"
    sa, sb = med(x, "samples_per_s"), med(y, "samples_per_s")
    return f"{sb / sa:.2f}x ({grouped(sa)} -> {grouped(sb)} samples/s)"

big = (784, 1024, 1024, 10)
out.append(f"Speed-up 1 -> 2 threads, 784-1024-1024-10 batch 256: {speedup(big, 1, 2)}")
if int(ncpu) > 2:
    out.append(f"Speed-up 1 -> {ncpu} threads, 784-1024-1024-10 batch 256: {speedup(big, 1, int(ncpu))}")

def spread(objs):
    values = [o["samples_per_s"] for o in objs]
    return f" [{grouped(min(values))}-{grouped(max(values))}]" if len(values) > 1 else ""

if compare:
    out.append("")
    out.append("mlptrain / torch, samples/s medians [min-max over rounds]:")
    for name, batch, threads, sps, same, best, s in ratios:
        key = (tuple(map(int, name.split("-"))), batch, threads)
        line = (f"- {name} batch {batch}, {threads} thread(s): mlptrain {grouped(sps)}{spread(mlp[key])}; "
                f"torch best ({s[0]}+{s[1]}) {grouped(best)}{spread(torch[key][s])}: ratio {sps / best:.2f}")
        if same is not None and s != (threads, threads):
            line += (f"; torch {threads}/{threads} {grouped(same)}{spread(torch[key][(threads, threads)])}: "
                     f"ratio {sps / same:.2f}")
        out.append(line)
text = "\n".join(out) + "\n"

def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.replace(tmp, path)

write_atomically(os.path.join(out_dir, "bench.json"), json.dumps(objects, indent=1) + "\n")
write_atomically(os.path.join(out_dir, "bench.md"), text)
sys.stdout.write(text)
PY

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
            if o["tool"] == "torch":
                continue
            if path == gemm_records:
                extra.append(o)
            key = ("-".join(map(str, o["layers"])), o["batch_size"], o["threads"])
            runs.setdefault(key, {}).setdefault(o["tool"], []).append(o)
out = ["", "## GEMM backends and precisions", "",
       "samples/s, median [min-max] over rounds (each configuration right after the default run of "
       "the same point); ceiling = the step's GEMM calls alone on the same backend and precision, "
       "efficiency = samples/s / ceiling samples/s; vs default = ratio of the medians. "
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
echo "bench.sh: wrote $OUT_DIR/bench.md and $OUT_DIR/bench.json" \
    "$( ((${#GEMMS[@]})) && echo "and $OUT_DIR/bench_gemms.json")" >&2
