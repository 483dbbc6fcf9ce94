// The one wrapper over cblas_sgemm. Every matrix product in mlptrain goes through gemm();
// nothing else includes cblas.h. Also reports which BLAS is linked and pins it to one thread.
#pragma once

#include <string>

#include "mlptrain/matrix.hpp"

namespace mlptrain {

enum class Transpose { no, yes };

// C = alpha · op(A) · op(B) + beta · C, with op(X) = X or Xᵀ. beta = 0 overwrites C,
// beta = 1 accumulates into it. Shapes are asserted: op(A) (m, k), op(B) (k, n), C (m, n).
void gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B,
          float beta, Matrix C);

// Asks OpenBLAS for one thread per call (a no-op for the serial build): the trainer's
// workers are the parallelism, and a BLAS pool under them would oversubscribe the cores.
void set_blas_single_threaded();

// e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64, core SkylakeX,
// serial (no BLAS threads)".
std::string blas_description();
// true when the linked BLAS runs every call on the calling thread.
bool blas_is_serial();

}  // namespace mlptrain
