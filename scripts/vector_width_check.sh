#!/usr/bin/env bash
# Proves on this machine that the vector width does not change results: the step's hot
# element-wise loops are compiled per width (include/mlptrain/core/simd.hpp: AVX-512F, AVX2
# and the x86-64 baseline, one picked at load time), and the promise is that every clone
# computes the same bits. Builds two more configurations of the mlptrain binary,
#   build-vector-avx2/      -DMLPTRAIN_VECTOR_CLONES_UP_TO_AVX2  (AVX2 code at most)
#   build-vector-baseline/  -DMLPTRAIN_NO_VECTOR_CLONES          (baseline code only)
# checks with nm that each holds the clones it should (so that the check cannot pass
# vacuously), and shows that the hot loops really run at the machine's width:
#   - in the code: objdump counts the zmm and ymm instructions of every clone (an AVX-512
#     clone must use zmm, an AVX2 clone ymm);
#   - at run time (when gdb is installed): a short training run under gdb counts the calls
#     of every clone, and every call must go to the widest one this CPU runs (on an AVX-512
#     CPU the .avx512f clones), none to the narrower ones.
# Then it compares the weights fingerprints of scripts/fingerprint_grid.sh's training
# configurations with the default build's. On an AVX-512 machine the default build runs
# the AVX-512 clones, so all three widths are compared; on an AVX2 machine, two.
#
# usage: scripts/vector_width_check.sh [--kernels env|Haswell|native|both] [--reference BIN]
#                                      [--no-build]
#   --kernels    the OpenBLAS kernel set(s) to train under (default env: the environment as
#                it is; both = Haswell and native, see fingerprint_grid.sh)
#   --reference  also compare with this binary (e.g. a build of the previous commit): the
#                same fingerprints as before a change, for the same machine and kernels
#   --no-build   use the three builds as they are
# Exits 1 when a clone lacks its width, a narrower clone runs, a fingerprint differs or a
# run fails. About 3-4 minutes on 2 idle cores (two builds of the binary, three or four
# grids of about 20 s).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

KERNELS=env REFERENCE="" BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --kernels) [[ $# -ge 2 ]] || { echo "vector_width_check.sh: --kernels needs a value" >&2; exit 2; }
                   KERNELS=$2; shift 2 ;;
        --reference) [[ $# -ge 2 && -x $2 ]] || { echo "vector_width_check.sh: --reference needs an executable" >&2; exit 2; }
                     REFERENCE=$(realpath "$2"); shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "vector_width_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$KERNELS" in
    env | Haswell | native) KERNEL_SETS=("$KERNELS") ;;
    both) KERNEL_SETS=(Haswell native) ;;
    *) echo "vector_width_check.sh: --kernels expects env, Haswell, native or both, got '$KERNELS'" >&2; exit 2 ;;
esac

# build DIR DEFINE: the mlptrain binary alone, Release, with one more preprocessor definition.
build() {
    local dir=$1 define=$2
    if [[ ! -f $dir/build.ninja ]]; then
        cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
            -DCMAKE_CXX_FLAGS="-D$define" >/dev/null
    fi
    cmake --build "$dir" --target mlptrain --parallel "$(nproc)" >/dev/null
}
if ((BUILD)); then
    echo "vector_width_check.sh: building build/, build-vector-avx2/ and build-vector-baseline/" >&2
    scripts/build.sh --target mlptrain >/dev/null
    build build-vector-avx2 MLPTRAIN_VECTOR_CLONES_UP_TO_AVX2
    build build-vector-baseline MLPTRAIN_NO_VECTOR_CLONES
fi
BINARIES=(build/mlptrain build-vector-avx2/mlptrain build-vector-baseline/mlptrain)

# Each build holds exactly the clones it should: the AVX-512 ones only by default, none in
# the baseline build. (Clones are local symbols "NAME.avx512f", "NAME.avx2", "NAME.default".)
clones() { nm "$1" | grep -c "\.$2\$" || true; }
expect() {  # BINARY AVX512 AVX2 (1: some clones, 0: none)
    local n512 n2
    n512=$(clones "$1" avx512f) n2=$(clones "$1" avx2)
    if [[ $(( n512 > 0 )) != "$2" || $(( n2 > 0 )) != "$3" ]]; then
        echo "vector_width_check.sh: $1 has $n512 AVX-512 and $n2 AVX2 clones, not what its build asks for" >&2
        exit 1
    fi
}
expect build/mlptrain 1 1
expect build-vector-avx2/mlptrain 0 1
expect build-vector-baseline/mlptrain 0 0

ISA=$(build/mlptrain bench --layers 4,3 --batch-size 4 --steps 1 --warmup 0 --no-ceiling --json 2>/dev/null |
      python3 -c 'import json, sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["environment"]["vector_isa"])')
echo "vector_width_check.sh: this CPU's widest vector ISA: $ISA (the default build runs its clones for it)"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/mlptrain-vw.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
STATUS=0
case "$ISA" in
    AVX-512) WIDEST=avx512f ;;
    AVX2*) WIDEST=avx2 ;;
    *) WIDEST=default ;;
