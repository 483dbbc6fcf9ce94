#!/usr/bin/env bash
# Reproduces the README's accuracy figures: trains every bundled dataset with default
# settings for seeds 1, 2 and 3 and prints the test accuracies (extra args are passed on).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x build/mlptrain ]] || scripts/build.sh >/dev/null

for dataset in iris wine breast_cancer digits; do
    line="$dataset:"
    for seed in 1 2 3; do
        acc=$(build/mlptrain train --data "data/$dataset.csv" --seed "$seed" --quiet "$@" |
              sed -n 's/^test: .*accuracy \([0-9.]*\).*/\1/p')
        line+=" seed $seed $acc"
    done
    echo "$line"
done
