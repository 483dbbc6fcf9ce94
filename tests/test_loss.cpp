// Tests for the fused output losses: values on hand-computed cases, stability for extreme
// logits, the gradients against central differences, predicted_class and the parsers.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/nn/loss.hpp"

using mlptrain::Loss;
using mlptrain::Targets;

namespace {

struct Result {
    double loss = 0.0;
    std::vector<float> P, dZ;
};

// Runs loss_forward_backward on z (rows, cols); also checks that loss_forward agrees.
Result run(const std::vector<float>& z, std::int64_t rows, std::int64_t cols, const Targets& t,
           Loss loss) {
    Result r;
    r.P.assign(z.size(), -7.0f);
    r.dZ.assign(z.size(), -7.0f);
    r.loss = mlptrain::loss_forward_backward(mlptrain::make_matrix(r.dZ.data(), rows, cols),
                                             mlptrain::make_matrix(r.P.data(), rows, cols),
                                             mlptrain::make_matrix(z.data(), rows, cols), t, loss);
    std::vector<float> P2(z.size(), -7.0f);
    const double forward_only =
        mlptrain::loss_forward(mlptrain::make_matrix(P2.data(), rows, cols),
                               mlptrain::make_matrix(z.data(), rows, cols), t, loss);
    CHECK(forward_only == r.loss);
    CHECK(P2 == r.P);
    return r;
}

double loss_only(const std::vector<float>& z, std::int64_t rows, std::int64_t cols,
                 const Targets& t, Loss loss) {
    std::vector<float> P(z.size());
    return mlptrain::loss_forward(mlptrain::make_matrix(P.data(), rows, cols),
                                  mlptrain::make_matrix(z.data(), rows, cols), t, loss);
}

// ‖a − b‖ / ‖a + b‖ over the vectors.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
    double diff = 0.0, sum = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        sum += (a[i] + b[i]) * (a[i] + b[i]);
    }
    return std::sqrt(diff) / std::sqrt(sum);
}

// Central differences of Σ loss w.r.t. every logit vs the analytic dZ.
double gradient_error(std::vector<float> z, std::int64_t rows, std::int64_t cols, const Targets& t,
                      Loss loss) {
    const Result r = run(z, rows, cols, t, loss);
    std::vector<double> analytic, numeric;
    for (std::size_t i = 0; i < z.size(); ++i) {
        const float x = z[i];
        const float xp = x + 1e-2f, xm = x - 1e-2f;
        z[i] = xp;
        const double lp = loss_only(z, rows, cols, t, loss);
        z[i] = xm;
        const double lm = loss_only(z, rows, cols, t, loss);
        z[i] = x;
        numeric.push_back((lp - lm) / (static_cast<double>(xp) - static_cast<double>(xm)));
        analytic.push_back(r.dZ[i]);
    }
    return relative_error(analytic, numeric);
}

