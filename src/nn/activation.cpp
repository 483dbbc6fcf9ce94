// Activation functions and their derivatives (see activation.hpp).
#include "mlptrain/nn/activation.hpp"

#include <cmath>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/simd.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {

static float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }

// Cloned per vector width (core/simd.hpp): element-wise, the same bits at any width. (σ and
// tanh call the scalar libm in every clone: a vector libm would round differently.)
MLPTRAIN_VECTOR_CLONES
void activation_forward(Matrix A, ConstMatrix Z, Activation act) {
    // A (B, n), Z (B, n)
    MLPTRAIN_ASSERT(A.rows == Z.rows && A.cols == Z.cols, "activation shape");
    for (std::int64_t r = 0; r < Z.rows; ++r) {
        const float* z = Z.row(r);
        float* a = A.row(r);
        const std::int64_t n = Z.cols;
        switch (act) {
            case Activation::identity:
                for (std::int64_t j = 0; j < n; ++j) a[j] = z[j];
                break;
            case Activation::sigmoid:  // σ(z) = 1/(1+e^−z)
                for (std::int64_t j = 0; j < n; ++j) a[j] = sigmoid(z[j]);
                break;
            case Activation::tanh:
                for (std::int64_t j = 0; j < n; ++j) a[j] = std::tanh(z[j]);
                break;
            case Activation::relu:  // max(z, 0)
                for (std::int64_t j = 0; j < n; ++j) a[j] = z[j] > 0.0f ? z[j] : 0.0f;
                break;
            case Activation::leaky_relu:
                for (std::int64_t j = 0; j < n; ++j)
                    a[j] = z[j] > 0.0f ? z[j] : leaky_relu_slope * z[j];
                break;
        }
    }
}

// dz = dz ⊙ act'(z) over one row of n, in place. The backward pass runs in place (dZ = dA),
// and two equal pointers fail the vectorizer's run-time overlap check: the two-pointer loop
// then ran as scalar code, with a mispredicted branch per ReLU element (7-12 % of the big
// network's step). Here the row is read and written through the one pointer dz, and the
// selects vectorize; the bits are those of the two-pointer loop.
MLPTRAIN_CLONE_INLINE void backward_row_in_place(float* dz, const float* z, const float* a,
                                                  std::int64_t n, Activation act) {
    switch (act) {
        case Activation::identity: break;
        case Activation::sigmoid:
            for (std::int64_t j = 0; j < n; ++j) dz[j] = dz[j] * (a[j] * (1.0f - a[j]));
            break;
        case Activation::tanh:
            for (std::int64_t j = 0; j < n; ++j) dz[j] = dz[j] * (1.0f - a[j] * a[j]);
            break;
        case Activation::relu:
            for (std::int64_t j = 0; j < n; ++j) dz[j] = z[j] > 0.0f ? dz[j] : 0.0f;
            break;
        case Activation::leaky_relu:
            for (std::int64_t j = 0; j < n; ++j) dz[j] = z[j] > 0.0f ? dz[j] : leaky_relu_slope * dz[j];
            break;
    }
}

MLPTRAIN_VECTOR_CLONES
void activation_backward(Matrix dZ, ConstMatrix dA, ConstMatrix Z, ConstMatrix A, Activation act) {
    // dZ, dA, Z, A all (B, n)
    MLPTRAIN_ASSERT(dZ.rows == dA.rows && dZ.cols == dA.cols && Z.rows == dA.rows &&
                        Z.cols == dA.cols && A.rows == dA.rows && A.cols == dA.cols,
                    "activation backward shape");
    const bool in_place = dZ.data == dA.data && dZ.ld == dA.ld;
    for (std::int64_t r = 0; r < dA.rows; ++r) {
        const float* da = dA.row(r);
        const float* z = Z.row(r);
        const float* a = A.row(r);
        float* dz = dZ.row(r);
        const std::int64_t n = dA.cols;
        if (in_place) {
            backward_row_in_place(dz, z, a, n, act);
            continue;
        }
        switch (act) {
            case Activation::identity:
                for (std::int64_t j = 0; j < n; ++j) dz[j] = da[j];
                break;
            case Activation::sigmoid:  // σ' = σ(1−σ)
                for (std::int64_t j = 0; j < n; ++j) dz[j] = da[j] * (a[j] * (1.0f - a[j]));
                break;
            case Activation::tanh:  // tanh' = 1 − tanh²
                for (std::int64_t j = 0; j < n; ++j) dz[j] = da[j] * (1.0f - a[j] * a[j]);
                break;
            case Activation::relu:  // 1 where z > 0
                for (std::int64_t j = 0; j < n; ++j) dz[j] = z[j] > 0.0f ? da[j] : 0.0f;
                break;
            case Activation::leaky_relu:
                for (std::int64_t j = 0; j < n; ++j)
                    dz[j] = z[j] > 0.0f ? da[j] : leaky_relu_slope * da[j];
                break;
        }
    }
}

Activation parse_activation(const std::string& name, const std::string& field) {
    if (name == "identity" || name == "linear") return Activation::identity;
    if (name == "sigmoid") return Activation::sigmoid;
    if (name == "tanh") return Activation::tanh;
    if (name == "relu") return Activation::relu;
    if (name == "leaky_relu") return Activation::leaky_relu;
    throw ConfigError(field, "one of identity, sigmoid, tanh, relu, leaky_relu", quote(name));
}

const char* activation_name(Activation act) {
    switch (act) {
        case Activation::identity: return "identity";
        case Activation::sigmoid: return "sigmoid";
        case Activation::tanh: return "tanh";
        case Activation::relu: return "relu";
        case Activation::leaky_relu: return "leaky_relu";
    }
    return "?";
}

}  // namespace mlptrain
