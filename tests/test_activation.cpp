// Tests for the hidden-layer activations: forward values at chosen points, the backward
// pass against central differences of the forward pass, and the flag parser's messages.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mlptrain/nn/activation.hpp"
#include "mlptrain/core/error.hpp"

using mlptrain::Activation;

namespace {

const Activation all_activations[] = {Activation::identity, Activation::sigmoid, Activation::tanh,
                                      Activation::relu, Activation::leaky_relu};

std::vector<float> forward(const std::vector<float>& z, Activation act) {
    std::vector<float> a(z.size(), -123.0f);
    mlptrain::activation_forward(
        mlptrain::make_matrix(a.data(), 1, static_cast<std::int64_t>(a.size())),
        mlptrain::make_matrix(z.data(), 1, static_cast<std::int64_t>(z.size())), act);
    return a;
}

double forward_one(float z, Activation act) {
    const std::vector<float> a = forward({z}, act);
    return a[0];
}

std::string parse_error(const std::string& name, const std::string& flag) {
    try {
        mlptrain::parse_activation(name, flag);
    } catch (const mlptrain::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

// Each activation's forward pass gives the textbook value at chosen points.
TEST_CASE("activation forward values") {
    const std::vector<float> z = {-2.0f, -0.5f, 0.0f, 0.75f, 3.0f};
    const std::vector<float> id = forward(z, Activation::identity);
    const std::vector<float> sg = forward(z, Activation::sigmoid);
    const std::vector<float> th = forward(z, Activation::tanh);
    const std::vector<float> re = forward(z, Activation::relu);
    const std::vector<float> lk = forward(z, Activation::leaky_relu);
    for (std::size_t i = 0; i < z.size(); ++i) {
        const double x = z[i];
        CAPTURE(x);
        CHECK(id[i] == z[i]);
        CHECK(sg[i] == doctest::Approx(1.0 / (1.0 + std::exp(-x))).epsilon(1e-6));
        CHECK(th[i] == doctest::Approx(std::tanh(x)).epsilon(1e-6));
        CHECK(re[i] == (x > 0 ? z[i] : 0.0f));
        CHECK(lk[i] == doctest::Approx(x > 0 ? x : 0.01 * x).epsilon(1e-7));
    }
    CHECK(sg[2] == 0.5f);
    CHECK(th[2] == 0.0f);
    CHECK(lk[0] == doctest::Approx(-0.02).epsilon(1e-7));
    CHECK(mlptrain::leaky_relu_slope == 0.01f);
}

// Forward may run in place (A aliases Z), as the header allows.
TEST_CASE("activation forward in place") {
    std::vector<float> z = {-1.0f, 0.5f, 2.0f, -3.0f};
    const mlptrain::Matrix m = mlptrain::make_matrix(z.data(), 2, 2);
    mlptrain::activation_forward(m, m, Activation::relu);
    CHECK(z == std::vector<float>{0.0f, 0.5f, 2.0f, 0.0f});
}

// Forward respects the leading dimension: padding columns beyond `cols` are not touched.
TEST_CASE("activation forward honours ld") {
    std::vector<float> z = {-1.0f, 1.0f, 99.0f, -2.0f, 2.0f, 99.0f};
    std::vector<float> a = {7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f};
    mlptrain::activation_forward({a.data(), 2, 2, 3}, mlptrain::ConstMatrix{z.data(), 2, 2, 3},
                                 Activation::relu);
    CHECK(a == std::vector<float>{0.0f, 1.0f, 7.0f, 0.0f, 2.0f, 7.0f});
}

// Backward equals dA ⊙ (central difference of forward), for every activation, at points
// away from ReLU's kink.
TEST_CASE("activation backward matches finite differences") {
    const std::vector<float> z = {-2.5f, -1.1f, -0.3f, 0.4f, 0.9f, 2.2f};
    const std::vector<float> dA = {0.7f, -1.3f, 2.0f, 0.5f, -0.9f, 1.6f};
    const auto n = static_cast<std::int64_t>(z.size());
    for (Activation act : all_activations) {
        CAPTURE(mlptrain::activation_name(act));
        const std::vector<float> a = forward(z, act);
        std::vector<float> dZ(z.size(), 0.0f);
        mlptrain::activation_backward(
            mlptrain::make_matrix(dZ.data(), 2, 3), mlptrain::make_matrix(dA.data(), 2, 3),
            mlptrain::make_matrix(z.data(), 2, 3), mlptrain::make_matrix(a.data(), 2, 3), act);
        for (std::int64_t i = 0; i < n; ++i) {
            // The perturbed points are floats; the difference quotient is taken in double
            // over the points actually evaluated.
            const float x = z[static_cast<std::size_t>(i)];
            const float xp = x + 1e-3f, xm = x - 1e-3f;
            const double slope = (forward_one(xp, act) - forward_one(xm, act)) /
                                 (static_cast<double>(xp) - static_cast<double>(xm));
            const double expected = dA[static_cast<std::size_t>(i)] * slope;
            CAPTURE(x);
            CHECK(dZ[static_cast<std::size_t>(i)] ==
                  doctest::Approx(expected).epsilon(2e-3).scale(1.0));
        }
    }
}

// Backward gives exact derivatives at chosen points (σ'(0) = 1/4, tanh'(0) = 1, ReLU 0/1,
// leaky 0.01/1), and may run in place (dZ aliases dA).
TEST_CASE("activation backward exact values and in place") {
    const std::vector<float> z = {0.0f, -1.0f, 2.0f};
    struct Case {
        Activation act;
        std::vector<float> slope;
    };
    const Case cases[] = {
        {Activation::identity, {1.0f, 1.0f, 1.0f}},
        {Activation::sigmoid,
         {0.25f, static_cast<float>(std::exp(-1.0) / std::pow(1 + std::exp(-1.0), 2)),
          static_cast<float>(std::exp(-2.0) / std::pow(1 + std::exp(-2.0), 2))}},
        {Activation::tanh,
         {1.0f, static_cast<float>(1 - std::pow(std::tanh(1.0), 2)),
          static_cast<float>(1 - std::pow(std::tanh(2.0), 2))}},
        {Activation::relu, {0.0f, 0.0f, 1.0f}},
        {Activation::leaky_relu, {0.01f, 0.01f, 1.0f}},
    };
    for (const Case& c : cases) {
        CAPTURE(mlptrain::activation_name(c.act));
        const std::vector<float> a = forward(z, c.act);
        std::vector<float> d = {2.0f, 2.0f, 2.0f};
        const mlptrain::Matrix dm = mlptrain::make_matrix(d.data(), 1, 3);
        mlptrain::activation_backward(dm, dm, mlptrain::make_matrix(z.data(), 1, 3),
                                      mlptrain::make_matrix(a.data(), 1, 3), c.act);
        for (std::size_t i = 0; i < 3; ++i)
            CHECK(d[i] == doctest::Approx(2.0 * c.slope[i]).epsilon(1e-5));
    }
}

// In place (dZ = dA, how the backward pass calls it) gives the bits of the out-of-place pass:
// the two run different loops. Over rows long enough for every vector width and a tail
// (2 × 203), with ±0, ±Inf and NaN among the values.
TEST_CASE("activation backward in place gives the out-of-place bits") {
    const std::int64_t rows = 2, n = 203, size = rows * n;
    std::vector<float> z(size), da(size);
    for (std::int64_t i = 0; i < size; ++i) {
        z[static_cast<std::size_t>(i)] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
        da[static_cast<std::size_t>(i)] = std::cos(0.11f * static_cast<float>(i)) * 1e-3f;
    }
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    z[5] = 0.0f, z[6] = -0.0f, da[7] = -0.0f, z[8] = inf, z[9] = -inf, da[10] = nan, da[11] = -inf;
    for (Activation act : all_activations) {
        const std::string name = mlptrain::activation_name(act);
        CAPTURE(name);
        const std::vector<float> a = forward(z, act);
        const mlptrain::ConstMatrix Z = mlptrain::make_matrix(z.data(), rows, n), A = mlptrain::make_matrix(a.data(), rows, n);
        std::vector<float> out(static_cast<std::size_t>(size), 7.0f), in_place = da;
        mlptrain::activation_backward(mlptrain::make_matrix(out.data(), rows, n), mlptrain::make_matrix(da.data(), rows, n), Z, A,
                                      act);
        const mlptrain::Matrix d = mlptrain::make_matrix(in_place.data(), rows, n);
        mlptrain::activation_backward(d, d, Z, A, act);
        CHECK(std::memcmp(out.data(), in_place.data(), sizeof(float) * out.size()) == 0);
    }
}

// parse_activation accepts every name activation_name produces (round trip).
TEST_CASE("parse_activation round trip") {
    for (Activation act : all_activations)
        CHECK(mlptrain::parse_activation(mlptrain::activation_name(act), "activation") == act);
    CHECK(mlptrain::parse_activation("relu", "activation") == Activation::relu);
}

// An unknown name throws ConfigError naming the field (never a flag: the library does not
// speak in flags), the bad value, and every valid name.
TEST_CASE("parse_activation error names the field and the valid names") {
    const std::string message = parse_error("swish", "hidden_activation");
    REQUIRE_FALSE(message.empty());
    CHECK(message.rfind("hidden_activation: ", 0) == 0);
    CHECK(message.find("--") == std::string::npos);
    CHECK(message.find("swish") != std::string::npos);
    for (const char* name : {"identity", "sigmoid", "tanh", "relu", "leaky_relu"})
        CHECK(message.find(name) != std::string::npos);
    const std::string default_flag = [] {
        try {
            mlptrain::parse_activation("Relu ", "activation");
        } catch (const mlptrain::ConfigError& e) {
            CHECK(e.field() == "activation");
            return std::string(e.what());
        }
        return std::string();
    }();
    CHECK(default_flag.rfind("activation: ", 0) == 0);
}
