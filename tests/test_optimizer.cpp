// Tests for the optimizers over the flat arena: one and two steps of SGD (plain, momentum,
// Nesterov, decoupled weight decay, L2) and Adam/AdamW (coupled vs decoupled decay) against
// hand-computed numbers, the step scalars, the moment names, and chunking invariance.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/nn/optimizer.hpp"

using mlptrain::Optimizer;
using mlptrain::OptimizerConfig;
using mlptrain::OptimizerKind;

namespace {

// Adam with the paper's (and mlptrain's documented) β1 = 0.9, β2 = 0.999.
OptimizerConfig adam(OptimizerKind kind) {
    OptimizerConfig c;
    c.kind = kind;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    return c;
}

OptimizerConfig sgd(float momentum, bool nesterov = false) {
    OptimizerConfig c;
    c.kind = OptimizerKind::sgd;
    c.momentum = momentum;
    c.nesterov = nesterov;
    return c;
}

// Runs `steps` updates with lr 0.1 and grad_scale 0.5 on θ = {1, −2, 0.5, 0} with the
// summed gradients {2, 4, −1, 0} (so g = {1, 2, −0.5, 0}) each step.
std::vector<float> run_sgd(const OptimizerConfig& config, int steps) {
    std::vector<float> theta = {1.0f, -2.0f, 0.5f, 0.0f};
    const std::vector<float> grad = {2.0f, 4.0f, -1.0f, 0.0f};
    Optimizer opt(config, 4);
    for (int t = 1; t <= steps; ++t)
        opt.update(theta.data(), grad.data(), 0, 4, opt.scalars(t, 0.1f, 0.5f));
    return theta;
}

void check_close(const std::vector<float>& got, const std::vector<double>& expected) {
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-6).scale(1e-6));
    }
}

// Adam reference in double, following optimizer.hpp: coupled decay (adam) adds λθ to g,
// decoupled decay (adamw) multiplies θ by 1 − lr·λ before the update.
std::vector<double> adam_reference(bool decoupled, double lr, double lambda,
                                   std::vector<double> theta,
                                   const std::vector<std::vector<double>>& grads) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    std::vector<double> m(theta.size(), 0.0), v(theta.size(), 0.0);
    for (std::size_t t = 1; t <= grads.size(); ++t) {
        const double c1 = 1 - std::pow(b1, static_cast<double>(t));
        const double c2 = 1 - std::pow(b2, static_cast<double>(t));
        for (std::size_t i = 0; i < theta.size(); ++i) {
            double g = grads[t - 1][i];
            if (!decoupled) g += lambda * theta[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            if (decoupled) theta[i] *= 1 - lr * lambda;
            theta[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
        }
    }
    return theta;
}

std::vector<float> run_adam(OptimizerKind kind, float lambda, int steps) {
    OptimizerConfig c = adam(kind);
    c.weight_decay = lambda;
    std::vector<float> theta = {1.0f, -2.0f, 0.5f, 3.0f};
    const std::vector<std::vector<float>> grads = {{0.2f, -0.4f, 1.0f, 0.0f},
                                                   {-0.1f, 0.3f, 0.5f, 0.0f}};
    Optimizer opt(c, 4);
    for (int t = 1; t <= steps; ++t)
        opt.update(theta.data(), grads[static_cast<std::size_t>(t - 1)].data(), 0, 4,
                   opt.scalars(t, 0.1f, 1.0f));
    return theta;
}

}  // namespace

// Plain SGD: θ −= lr·scale·grad. θ1 = θ0 − 0.1g, θ2 = θ0 − 0.2g.
TEST_CASE("sgd plain") {
    check_close(run_sgd(sgd(0.0f), 1), {0.9, -2.2, 0.55, 0.0});
    check_close(run_sgd(sgd(0.0f), 2), {0.8, -2.4, 0.6, 0.0});
}

