// Per-shard scratch memory: the gathered batch, every layer's pre-activations and
// activations, dropout masks, the backward deltas and the shard's own gradient buffer, and
// the shard's GEMM context (its backend's primitives) with, for bf16 GEMM inputs, the bf16
// copies of what the GEMMs read. Sized once for the largest shard; a training step
// allocates nothing. gather_batch fills it with a batch's rows.
#pragma once

#include <cstdint>
#include <vector>

#include "mlptrain/core/arena.hpp"
#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/nn/model.hpp"

namespace mlptrain {

struct Workspace {
    // `targets_cols` > 0 reserves a regression target matrix (mse on numeric targets).
    // `gemm`: the backend and input precision of this shard's GEMMs (throws Error if this
    // build lacks the backend); prepare_gemms (backprop.hpp) makes its shapes ready.
    Workspace(const Model& model, std::int64_t max_rows, std::int64_t targets_cols, GemmSettings gemm = {});

    std::int64_t max_rows = 0;
    AlignedBuffer input;                  // X (max_rows, in)
    std::vector<AlignedBuffer> pre;       // Z_l (max_rows, out_l)
    std::vector<AlignedBuffer> post;      // A_l = act(Z_l) (max_rows, out_l); last = outputs
    std::vector<AlignedBuffer> mask;      // hidden l: keep-mask scaled by 1/(1−p), if dropout
    std::vector<AlignedBuffer> dropped;   // hidden l: A_l ⊙ mask_l, the next layer's input
    AlignedBuffer delta_a, delta_b;       // (max_rows, max_width): dA/dZ, ping-pong
    std::vector<std::int32_t> labels;     // (max_rows)
    AlignedBuffer targets;                // (max_rows, targets_cols)
    std::int64_t targets_cols = 0;
    AlignedBuffer grads;                  // this shard's Σ gradient, arena layout
    GemmContext gemm;                     // this shard's GEMMs (a oneDNN primitive per shape)
    // bf16 GEMM inputs only (empty otherwise): each rounded once, where it is produced.
    Bf16Buffer input_h;                   // X (max_rows, in)
    std::vector<Bf16Buffer> act_h;        // hidden l: the next layer's input, A_l or A_l ⊙ mask_l (max_rows, out_l)
    Bf16Buffer delta_h;                   // the current layer's dZ (max_rows, max_width)
};

// Copies rows[0..n) of `data` into ws.input and the labels or targets. n ≤ ws.max_rows.
void gather_batch(Workspace& ws, const Dataset& data, const std::int64_t* rows, std::int64_t n);

}  // namespace mlptrain
