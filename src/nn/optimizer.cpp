// The optimizer update rules (see optimizer.hpp). Element-wise, so any chunking of the
// index range gives bitwise the same result.
#include "mlptrain/nn/optimizer.hpp"

#include <cmath>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/simd.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {

OptimizerKind parse_optimizer(const std::string& name, const std::string& field) {
    if (name == "sgd") return OptimizerKind::sgd;
    if (name == "adam") return OptimizerKind::adam;
    if (name == "adamw") return OptimizerKind::adamw;
    throw ConfigError(field, "one of sgd, adam, adamw", quote(name));
}

const char* optimizer_name(OptimizerKind kind) {
    switch (kind) {
        case OptimizerKind::sgd: return "sgd";
        case OptimizerKind::adam: return "adam";
        case OptimizerKind::adamw: return "adamw";
    }
    return "?";
}

Optimizer::Optimizer(const OptimizerConfig& config, std::int64_t size) : config_(config) {
    const bool adam = config.kind != OptimizerKind::sgd;
    if (adam || config.momentum > 0.0f) first_ = AlignedBuffer(size);
    if (adam) second_ = AlignedBuffer(size);
}

StepScalars Optimizer::scalars(std::int64_t t, float lr, float grad_scale) const {
    StepScalars s;
    s.lr = lr;
    s.grad_scale = grad_scale;
    if (config_.kind != OptimizerKind::sgd) {
        s.bias_correction1 = static_cast<float>(1.0 - std::pow(static_cast<double>(config_.beta1), t));
        s.bias_correction2 = static_cast<float>(1.0 - std::pow(static_cast<double>(config_.beta2), t));
    }
    return s;
}

// Cloned per vector width (core/simd.hpp): every line is an element-wise map, the same bits
// at any width. Adam's √ and ÷ vectorize because CMakeLists.txt compiles this file with
// -fno-math-errno (correctly rounded at any width; only the errno side effect goes).
MLPTRAIN_VECTOR_CLONES
void Optimizer::update(float* params, const float* grad, std::int64_t begin, std::int64_t end,
                       const StepScalars& s) {
    const float lr = s.lr, scale = s.grad_scale, l2 = config_.l2;
    const float decay = 1.0f - s.lr * config_.weight_decay;
    const bool decoupled = config_.weight_decay != 0.0f;
    if (config_.kind == OptimizerKind::sgd) {
        const float mu = config_.momentum;
        float* v = first_.data();
        if (mu == 0.0f) {
            for (std::int64_t i = begin; i < end; ++i) {
                const float g = scale * grad[i] + l2 * params[i];
                if (decoupled) params[i] *= decay;
                params[i] -= lr * g;
            }
        } else if (config_.nesterov) {
            for (std::int64_t i = begin; i < end; ++i) {
                const float g = scale * grad[i] + l2 * params[i];
                v[i] = mu * v[i] + g;
                if (decoupled) params[i] *= decay;
                params[i] -= lr * (g + mu * v[i]);
            }
        } else {
            for (std::int64_t i = begin; i < end; ++i) {
                const float g = scale * grad[i] + l2 * params[i];
                v[i] = mu * v[i] + g;
                if (decoupled) params[i] *= decay;
                params[i] -= lr * v[i];
            }
        }
        return;
    }
    // Adam (as in Kingma & Ba, and PyTorch) folds weight decay into the gradient; AdamW
    // (Loshchilov & Hutter) decouples it. Only the latter decays at the same rate for all.
    const bool adam_l2 = config_.kind == OptimizerKind::adam;
    const float adam_decay = adam_l2 ? config_.weight_decay : 0.0f;
    const bool adamw_decay = !adam_l2 && decoupled;
    const float b1 = config_.beta1, b2 = config_.beta2, eps = config_.epsilon;
    const float inv_c1 = 1.0f / s.bias_correction1, inv_c2 = 1.0f / s.bias_correction2;
    float* m = first_.data();
    float* v = second_.data();
    for (std::int64_t i = begin; i < end; ++i) {
        const float g = scale * grad[i] + (l2 + adam_decay) * params[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * (g * g);
        if (adamw_decay) params[i] *= decay;
        params[i] -= lr * (m[i] * inv_c1) / (std::sqrt(v[i] * inv_c2) + eps);
    }
}

std::vector<std::string> Optimizer::moment_names() const {
    if (config_.kind != OptimizerKind::sgd) return {"exp_avg", "exp_avg_sq"};
    if (first_.size() > 0) return {"momentum"};
    return {};
}

std::vector<AlignedBuffer*> Optimizer::moments() {
    if (config_.kind != OptimizerKind::sgd) return {&first_, &second_};
    if (first_.size() > 0) return {&first_};
    return {};
}

std::vector<const AlignedBuffer*> Optimizer::moments() const {
    std::vector<const AlignedBuffer*> out;
    for (AlignedBuffer* m : const_cast<Optimizer*>(this)->moments()) out.push_back(m);
    return out;
}

}  // namespace mlptrain
