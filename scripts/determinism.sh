#!/usr/bin/env bash
# Reproduces the README's determinism claim: the same data, configuration and seed give
# bitwise-identical weights at every thread count. Trains digits.csv with a fixed shard
# count at several thread counts and compares the printed weights fingerprints. Where there
# are more threads than shards and the hidden layers are big enough (say --layers 1024,1024
# --batch-size 256 --shards 2), teams of threads share each shard (engine/shard_team.hpp):
# each line then says so.
#   scripts/determinism.sh [--bin PATH] [--threads 1,2,3,4,8] [--shards 8]
#       [--layers 128,64] [--batch-size 64] [TRAIN_FLAGS...]
# TRAIN_FLAGS go to every `mlptrain train` run. Exit status 1 when the fingerprints differ
# or a run printed none; 2 for bad arguments. scripts/thread_scaling.sh runs it too.
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { echo "determinism.sh: $*" >&2; exit 2; }

BIN=build/mlptrain THREADS=1,2,3,4,8 SHARDS=8 LAYERS=128,64 BATCH=64
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin|--threads|--shards|--layers|--batch-size) [[ $# -ge 2 ]] || die "$1 needs a value" ;;&
        --bin) BIN=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --shards) SHARDS=$2; shift 2 ;;
        --layers) LAYERS=$2; shift 2 ;;
        --batch-size) BATCH=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[[ $BIN == build/mlptrain || $BIN == /* ]] || BIN=$CALLER_DIR/$BIN
if [[ $BIN == build/mlptrain && ! -x $BIN ]]; then scripts/build.sh >/dev/null; fi
[[ -x $BIN ]] || die "no executable mlptrain at '$BIN'"
[[ $THREADS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--threads takes a list such as 1,2,4, got '$THREADS'"
[[ $SHARDS =~ ^[1-9][0-9]*$ ]] || die "--shards takes a positive count, got '$SHARDS'"
[[ $LAYERS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--layers takes hidden widths such as 128,64, got '$LAYERS'"
[[ $BATCH =~ ^[1-9][0-9]*$ ]] || die "--batch-size takes a positive count, got '$BATCH'"

args=(train --data data/digits.csv --layers "$LAYERS" --batch-size "$BATCH" --shards "$SHARDS" --epochs 5
      --nesterov --dropout 0.1 --seed 7 "$@")  # not --quiet: the notes say whether teams ran
declare -A seen
for threads in ${THREADS//,/ }; do
    out=$("$BIN" "${args[@]}" --threads "$threads" 2>&1) && status=0 || status=$?
    fp=$(sed -n 's/^weights fingerprint: //p' <<<"$out")
    ((status == 0)) || fp=""
    team=$(grep -o 'a team of [0-9]* threads' <<<"$out" | head -1 || true)
    why=$(grep -v '^$' <<<"$out" | tail -1 || true)
    printf 'threads %-3s weights fingerprint %s%s\n' "$threads" "${fp:-FAILED (no fingerprint printed${why:+: $why})}" \
        "${team:+ ($team per shard)}"
    seen[${fp:-FAILED-$threads}]=1
done
if [[ ${!seen[*]} == *FAILED* ]]; then
    echo "determinism: FAILED, a training run printed no fingerprint"
    exit 1
elif [[ ${#seen[@]} -eq 1 ]]; then
    echo "determinism: identical weights at threads $THREADS ($SHARDS shards, layers $LAYERS, batch $BATCH)"
else
    echo "determinism: FAILED, ${#seen[@]} different fingerprints"
    exit 1
fi
