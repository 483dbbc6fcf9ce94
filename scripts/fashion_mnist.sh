#!/usr/bin/env bash
# Trains an MLP on Fashion-MNIST (Debian package dataset-fashion-mnist, IDX .gz files) and prints
# test accuracy, wall time and peak RSS. Installs the dataset and builds first; extra arguments
# go to `mlptrain train` and replace the defaults below (e.g. --seed 2, --threads 4, and
# --precision bf16 for bf16 GEMM inputs on oneDNN: needs a CPU with AVX512_BF16 or AMX-BF16).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DATA_DIR=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}

# The dataset package, and GNU time (its -v reports the peak resident set size).
scripts/setup.sh --with fashion-mnist
MLPTRAIN_SKIP_SETUP=1 scripts/build.sh --target mlptrain

for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
    t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    if [[ ! -r "$DATA_DIR/$f" ]]; then
        echo "fashion_mnist.sh: $DATA_DIR/$f not found (install dataset-fashion-mnist," \
            "or set FASHION_MNIST_DIR to a folder holding the four IDX files)" >&2
        exit 1
    fi
done

# Documented hyper-parameters: two 1024-wide ReLU layers with dropout 0.3, AdamW with
# decoupled weight decay and a cosine schedule after a short warm-up; 5000 of the 60000
# training images are held out for validation, and the 10000 t10k images are the test set.
# One "--flag value" (or "--flag" alone) per entry; a flag given on the command line replaces
# its default here, since mlptrain rejects a flag given twice.
DEFAULTS=(
    "--layers 1024,1024" "--activation relu" "--dropout 0.3"
    "--optimizer adamw" "--lr 0.001" "--weight-decay 0.05"
    "--schedule cosine" "--warmup-steps 200"
    "--batch-size 256" "--epochs 30" "--validation-fraction 0.0833"
)
PARAMS=()
for entry in "${DEFAULTS[@]}"; do
    read -r -a words <<<"$entry"
    overridden=0
    for arg in "$@"; do
        if [[ "$arg" == "${words[0]}" || "$arg" == "${words[0]}="* ]]; then
            overridden=1
        fi
    done
    if [[ $overridden -eq 0 ]]; then
        PARAMS+=("${words[@]}")
    fi
done

LOG=$(mktemp)
TIMES=$(mktemp)
trap 'rm -f "$LOG" "$TIMES"' EXIT

COMMAND=(build/mlptrain train
    --train-data "$DATA_DIR/train-images-idx3-ubyte.gz"
    --test-data "$DATA_DIR/t10k-images-idx3-ubyte.gz"
    "${PARAMS[@]}" "$@")
echo "fashion_mnist.sh: ${COMMAND[*]}"
status=0
/usr/bin/time -v -o "$TIMES" "${COMMAND[@]}" | tee "$LOG" || status=$?
if [[ $status -ne 0 ]]; then
    echo "fashion_mnist.sh: mlptrain train failed (exit status $status)" >&2
    exit "$status"
fi

accuracy=$(sed -n 's/^test:.*accuracy \([0-9.]*\).*/\1/p' "$LOG" | tail -n 1)
wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TIMES")
rss_kib=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$TIMES")
echo
precision=fp32
for ((i = 1; i <= $#; i++)); do
    if [[ "${!i}" == --precision ]]; then
        next=$((i + 1))
        precision=${!next:-fp32}
    elif [[ "${!i}" == --precision=* ]]; then
        precision=${!i#--precision=}
    fi
done
gemm=$(sed -n 's/^gemm: //p' "$LOG" | head -n 1 || true)
echo "precision: $precision (GEMMs: ${gemm:-OpenBLAS, fp32})"
echo "test accuracy: ${accuracy:-(not printed)}"
echo "wall time: ${wall:-?} (h:mm:ss or m:ss)"
echo "peak RSS: $(( ${rss_kib:-0} / 1024 )) MiB"
