// Whether bf16 GEMMs run on this machine and build: a CPU with bf16 dot products and a
// oneDNN that uses them. Tests of bf16 results run only where this holds (a build without
// oneDNN links the stub that says no).
#pragma once

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/cpu_features.hpp"

namespace mlptrain::test {

inline bool bf16_runs_here() { return has_bf16_dot_products(detect_cpu_features()) && onednn_runs_bf16(); }

}  // namespace mlptrain::test
