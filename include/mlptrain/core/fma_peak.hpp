// The machine's floating-point peak, measured in-process: a register-only loop of fp32
// multiply-adds at the widest vector width the CPU and OS allow, on T threads at once. What
// `mlptrain bench` sets a step's GFLOP/s against, beside the GEMM ceiling: the ceiling says
// what the BLAS reaches on the step's shapes, the peak what the silicon could.
#pragma once

namespace mlptrain {

struct FmaPeak {
    double gflops = 0.0;     // fp32 GFLOP/s of all threads together (an FMA counts 2)
    const char* isa = "";    // the loop's instructions: "AVX-512 FMA (zmm)", "AVX2 FMA (ymm)", …
    int threads = 0;
};

// Runs the loop on `threads` threads concurrently for about `seconds`, twice (the first round
// also brings the cores to their vector clock), and returns the better round. The loop is
// compiled for each width with GCC target attributes, so a generic build measures AVX-512
// where the CPU has it.
FmaPeak measure_fma_peak(int threads, double seconds);

}  // namespace mlptrain
