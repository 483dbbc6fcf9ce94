// A quick numerical self-test of the BLAS core that runs now: every sgemm form the engine
// calls (nn/backprop.cpp), through gemm(), at shapes that reach the edge kernels, the
// small-matrix path and the k-blocked path, against a double-accumulating reference with a
// rounding-error bound. run/blas_selection.cpp runs it once at start-up, after choosing the
// core; a core that fails is refused.
#pragma once

#include <string>

namespace mlptrain {

struct BlasSelfTestResult {
    bool passed = true;
    int calls = 0;             // gemm calls checked (3 forms × β ∈ {0, 1} × 14 shapes = 84)
    double worst_ratio = 0.0;  // max over elements of |C − reference| / bound; ≤ 1 passes
    std::string failure;       // the first failure: form, shape, β, element, values
    double milliseconds = 0.0;      // wall time of the whole test
    double cpu_milliseconds = 0.0;  // CPU time of the calling thread: what the test costs
                                    // on a shared machine, where wall time includes waiting
};

// Runs the test on the calling thread with BLAS pinned to one thread per call, as the
// engine runs it (set_blas_single_threaded). No other thread may be inside BLAS meanwhile.
// `corrupt_for_test` adds 1e-3 to one element after one call, so that tests can see a
// wrong core refused (MLPTRAIN_TEST_BLAS_CORRUPT in run/blas_selection.cpp).
BlasSelfTestResult run_blas_self_test(bool corrupt_for_test = false);

}  // namespace mlptrain
