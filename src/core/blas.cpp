// cblas_sgemm wrapper and OpenBLAS introspection (see blas.hpp). The only includer of cblas.h.
#include "mlptrain/core/blas.hpp"

#include <cblas.h>

#include <cstdlib>

namespace mlptrain {

void gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B,
          float beta, Matrix C) {
    const bool ta = trans_a == Transpose::yes, tb = trans_b == Transpose::yes;
    const std::int64_t m = ta ? A.cols : A.rows, k = ta ? A.rows : A.cols;
    const std::int64_t kb = tb ? B.cols : B.rows, n = tb ? B.rows : B.cols;
    MLPTRAIN_ASSERT(k == kb && C.rows == m && C.cols == n, "gemm shape mismatch");
    MLPTRAIN_ASSERT(A.ld >= A.cols && B.ld >= B.cols && C.ld >= C.cols, "gemm leading dimension");
    if (m == 0 || n == 0) return;
    if (k == 0) {  // BLAS would leave C untouched for alpha·0; define it as beta·C.
        for (std::int64_t r = 0; r < m; ++r)
            for (std::int64_t c = 0; c < n; ++c) C(r, c) = beta == 0.0f ? 0.0f : beta * C(r, c);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha,
                A.data, static_cast<blasint>(A.ld), B.data, static_cast<blasint>(B.ld), beta,
                C.data, static_cast<blasint>(C.ld));
}

void set_blas_single_threaded() { openblas_set_num_threads(1); }

int blas_max_concurrent_callers() {
    const std::string config = openblas_get_config();
    const std::size_t at = config.find("MAX_THREADS=");
    if (at == std::string::npos) return 64;
    const int value = std::atoi(config.c_str() + at + 12);
    return value > 0 ? value : 64;
}

int blas_threads_per_call() { return openblas_get_parallel() == 0 ? 1 : openblas_get_num_threads(); }

std::string blas_description() {
    std::string mode;
    switch (openblas_get_parallel()) {
        case 0: mode = "serial (no BLAS threads)"; break;
        case 1: mode = "pthreads build, " + std::to_string(openblas_get_num_threads()) + " thread(s) per call"; break;
        default: mode = "OpenMP build, " + std::to_string(openblas_get_num_threads()) + " thread(s) per call"; break;
    }
    return std::string(openblas_get_config()) + ", core " + openblas_get_corename() + ", " + mode;
}

}  // namespace mlptrain