std::string error_of(void (*f)()) {
    try {
        f();
    } catch (const mlptrain::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

// mse on regression targets: Σ_rows mean_j (z−t)², dZ = 2(z−t)/out, outputs = z.
TEST_CASE("mse value and gradient by hand") {
    const std::vector<float> z = {1.0f, 2.0f, -1.0f, 0.5f};
    const std::vector<float> t = {0.0f, 4.0f, -1.0f, 1.5f};
    Targets targets;
    targets.values = mlptrain::make_matrix(t.data(), 2, 2);
    const Result r = run(z, 2, 2, targets, Loss::mse);
    // Row 0: ((1)² + (−2)²)/2 = 2.5; row 1: (0 + 1)/2 = 0.5.
    CHECK(r.loss == doctest::Approx(3.0).epsilon(1e-12));
    CHECK(r.dZ == std::vector<float>{1.0f, -2.0f, 0.0f, -1.0f});
    CHECK(r.P == z);
}

// mse on class labels compares against one-hot targets.
TEST_CASE("mse with labels uses one-hot targets") {
    const std::vector<float> z = {0.5f, 0.25f, 1.0f};
    const std::int32_t label = 1;
    Targets targets;
    targets.labels = &label;
    const Result r = run(z, 1, 3, targets, Loss::mse);
    // (0.25 + 0.5625 + 1) / 3
    CHECK(r.loss == doctest::Approx(1.8125 / 3.0).epsilon(1e-7));
    CHECK(r.dZ[0] == doctest::Approx(2.0 * 0.5 / 3.0).epsilon(1e-6));
    CHECK(r.dZ[1] == doctest::Approx(2.0 * -0.75 / 3.0).epsilon(1e-6));
    CHECK(r.dZ[2] == doctest::Approx(2.0 * 1.0 / 3.0).epsilon(1e-6));
}

// bce: loss = log(1+e^−z) for y = 1 and log(1+e^z) for y = 0; dZ = σ(z) − y; P = σ(z).
TEST_CASE("binary cross-entropy value and gradient by hand") {
    const std::vector<float> z = {0.0f, 2.0f, -1.5f};
    const std::int32_t labels[] = {1, 0, 0};
    Targets targets;
    targets.labels = labels;
    const Result r = run(z, 3, 1, targets, Loss::binary_cross_entropy);
    const double expected = std::log(2.0) + std::log1p(std::exp(2.0)) + std::log1p(std::exp(-1.5));
    CHECK(r.loss == doctest::Approx(expected).epsilon(1e-6));
    const double s1 = 1.0 / (1.0 + std::exp(-2.0)), s2 = 1.0 / (1.0 + std::exp(1.5));
    CHECK(r.P[0] == 0.5f);
    CHECK(r.P[1] == doctest::Approx(s1).epsilon(1e-6));
    CHECK(r.P[2] == doctest::Approx(s2).epsilon(1e-6));
    CHECK(r.dZ[0] == -0.5f);
    CHECK(r.dZ[1] == doctest::Approx(s1).epsilon(1e-6));
    CHECK(r.dZ[2] == doctest::Approx(s2).epsilon(1e-6));
}

// bce also takes its 0/1 targets from a value matrix when there are no labels.
TEST_CASE("binary cross-entropy with value targets") {
    const std::vector<float> z = {1.0f};
    const std::vector<float> t = {1.0f};
    Targets targets;
    targets.values = mlptrain::make_matrix(t.data(), 1, 1);
    const Result r = run(z, 1, 1, targets, Loss::binary_cross_entropy);
    CHECK(r.loss == doctest::Approx(std::log1p(std::exp(-1.0))).epsilon(1e-6));
    CHECK(r.dZ[0] == doctest::Approx(1.0 / (1.0 + std::exp(-1.0)) - 1.0).epsilon(1e-6));
}

// bce stays finite and exact for |z| = 1000: the right answer costs |z|, the wrong one 0.
TEST_CASE("binary cross-entropy is stable for huge logits") {
    const std::vector<float> z = {1000.0f, -1000.0f, 1000.0f, -1000.0f};
    const std::int32_t labels[] = {1, 0, 0, 1};
    Targets targets;
    targets.labels = labels;
    const Result r = run(z, 4, 1, targets, Loss::binary_cross_entropy);
    REQUIRE(std::isfinite(r.loss));
    CHECK(r.loss == doctest::Approx(2000.0).epsilon(1e-12));
    CHECK(r.dZ == std::vector<float>{0.0f, 0.0f, 1.0f, -1.0f});
    CHECK(r.P == std::vector<float>{1.0f, 0.0f, 1.0f, 0.0f});
}

// softmax ce: loss = logsumexp(z) − z_y; P = softmax(z); dZ = P − onehot(y).
TEST_CASE("softmax cross-entropy value and gradient by hand") {
    const std::vector<float> z = {1.0f, 2.0f, 3.0f, 0.0f, 0.0f, 0.0f};
    const std::int32_t labels[] = {2, 0};
    Targets targets;
    targets.labels = labels;
    const Result r = run(z, 2, 3, targets, Loss::softmax_cross_entropy);
    const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
    CHECK(r.loss == doctest::Approx(lse - 3.0 + std::log(3.0)).epsilon(1e-6));
    for (int j = 0; j < 3; ++j) {
        const double p = std::exp(1.0 + j - lse);
        CHECK(r.P[static_cast<std::size_t>(j)] == doctest::Approx(p).epsilon(1e-6));
        CHECK(r.dZ[static_cast<std::size_t>(j)] == doctest::Approx(p - (j == 2)).epsilon(1e-6));
        CHECK(r.P[static_cast<std::size_t>(3 + j)] == doctest::Approx(1.0 / 3.0).epsilon(1e-6));
        CHECK(r.dZ[static_cast<std::size_t>(3 + j)] ==
              doctest::Approx(1.0 / 3.0 - (j == 0)).epsilon(1e-6));
    }
}

// softmax ce is finite and exact for logits ±1000: {1000, −1000, 0} costs 0 for label 0,
// 2000 for label 1 and 1000 for label 2, with gradients onehot(0) − onehot(y).
TEST_CASE("softmax cross-entropy is stable for huge logits") {
    const std::vector<float> z = {1000.0f, -1000.0f, 0.0f};
    for (std::int32_t label = 0; label < 3; ++label) {
        CAPTURE(label);
        Targets targets;
        targets.labels = &label;
        const Result r = run(z, 1, 3, targets, Loss::softmax_cross_entropy);
        REQUIRE(std::isfinite(r.loss));
        const double expected[] = {0.0, 2000.0, 1000.0};
        CHECK(r.loss == doctest::Approx(expected[label]).epsilon(1e-12));
        CHECK(r.P == std::vector<float>{1.0f, 0.0f, 0.0f});
        for (std::int32_t j = 0; j < 3; ++j) {
            CHECK(std::isfinite(r.dZ[static_cast<std::size_t>(j)]));
            CHECK(r.dZ[static_cast<std::size_t>(j)] == static_cast<float>((j == 0) - (j == label)));
        }
    }
    // All logits huge and equal: uniform probabilities, loss log 3.
    const std::vector<float> same = {1000.0f, 1000.0f, 1000.0f};
    const std::int32_t label = 1;
    Targets targets;
    targets.labels = &label;
    const Result r = run(same, 1, 3, targets, Loss::softmax_cross_entropy);
    CHECK(r.loss == doctest::Approx(std::log(3.0)).epsilon(1e-6));
}

// The analytic dZ of each loss agrees with central differences of the loss.
TEST_CASE("loss gradients match central differences") {
    const std::vector<float> z = {0.3f, -1.2f, 0.8f, 2.1f, -0.4f, -0.9f, 1.5f, 0.2f, -2.2f};
    const std::int32_t labels[] = {1, 2, 0};
    SUBCASE("mse regression") {
        const std::vector<float> t = {0.5f, 0.1f, -1.0f, 1.0f, 0.0f, 0.7f, -0.3f, 0.9f, 1.1f};
        Targets targets;
        targets.values = mlptrain::make_matrix(t.data(), 3, 3);
        CHECK(gradient_error(z, 3, 3, targets, Loss::mse) < 1e-4);
    }
    SUBCASE("mse one-hot") {
        Targets targets;
        targets.labels = labels;
        CHECK(gradient_error(z, 3, 3, targets, Loss::mse) < 1e-4);
    }
    SUBCASE("softmax cross-entropy") {
        Targets targets;
        targets.labels = labels;
        CHECK(gradient_error(z, 3, 3, targets, Loss::softmax_cross_entropy) < 1e-4);
    }
    SUBCASE("binary cross-entropy") {
        const std::vector<float> zb = {0.3f, -1.2f, 2.1f, -0.4f};
        const std::int32_t yb[] = {1, 0, 0, 1};
        Targets targets;
        targets.labels = yb;
        CHECK(gradient_error(zb, 4, 1, targets, Loss::binary_cross_entropy) < 1e-4);
    }
}

// loss_output_size: classes for softmax and one-hot mse, 1 for bce, targets for regression.
TEST_CASE("loss output sizes") {
    CHECK(mlptrain::loss_output_size(Loss::softmax_cross_entropy, 5, 0) == 5);
    CHECK(mlptrain::loss_output_size(Loss::binary_cross_entropy, 2, 0) == 1);
    CHECK(mlptrain::loss_output_size(Loss::mse, 3, 0) == 3);
    CHECK(mlptrain::loss_output_size(Loss::mse, 0, 4) == 4);
}

// predicted_class is the argmax of a row (first on ties), and P > 0.5 for bce.
TEST_CASE("predicted class") {
    const std::vector<float> P = {0.1f, 0.7f, 0.2f, 0.4f, 0.2f, 0.4f, 0.0f, 0.0f, 0.9f};
    const mlptrain::ConstMatrix m = mlptrain::make_matrix(P.data(), 3, 3);
    CHECK(mlptrain::predicted_class(m, 0, Loss::softmax_cross_entropy) == 1);
    CHECK(mlptrain::predicted_class(m, 1, Loss::softmax_cross_entropy) == 0);
    CHECK(mlptrain::predicted_class(m, 2, Loss::mse) == 2);
    const std::vector<float> b = {0.5f, 0.51f, 0.49f};
    const mlptrain::ConstMatrix mb = mlptrain::make_matrix(b.data(), 3, 1);
    CHECK(mlptrain::predicted_class(mb, 0, Loss::binary_cross_entropy) == 0);
    CHECK(mlptrain::predicted_class(mb, 1, Loss::binary_cross_entropy) == 1);
    CHECK(mlptrain::predicted_class(mb, 2, Loss::binary_cross_entropy) == 0);
}

// parse_loss accepts the documented names and rejects others naming the field.
TEST_CASE("parse_loss names and errors") {
    CHECK(mlptrain::parse_loss("mse", "loss") == Loss::mse);
    CHECK(mlptrain::parse_loss("bce", "loss") == Loss::binary_cross_entropy);
    CHECK(mlptrain::parse_loss("cross_entropy", "loss") == Loss::softmax_cross_entropy);
    for (Loss l : {Loss::mse, Loss::binary_cross_entropy, Loss::softmax_cross_entropy})
        CHECK(mlptrain::parse_loss(mlptrain::loss_name(l), "loss") == l);
    const std::string message = error_of([] { mlptrain::parse_loss("hinge", "loss"); });
    CHECK(message.rfind("loss: ", 0) == 0);
    CHECK(message.find("hinge") != std::string::npos);
    CHECK(message.find("mse") != std::string::npos);
    CHECK(message.find("bce") != std::string::npos);
}
