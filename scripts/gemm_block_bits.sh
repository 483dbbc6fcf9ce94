#!/usr/bin/env bash
# Does OpenBLAS compute the same bits for a block of a GEMM's output as for the whole GEMM?
# The question behind splitting one shard's GEMMs between threads without changing any
# result (README, "On 16 cores"). For the step's three GEMM forms at 784-1024 (a layer of
# 784-1024-1024-10) and a shard of R rows, each OpenBLAS core computes the whole product,
# then the same product block by block (blocks of 32, 64, 128 and 256 output columns or
# rows, or the --blocks given), and counts the output elements whose bits differ; the table
# shows the most over the block sizes (0: every split gives the whole GEMM's bits). One
# block size at a time (--blocks 32, then --blocks 64) shows which blocks differ.
#   Z = X·Wᵀ (R×1024, K = 784): split its columns or its rows (blocks of rows a quarter size)
#   dX = dZ·W (R×784, K = 1024): split its columns or its rows
#   dW += dZᵀ·X (1024×784, K = R; beta 1 onto zeros, as the step): split its rows or columns
# usage: scripts/gemm_block_bits.sh [--rows 128,64,32,16] [--cores Haswell,SkylakeX,Cooperlake]
#                                   [--blocks 32,64,128,256]
set -euo pipefail
ROWS=128,64,32,16 CORES=Haswell,SkylakeX,Cooperlake BLOCKS=32,64,128,256
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rows|--cores|--blocks) [[ $# -ge 2 ]] || { echo "gemm_block_bits.sh: $1 needs a value" >&2; exit 2; } ;;&
        --rows) ROWS=$2; shift 2 ;;
        --cores) CORES=$2; shift 2 ;;
        --blocks) BLOCKS=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gemm_block_bits.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ $ROWS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "gemm_block_bits.sh: --rows takes a list such as 128,64, got '$ROWS'" >&2; exit 2; }
[[ $BLOCKS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "gemm_block_bits.sh: --blocks takes a list such as 32,64, got '$BLOCKS'" >&2; exit 2; }
[[ $CORES =~ ^[A-Za-z0-9]+(,[A-Za-z0-9]+)*$ ]] || { echo "gemm_block_bits.sh: --cores takes a list such as Haswell,Cooperlake, got '$CORES'" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/blocks.cpp" <<'CPP'
#include <cblas.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

using Vec = std::vector<float>;
static Vec normal(std::size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    Vec v(n);
    for (float& x : v) x = d(g);
    return v;
}
static long differ(const Vec& a, const Vec& b) {
    long n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return n;
}
// C (m, n) = op(A) · op(B) + beta·C, row-major, as the engine calls it.
static void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                 float beta, float* c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                a, lda, b, ldb, beta, c, ldc);
}

int main(int argc, char** argv) {
    const int R = std::atoi(argv[1]), IN = 784, OUT = 1024;
    const Vec X = normal(std::size_t(R) * IN, 1), W = normal(std::size_t(OUT) * IN, 2),
              dZ = normal(std::size_t(R) * OUT, 3);
    long fwd_cols = 0, fwd_rows = 0, dx_cols = 0, dx_rows = 0, dw_rows = 0, dw_cols = 0;
    Vec Z(std::size_t(R) * OUT), dX(std::size_t(R) * IN), dW(std::size_t(OUT) * IN, 0.0f);
    gemm(false, true, R, OUT, IN, X.data(), IN, W.data(), IN, 0.0f, Z.data(), OUT);
    gemm(false, false, R, IN, OUT, dZ.data(), OUT, W.data(), IN, 0.0f, dX.data(), IN);
    gemm(true, false, OUT, IN, R, dZ.data(), OUT, X.data(), IN, 1.0f, dW.data(), IN);
    for (int a = 2; a < argc; ++a) {
        const int b = std::atoi(argv[a]);
        Vec Zb(Z.size()), dXb(dX.size()), dWb(dW.size(), 0.0f), dWc(dW.size(), 0.0f);
        for (int c = 0; c < OUT; c += b)
            gemm(false, true, R, std::min(b, OUT - c), IN, X.data(), IN, W.data() + std::size_t(c) * IN, IN, 0.0f,
                 Zb.data() + c, OUT);
        fwd_cols = std::max(fwd_cols, differ(Z, Zb));
        const int rb = std::max(1, b / 4);
        for (int r = 0; r < R; r += rb)
            gemm(false, true, std::min(rb, R - r), OUT, IN, X.data() + std::size_t(r) * IN, IN, W.data(), IN, 0.0f,
                 Zb.data() + std::size_t(r) * OUT, OUT);
        fwd_rows = std::max(fwd_rows, differ(Z, Zb));
        for (int c = 0; c < IN; c += b)
            gemm(false, false, R, std::min(b, IN - c), OUT, dZ.data(), OUT, W.data() + c, IN, 0.0f, dXb.data() + c, IN);
        dx_cols = std::max(dx_cols, differ(dX, dXb));
        for (int r = 0; r < R; r += rb)
            gemm(false, false, std::min(rb, R - r), IN, OUT, dZ.data() + std::size_t(r) * OUT, OUT, W.data(), IN, 0.0f,
                 dXb.data() + std::size_t(r) * IN, IN);
        dx_rows = std::max(dx_rows, differ(dX, dXb));
        for (int r = 0; r < OUT; r += b)
            gemm(true, false, std::min(b, OUT - r), IN, R, dZ.data() + r, OUT, X.data(), IN, 1.0f,
                 dWb.data() + std::size_t(r) * IN, IN);
        dw_rows = std::max(dw_rows, differ(dW, dWb));
        for (int c = 0; c < IN; c += b)
            gemm(true, false, OUT, std::min(b, IN - c), R, dZ.data(), OUT, X.data() + c, IN, 1.0f, dWc.data() + c, IN);
        dw_cols = std::max(dw_cols, differ(dW, dWc));
    }
    std::printf("| %s | %d | %ld / %zu | %ld / %zu | %ld / %zu | %ld / %zu | %ld / %zu | %ld / %zu |\n",
                openblas_get_corename(), R, fwd_cols, Z.size(), fwd_rows, Z.size(), dx_cols, dX.size(), dx_rows,
                dX.size(), dw_rows, dW.size(), dw_cols, dW.size());
}
CPP
inc=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
g++ -O2 -std=c++17 $inc -o "$dir/blocks" "$dir/blocks.cpp" -lopenblas
echo "OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '(version unknown)'), one thread;" \
     "elements whose bits differ from the whole GEMM's, the most over blocks of $BLOCKS"
echo "| core | rows R | Z by columns | Z by rows | dX by columns | dX by rows | dW by rows | dW by columns |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for core in ${CORES//,/ }; do
    for r in ${ROWS//,/ }; do
        OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=$core "$dir/blocks" "$r" ${BLOCKS//,/ }
    done
done
