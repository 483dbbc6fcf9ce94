// Tests for the model: the arena layout (slot names, (out, in) shapes, alignment), the
// seeded initialization (deterministic, seed-dependent, Glorot bounds, He-normal std,
// zero biases), the init parser and the spec's description.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/nn/model.hpp"

using mlptrain::Activation;
using mlptrain::InitKind;
using mlptrain::Loss;
using mlptrain::Model;
using mlptrain::ModelSpec;

namespace {

ModelSpec spec_of(std::vector<std::int64_t> sizes, Activation act = Activation::relu,
                  Loss loss = Loss::softmax_cross_entropy) {
    ModelSpec spec;
    spec.sizes = std::move(sizes);
    spec.hidden_activation = act;
    spec.loss = loss;
    return spec;
}

std::vector<float> init(const Model& model, InitKind kind, std::uint64_t seed) {
    std::vector<float> params(static_cast<std::size_t>(model.layout().total()), 0.0f);
    model.init_parameters(params.data(), kind, seed);
    return params;
}

}  // namespace

// Slots are layers.<l>.weight (out, in) then layers.<l>.bias (1, out), in layer order, and
// weight()/bias() point at them.
TEST_CASE("model layout names and shapes") {
    const Model model(spec_of({4, 7, 3}));
    CHECK(model.num_layers() == 2);
    CHECK(model.dim_in(0) == 4);
    CHECK(model.dim_out(0) == 7);
    CHECK(model.dim_in(1) == 7);
    CHECK(model.dim_out(1) == 3);
    CHECK(model.dim_input() == 4);
    CHECK(model.dim_output() == 3);
    CHECK(model.max_width() == 7);
    const auto& slots = model.layout().slots();
    REQUIRE(slots.size() == 4);
    CHECK(slots[0].name == "layers.0.weight");
    CHECK(slots[1].name == "layers.0.bias");
    CHECK(slots[2].name == "layers.1.weight");
    CHECK(slots[3].name == "layers.1.bias");
    CHECK(slots[0].rows == 7);
    CHECK(slots[0].cols == 4);
    CHECK(slots[1].rows == 1);
    CHECK(slots[1].cols == 7);
    CHECK(slots[2].rows == 3);
    CHECK(slots[2].cols == 7);
    CHECK(slots[3].cols == 3);
    CHECK(model.weight_slot(1) == 2);
    CHECK(model.bias_slot(1) == 3);
    for (const mlptrain::Slot& s : slots) CHECK(s.offset % 16 == 0);
    CHECK(model.layout().parameter_count() == 4 * 7 + 7 + 7 * 3 + 3);
    std::vector<float> params(static_cast<std::size_t>(model.layout().total()));
    const mlptrain::Matrix W1 = model.weight(params.data(), 1);
    CHECK(W1.data == params.data() + slots[2].offset);
    CHECK(W1.rows == 3);
    CHECK(W1.cols == 7);
    CHECK(model.bias(params.data(), 0) == params.data() + slots[1].offset);
}

// The same seed gives bitwise the same parameters; another seed or init kind does not.
TEST_CASE("initialization is deterministic per seed") {
    const Model model(spec_of({5, 9, 4}));
    for (InitKind kind : {InitKind::glorot_uniform, InitKind::he_normal}) {
        const std::vector<float> a = init(model, kind, 17);
        const std::vector<float> b = init(model, kind, 17);
        const std::vector<float> c = init(model, kind, 18);
        CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
        CHECK(a != c);
    }
    CHECK(init(model, InitKind::glorot_uniform, 17) != init(model, InitKind::he_normal, 17));
    // Layers get different streams: two layers of the same shape are not copies.
    const Model square(spec_of({6, 6, 6}));
    const std::vector<float> p = init(square, InitKind::glorot_uniform, 3);
    const mlptrain::ConstMatrix W0 = square.weight(static_cast<const float*>(p.data()), 0);
    const mlptrain::ConstMatrix W1 = square.weight(static_cast<const float*>(p.data()), 1);
    CHECK(std::memcmp(W0.data, W1.data, 36 * sizeof(float)) != 0);
}

