// Tests for the forward and backward passes: a hand-computed 2-2-1 case, central-difference
// gradient checks of the whole network for every hidden activation × loss (with and without
// dropout), the dropout masks' determinism, and the shard-level contracts of forward_backward.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mlptrain/nn/backprop.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/nn/workspace.hpp"
#include "synthetic_data.hpp"

using mlptrain::Activation;
using mlptrain::AlignedBuffer;
using mlptrain::DropoutContext;
using mlptrain::Loss;
using mlptrain::Model;
using mlptrain::ModelSpec;
using mlptrain::Workspace;

namespace {

const Activation all_activations[] = {Activation::identity, Activation::sigmoid, Activation::tanh,
                                      Activation::relu, Activation::leaky_relu};
const Loss all_losses[] = {Loss::mse, Loss::binary_cross_entropy, Loss::softmax_cross_entropy};

constexpr std::int64_t batch = 4;

using mlptrain::test::signed_unit;  // synthetic_data.hpp

bool kinked(Activation act) { return act == Activation::relu || act == Activation::leaky_relu; }

// The 5-7-6-k test network and a batch of 4 rows for it. mse: 2 regression targets;
// bce: 2 classes (1 output); softmax: 3 classes.
struct Case {
    Model model;
    AlignedBuffer params;
    Workspace ws;

    Case(Activation act, Loss loss, float dropout)
        : model(spec(act, loss, dropout)),
          params(model.layout().total()),
          ws(model, batch, loss == Loss::mse ? 2 : 0) {
        for (std::int64_t i = 0; i < batch * 5; ++i)
            ws.input.data()[i] = 1.5f * signed_unit(99, 0, static_cast<std::uint64_t>(i));
        for (std::int64_t r = 0; r < batch; ++r) {
            ws.labels[static_cast<std::size_t>(r)] =
                static_cast<std::int32_t>(loss == Loss::binary_cross_entropy ? r % 2 : (r * 2) % 3);
            if (loss == Loss::mse)
                for (std::int64_t j = 0; j < 2; ++j)
                    ws.targets.data()[r * 2 + j] =
                        signed_unit(99, 1, static_cast<std::uint64_t>(r * 2 + j));
        }
    }

    static ModelSpec spec(Activation act, Loss loss, float dropout) {
        ModelSpec s;
        const std::int64_t out = loss == Loss::mse ? 2 : loss == Loss::binary_cross_entropy ? 1 : 3;
        s.sizes = {5, 7, 6, out};
        s.hidden_activation = act;
        s.loss = loss;
        s.dropout = dropout;
        return s;
    }

    // Seeded weights and non-zero biases (so that the bias gradients are exercised too).
    void init(std::uint64_t seed) {
        model.init_parameters(params.data(), mlptrain::default_init(model.spec().hidden_activation),
                              seed);
        for (int l = 0; l < model.num_layers(); ++l) {
            float* b = model.bias(params.data(), l);
            for (std::int64_t j = 0; j < model.dim_out(l); ++j)
                b[j] = 0.5f * signed_unit(seed, 2 + static_cast<std::uint32_t>(l),
                                          static_cast<std::uint64_t>(j));
        }
    }

    // Smallest |pre-activation| over the hidden layers of the last pass.
    double hidden_margin() const {
        double margin = 1e30;
        for (int l = 0; l + 1 < model.num_layers(); ++l)
            for (std::int64_t i = 0; i < batch * model.dim_out(l); ++i)
                margin = std::min(
                    margin,
                    std::fabs(static_cast<double>(ws.pre[static_cast<std::size_t>(l)].data()[i])));
        return margin;
    }

