#!/usr/bin/env bash
# Reproduces the README's determinism claim: the same data, configuration and seed give
# bitwise-identical weights at every thread count. Trains digits.csv with 8 shards at
# --threads 1, 2, 3, 4 and 8 and compares the printed weights fingerprints.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x build/mlptrain ]] || scripts/build.sh >/dev/null

args=(train --data data/digits.csv --layers 128,64 --batch-size 64 --shards 8 --epochs 5
      --nesterov --dropout 0.1 --seed 7 --quiet "$@")
declare -A seen
for threads in 1 2 3 4 8; do
    fp=$(build/mlptrain "${args[@]}" --threads "$threads" | sed -n 's/^weights fingerprint: //p')
    printf 'threads %-2s  weights fingerprint %s\n' "$threads" "$fp"
    seen[$fp]=1
done
if [[ ${#seen[@]} -eq 1 ]]; then
    echo "determinism: identical weights at 1, 2, 3, 4 and 8 threads"
else
    echo "determinism: FAILED, ${#seen[@]} different fingerprints" >&2
    exit 1
fi
