// Forward and backward passes of the network over one shard's rows, written beside the
// GEMMs that compute them. Parameters are read-only and shared; everything a pass writes
// goes into the shard's Workspace, so shards run concurrently without locks. The GEMMs run
// on the workspace's GemmContext; in a bf16 workspace they read bf16 roundings of their
// inputs (the weights' from the caller's bf16 copy, the activations' and deltas' made here
// once, as they are produced), while every output, the loss and the gradients stay fp32.
#pragma once

#include <cstdint>
#include <string>

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/nn/workspace.hpp"

namespace mlptrain {

// A GEMM operand of a layer: its fp32 values, and in a bf16 context their rounding to bf16,
// which is what the GEMM then reads.
struct LayerOperand {
    ConstMatrix f32;
    ConstMatrixBf16 bf16;
};

// Rows [begin, end), or columns [begin, end), of a layer operand, in fp32 and (where it has
// one) its bf16 rounding: views of the same memory.
LayerOperand operand_rows(const LayerOperand& X, std::int64_t begin, std::int64_t end);
LayerOperand operand_columns(const LayerOperand& X, std::int64_t begin, std::int64_t end);

// Z = X·Wᵀ + b.  X (B, in), W (out, in), b (out), Z (B, out); overwrites Z.
void dense_forward(GemmContext& gemm, Matrix Z, const LayerOperand& X, const LayerOperand& W, const float* b);
void dense_forward(Matrix Z, ConstMatrix X, ConstMatrix W, const float* b);  // OpenBLAS, fp32

// What a gradient buffer holds when a backward pass starts: anything (it is overwritten),
// or all zeros, which lets OpenBLAS's weight-gradient GEMMs add onto it instead of having the
// BLAS clear it first (the same bits; see dense_backward in backprop.cpp).
enum class GradsInit { any, zero };

// The beta of the weight-gradient GEMM dW = dZᵀ·X over `rows` rows (dW: out × in): 1, adding
// onto the zeros dW holds, where that saves OpenBLAS's clearing pass (`init` is
// GradsInit::zero, the OpenBLAS backend, a GEMM too big for its small-matrix kernels); else 0.
// dense_backward calls with it, and `mlptrain bench` times its GEMM ceiling with it.
float weight_gradient_beta(const GemmSettings& gemm, GradsInit init, std::int64_t rows, std::int64_t out,
                           std::int64_t in);

// dW = dZᵀ·X, db = colsum(dZ) (both overwritten; dW may be added onto its zeros when
// `init` is GradsInit::zero), and, if dX.data != nullptr, dX = dZ·W (overwritten).
// dZ (B, out), X (B, in), W (out, in), dW (out, in), dX (B, in). db sums the fp32 dZ.
void dense_backward(GemmContext& gemm, Matrix dX, Matrix dW, float* db, const LayerOperand& dZ,
                    const LayerOperand& X, const LayerOperand& W, GradsInit init = GradsInit::any);
void dense_backward(Matrix dX, Matrix dW, float* db, ConstMatrix dZ, ConstMatrix X, ConstMatrix W,
                    GradsInit init = GradsInit::any);  // OpenBLAS, fp32

// Makes ws.gemm ready for passes over n rows (1 ≤ n ≤ ws.max_rows): the forward GEMMs, and
// with `backward` every GEMM of forward_backward. Creates oneDNN primitives (allocates):
// call it before steps, for every row count a shard or an evaluation chunk will have.
void prepare_gemms(Workspace& ws, const Model& model, std::int64_t n, bool backward);

// Where dropout masks come from: (seed, layer, step, dataset row) — never shard or thread.
struct DropoutContext {
    std::uint64_t seed = 0;
    std::uint64_t step = 0;
    const std::int64_t* rows = nullptr;  // the dataset rows of the shard, in order
};

// Forward over the first n rows of ws.input without dropout; outputs in ws.post.back().
// Returns Σ_rows loss. `params_bf16`: the parameters rounded to bf16 (arena layout), needed
// by a bf16 workspace and ignored otherwise.
double forward_loss(Workspace& ws, const Model& model, const float* params, std::int64_t n,
                    const bf16_bits* params_bf16 = nullptr);

// Forward (with dropout if the model has it and `dropout` is given), loss and backward
// over the first n rows. Overwrites `grads` (arena layout) with Σ_rows ∂loss/∂θ; n = 0
// writes zeros. `init` says what `grads` holds now (GradsInit::zero: all zeros, cheaper).
// Returns Σ_rows loss. `params_bf16` as for forward_loss.
double forward_backward(Workspace& ws, const Model& model, const float* params, float* grads,
                        std::int64_t n, const DropoutContext* dropout, const bf16_bits* params_bf16 = nullptr,
                        GradsInit init = GradsInit::any);

// ---- A shard's passes shared by a team of threads ----
// When a rank has more threads than shards, a team of threads runs each shard
// (engine/shard_team.hpp plans it). Every element of a layer's output Z = X·Wᵀ + b depends on
// one row of X and one unit's weights, and every element of a data gradient dX = dZ·W on one
// row of dZ and one input unit's weights, so the members take blocks of the shard's rows, or
// blocks of a layer's units (all rows); the weight gradients, which sum over all rows, come
// after the whole delta chain, each member computing blocks of units (rows of dW). The
// results are the one-thread passes' only where the GEMM library gives a block the bits of
// the whole GEMM; the plan verifies that before it splits. The team keeps every layer's dZ
// (Workspace::enable_team). Nothing here synchronizes: the caller runs the stages in order,
// with a join between them.

// A part of a shard's work: rows [row_begin, row_end) of its n rows, and the part-th of
// `parts` equal blocks of a layer's units (parts = 1: all of them).
struct PassBlock {
    std::int64_t n = 0, row_begin = 0, row_end = 0;
    int part = 0, parts = 1;
    std::int64_t unit_begin(std::int64_t units) const { return part * units / parts; }
    std::int64_t unit_end(std::int64_t units) const { return (part + 1) * units / parts; }
};

// The block of a shard's (n, units) matrix view that `b` covers.
template <class View>
View block_of(View m, PassBlock b) {
    return column_block(row_block(m, b.row_begin, b.row_end), b.unit_begin(m.cols), b.unit_end(m.cols));
}

// In a bf16 workspace, rounds block `b` of the gathered input (layer 0's GEMM operand).
void team_round_input(Workspace& ws, const Model& model, PassBlock b);
// Layer l's forward pass over block `b` of its outputs (its rows of X, its units of W), on
// the member's GEMM context.
void team_forward(Workspace& ws, GemmContext& gemm, const Model& model, const float* params,
                  const bf16_bits* params_bf16, PassBlock b, int l, const DropoutContext* dropout);
// The loss over all n rows (in row order, as forward_backward sums it) and the output
// layer's dZ. Returns Σ_rows loss.
double team_loss(Workspace& ws, const Model& model, std::int64_t n);
// Layer l's step of the delta chain (l ≥ 1) over block `b` of its input units: dX = dZ_l·W_l,
// then dZ_{l−1} = dX (⊙ mask) ⊙ act'(Z_{l−1}).
void team_backward(Workspace& ws, GemmContext& gemm, const Model& model, const float* params,
                   const bf16_bits* params_bf16, PassBlock b, int l, const DropoutContext* dropout);
// Units [begin, end) of layer l's weight and bias gradients over all n rows:
// dW_l[begin:end] = dZ_l[:, begin:end]ᵀ·X_l, db_l[begin:end] = colsum(dZ_l[:, begin:end]).
void team_weight_gradient(Workspace& ws, GemmContext& gemm, const Model& model, float* grads, std::int64_t n,
                          int l, std::int64_t begin, std::int64_t end, const DropoutContext* dropout,
                          GradsInit init);

// Where a forward pass over the first n rows of `ws` stopped being finite: the first layer
// (in forward order) whose pre-activations Z hold NaN or Inf, or -1 when none does.
int first_non_finite_layer(const Workspace& ws, const Model& model, std::int64_t n);
// "layers.<l> (its outputs X·Wᵀ + b; weights finite|not finite)", for messages.
std::string describe_layer_outputs(const Model& model, const float* params, int layer);

}  // namespace mlptrain