    // Signs of the hidden pre-activations of the last pass (which side of ReLU's kink).
    std::vector<bool> hidden_signs() const {
        std::vector<bool> signs;
        for (int l = 0; l + 1 < model.num_layers(); ++l)
            for (std::int64_t i = 0; i < batch * model.dim_out(l); ++i)
                signs.push_back(ws.pre[static_cast<std::size_t>(l)].data()[i] > 0.0f);
        return signs;
    }
};

struct GradCheck {
    double relative_error = 0.0;
    std::int64_t checked = 0;
    std::int64_t kink_crossings = 0;  // perturbations that moved a hidden unit across 0
    double norm = 0.0;                // ‖analytic‖
};

// Central differences of Σ_rows loss w.r.t. every parameter vs forward_backward's gradient.
// With dropout, both sides use the same DropoutContext, hence the same masks.
GradCheck gradient_check(Case& c, const DropoutContext* dropout, float h) {
    const Model& model = c.model;
    AlignedBuffer grads(model.layout().total()), scratch(model.layout().total());
    mlptrain::forward_backward(c.ws, model, c.params.data(), grads.data(), batch, dropout);
    const std::vector<bool> signs = c.hidden_signs();
    auto loss_at = [&]() {
        return dropout ? mlptrain::forward_backward(c.ws, model, c.params.data(), scratch.data(),
                                                    batch, dropout)
                       : mlptrain::forward_loss(c.ws, model, c.params.data(), batch);
    };
    GradCheck result;
    double diff = 0.0, sum = 0.0, norm = 0.0;
    for (const mlptrain::Slot& slot : model.layout().slots()) {
        for (std::int64_t i = 0; i < slot.size(); ++i) {
            float& theta = c.params.data()[slot.offset + i];
            const float saved = theta;
            const float plus = saved + h, minus = saved - h;
            theta = plus;
            const double lp = loss_at();
            result.kink_crossings += c.hidden_signs() != signs;
            theta = minus;
            const double lm = loss_at();
            result.kink_crossings += c.hidden_signs() != signs;
            theta = saved;
            const double numeric =
                (lp - lm) / (static_cast<double>(plus) - static_cast<double>(minus));
            const double analytic = grads.data()[slot.offset + i];
            diff += (analytic - numeric) * (analytic - numeric);
            sum += (analytic + numeric) * (analytic + numeric);
            norm += analytic * analytic;
            ++result.checked;
        }
    }
    result.relative_error = std::sqrt(diff) / std::sqrt(sum);
    result.norm = std::sqrt(norm);
    return result;
}

// Initializes `c` with the first seed whose hidden pre-activations all stay at least
// `margin` away from 0 (in the pass with `dropout`, if given), so that ±h perturbations
// cannot cross ReLU's kink.
std::uint64_t init_away_from_kinks(Case& c, double margin, const DropoutContext* dropout) {
    AlignedBuffer scratch(c.model.layout().total());
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
        c.init(seed);
        mlptrain::forward_backward(c.ws, c.model, c.params.data(), scratch.data(), batch, dropout);
        if (c.hidden_margin() >= margin) return seed;
    }
    return 0;
}

std::vector<float> copy_of(const AlignedBuffer& b) { return {b.data(), b.data() + b.size()}; }

}  // namespace

