#!/usr/bin/env bash
# The weights fingerprints of `mlptrain train` over a grid of training configurations that
# runs every element-wise path of the step: each hidden activation, SGD (momentum, Nesterov,
# none), Adam, AdamW, L2, weight decay, clipping on and off, dropout, 1/2/4 shards, 1 and 2
# threads, 2 MPI ranks (when mpirun is installed), the float (CSV) and uint8 (IDX) gathers,
# models above and below OpenBLAS's small-matrix limit, and oneDNN fp32 and bf16 where the
# build and CPU have them. Two builds, or one build before and after a change, compute the
# same bits exactly when their outputs are equal: diff them.
#
# usage: scripts/fingerprint_grid.sh BINARY [--kernels env|Haswell|native]
#   env (default): the environment as it is (this machine sets OPENBLAS_CORETYPE=Haswell);
#   Haswell: OPENBLAS_CORETYPE=Haswell; native: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
#   (mlptrain then picks the widest core the CPU runs).
# Prints "configuration<TAB>fingerprint" lines, then "blas core<TAB>…"; a run that fails
# prints FAILED and makes the exit status 1. The Fashion-MNIST rows are used when Debian's
# dataset-fashion-mnist is installed (scripts/setup.sh --with fashion-mnist).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
[[ $# -ge 1 && $1 != -h && $1 != --help ]] || { usage; [[ $# -ge 1 ]]; exit $?; }
BIN=$(realpath "$1")
shift
KERNELS=env
while [[ $# -gt 0 ]]; do
    case "$1" in
        --kernels) [[ $# -ge 2 ]] || { echo "fingerprint_grid.sh: --kernels needs a value" >&2; exit 2; }
                   KERNELS=$2; shift 2 ;;
        *) echo "fingerprint_grid.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ -x $BIN ]] || { echo "fingerprint_grid.sh: $BIN is not an executable" >&2; exit 2; }
case "$KERNELS" in
    env) ENVV=(env) ;;
    native) ENVV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE) ;;
    Haswell) ENVV=(env OPENBLAS_CORETYPE=Haswell) ;;
    *) echo "fingerprint_grid.sh: --kernels expects env, Haswell or native, got '$KERNELS'" >&2; exit 2 ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STATUS=0
OUT=$(mktemp "${TMPDIR:-/tmp}/mlptrain-fp.XXXXXX")
trap 'rm -f "$OUT"' EXIT
# run NAME [LAUNCHER...] -- ARGS...: trains once and prints the weights fingerprint.
run() {
    local name=$1 fp launcher=()
    shift
    while [[ $1 != -- ]]; do launcher+=("$1"); shift; done
    shift
    if "${ENVV[@]}" "${launcher[@]}" "$BIN" train --quiet "$@" >"$OUT" 2>&1; then
        fp=$(sed -n 's/^weights fingerprint: //p' "$OUT" | head -n 1)
    fi
    if [[ -z ${fp:-} ]]; then
        STATUS=1
        echo "fingerprint_grid.sh: $name failed:" >&2
        tail -n 5 "$OUT" >&2
    fi
    printf '%s\t%s\n' "$name" "${fp:-FAILED}"
}

D=(--data data/digits.csv --epochs 2)
run relu-sgd-b64-t2         -- "${D[@]}" --layers 256,128 --batch-size 64 --threads 2
run relu-sgd-b64-t1         -- "${D[@]}" --layers 256,128 --batch-size 64 --threads 1
run relu-sgd-b512-s4-t2     -- "${D[@]}" --layers 256,128 --batch-size 512 --shards 4 --threads 2
run relu-sgd-b16-s1         -- "${D[@]}" --layers 256,128 --batch-size 16 --threads 1
run leaky-nesterov-l2       -- "${D[@]}" --layers 300,200 --activation leaky_relu --nesterov --l2 0.001 --batch-size 128
run tanh-adam               -- "${D[@]}" --layers 300,200 --activation tanh --optimizer adam --lr 0.001 --batch-size 128
run sigmoid-adamw-cosine    -- "${D[@]}" --layers 300,200 --activation sigmoid --optimizer adamw --lr 0.003 --schedule cosine --batch-size 64
run relu-sgd-nomomentum-wd  -- "${D[@]}" --layers 300,200 --momentum 0 --weight-decay 0.01 --batch-size 64
run relu-clip               -- "${D[@]}" --layers 300,200 --clip-norm 0.5 --batch-size 64 --lr 0.1
run relu-dropout            -- "${D[@]}" --layers 300,200 --dropout 0.3 --batch-size 64
run identity                -- "${D[@]}" --layers 300 --activation identity --batch-size 64
LIBS=$(ldd "$BIN" 2>/dev/null || true)
if command -v mpirun >/dev/null 2>&1 && [[ $LIBS == *libmpi* ]]; then  # built with MPI
    MPI=(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe --bind-to none -np 2)
    run relu-sgd-b512-s4-2ranks "${MPI[@]}" -- "${D[@]}" --layers 256,128 --batch-size 512 --shards 4 --threads 1
    run relu-clip-2ranks        "${MPI[@]}" -- "${D[@]}" --layers 300,200 --clip-norm 0.5 --batch-size 64 --lr 0.1 --threads 1
fi
FM=/usr/share/datasets/fashion-mnist
if [[ -r $FM/train-images-idx3-ubyte.gz ]]; then
    F=(--train-data $FM/train-images-idx3-ubyte.gz --test-data $FM/t10k-images-idx3-ubyte.gz --max-rows 6000 --epochs 1)
    run fmnist-1024x2-b256-t2 -- "${F[@]}" --layers 1024,1024 --batch-size 256 --threads 2 --lr 0.05
    run fmnist-1024x2-b256-t1 -- "${F[@]}" --layers 1024,1024 --batch-size 256 --threads 1 --lr 0.05
    run fmnist-256-128-b64    -- "${F[@]}" --layers 256,128 --batch-size 64 --threads 2 --lr 0.05
    run fmnist-nostd-adamw    -- "${F[@]}" --layers 512 --batch-size 128 --no-standardize --optimizer adamw --lr 0.001
    run fmnist-clip-dropout   -- "${F[@]}" --layers 512,256 --batch-size 256 --clip-norm 1 --dropout 0.2 --lr 0.05
    # oneDNN fp32 and bf16, where the build has oneDNN and the CPU bf16 dot products.
    probe() { "${ENVV[@]}" "$BIN" bench --layers 1024,1024,10 --batch-size 256 --steps 1 --warmup 0 --no-ceiling "$@" >/dev/null 2>&1; }
    if probe --gemm onednn; then
        run fmnist-onednn-t2  -- "${F[@]}" --layers 1024,1024 --batch-size 256 --threads 2 --lr 0.05 --gemm onednn
        run fmnist-onednn-t1  -- "${F[@]}" --layers 1024,1024 --batch-size 256 --threads 1 --lr 0.05 --gemm onednn
    fi
    if probe --precision bf16 --no-fallback; then
        run fmnist-bf16-t2    -- "${F[@]}" --layers 1024,1024 --batch-size 256 --threads 2 --lr 0.05 --precision bf16
        run fmnist-bf16-t1    -- "${F[@]}" --layers 1024,1024 --batch-size 256 --threads 1 --lr 0.05 --precision bf16
    fi
fi
# The kernels the runs used (fingerprints match per machine type and core).
printf 'blas core\t%s\n' "$("${ENVV[@]}" "$BIN" bench --layers 4,3 --batch-size 4 --steps 1 --warmup 0 --no-ceiling --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1]).get("blas_core","?"))' 2>/dev/null || echo '?')"
exit $STATUS
