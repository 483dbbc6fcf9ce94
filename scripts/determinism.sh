#!/usr/bin/env bash
# Reproduces the README's determinism claim: the same data, configuration and seed give
# bitwise-identical weights at every thread count. Trains digits.csv with a fixed shard
# count at several thread counts and compares the printed weights fingerprints.
#   scripts/determinism.sh [--bin PATH] [--threads 1,2,3,4,8] [--shards 8] [TRAIN_FLAGS...]
# TRAIN_FLAGS go to every `mlptrain train` run. Exit status 1 when the fingerprints differ
# or a run printed none; 2 for bad arguments. scripts/thread_scaling.sh runs it too.
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { echo "determinism.sh: $*" >&2; exit 2; }

BIN=build/mlptrain THREADS=1,2,3,4,8 SHARDS=8
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin|--threads|--shards) [[ $# -ge 2 ]] || die "$1 needs a value" ;;&
        --bin) BIN=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --shards) SHARDS=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[[ $BIN == build/mlptrain || $BIN == /* ]] || BIN=$CALLER_DIR/$BIN
if [[ $BIN == build/mlptrain && ! -x $BIN ]]; then scripts/build.sh >/dev/null; fi
[[ -x $BIN ]] || die "no executable mlptrain at '$BIN'"
[[ $THREADS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--threads takes a list such as 1,2,4, got '$THREADS'"
[[ $SHARDS =~ ^[1-9][0-9]*$ ]] || die "--shards takes a positive count, got '$SHARDS'"

args=(train --data data/digits.csv --layers 128,64 --batch-size 64 --shards "$SHARDS" --epochs 5
      --nesterov --dropout 0.1 --seed 7 --quiet "$@")
declare -A seen
for threads in ${THREADS//,/ }; do
    fp=$("$BIN" "${args[@]}" --threads "$threads" | sed -n 's/^weights fingerprint: //p') || fp=""
    printf 'threads %-3s weights fingerprint %s\n' "$threads" "${fp:-FAILED (no fingerprint printed)}"
    seen[${fp:-FAILED-$threads}]=1
done
if [[ ${!seen[*]} == *FAILED* ]]; then
    echo "determinism: FAILED, a training run printed no fingerprint"
    exit 1
elif [[ ${#seen[@]} -eq 1 ]]; then
    echo "determinism: identical weights at threads $THREADS ($SHARDS shards)"
else
    echo "determinism: FAILED, ${#seen[@]} different fingerprints"
    exit 1
fi