// A 2-2-1 ReLU network with mse on two samples, computed by hand:
//   W1 = [[1, 2], [3, −1]], b1 = [0.5, −0.5], W2 = [[2, −1]], b2 = [0.25]
//   x1 = [1, 1],    t1 = 2: Z1 = [3.5, 1.5], A1 = [3.5, 1.5], Z2 = 5.75, loss 3.75² = 14.0625
//                           dZ2 = 2·3.75 = 7.5, dA1 = 7.5·W2 = [15, −7.5], dZ1 = [15, −7.5]
//   x2 = [−1, 0.5], t2 = 0: Z1 = [0.5, −4],  A1 = [0.5, 0],   Z2 = 1.25, loss 1.5625
//                           dZ2 = 2.5, dA1 = [5, −2.5], dZ1 = [5, 0] (ReLU off for unit 2)
//   Σ loss = 15.625; dW2 = 7.5·[3.5, 1.5] + 2.5·[0.5, 0] = [27.5, 11.25]; db2 = 10
//   dW1 = [15, −7.5]ᵀ·[1, 1] + [5, 0]ᵀ·[−1, 0.5] = [[10, 17.5], [−7.5, −7.5]]; db1 = [20, −7.5]
TEST_CASE("hand-computed 2-2-1 forward and backward") {
    ModelSpec spec;
    spec.sizes = {2, 2, 1};
    spec.hidden_activation = Activation::relu;
    spec.loss = Loss::mse;
    const Model model(spec);
    AlignedBuffer params(model.layout().total()), grads(model.layout().total());
    const float W1[] = {1, 2, 3, -1}, b1[] = {0.5f, -0.5f}, W2[] = {2, -1}, b2[] = {0.25f};
    std::memcpy(model.weight(params.data(), 0).data, W1, sizeof W1);
    std::memcpy(model.bias(params.data(), 0), b1, sizeof b1);
    std::memcpy(model.weight(params.data(), 1).data, W2, sizeof W2);
    std::memcpy(model.bias(params.data(), 1), b2, sizeof b2);
    Workspace ws(model, 2, 1);
    const float x[] = {1, 1, -1, 0.5f}, t[] = {2, 0};
    std::memcpy(ws.input.data(), x, sizeof x);
    std::memcpy(ws.targets.data(), t, sizeof t);

    const double loss =
        mlptrain::forward_backward(ws, model, params.data(), grads.data(), 2, nullptr);
    CHECK(loss == doctest::Approx(15.625).epsilon(1e-9));
    const float Z1[] = {3.5f, 1.5f, 0.5f, -4.0f}, A1[] = {3.5f, 1.5f, 0.5f, 0.0f};
    for (int i = 0; i < 4; ++i) {
        CHECK(ws.pre[0].data()[i] == doctest::Approx(Z1[i]).epsilon(1e-6));
        CHECK(ws.post[0].data()[i] == doctest::Approx(A1[i]).epsilon(1e-6));
    }
    CHECK(ws.pre[1].data()[0] == doctest::Approx(5.75).epsilon(1e-6));
    CHECK(ws.pre[1].data()[1] == doctest::Approx(1.25).epsilon(1e-6));
    CHECK(ws.post[1].data()[0] == doctest::Approx(5.75).epsilon(1e-6));  // mse: identity output
    const float dW1[] = {10, 17.5f, -7.5f, -7.5f}, db1[] = {20, -7.5f}, dW2[] = {27.5f, 11.25f};
    for (int i = 0; i < 4; ++i)
        CHECK(model.weight(grads.data(), 0).data[i] == doctest::Approx(dW1[i]).epsilon(1e-6));
    for (int i = 0; i < 2; ++i)
        CHECK(model.bias(grads.data(), 0)[i] == doctest::Approx(db1[i]).epsilon(1e-6));
    for (int i = 0; i < 2; ++i)
        CHECK(model.weight(grads.data(), 1).data[i] == doctest::Approx(dW2[i]).epsilon(1e-6));
    CHECK(model.bias(grads.data(), 1)[0] == doctest::Approx(10.0).epsilon(1e-6));
    // forward_loss alone gives the same loss and outputs.
    CHECK(mlptrain::forward_loss(ws, model, params.data(), 2) ==
          doctest::Approx(15.625).epsilon(1e-9));
    CHECK(ws.post[1].data()[1] == doctest::Approx(1.25).epsilon(1e-6));
    // One sample alone: its own loss and gradient.
    CHECK(mlptrain::forward_backward(ws, model, params.data(), grads.data(), 1, nullptr) ==
          doctest::Approx(14.0625).epsilon(1e-9));
    CHECK(model.bias(grads.data(), 0)[0] == doctest::Approx(15.0).epsilon(1e-6));
    CHECK(model.bias(grads.data(), 1)[0] == doctest::Approx(7.5).epsilon(1e-6));
}