// Momentum 0.9: v1 = g, v2 = 1.9g; θ2 = θ0 − 0.1·2.9g.
TEST_CASE("sgd momentum") {
    check_close(run_sgd(sgd(0.9f), 1), {0.9, -2.2, 0.55, 0.0});
    check_close(run_sgd(sgd(0.9f), 2), {1 - 0.29, -2 - 0.58, 0.5 + 0.145, 0.0});
}

// Nesterov 0.9: step 1 moves lr(g + 0.9g) = 0.19g, step 2 lr(g + 0.9·1.9g) = 0.271g.
TEST_CASE("sgd nesterov") {
    check_close(run_sgd(sgd(0.9f, true), 1), {1 - 0.19, -2 - 0.38, 0.5 + 0.095, 0.0});
    check_close(run_sgd(sgd(0.9f, true), 2), {1 - 0.461, -2 - 0.922, 0.5 + 0.2305, 0.0});
}

// Decoupled weight decay λ = 0.5 with lr 0.1: θ ← θ·(1 − 0.05) − 0.1g each step, before
// the gradient update (with momentum 0).
TEST_CASE("sgd decoupled weight decay") {
    OptimizerConfig c = sgd(0.0f);
    c.weight_decay = 0.5f;
    const std::vector<double> t0 = {1, -2, 0.5, 0}, g = {1, 2, -0.5, 0};
    std::vector<double> t1(4), t2(4);
    for (int i = 0; i < 4; ++i) {
        t1[i] = t0[i] * 0.95 - 0.1 * g[i];
        t2[i] = t1[i] * 0.95 - 0.1 * g[i];
    }
    check_close(run_sgd(c, 1), t1);  // {0.85, −2.1, 0.525, 0}
    check_close(run_sgd(c, 2), t2);
    CHECK(run_sgd(c, 1)[0] == doctest::Approx(0.85).epsilon(1e-6));
    // With momentum, the decay stays outside the velocity: v = g only.
    c.momentum = 0.9f;
    std::vector<double> m2(4);
    for (int i = 0; i < 4; ++i) m2[i] = t1[i] * 0.95 - 0.1 * 1.9 * g[i];
    check_close(run_sgd(c, 2), m2);
}

// Coupled L2 λ = 0.5: g ← g + 0.5θ before the step, so θ1 = θ0 − 0.1(g + 0.5θ0); with
// momentum, the L2 term enters the velocity.
TEST_CASE("sgd l2") {
    OptimizerConfig c = sgd(0.0f);
    c.l2 = 0.5f;
    const std::vector<double> t0 = {1, -2, 0.5, 0}, g = {1, 2, -0.5, 0};
    std::vector<double> t1(4), t2(4);
    for (int i = 0; i < 4; ++i) {
        t1[i] = t0[i] - 0.1 * (g[i] + 0.5 * t0[i]);
        t2[i] = t1[i] - 0.1 * (g[i] + 0.5 * t1[i]);
    }
    check_close(run_sgd(c, 1), t1);  // {0.85, −2.1, 0.525, 0}
    CHECK(run_sgd(c, 1)[2] == doctest::Approx(0.525).epsilon(1e-6));
    check_close(run_sgd(c, 2), t2);
    c.momentum = 0.9f;
    std::vector<double> m2(4);
    for (int i = 0; i < 4; ++i) {
        const double v1 = g[i] + 0.5 * t0[i];
        const double v2 = 0.9 * v1 + g[i] + 0.5 * t1[i];
        m2[i] = t1[i] - 0.1 * v2;
    }
    check_close(run_sgd(c, 2), m2);
}

