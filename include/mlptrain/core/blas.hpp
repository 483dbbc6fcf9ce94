// The one wrapper over cblas_sgemm. Every matrix product in mlptrain goes through gemm();
// nothing else includes cblas.h. Also reports which BLAS is linked and pins it to one thread.
#pragma once

#include <string>

#include "mlptrain/core/matrix.hpp"

namespace mlptrain {

enum class Transpose { no, yes };

// C = alpha · op(A) · op(B) + beta · C, with op(X) = X or Xᵀ. beta = 0 overwrites C,
// beta = 1 accumulates into it. Shapes are asserted: op(A) (m, k), op(B) (k, n), C (m, n).
void gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B,
          float beta, Matrix C);

// Asks OpenBLAS for one thread per call: the trainer's workers are the parallelism, and
// a BLAS pool working under them would oversubscribe the cores.
void set_blas_single_threaded();

// e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64,
// core Cooperlake, pthreads build, 1 thread(s) per call".
std::string blas_description();
// Threads one BLAS call may use (1 once set_blas_single_threaded has run).
int blas_threads_per_call();
// How many threads may call the BLAS at once: OpenBLAS keeps per-thread work buffers for
// at most its compile-time MAX_THREADS (read from its configuration string; 64 if absent).
int blas_max_concurrent_callers();

}  // namespace mlptrain