// dense_forward computes Z = X·Wᵀ + b and dense_backward dW = dZᵀ·X, db = colsum(dZ),
// dX = dZ·W, overwriting their outputs (checked against hand-computed 2×3 / 2×2 products).
TEST_CASE("dense layer forward and backward by hand") {
    const float X[] = {1, 2, 3, -1, 0, 2};     // (2, 3)
    const float W[] = {1, 0, -1, 2, 1, 0.5f};  // (2, 3)
    const float b[] = {0.5f, -1};
    float Z[4] = {99, 99, 99, 99};
    mlptrain::dense_forward(mlptrain::make_matrix(Z, 2, 2), mlptrain::make_matrix(X, 2, 3),
                            mlptrain::make_matrix(W, 2, 3), b);
    // Row 0: [1 − 3 + 0.5, 2 + 2 + 1.5 − 1]; row 1: [−1 − 2 + 0.5, −2 + 1 − 1]
    CHECK(std::vector<float>(Z, Z + 4) == std::vector<float>{-1.5f, 4.5f, -2.5f, -2.0f});
    const float dZ[] = {1, 2, -1, 0.5f};  // (2, 2)
    float dW[6], db[2] = {99, 99}, dX[6];
    std::fill(dW, dW + 6, 99.0f);
    std::fill(dX, dX + 6, 99.0f);
    mlptrain::dense_backward(mlptrain::make_matrix(dX, 2, 3), mlptrain::make_matrix(dW, 2, 3), db,
                             mlptrain::make_matrix(dZ, 2, 2), mlptrain::make_matrix(X, 2, 3),
                             mlptrain::make_matrix(W, 2, 3));
    // dW = dZᵀ·X: [1·x0 − 1·x1, 2·x0 + 0.5·x1]
    CHECK(std::vector<float>(dW, dW + 6) == std::vector<float>{2, 2, 1, 1.5f, 4, 7});
    CHECK(std::vector<float>(db, db + 2) == std::vector<float>{0, 2.5f});
    // dX = dZ·W: row 0 = 1·w0 + 2·w1, row 1 = −1·w0 + 0.5·w1
    CHECK(std::vector<float>(dX, dX + 6) == std::vector<float>{5, 2, 0, 0, 0.5f, 1.25f});
    // Without dX, only dW and db are written.
    float untouched = 42.0f;
    mlptrain::dense_backward(mlptrain::Matrix{}, mlptrain::make_matrix(dW, 2, 3), db,
                             mlptrain::make_matrix(dZ, 2, 2), mlptrain::make_matrix(X, 2, 3),
                             mlptrain::make_matrix(W, 2, 3));
    CHECK(untouched == 42.0f);
    CHECK(std::vector<float>(db, db + 2) == std::vector<float>{0, 2.5f});
}

// db = colsum(dZ) adds each column's rows in row order from 0.0f, bit for bit, whatever the
// vector width or the four-row blocking: for every row count 1-9 (whole blocks of four and
// remainders) and 37 columns (not a multiple of any vector width), on values of mixed
// magnitude whose sum changes when the additions are reordered.
TEST_CASE("bias gradient: column sums in row order, bit for bit") {
    const std::int64_t cols = 37;
    for (std::int64_t rows = 1; rows <= 9; ++rows) {
        CAPTURE(rows);
        std::vector<float> dZ(static_cast<std::size_t>(rows * cols)), X(static_cast<std::size_t>(rows * 2), 1.0f);
        for (std::size_t i = 0; i < dZ.size(); ++i)
            dZ[i] = (i % 3 == 0 ? 1e7f : 1.0f) * (static_cast<float>((i * 7919) % 1000) / 997.0f - 0.5f);
        std::vector<float> expect(static_cast<std::size_t>(cols), 0.0f), db(static_cast<std::size_t>(cols), 99.0f);
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t j = 0; j < cols; ++j)
                expect[static_cast<std::size_t>(j)] += dZ[static_cast<std::size_t>(r * cols + j)];
        std::vector<float> W(static_cast<std::size_t>(cols * 2)), dW(W.size());
        mlptrain::dense_backward(mlptrain::Matrix{}, mlptrain::make_matrix(dW.data(), cols, 2), db.data(),
                                 mlptrain::make_matrix(dZ.data(), rows, cols), mlptrain::make_matrix(X.data(), rows, 2),
                                 mlptrain::make_matrix(W.data(), cols, 2));
        CHECK(std::memcmp(db.data(), expect.data(), sizeof(float) * expect.size()) == 0);
    }
}