// Biases are zero after init, even when the buffer held garbage, and padding is untouched.
TEST_CASE("initialization zeroes biases") {
    const Model model(spec_of({3, 5, 2}));
    std::vector<float> params(static_cast<std::size_t>(model.layout().total()), 9.0f);
    model.init_parameters(params.data(), InitKind::he_normal, 1);
    for (int l = 0; l < model.num_layers(); ++l) {
        const float* b = model.bias(params.data(), l);
        for (std::int64_t j = 0; j < model.dim_out(l); ++j) CHECK(b[j] == 0.0f);
        const mlptrain::Matrix W = model.weight(params.data(), l);
        for (std::int64_t i = 0; i < W.rows * W.cols; ++i) CHECK(W.data[i] != 9.0f);
    }
}

// Glorot-uniform weights lie in [−√(6/(in+out)), √(6/(in+out))], fill that range, and have
// mean ≈ 0 and variance ≈ limit²/3.
TEST_CASE("glorot uniform bounds and spread") {
    const Model model(spec_of({400, 200, 2}, Activation::tanh));
    const std::vector<float> p = init(model, InitKind::glorot_uniform, 5);
    const mlptrain::ConstMatrix W = model.weight(static_cast<const float*>(p.data()), 0);
    const double limit = std::sqrt(6.0 / 600.0);
    const std::int64_t n = W.rows * W.cols;
    double lo = 1e9, hi = -1e9, sum = 0.0, sumsq = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double w = W.data[i];
        lo = std::min(lo, w);
        hi = std::max(hi, w);
        sum += w;
        sumsq += w * w;
    }
    CHECK(lo >= -limit * (1 + 1e-6));
    CHECK(hi <= limit * (1 + 1e-6));
    CHECK(lo < -0.99 * limit);
    CHECK(hi > 0.99 * limit);
    CHECK(std::fabs(sum / n) < 0.01 * limit);
    CHECK(sumsq / n == doctest::Approx(limit * limit / 3).epsilon(0.02));
}

// He-normal weights have mean ≈ 0 and standard deviation ≈ √(2/in), per layer.
TEST_CASE("he normal standard deviation") {
    const Model model(spec_of({500, 300, 50}));
    const std::vector<float> p = init(model, InitKind::he_normal, 9);
    for (int l = 0; l < 2; ++l) {
        CAPTURE(l);
        const mlptrain::ConstMatrix W = model.weight(static_cast<const float*>(p.data()), l);
        const std::int64_t n = W.rows * W.cols;
        double sum = 0.0, sumsq = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
            sum += W.data[i];
            sumsq += static_cast<double>(W.data[i]) * W.data[i];
        }
        const double expected_std = std::sqrt(2.0 / static_cast<double>(model.dim_in(l)));
        const double mean = sum / n;
        CHECK(std::fabs(mean) < 0.02 * expected_std);
        CHECK(std::sqrt(sumsq / n - mean * mean) == doctest::Approx(expected_std).epsilon(0.03));
    }
}

// ReLU-family activations default to He-normal, the others to Glorot-uniform; the init
// parser round-trips and names the flag in its error.
TEST_CASE("default init and parse_init") {
    CHECK(mlptrain::default_init(Activation::relu) == InitKind::he_normal);
    CHECK(mlptrain::default_init(Activation::leaky_relu) == InitKind::he_normal);
    CHECK(mlptrain::default_init(Activation::tanh) == InitKind::glorot_uniform);
    CHECK(mlptrain::default_init(Activation::sigmoid) == InitKind::glorot_uniform);
    CHECK(mlptrain::default_init(Activation::identity) == InitKind::glorot_uniform);
    for (InitKind k : {InitKind::glorot_uniform, InitKind::he_normal})
        CHECK(mlptrain::parse_init(mlptrain::init_name(k), "init") == k);
    std::string message;
    try {
        mlptrain::parse_init("orthogonal", "init");
    } catch (const mlptrain::Error& e) {
        message = e.what();
    }
    CHECK(message.rfind("init: ", 0) == 0);
    CHECK(message.find("orthogonal") != std::string::npos);
    CHECK(message.find("he_normal") != std::string::npos);
}

// describe() lists the sizes, the activation and the loss.
TEST_CASE("model spec description") {
    ModelSpec spec = spec_of({4, 64, 32, 3});
    CHECK(spec.describe() == "4-64-32-3 relu cross_entropy");
    CHECK(spec.num_layers() == 3);
    spec.hidden_activation = Activation::tanh;
    spec.loss = Loss::mse;
    CHECK(spec.describe() == "4-64-32-3 tanh mse");
}
