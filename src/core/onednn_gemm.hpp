// The oneDNN side of GemmContext (core/blas.hpp), private to src/core/. Built from
// onednn/onednn_gemm.cpp, the only includer of dnnl.hpp, when libdnnl-dev was found;
// otherwise noonednn/onednn_gemm.cpp stands in and refuses to construct (as engine/nompi/
// stands in for MPI).
#pragma once

#include <memory>
#include <string>

#include "mlptrain/core/blas.hpp"

namespace mlptrain {

// One caller's oneDNN matmul primitives, one per GemmShape, with their memory objects, a
// stream and one scratchpad for all of them. After prepare(), run() creates nothing, starts
// no thread and allocates no scratchpad (oneDNN 2.6.3 still allocates a few small blocks
// inside every dnnl_primitive_execute: its argument map; see README).
class OnednnGemm {
public:
    OnednnGemm();  // throws Error in a build without oneDNN
    ~OnednnGemm();
    OnednnGemm(const OnednnGemm&) = delete;
    OnednnGemm& operator=(const OnednnGemm&) = delete;

    // Creates the primitive for `shape` unless this context has it. Allocates and compiles
    // code: call it outside steps.
    void prepare(const GemmShape& shape);
    // C = alpha·op(A)·op(B) + beta·C for `shape` (fp32 or bf16 inputs by shape.precision),
    // + 1·biasᵀ in every row for a shape with `bias` (then `bias` holds shape.n floats).
    // A shape not prepared is created on the spot and counted.
    void run(const GemmShape& shape, const void* A, const void* B, float* C, const float* bias = nullptr);

    int primitives() const;
    int created_on_demand() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mlptrain