// The analytic gradient of every parameter matches central differences of the loss, for
// every hidden activation × loss on a seeded 5-7-6-k network with batch 4 (no dropout).
TEST_CASE("gradient check: every activation × loss") {
    const float h = 1e-2f;
    for (Loss loss : all_losses) {
        for (Activation act : all_activations) {
            CAPTURE(mlptrain::loss_name(loss));
            CAPTURE(mlptrain::activation_name(act));
            Case c(act, loss, 0.0f);
            const std::uint64_t seed = init_away_from_kinks(c, 0.05, nullptr);
            REQUIRE(seed != 0);
            const GradCheck g = gradient_check(c, nullptr, h);
            CAPTURE(seed);
            CAPTURE(g.relative_error);
            CHECK(g.checked == c.model.layout().parameter_count());
            CHECK(g.norm > 1e-2);  // a vanishing gradient would make the check meaningless
            if (kinked(act)) CHECK(g.kink_crossings == 0);
            CHECK(g.relative_error < 1e-3);
        }
    }
}

// With dropout (p = 0.3) the gradient still matches central differences, because the masks
// are a pure function of (seed, step, row, layer): the same context gives the same masks.
TEST_CASE("gradient check with dropout") {
    const float h = 1e-2f;
    const std::int64_t rows[batch] = {10, 11, 12, 13};
    const DropoutContext ctx{77, 5, rows};
    for (Loss loss : all_losses) {
        for (Activation act : all_activations) {
            CAPTURE(mlptrain::loss_name(loss));
            CAPTURE(mlptrain::activation_name(act));
            Case c(act, loss, 0.3f);
            const std::uint64_t seed = init_away_from_kinks(c, 0.05, &ctx);
            REQUIRE(seed != 0);
            const GradCheck g = gradient_check(c, &ctx, h);
            CAPTURE(g.relative_error);
            // The masks really drop some units and keep others (scaled by 1/(1−p)).
            int dropped = 0, kept = 0;
            for (int l = 0; l < 2; ++l)
                for (std::int64_t i = 0; i < batch * c.model.dim_out(l); ++i) {
                    const float m = c.ws.mask[static_cast<std::size_t>(l)].data()[i];
                    dropped += m == 0.0f;
                    kept += m == 1.0f / (1.0f - 0.3f);
                }
            CHECK(dropped > 0);
            CHECK(kept > 0);
            CHECK(dropped + kept == batch * (7 + 6));
            CHECK(g.norm > 1e-2);
            if (kinked(act)) CHECK(g.kink_crossings == 0);
            CHECK(g.relative_error < 1e-3);
        }
    }
}

// Dropout changes the training loss but not forward_loss (evaluation never drops), and a
// model with dropout run without a context behaves like one without dropout.
TEST_CASE("dropout applies only in training passes with a context") {
    const std::int64_t rows[batch] = {0, 1, 2, 3};
    const DropoutContext ctx{3, 0, rows};
    Case with(Activation::tanh, Loss::softmax_cross_entropy, 0.5f);
    Case without(Activation::tanh, Loss::softmax_cross_entropy, 0.0f);
    with.init(4);
    without.init(4);
    AlignedBuffer g1(with.model.layout().total()), g2(with.model.layout().total());
    const double eval_with = mlptrain::forward_loss(with.ws, with.model, with.params.data(), batch);
    const double eval_without =
        mlptrain::forward_loss(without.ws, without.model, without.params.data(), batch);
    CHECK(eval_with == eval_without);
    const double no_ctx = mlptrain::forward_backward(with.ws, with.model, with.params.data(),
                                                     g1.data(), batch, nullptr);
    mlptrain::forward_backward(without.ws, without.model, without.params.data(), g2.data(), batch,
                               nullptr);
    CHECK(no_ctx == eval_without);
    CHECK(std::memcmp(g1.data(), g2.data(), sizeof(float) * static_cast<std::size_t>(g1.size())) ==
          0);
    const double train =
        mlptrain::forward_backward(with.ws, with.model, with.params.data(), g1.data(), batch, &ctx);
    CHECK(train != eval_with);
    // A context on a model without dropout changes nothing.
    mlptrain::forward_backward(without.ws, without.model, without.params.data(), g1.data(), batch,
                               &ctx);
    CHECK(std::memcmp(g1.data(), g2.data(), sizeof(float) * static_cast<std::size_t>(g1.size())) ==
          0);
}

