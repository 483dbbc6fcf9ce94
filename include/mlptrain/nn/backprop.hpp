// Forward and backward passes of the network over one shard's rows, written beside the
// GEMMs that compute them. Parameters are read-only and shared; everything a pass writes
// goes into the shard's Workspace, so shards run concurrently without locks.
#pragma once

#include <cstdint>
#include <string>

#include "mlptrain/nn/model.hpp"
#include "mlptrain/nn/workspace.hpp"

namespace mlptrain {

// Z = X·Wᵀ + b.  X (B, in), W (out, in), b (out), Z (B, out); overwrites Z.
void dense_forward(Matrix Z, ConstMatrix X, ConstMatrix W, const float* b);

// What a gradient buffer holds when a backward pass starts: anything (it is overwritten),
// or all zeros, which lets the weight-gradient GEMMs add onto it instead of having the BLAS
// clear it first (the same bits; see dense_backward in backprop.cpp).
enum class GradsInit { any, zero };

// dW = dZᵀ·X, db = colsum(dZ) (both overwritten; dW may be added onto its zeros when
// `init` is GradsInit::zero), and, if dX.data != nullptr, dX = dZ·W (overwritten).
// dZ (B, out), X (B, in), W (out, in), dW (out, in), dX (B, in).
void dense_backward(Matrix dX, Matrix dW, float* db, ConstMatrix dZ, ConstMatrix X, ConstMatrix W,
                    GradsInit init = GradsInit::any);

// Where dropout masks come from: (seed, layer, step, dataset row) — never shard or thread.
struct DropoutContext {
    std::uint64_t seed = 0;
    std::uint64_t step = 0;
    const std::int64_t* rows = nullptr;  // the dataset rows of the shard, in order
};

// Forward over the first n rows of ws.input without dropout; outputs in ws.post.back().
// Returns Σ_rows loss.
double forward_loss(Workspace& ws, const Model& model, const float* params, std::int64_t n);

// Forward (with dropout if the model has it and `dropout` is given), loss and backward
// over the first n rows. Overwrites `grads` (arena layout) with Σ_rows ∂loss/∂θ; n = 0
// writes zeros. `init` says what `grads` holds now (GradsInit::zero: all zeros, cheaper).
// Returns Σ_rows loss.
double forward_backward(Workspace& ws, const Model& model, const float* params, float* grads,
                        std::int64_t n, const DropoutContext* dropout,
                        GradsInit init = GradsInit::any);

// Where a forward pass over the first n rows of `ws` stopped being finite: the first layer
// (in forward order) whose pre-activations Z hold NaN or Inf, or -1 when none does.
int first_non_finite_layer(const Workspace& ws, const Model& model, std::int64_t n);
// "layers.<l> (its outputs X·Wᵀ + b; weights finite|not finite)", for messages.
std::string describe_layer_outputs(const Model& model, const float* params, int layer);

}  // namespace mlptrain
