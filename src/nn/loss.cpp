// The fused output activations and losses (see loss.hpp). Sums are accumulated in double
// per row and across rows, in row order, so a shard's loss does not depend on threads.
#include "mlptrain/nn/loss.hpp"

#include <cmath>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {

std::int64_t loss_output_size(Loss loss, std::int64_t classes, std::int64_t targets) {
    switch (loss) {
        case Loss::mse: return classes > 0 ? classes : targets;
        case Loss::binary_cross_entropy: return 1;
        case Loss::softmax_cross_entropy: return classes;
    }
    return 0;
}

static float target_value(const Targets& t, std::int64_t r, std::int64_t j) {
    if (t.values.data) return t.values(r, j);
    return t.labels[r] == j ? 1.0f : 0.0f;  // one-hot
}

// Row r of P = output activation of row r of Z; returns the row's loss. If dz != nullptr
// also writes ∂loss/∂z of the row.
static double loss_row(float* p, float* dz, const float* z, std::int64_t n, const Targets& t,
                       std::int64_t r, Loss loss) {
    switch (loss) {
        case Loss::mse: {
            double sum = 0.0;
            for (std::int64_t j = 0; j < n; ++j) {
                const float diff = z[j] - target_value(t, r, j);
                sum += static_cast<double>(diff) * diff;
                if (dz) dz[j] = 2.0f * diff / static_cast<float>(n);
                p[j] = z[j];
            }
            return sum / static_cast<double>(n);
        }
        case Loss::binary_cross_entropy: {
            // Stable form: never exponentiates a positive number.
            const float x = z[0];
            const float y = t.labels ? static_cast<float>(t.labels[r]) : t.values(r, 0);
            const float e = std::exp(-std::fabs(x));
            const float sig = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
            const double l = std::fmax(x, 0.0f) - static_cast<double>(x) * y + std::log1p(e);
            if (dz) dz[0] = sig - y;
            p[0] = sig;
            return l;
        }
        case Loss::softmax_cross_entropy: {
            // logsumexp(z) = m + log Σ e^(z−m), m = max z: exponents ≤ 0, no overflow.
            float m = z[0];
            for (std::int64_t j = 1; j < n; ++j) m = std::fmax(m, z[j]);
            double sum = 0.0;
            for (std::int64_t j = 0; j < n; ++j) {
                p[j] = std::exp(z[j] - m);
                sum += p[j];
            }
            const auto inv = static_cast<float>(1.0 / sum);
            const std::int32_t y = t.labels[r];
            MLPTRAIN_ASSERT(y >= 0 && y < n, "class label out of range");
            const double l = static_cast<double>(m) + std::log(sum) - z[y];
            for (std::int64_t j = 0; j < n; ++j) {
                p[j] *= inv;
                if (dz) dz[j] = p[j] - (j == y ? 1.0f : 0.0f);
            }
            return l;
        }
    }
    return 0.0;
}

static double loss_rows(Matrix* dZ, Matrix P, ConstMatrix Z, const Targets& t, Loss loss) {
    MLPTRAIN_ASSERT(P.rows == Z.rows && P.cols == Z.cols, "loss output shape");
    MLPTRAIN_ASSERT(t.labels || (t.values.data && t.values.rows >= Z.rows &&
                                 t.values.cols == Z.cols),
                    "loss targets");
    MLPTRAIN_ASSERT(loss != Loss::softmax_cross_entropy || t.labels, "softmax needs labels");
    double total = 0.0;
    for (std::int64_t r = 0; r < Z.rows; ++r) {
        float* dz = dZ ? dZ->row(r) : nullptr;
        total += loss_row(P.row(r), dz, Z.row(r), Z.cols, t, r, loss);
    }
    return total;
}

double loss_forward(Matrix P, ConstMatrix Z, const Targets& targets, Loss loss) {
    return loss_rows(nullptr, P, Z, targets, loss);
}

double loss_forward_backward(Matrix dZ, Matrix P, ConstMatrix Z, const Targets& targets, Loss loss) {
    MLPTRAIN_ASSERT(dZ.rows == Z.rows && dZ.cols == Z.cols, "loss gradient shape");
    return loss_rows(&dZ, P, Z, targets, loss);
}

std::int32_t predicted_class(ConstMatrix P, std::int64_t r, Loss loss) {
    if (loss == Loss::binary_cross_entropy) return P(r, 0) > 0.5f ? 1 : 0;
    std::int32_t best = 0;
    for (std::int64_t j = 1; j < P.cols; ++j)
        if (P(r, j) > P(r, best)) best = static_cast<std::int32_t>(j);
    return best;
}

Loss parse_loss(const std::string& name, const std::string& field) {
    if (name == "mse") return Loss::mse;
    if (name == "bce" || name == "binary_cross_entropy") return Loss::binary_cross_entropy;
    if (name == "cross_entropy" || name == "softmax_cross_entropy" || name == "ce")
        return Loss::softmax_cross_entropy;
    throw ConfigError(field, "one of cross_entropy (softmax), bce (sigmoid), mse", quote(name));
}

const char* loss_name(Loss loss) {
    switch (loss) {
        case Loss::mse: return "mse";
        case Loss::binary_cross_entropy: return "bce";
        case Loss::softmax_cross_entropy: return "cross_entropy";
    }
    return "?";
}

}  // namespace mlptrain