// A dataset row's mask depends on (seed, step, row, layer) only, not on its position in the
// shard: row 12 gets the same mask alone as third in a shard; another step or seed differs.
TEST_CASE("dropout masks depend on the dataset row, not the shard position") {
    Case c(Activation::relu, Loss::softmax_cross_entropy, 0.5f);
    c.init(1);
    AlignedBuffer g(c.model.layout().total());
    const std::int64_t rows[batch] = {10, 11, 12, 13};
    DropoutContext ctx{21, 8, rows};
    mlptrain::forward_backward(c.ws, c.model, c.params.data(), g.data(), batch, &ctx);
    const std::int64_t w = c.model.dim_out(0);
    const std::vector<float> mask_all = copy_of(c.ws.mask[0]);
    const std::vector<float> row12(mask_all.begin() + 2 * w, mask_all.begin() + 3 * w);
    const std::int64_t alone[] = {12};
    ctx.rows = alone;
    mlptrain::forward_backward(c.ws, c.model, c.params.data(), g.data(), 1, &ctx);
    CHECK(std::vector<float>(c.ws.mask[0].data(), c.ws.mask[0].data() + w) == row12);
    // Masks of the four rows are not all the same.
    bool rows_differ = false;
    for (std::int64_t r = 1; r < batch; ++r)
        rows_differ = rows_differ ||
                      !std::equal(mask_all.begin(), mask_all.begin() + w, mask_all.begin() + r * w);
    CHECK(rows_differ);
    // Another step, another seed: other masks (over the 4 rows × 2 layers).
    ctx.rows = rows;
    auto all_masks = [&](const DropoutContext& x) {
        mlptrain::forward_backward(c.ws, c.model, c.params.data(), g.data(), batch, &x);
        std::vector<float> m = copy_of(c.ws.mask[0]);
        const std::vector<float> m1 = copy_of(c.ws.mask[1]);
        m.insert(m.end(), m1.begin(), m1.end());
        return m;
    };
    const std::vector<float> base = all_masks(ctx);
    CHECK(all_masks(ctx) == base);
    CHECK(all_masks(DropoutContext{21, 9, rows}) != base);
    CHECK(all_masks(DropoutContext{22, 8, rows}) != base);
    // Layers use different streams: the layer-1 masks are not the layer-0 masks' prefix.
    CHECK(!std::equal(c.ws.mask[1].data(), c.ws.mask[1].data() + 6, c.ws.mask[0].data()));
}