esac
nm build/mlptrain | awk '$3 ~ /\.(avx512f|avx2|default)$/ {print $3}' | sort >"$OUT/clones"
name() { c++filt "${1%.*}" | sed 's/(.*//'; }  # the function a clone symbol belongs to

# In the code: the vector registers each clone's instructions use.
echo "vector instructions per clone (default build; zmm: 512 bits, ymm: 256 bits):"
: >"$OUT/zmm"
while read -r sym; do
    objdump -d --no-show-raw-insn --disassemble="$sym" build/mlptrain >"$OUT/asm" 2>/dev/null || true
    zmm=$(grep -c '%zmm' "$OUT/asm" || true) ymm=$(grep -c '%ymm' "$OUT/asm" || true)
    printf '  %-8s zmm %4d  ymm %4d  %s\n' "${sym##*.}" "$zmm" "$ymm" "$(name "$sym")"
    case "${sym##*.}" in
        avx512f) echo "$zmm" >>"$OUT/zmm" ;;
        avx2) ((ymm > 0)) || { echo "vector_width_check.sh: the AVX2 clone $sym has no ymm code" >&2; STATUS=1; } ;;
    esac
done <"$OUT/clones"
if ! awk '$1 > 0 {found = 1} END {exit !found}' "$OUT/zmm"; then
    echo "vector_width_check.sh: no AVX-512 clone has zmm code" >&2
    STATUS=1
fi

# At run time: which clone each call went to, in a short training run under gdb (uint8
# Fashion-MNIST rows when installed, so that the gather runs too; 2 shards, 2 threads).
FM=/usr/share/datasets/fashion-mnist
if [[ -r $FM/train-images-idx3-ubyte.gz ]]; then
    TRAIN=(--train-data "$FM/train-images-idx3-ubyte.gz" --test-data "$FM/t10k-images-idx3-ubyte.gz"
           --max-rows 512 --no-standardize)
else
    TRAIN=(--data data/digits.csv)  # float rows: the uint8 gather is not called
fi
if command -v gdb >/dev/null 2>&1; then
    {
        echo 'import gdb'
        echo 'class Count(gdb.Breakpoint):'
        echo '    def __init__(self, sym):'
        echo '        super().__init__("*'"'"'" + sym + "'"'"'", internal=True)'
        echo '        self.sym, self.hits = sym, 0'
        echo '    def stop(self):'
        echo '        self.hits += 1'
        echo '        return False  # count, do not stop'
        echo "counters = [Count(s) for s in open('$OUT/clones').read().split()]"
        echo 'gdb.execute("run")'
        echo 'for c in counters: print("HITS", c.sym, c.hits)'
    } >"$OUT/hits.py"
    gdb -q -batch -x "$OUT/hits.py" --args build/mlptrain train --quiet "${TRAIN[@]}" --epochs 1 \
        --layers 64 --batch-size 128 --shards 2 --threads 2 >"$OUT/gdb" 2>&1 || true
    echo "calls per clone at run time (a short training run under gdb; this CPU: $ISA, so .$WIDEST):"
    if ! grep -q '^HITS' "$OUT/gdb"; then
        echo "vector_width_check.sh: the run under gdb failed:" >&2
        tail -n 5 "$OUT/gdb" >&2
        STATUS=1
    fi
    while read -r _ sym hits; do
        printf '  %-8s %6d calls  %s\n' "${sym##*.}" "$hits" "$(name "$sym")"
        if [[ ${sym##*.} != "$WIDEST" ]] && ((hits > 0)); then
            echo "vector_width_check.sh: $sym ran, but this CPU runs .$WIDEST" >&2
            STATUS=1
        fi
    done < <(grep '^HITS' "$OUT/gdb")
    if ! awk -v w=".$WIDEST" '$1 == "HITS" && substr($2, length($2) - length(w) + 1) == w && $3 > 0 {found = 1}
                              END {exit !found}' "$OUT/gdb"; then
        echo "vector_width_check.sh: no .$WIDEST clone ran" >&2
        STATUS=1
    fi
else
    echo "vector_width_check.sh: gdb is not installed: the run-time check of which clone runs is skipped" >&2
fi
for kernels in "${KERNEL_SETS[@]}"; do
    names=(default avx2 baseline)
    bins=("${BINARIES[@]}")
    if [[ -n $REFERENCE ]]; then names+=(reference); bins+=("$REFERENCE"); fi
    for i in "${!bins[@]}"; do
        scripts/fingerprint_grid.sh "${bins[$i]}" --kernels "$kernels" >"$OUT/${names[$i]}.txt" || STATUS=1
    done
    for name in "${names[@]:1}"; do
        if diff "$OUT/default.txt" "$OUT/$name.txt" >"$OUT/diff"; then
            echo "kernels $kernels: $name build = default build ($(($(wc -l <"$OUT/default.txt") - 1)) configurations, $(tail -n 1 "$OUT/default.txt" | cut -f2))"
        else
            STATUS=1
            echo "kernels $kernels: $name build DIFFERS from the default build:"
            cat "$OUT/diff"
        fi
    done
done
if ((STATUS)); then
    echo "vector_width_check.sh: FAILED" >&2
else
    echo "vector_width_check.sh: the same fingerprints at every vector width"
fi
exit $STATUS