// Adam's first step moves every parameter with a non-zero gradient by lr·sign(g) (bias
// correction makes m̂/√v̂ = ±1); two steps match the reference formulas.
TEST_CASE("adam without decay") {
    const std::vector<float> one = run_adam(OptimizerKind::adam, 0.0f, 1);
    check_close(one, {0.9, -1.9, 0.4, 3.0});
    const std::vector<double> two =
        adam_reference(false, 0.1, 0.0, {1, -2, 0.5, 3}, {{0.2, -0.4, 1, 0}, {-0.1, 0.3, 0.5, 0}});
    check_close(run_adam(OptimizerKind::adam, 0.0f, 2), two);
    // Without decay, adam and adamw are the same algorithm, bit for bit.
    const std::vector<float> w = run_adam(OptimizerKind::adamw, 0.0f, 2);
    CHECK(std::memcmp(w.data(), run_adam(OptimizerKind::adam, 0.0f, 2).data(), 16) == 0);
}

// adam folds weight decay into the gradient (g += λθ); adamw decays θ by (1 − lr·λ) apart
// from the moments. λ = 0.5, lr = 0.1: on step 1 adamw gives θ·0.95 − 0.1·sign(g), adam
// θ − 0.1·sign(g + 0.5θ); a parameter with zero gradient moves by −0.1·sign(θ) under adam
// and only decays under adamw.
TEST_CASE("adam coupled vs adamw decoupled decay") {
    const std::vector<float> adam1 = run_adam(OptimizerKind::adam, 0.5f, 1);
    const std::vector<float> adamw1 = run_adam(OptimizerKind::adamw, 0.5f, 1);
    // g + 0.5θ = {0.7, −1.4, 1.25, 1.5}: signs +, −, +, +.
    check_close(adam1, {0.9, -1.9, 0.4, 2.9});
    check_close(adamw1, {0.95 - 0.1, -1.9 + 0.1, 0.475 - 0.1, 2.85});
    const std::vector<std::vector<double>> grads = {{0.2, -0.4, 1, 0}, {-0.1, 0.3, 0.5, 0}};
    check_close(run_adam(OptimizerKind::adam, 0.5f, 2),
                adam_reference(false, 0.1, 0.5, {1, -2, 0.5, 3}, grads));
    check_close(run_adam(OptimizerKind::adamw, 0.5f, 2),
                adam_reference(true, 0.1, 0.5, {1, -2, 0.5, 3}, grads));
}

// scalars(): the lr and grad scale pass through; adam's bias corrections are 1 − β^t,
// sgd's stay 1.
TEST_CASE("step scalars") {
    const Optimizer adam_optimizer(adam(OptimizerKind::adam), 1);
    const mlptrain::StepScalars s1 = adam_optimizer.scalars(1, 0.01f, 0.25f);
    CHECK(s1.lr == 0.01f);
    CHECK(s1.grad_scale == 0.25f);
    CHECK(s1.bias_correction1 == doctest::Approx(0.1).epsilon(1e-6));
    CHECK(s1.bias_correction2 == doctest::Approx(0.001).epsilon(1e-4));
    const mlptrain::StepScalars s3 = adam_optimizer.scalars(3, 0.01f, 1.0f);
    CHECK(s3.bias_correction1 == doctest::Approx(1 - 0.729).epsilon(1e-6));
    CHECK(s3.bias_correction2 == doctest::Approx(1 - std::pow(0.999, 3)).epsilon(1e-4));
    const Optimizer plain(sgd(0.9f), 1);
    CHECK(plain.scalars(5, 0.1f, 1.0f).bias_correction1 == 1.0f);
    CHECK(plain.scalars(5, 0.1f, 1.0f).bias_correction2 == 1.0f);
}

// Moment buffers and their checkpoint names: none for plain SGD, "momentum" with μ > 0,
// "exp_avg"/"exp_avg_sq" for adam(w), each the arena's size.
TEST_CASE("moment names") {
    Optimizer plain(sgd(0.0f), 10);
    CHECK(plain.moment_names().empty());
    CHECK(plain.moments().empty());
    Optimizer momentum(sgd(0.9f), 10);
    CHECK(momentum.moment_names() == std::vector<std::string>{"momentum"});
    REQUIRE(momentum.moments().size() == 1);
    CHECK(momentum.moments()[0]->size() == 10);
    for (OptimizerKind k : {OptimizerKind::adam, OptimizerKind::adamw}) {
        Optimizer opt(adam(k), 10);
        CHECK(opt.moment_names() == std::vector<std::string>{"exp_avg", "exp_avg_sq"});
        REQUIRE(opt.moments().size() == 2);
        CHECK(opt.moments()[1]->size() == 10);
    }
}