// Told that its buffer holds zeros (GradsInit::zero), forward_backward adds the weight
// gradients of the layers past OpenBLAS's small-matrix limit onto them (GEMM beta = 1, no
// memset) and gives the bits of an overwrite. 64-256-128-3 over 128 rows: layers 0 and 1
// (m·n·k = 2.1e6, 4.2e6) add, layer 2 (4.9e4) overwrites, as a dirty buffer shows.
TEST_CASE("forward_backward onto zeros gives the bits of an overwrite") {
    constexpr std::int64_t rows = 128;
    for (Activation act : {Activation::relu, Activation::tanh}) {
        const std::string name = mlptrain::activation_name(act);
        CAPTURE(name);
        ModelSpec spec;
        spec.sizes = {64, 256, 128, 3};
        spec.hidden_activation = act;
        const Model model(spec);
        Workspace ws(model, rows, 0);
        for (std::int64_t i = 0; i < rows * 64; ++i) ws.input.data()[i] = signed_unit(7, 0, static_cast<std::uint64_t>(i));
        for (std::int64_t r = 0; r < rows; ++r) ws.labels[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r % 3);
        AlignedBuffer params(model.layout().total());
        model.init_parameters(params.data(), mlptrain::default_init(act), 3);
        const std::int64_t total = model.layout().total();
        AlignedBuffer overwritten(total), onto_zeros(total), onto_ones(total);
        for (std::int64_t i = 0; i < total; ++i) overwritten.data()[i] = -5.0f, onto_ones.data()[i] = 1.0f;
        mlptrain::forward_backward(ws, model, params.data(), overwritten.data(), rows, nullptr);
        mlptrain::forward_backward(ws, model, params.data(), onto_zeros.data(), rows, nullptr, nullptr,
                                   mlptrain::GradsInit::zero);
        mlptrain::forward_backward(ws, model, params.data(), onto_ones.data(), rows, nullptr, nullptr,
                                   mlptrain::GradsInit::zero);
        for (const mlptrain::Slot& s : model.layout().slots()) {
            CAPTURE(s.name);
            const auto bytes = sizeof(float) * static_cast<std::size_t>(s.size());
            CHECK(std::memcmp(overwritten.data() + s.offset, onto_zeros.data() + s.offset, bytes) == 0);
            const bool added = s.name == "layers.0.weight" || s.name == "layers.1.weight";
            CHECK((std::memcmp(overwritten.data() + s.offset, onto_ones.data() + s.offset, bytes) != 0) == added);
        }
    }
}

// The rule behind the test above, which `mlptrain bench`'s GEMM ceiling shares so that it
// times the weight-gradient GEMMs as a steady step calls them: beta = 1 only with OpenBLAS,
// onto zeros, past the small-matrix limit (m·n·k > 100³).
TEST_CASE("weight_gradient_beta adds onto zeros only where OpenBLAS would clear first") {
    using mlptrain::GemmBackend;
    using mlptrain::GradsInit;
    const mlptrain::GemmSettings openblas{}, onednn{GemmBackend::onednn};
    CHECK(mlptrain::weight_gradient_beta(openblas, GradsInit::zero, 128, 256, 64) == 1.0f);   // 2.1e6
    CHECK(mlptrain::weight_gradient_beta(openblas, GradsInit::zero, 128, 3, 128) == 0.0f);    // 4.9e4
    CHECK(mlptrain::weight_gradient_beta(openblas, GradsInit::zero, 100, 100, 100) == 0.0f);  // the limit itself
    CHECK(mlptrain::weight_gradient_beta(openblas, GradsInit::zero, 101, 100, 100) == 1.0f);
    CHECK(mlptrain::weight_gradient_beta(openblas, GradsInit::any, 128, 256, 64) == 0.0f);
    CHECK(mlptrain::weight_gradient_beta(onednn, GradsInit::zero, 128, 256, 64) == 0.0f);
}

// forward_backward overwrites the gradient buffer (no accumulation); n = 0 writes zeros.
TEST_CASE("forward_backward overwrites its gradient") {
    Case c(Activation::sigmoid, Loss::mse, 0.0f);
    c.init(2);
    AlignedBuffer clean(c.model.layout().total()), dirty(c.model.layout().total());
    mlptrain::forward_backward(c.ws, c.model, c.params.data(), clean.data(), batch, nullptr);
    for (std::int64_t i = 0; i < dirty.size(); ++i) dirty.data()[i] = 1234.0f;
    mlptrain::forward_backward(c.ws, c.model, c.params.data(), dirty.data(), batch, nullptr);
    for (const mlptrain::Slot& s : c.model.layout().slots())
        CHECK(std::memcmp(clean.data() + s.offset, dirty.data() + s.offset,
                          sizeof(float) * static_cast<std::size_t>(s.size())) == 0);
    const double zero_loss =
        mlptrain::forward_backward(c.ws, c.model, c.params.data(), dirty.data(), 0, nullptr);
    CHECK(zero_loss == 0.0);
    bool all_zero = true;
    for (std::int64_t i = 0; i < dirty.size(); ++i) all_zero = all_zero && dirty.data()[i] == 0.0f;
    CHECK(all_zero);
}

