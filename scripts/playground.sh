#!/usr/bin/env bash
# Trains a small network on each bundled 2-D data set (data/moons.csv, circles.csv,
# spirals.csv; see scripts/make_2d_data.py) and draws what it learned with
# scripts/plot_boundary.py, TensorFlow-Playground style. For each data set NAME it writes
# into the output directory (default: playground/):
#   NAME.png         the decision map with the data, the misclassified points and the title
#   NAME-hidden.png  the same map beside one panel per unit of the first hidden layer
#   NAME.gif         the map over training, one frame per kept checkpoint, beside the loss
#   NAME-strip.png   six moments of training in a row, with the loss curve
#   NAME/            the run: every epoch's checkpoint (--keep-checkpoints 0) and metrics.jsonl
# usage: scripts/playground.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${1:-playground}
# A python3 with NumPy, matplotlib and Pillow: $PYTHON if set, else Debian's /usr/bin/python3
# (where python3-matplotlib and python3-pil install them), else the python3 on PATH (which
# may be pyenv's or a virtual environment's). If none has them, setup.sh installs Debian's.
has_modules() { [[ -n "$1" ]] && "$1" -c 'import numpy, matplotlib, PIL' 2>/dev/null; }
if [[ -n "${PYTHON:-}" ]]; then
    candidates=("$PYTHON")
else
    candidates=(/usr/bin/python3 "$(command -v python3 || true)")
fi
python=""
for candidate in "${candidates[@]}"; do
    if has_modules "$candidate"; then
        python=$candidate
        break
    fi
done
if [[ -z "$python" ]]; then
    scripts/setup.sh --with plots
    python=${PYTHON:-/usr/bin/python3}
    if ! has_modules "$python"; then
        echo "playground.sh: $python cannot import numpy, matplotlib and PIL (hint: PYTHON=/usr/bin/python3)" >&2
        exit 1
    fi
fi
[[ -x build/mlptrain ]] || scripts/build.sh >/dev/null

# Small networks that learn each set in a few seconds. Adam without its L2 term
# (--weight-decay 0): the default 0.01 holds these tiny models back. Circles uses bce, so
# its map shows P(outer) rather than the predicted class.
declare -A flags=(
    [moons]="--layers 8,8 --activation tanh --optimizer adam --lr 0.01 --weight-decay 0 --epochs 40"
    [circles]="--layers 8 --activation tanh --loss bce --optimizer adam --lr 0.03 --weight-decay 0 --epochs 40"
    [spirals]="--layers 24,24 --activation relu --optimizer adam --lr 0.01 --weight-decay 0 --epochs 100"
)
mkdir -p "$out"
for name in moons circles spirals; do
    run="$out/$name"
    rm -rf "$run"  # a new run refuses a directory holding an earlier run's checkpoints
    echo "playground.sh: $name: build/mlptrain train ${flags[$name]}"
    # shellcheck disable=SC2086  # the flags are words
    build/mlptrain train --data "data/$name.csv" ${flags[$name]} --quiet \
        --checkpoint-dir "$run" --keep-checkpoints 0 --metrics-out "$run/metrics.jsonl"
    plot=("$python" scripts/plot_boundary.py "$run" "data/$name.csv")
    "${plot[@]}" --output "$out/$name.png"
    "${plot[@]}" --output "$out/$name-hidden.png" --hidden
    "${plot[@]}" --output "$out/$name.gif" --animate --frames 50
    "${plot[@]}" --output "$out/$name-strip.png" --animate
done
echo "playground.sh: pictures in $out/"
