// The one wrapper over cblas_sgemm. Every matrix product in mlptrain goes through gemm();
// nothing else includes cblas.h. Also reports which BLAS is linked, pins it to one thread,
// and switches OpenBLAS's kernel set ("core") at run time (run/blas_selection.cpp decides).
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
// "0.3.21": the version in OpenBLAS's configuration string ("" if it has none).
std::string blas_version();

// The kernel set OpenBLAS runs now, as openblas_get_corename() spells it ("Haswell").
std::string blas_core_name();
// Whether OpenBLAS can change its core at run time: a DYNAMIC_ARCH build that exports
// gotoblas_dynamic_quit and gotoblas_dynamic_init (Debian's 0.3.x builds do).
bool blas_can_switch_core();
// Makes OpenBLAS run `core` (a name OPENBLAS_CORETYPE accepts; "" = OpenBLAS's own CPUID
// detection, as at load time) and returns the core it runs afterwards, which the caller
// must compare: OpenBLAS falls back to a choice by CPU features for a name it does not take.
// OPENBLAS_CORETYPE is restored as the user set it. Only safe while no thread is inside
// BLAS: call it before any worker pool exists.
std::string switch_blas_core(const std::string& core);

}  // namespace mlptrain
