// The optimizer update rules (see optimizer.hpp). Element-wise, so any chunking of the
// index range gives bitwise the same result.
#include "mlptrain/nn/optimizer.hpp"

#include <cmath>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/simd.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {

// The moment buffer from element `begin`, or null for a buffer this rule does not keep.
static float* moment(AlignedBuffer& buffer, std::int64_t begin) {
    return buffer.size() > 0 ? buffer.data() + begin : nullptr;
}

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

// One update over n elements: θ = p[i], new θ into out[i], moments m[i] and v[i] (those the
// rule keeps) in place, the gradient g[i]. Forced inline into the two cloned entry points
// below, so each compiles it for its own ISA, and the in-place one with out == p as one
// value: the vectorizer sees the distance 0 and needs no runtime alias check.
static MLPTRAIN_CLONE_INLINE void apply_update(const OptimizerConfig& config, const StepScalars& s, const float* p,
                                              float* out, const float* grad, float* m, float* v, std::int64_t n) {
    const float lr = s.lr, scale = s.grad_scale, l2 = config.l2;
    const float decay = 1.0f - s.lr * config.weight_decay;
    const bool decoupled = config.weight_decay != 0.0f;
    if (config.kind == OptimizerKind::sgd) {
        const float mu = config.momentum;
        if (mu == 0.0f) {
            for (std::int64_t i = 0; i < n; ++i) {
                const float g = scale * grad[i] + l2 * p[i];
                float theta = p[i];
                if (decoupled) theta *= decay;
                out[i] = theta - lr * g;
            }
        } else {
            const bool nesterov = config.nesterov;
            for (std::int64_t i = 0; i < n; ++i) {
                const float g = scale * grad[i] + l2 * p[i];
                const float velocity = mu * m[i] + g;
                m[i] = velocity;
                float theta = p[i];
                if (decoupled) theta *= decay;
                out[i] = theta - lr * (nesterov ? g + mu * velocity : velocity);
            }
        }
        return;
    }
    // Adam (as in Kingma & Ba, and PyTorch) folds weight decay into the gradient; AdamW
    // (Loshchilov & Hutter) decouples it. Only the latter decays at the same rate for all.
    const bool adam_l2 = config.kind == OptimizerKind::adam;
    const float adam_decay = adam_l2 ? config.weight_decay : 0.0f;
    const bool adamw_decay = !adam_l2 && decoupled;
    const float b1 = config.beta1, b2 = config.beta2, eps = config.epsilon;
    const float inv_c1 = 1.0f / s.bias_correction1, inv_c2 = 1.0f / s.bias_correction2;
    for (std::int64_t i = 0; i < n; ++i) {
        const float g = scale * grad[i] + (l2 + adam_decay) * p[i];
        const float first = b1 * m[i] + (1.0f - b1) * g;
        const float second = b2 * v[i] + (1.0f - b2) * (g * g);
        m[i] = first;
        v[i] = second;
        float theta = p[i];
        if (adamw_decay) theta *= decay;
        out[i] = theta - lr * (first * inv_c1) / (std::sqrt(second * inv_c2) + eps);
    }
}

// Cloned per vector width (core/simd.hpp): every line is an element-wise map, the same bits
// at any width. Adam's √ and ÷ vectorize because CMakeLists.txt compiles this file with
// -fno-math-errno (correctly rounded at any width; only the errno side effect goes).
MLPTRAIN_VECTOR_CLONES
void Optimizer::update(float* params, const float* grad, std::int64_t begin, std::int64_t end,
                       const StepScalars& s) {
    float* p = params + begin;
    apply_update(config_, s, p, p, grad + begin, moment(first_, begin), moment(second_, begin), end - begin);
}

MLPTRAIN_VECTOR_CLONES
void Optimizer::update_into(const float* params, const float* grad, std::int64_t begin, std::int64_t end,
                            const StepScalars& s, float* __restrict out) {
    apply_update(config_, s, params + begin, out, grad + begin, moment(first_, begin), moment(second_, begin),
                 end - begin);
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
