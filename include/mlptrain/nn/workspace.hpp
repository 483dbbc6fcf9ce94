// Per-shard scratch memory: the gathered batch, every layer's pre-activations and
// activations, dropout masks, the backward deltas and the shard's own gradient buffer, and
// the shard's GEMM context (its backend's primitives) with, for bf16 GEMM inputs, the bf16
// copies of what the GEMMs read. Sized once for the largest shard; a training step
// allocates nothing. gather_batch fills it with a batch's rows. An evaluation workspace
// holds only what forward passes use (no deltas, masks or gradient).
#pragma once

#include <cstdint>
#include <vector>

#include "mlptrain/core/arena.hpp"
#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/nn/model.hpp"

namespace mlptrain {

// What a workspace is for: a shard's forward and backward passes, or forward passes only
// (forward_loss; with 128 rows of 784-1024-1024-10, 2.5 of a training workspace's 11 MB: no
// gradient buffer, no deltas).
enum class WorkspaceUse { training, evaluation };

struct Workspace {
    // `targets_cols` > 0 reserves a regression target matrix (mse on numeric targets).
    // `gemm`: the backend and input precision of this shard's GEMMs (throws Error if this
    // build lacks the backend); prepare_gemms (backprop.hpp) makes its shapes ready.
    Workspace(const Model& model, std::int64_t max_rows, std::int64_t targets_cols, GemmSettings gemm = {},
              WorkspaceUse use = WorkspaceUse::training);

    std::int64_t max_rows = 0;
    WorkspaceUse use = WorkspaceUse::training;
    AlignedBuffer input;                  // X (max_rows, in)
    std::vector<AlignedBuffer> pre;       // Z_l (max_rows, out_l)
    std::vector<AlignedBuffer> post;      // A_l = act(Z_l) (max_rows, out_l); last = outputs
    std::vector<std::int32_t> labels;     // (max_rows)
    AlignedBuffer targets;                // (max_rows, targets_cols)
    std::int64_t targets_cols = 0;
    // Training only (of size 0 in an evaluation workspace):
    std::vector<AlignedBuffer> mask;      // hidden l: keep-mask scaled by 1/(1−p), if dropout
    std::vector<AlignedBuffer> dropped;   // hidden l: A_l ⊙ mask_l, the next layer's input
    AlignedBuffer delta_a, delta_b;       // (max_rows, max_width): dA/dZ, ping-pong
    AlignedBuffer grads;                  // this shard's Σ gradient, arena layout
    GemmContext gemm;                     // this shard's GEMMs (a oneDNN primitive per shape)
    // bf16 GEMM inputs only (empty otherwise): each rounded once, where it is produced.
    Bf16Buffer input_h;                   // X (max_rows, in)
    std::vector<Bf16Buffer> act_h;        // hidden l: the next layer's input, A_l or A_l ⊙ mask_l (max_rows, out_l)
    Bf16Buffer delta_h;                   // the current layer's dZ (max_rows, max_width), training only
    // A shard whose passes a team of threads shares (shard_team.hpp) also keeps every
    // layer's dZ for the weight-gradient blocks, which run after the whole delta chain, and
    // one GEMM context per further member (member 0 uses `gemm`). Empty otherwise.
    std::vector<AlignedBuffer> team_delta;   // dZ_l (max_rows, out_l)
    std::vector<Bf16Buffer> team_delta_h;    // bf16(dZ_l) (max_rows, out_l), bf16 GEMM inputs only
    std::vector<GemmContext> member_gemm;    // members 1 … M−1

    // Sizes the team buffers for `members` ≥ 1 (1 frees them). Allocates: not in a step.
    void enable_team(const Model& model, int members);
    int team_members() const { return 1 + static_cast<int>(member_gemm.size()); }
    // The bytes of its buffers (not of the GEMM contexts).
    std::int64_t bytes() const;
    GemmContext& member_context(int m) { return m == 0 ? gemm : member_gemm[static_cast<std::size_t>(m - 1)]; }
};

// Copies rows[0..n) of `data` into rows [first, first + n) of ws.input and of the labels
// or targets. first + n ≤ ws.max_rows.
void gather_batch(Workspace& ws, const Dataset& data, const std::int64_t* rows, std::int64_t n,
                  std::int64_t first = 0);

}  // namespace mlptrain
