#!/usr/bin/env python3
"""scripts/placement_bench.sh's loop (standard library only): interleaved rounds of
`mlptrain bench --json` over the points the efficiency targets name, each run appended to
RECORDS, until every point has RUNS undisturbed runs with the vCPUs close (round trip <
THRESHOLD_NS) and RUNS apart, or MINUTES have passed; then the table of
scripts/bench_report.py placement.

usage: placement_bench.py MLPTRAIN RECORDS.jsonl MINUTES RUNS SECONDS THRESHOLD_NS KEEP_DISTURBED [STORES [BASELINE]]
  KEEP_DISTURBED: 1 counts runs that other work disturbed like the others (a machine that is
  never idle), 0 leaves them out.
  STORES: comma-separated --weight-stores settings (default auto); each point runs once a
  round with each, one right after the other, and counts as a point of its own.
  BASELINE: another mlptrain binary; every run is also made with it, right before or after
  (the order flips every round), recorded with "build": "baseline" and counted as a point
  of its own.
"""
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report  # noqa: E402

bench_report.PROG = "placement_bench.sh"

BIG, SMALL = ("784,1024,1024,10", 256), ("784,256,128,10", 64)  # (layers, batch), 2 threads
# The environment's kernels, and the widest core (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset); one set when the environment sets neither, as the two would be the same runs.
UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
KERNELS = ["env", "unset"] if any(v in os.environ for v in UNSET) else ["env"]


def points(binary):
    """(layers, batch, kernels, gemm) of every point: both networks on OpenBLAS under each
    kernel set, and the big network on oneDNN fp32 (the target of issue 10) when the binary
    was built with oneDNN (its GEMMs do not depend on the OpenBLAS core: one run a round)."""
    runs = [(layers, batch, kernels, "openblas") for layers, batch in (BIG, SMALL) for kernels in KERNELS]
    probe = subprocess.run([binary, "bench", "--layers", "4,16,3", "--batch-size", "16", "--threads", "1",
                            "--seconds", "0.01", "--warmup", "0", "--no-ceiling", "--gemm", "onednn"],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        runs.append((BIG[0], BIG[1], "env", "onednn"))
    else:
        why = (probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"])[-1]
        print(f"{bench_report.PROG}: no oneDNN fp32 point ({why})", file=sys.stderr)
    return runs


def run_point(binary, build, layers, batch, kernels, gemm, stores, seconds, keep_disturbed):
    env = dict(os.environ)
    if kernels == "unset":
        for v in UNSET:
            env.pop(v, None)
    cmd = [binary, "bench", "--layers", layers, "--batch-size", str(batch), "--threads", "2",
           "--seconds", str(seconds), "--gemm", gemm, "--weight-stores", stores, "--json"]
    stat0, child0 = proc_stat_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    stat1, child1 = proc_stat_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        bench_report.die(f"mlptrain bench --layers {layers} --batch-size {batch} --gemm {gemm} "
                         f"--weight-stores {stores} ({kernels} kernels) "
                         f"failed (exit {r.returncode}): {r.stderr.strip()}")
    try:
        record = json.loads(r.stdout)
    except ValueError as e:
        bench_report.die(f"mlptrain bench printed no JSON object ({e}): {r.stdout[:200]}")
    # The share of all CPUs that other processes took while the run lasted, as bench.sh
    # records it; a run that other work disturbed is kept in the records but left out of the
    # table and of the count.
    child = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
    record["other_cpu_share"] = bench_report.other_cpu_share(stat0, stat1, child)
    record["disturbed"] = not keep_disturbed and bench_report.disturbed(record, os.cpu_count() or 1)
    if build:
        record["build"] = build
    return record


def proc_stat_cpu():
    """The "cpu" line of /proc/stat: the whole machine's CPU time so far."""
    with open("/proc/stat") as f:
        return f.readline()


def enough(records, threshold, runs):
    """Whether every point measured (network and core: the kernel sets may give one core or
    two) has `runs` undisturbed runs in each placement."""
    counts = {}
    for r in records:
        point, where = bench_report.placement_of(r, threshold)
        counts.setdefault(point, {"close": 0, "apart": 0})
        if not r.get("disturbed"):
            counts[point][where] += 1
    return all(min(c.values()) >= runs for c in counts.values())


def main(argv):
    binary, path = argv[0], argv[1]
    minutes, runs, seconds, threshold = float(argv[2]), int(argv[3]), float(argv[4]), float(argv[5])
    keep_disturbed = argv[6] == "1"
    stores_list = argv[7].split(",") if len(argv) > 7 else ["auto"]
    builds = [(binary, None)] + ([(argv[8], "baseline")] if len(argv) > 8 else [])
    deadline = time.monotonic() + 60 * minutes
    records = []
    runs_per_round = points(binary)
    with open(path, "w") as out:
        round_ = 0
        while True:
            round_ += 1
            order = builds if round_ % 2 else builds[::-1]
            for (layers, batch, kernels, gemm), stores, (exe, build) in (
                    (p, s, b) for p in runs_per_round for s in stores_list for b in order):
                r = run_point(exe, build, layers, batch, kernels, gemm, stores, seconds, keep_disturbed)
                records.append(r)
                out.write(json.dumps(r) + "\n")
                out.flush()
                load = f" [other load {100 * r['other_cpu_share']:.0f}%, disturbed]" if r["disturbed"] else ""
                label = bench_report.gemms_of(r) + ("" if stores == "auto" else f", {stores} stores")
                label += f", {build}" if build else ""
                print(f"round {round_}: {layers.replace(',', '-')} b{batch} {label}: "
                      f"{r['samples_per_s']:,.0f} samples/s, efficiency {r['efficiency']:.2f}, "
                      f"round trip {r['core_round_trip_ns']:.0f} ns{load}", file=sys.stderr)
            if enough(records, threshold, runs):
                break
            if time.monotonic() >= deadline:
                print(f"{bench_report.PROG}: {argv[2]} minutes passed before every point had {runs} runs "
                      "in both placements", file=sys.stderr)
                break
    bench_report.placement([path, str(threshold)])


if __name__ == "__main__":
    if len(sys.argv) not in (8, 9, 10):
        bench_report.die("usage: placement_bench.py MLPTRAIN RECORDS.jsonl MINUTES RUNS SECONDS THRESHOLD_NS "
                         "KEEP_DISTURBED [STORES [BASELINE]]")
    main(sys.argv[1:])
