// Optimizers over the flat parameter arena: SGD (momentum, Nesterov) and Adam/AdamW, with
// coupled L2 and decoupled weight decay. Moments use the arena's layout, so a step is one
// loop that the trainer runs in parallel over disjoint chunks [begin, end).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/core/arena.hpp"

namespace mlptrain {

enum class OptimizerKind { sgd, adam, adamw };

// The optimizer's resolved settings. No defaults here but Adam's ε: the documented
// defaults of a run live in one table (run/settings.cpp); a program that drives the engine
// directly sets what it uses.
struct OptimizerConfig {
    OptimizerKind kind = OptimizerKind::sgd;
    float momentum = 0.0f;      // sgd
    bool nesterov = false;      // sgd
    float weight_decay = 0.0f;  // sgd, adamw: decoupled θ −= lr·λ·θ; adam: coupled g += λ·θ
    float l2 = 0.0f;            // coupled: g += λ·θ before momentum or moments
    float beta1 = 0.0f, beta2 = 0.0f;  // adam, adamw
    float epsilon = 1e-8f;             // adam, adamw: keeps the step finite where v = 0
};

OptimizerKind parse_optimizer(const std::string& name, const std::string& field);
const char* optimizer_name(OptimizerKind kind);

// The per-step scalars, computed once per step by the trainer.
struct StepScalars {
    float lr = 0.0f;
    float grad_scale = 1.0f;  // multiplies the summed gradient: 1/B, times a clipping factor
    float bias_correction1 = 1.0f, bias_correction2 = 1.0f;  // adam: 1 − β^t
};

class Optimizer {
public:
    Optimizer(const OptimizerConfig& config, std::int64_t size);

    const OptimizerConfig& config() const { return config_; }
    // Scalars for 1-based step t with learning rate lr and gradient scale.
    StepScalars scalars(std::int64_t t, float lr, float grad_scale) const;

    // For i in [begin, end): g = grad_scale·grad[i] (+ l2·θ), then update θ = params[i] and
    // this optimizer's moments. Chunks may run concurrently when disjoint.
    //   sgd:   v = μv + g;  θ −= lr·(nesterov ? g + μv : v)
    //   adam:  m = β1m + (1−β1)g;  v = β2v + (1−β2)g²;  θ −= lr·(m/c1)/(√(v/c2) + ε)
    //   sgd, adamw: θ −= lr·λ·θ (decoupled decay, before the gradient update);
    //   adam: g += λ·θ (weight decay as an L2 term, as Adam defines it)
    void update(float* params, const float* grad, std::int64_t begin, std::int64_t end,
                const StepScalars& s);
    // The same step with θ read from params[begin, end) and the new θ written to
    // out[0, end − begin) (which must not overlap params); the moments update in place. The
    // trainer writes the new weights through a small buffer this way when several threads
    // read them (see Trainer::update_chunk).
    void update_into(const float* params, const float* grad, std::int64_t begin, std::int64_t end,
                     const StepScalars& s, float* out);

    // Moment buffers, named for checkpoints: "momentum" (sgd with μ > 0), or "exp_avg" and
    // "exp_avg_sq" (adam).
    std::vector<std::string> moment_names() const;
    std::vector<AlignedBuffer*> moments();
    std::vector<const AlignedBuffer*> moments() const;

private:
    OptimizerConfig config_;
    AlignedBuffer first_;   // sgd velocity, or adam m
    AlignedBuffer second_;  // adam v
};

}  // namespace mlptrain