// Updating [0, k) and [k, n) separately gives bitwise the same parameters and moments as
// one call over [0, n), for every optimizer, over several steps; so do update_into, which
// writes the new parameters to another buffer (the trainer's streaming path).
TEST_CASE("update is chunking invariant") {
    const std::int64_t n = 103;
    std::vector<OptimizerConfig> configs;
    configs.push_back(sgd(0.0f));
    configs.push_back(sgd(0.9f));
    configs.push_back(sgd(0.9f, true));
    configs.back().weight_decay = 0.01f;
    configs.back().l2 = 0.001f;
    for (OptimizerKind k : {OptimizerKind::adam, OptimizerKind::adamw}) {
        OptimizerConfig c = adam(k);
        c.weight_decay = 0.02f;
        configs.push_back(c);
    }
    for (const OptimizerConfig& config : configs) {
        CAPTURE(mlptrain::optimizer_name(config.kind));
        std::vector<float> a(static_cast<std::size_t>(n)), b, grad(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) {
            a[static_cast<std::size_t>(i)] = std::sin(0.7f * static_cast<float>(i));
        }
        b = a;
        Optimizer whole(config, n), split(config, n);
        for (int t = 1; t <= 3; ++t) {
            for (std::int64_t i = 0; i < n; ++i)
                grad[static_cast<std::size_t>(i)] = std::cos(0.3f * static_cast<float>(i * t));
            const auto s = whole.scalars(t, 0.05f, 0.125f);
            whole.update(a.data(), grad.data(), 0, n, s);
            split.update(b.data(), grad.data(), 37, n, s);  // order of chunks does not matter
            std::vector<float> head(37, -1.0f);
            split.update_into(b.data(), grad.data(), 0, 37, s, head.data());
            std::copy(head.begin(), head.end(), b.begin());
        }
        CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0);
        const auto mw = whole.moments(), ms = split.moments();
        REQUIRE(mw.size() == ms.size());
        for (std::size_t m = 0; m < mw.size(); ++m) {
            CHECK(std::memcmp(mw[m]->data(), ms[m]->data(),
                              sizeof(float) * static_cast<std::size_t>(n)) == 0);
        }
        // And the update did something.
        std::vector<float> start(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i)
            start[static_cast<std::size_t>(i)] = std::sin(0.7f * static_cast<float>(i));
        CHECK(a != start);
    }
}

// An update touches only [begin, end).
TEST_CASE("update stays inside its range") {
    std::vector<float> theta(8, 1.0f), grad(8, 1.0f);
    Optimizer opt(sgd(0.9f), 8);
    opt.update(theta.data(), grad.data(), 2, 5, opt.scalars(1, 0.5f, 1.0f));
    CHECK(theta == std::vector<float>{1, 1, 0.5f, 0.5f, 0.5f, 1, 1, 1});
}

// parse_optimizer round-trips the names and names the field in its error.
TEST_CASE("parse_optimizer") {
    for (OptimizerKind k : {OptimizerKind::sgd, OptimizerKind::adam, OptimizerKind::adamw})
        CHECK(mlptrain::parse_optimizer(mlptrain::optimizer_name(k), "optimizer") == k);
    std::string message;
    try {
        mlptrain::parse_optimizer("rmsprop", "optimizer");
    } catch (const mlptrain::Error& e) {
        message = e.what();
    }
    CHECK(message.rfind("optimizer: ", 0) == 0);
    CHECK(message.find("rmsprop") != std::string::npos);
    CHECK(message.find("adamw") != std::string::npos);
}