// Gradients and losses are sums over rows: rows [0,4) equal rows [0,2) plus rows [2,4)
// (up to float rounding), which is what lets the trainer split a batch into shards.
TEST_CASE("gradients and losses add over row splits") {
    Case c(Activation::leaky_relu, Loss::softmax_cross_entropy, 0.0f);
    c.init(6);
    const std::int64_t total = c.model.layout().total();
    AlignedBuffer whole(total), first(total), second(total);
    const double lw =
        mlptrain::forward_backward(c.ws, c.model, c.params.data(), whole.data(), batch, nullptr);
    const double l1 =
        mlptrain::forward_backward(c.ws, c.model, c.params.data(), first.data(), 2, nullptr);
    // Move rows 2, 3 to the front of the workspace.
    std::memmove(c.ws.input.data(), c.ws.input.data() + 2 * 5, sizeof(float) * 2 * 5);
    c.ws.labels[0] = c.ws.labels[2];
    c.ws.labels[1] = c.ws.labels[3];
    const double l2 =
        mlptrain::forward_backward(c.ws, c.model, c.params.data(), second.data(), 2, nullptr);
    CHECK(lw == doctest::Approx(l1 + l2).epsilon(1e-6));
    double max_err = 0.0, max_abs = 0.0;
    for (std::int64_t i = 0; i < total; ++i) {
        max_err = std::max(max_err, std::fabs(static_cast<double>(whole.data()[i]) -
                                              first.data()[i] - second.data()[i]));
        max_abs = std::max(max_abs, std::fabs(static_cast<double>(whole.data()[i])));
    }
    CHECK(max_abs > 0.01);
    CHECK(max_err < 1e-5 * std::max(1.0, max_abs));
}

// gather_batch copies the chosen dataset rows (in the given order) into the workspace:
// features and labels for classification, features and targets for regression.
TEST_CASE("gather_batch copies rows, labels and targets") {
    mlptrain::Dataset cls;
    cls.rows = 3;
    cls.features = 2;
    cls.x = {1, 2, 3, 4, 5, 6};
    cls.labels = {0, 1, 1};
    cls.class_names = {"a", "b"};
    ModelSpec spec;
    spec.sizes = {2, 3, 2};
    const Model model(spec);
    Workspace ws(model, 4, 0);
    const std::int64_t rows[] = {2, 0};
    mlptrain::gather_batch(ws, cls, rows, 2);
    CHECK(std::vector<float>(ws.input.data(), ws.input.data() + 4) ==
          std::vector<float>{5, 6, 1, 2});
    CHECK(ws.labels[0] == 1);
    CHECK(ws.labels[1] == 0);

    mlptrain::Dataset reg = cls;
    reg.labels.clear();
    reg.class_names.clear();
    reg.outputs = 2;
    reg.y = {10, 11, 20, 21, 30, 31};
    ModelSpec rspec;
    rspec.sizes = {2, 3, 2};
    rspec.loss = Loss::mse;
    const Model rmodel(rspec);
    Workspace rws(rmodel, 4, 2);
    const std::int64_t rrows[] = {1, 2, 1};
    mlptrain::gather_batch(rws, reg, rrows, 3);
    CHECK(std::vector<float>(rws.input.data(), rws.input.data() + 6) ==
          std::vector<float>{3, 4, 5, 6, 3, 4});
    CHECK(std::vector<float>(rws.targets.data(), rws.targets.data() + 6) ==
          std::vector<float>{20, 21, 30, 31, 20, 21});
}
