// Losses of the output layer, each fused with its output activation in the numerically
// stable form: mse on identity outputs, binary cross-entropy on a sigmoid output, softmax
// cross-entropy on softmax outputs. Losses are sums over the rows given; the trainer
// divides by the global batch size once, after the shards' gradients are reduced.
#pragma once

#include <cstdint>
#include <string>

#include "mlptrain/core/matrix.hpp"

namespace mlptrain {

enum class Loss { mse, binary_cross_entropy, softmax_cross_entropy };

// What the network's last layer must be for this loss and `classes` classes (0 for
// regression with `targets` outputs).
std::int64_t loss_output_size(Loss loss, std::int64_t classes, std::int64_t targets);

// The targets of a batch: class labels (classification) or a target matrix (regression).
// mse with labels uses one-hot targets; binary cross-entropy takes labels 0/1.
struct Targets {
    const std::int32_t* labels = nullptr;  // (B), or nullptr
    ConstMatrix values;                    // (B, out), or data == nullptr
};

// Forward only. Z (B, out) logits; writes the output activation into P (B, out)
// (identity / sigmoid / softmax probabilities; P may alias Z) and returns Σ_rows loss.
double loss_forward(Matrix P, ConstMatrix Z, const Targets& targets, Loss loss);

// Forward and gradient. As loss_forward, and dZ (B, out) = ∂(Σ_rows loss)/∂Z:
//   mse:     loss = mean_j (z_j − t_j)²,       dZ = 2(z − t)/out
//   bce:     loss = max(z,0) − z·y + log1p(e^−|z|),  dZ = σ(z) − y
//   softmax: loss = logsumexp(z) − z_y,         dZ = softmax(z) − onehot(y)
// Overwrites dZ and P.
double loss_forward_backward(Matrix dZ, Matrix P, ConstMatrix Z, const Targets& targets, Loss loss);

// Predicted class of row r of the outputs P (argmax; bce: P > 0.5).
std::int32_t predicted_class(ConstMatrix P, std::int64_t r, Loss loss);

Loss parse_loss(const std::string& name, const std::string& field);
const char* loss_name(Loss loss);

}  // namespace mlptrain
