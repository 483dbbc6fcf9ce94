// Element-wise activations of hidden layers, forward and backward side by side.
#pragma once

#include <string>

#include "mlptrain/core/matrix.hpp"

namespace mlptrain {

enum class Activation { identity, sigmoid, tanh, relu, leaky_relu };

// Negative-side slope of leaky_relu.
constexpr float leaky_relu_slope = 0.01f;

// A = act(Z). A (B, n), Z (B, n); overwrites A (A may alias Z).
void activation_forward(Matrix A, ConstMatrix Z, Activation act);

// dZ = dA ⊙ act'(Z), with act' written through A = act(Z) where that is cheaper
// (σ' = A(1−A), tanh' = 1−A²). All (B, n); overwrites dZ (dZ may alias dA).
void activation_backward(Matrix dZ, ConstMatrix dA, ConstMatrix Z, ConstMatrix A, Activation act);

// "relu" → Activation::relu; throws ConfigError for `field`, listing the valid names.
Activation parse_activation(const std::string& name, const std::string& field);
const char* activation_name(Activation act);

}  // namespace mlptrain
