#!/usr/bin/env bash
# Scaling across MPI ranks and TBB threads on this machine: for each ranks x threads
# combination, `mpirun -np R mlptrain bench --threads T` on 784-1024-1024-10 (batch 256,
# 8 shards), printing samples/s, the speed-up and efficiency against 1 rank x 1 thread,
# and the share of the time spent in the gradient allreduce.
#   scripts/bench_scaling.sh [--seconds S] [--layers L] [--batch-size B] [--shards K] [--allreduce tree|mpi]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=3 layers=784,1024,1024,10 batch=256 shards=8 allreduce=tree
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --layers) layers=$2; shift 2 ;;
        --batch-size) batch=$2; shift 2 ;;
        --shards) shards=$2; shift 2 ;;
        --allreduce) allreduce=$2; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "bench_scaling.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ -x build/mlptrain ]] || scripts/build.sh >/dev/null
command -v mpirun >/dev/null || { echo "bench_scaling.sh: mpirun not found (scripts/setup.sh --with mpi)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cores=$(nproc)
bench() {  # ranks threads -> one JSON line
    # --bind-to none: Open MPI binds each rank to one core by default, which would make a
    # rank's TBB threads share that core.
    mpirun --oversubscribe --bind-to none -np "$1" build/mlptrain bench --layers "$layers" --batch-size "$batch" \
        --shards "$shards" --threads "$2" --seconds "$seconds" --allreduce "$allreduce" --json | tail -n 1
}

echo "network $layers, batch $batch, $shards shards, allreduce $allreduce, $cores CPU(s)"
printf '| ranks | threads/rank | samples/s | speed-up | efficiency | allreduce share |\n'
printf '| ---: | ---: | ---: | ---: | ---: | ---: |\n'
base=""
for ranks in 1 2 4; do
    for threads in 1 2 4; do
        (( ranks * threads <= 2 * cores )) || continue
        (( ranks <= shards )) || continue
        json=$(bench "$ranks" "$threads")
        read -r sps share < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["samples_per_s"], j["allreduce_share"])' "$json")
        [[ -n "$base" ]] || base=$sps
        python3 - "$ranks" "$threads" "$sps" "$base" "$share" "$cores" <<'PY'
import sys
r, t, sps, base, share, cores = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
used = min(r * t, cores)
speedup = sps / base
print(f"| {r} | {t} | {sps:,.0f} | {speedup:.2f} | {speedup / used:.2f} | {100 * share:.1f}% |")
PY
    done
done
echo "efficiency = speed-up / min(ranks x threads, CPUs); allreduce share = time in the gradient allreduce / wall time"
