// The oneDNN GEMM backend (built only where libdnnl-dev is): its fp32 products equal
// OpenBLAS's to float rounding, its bf16 products are exact products of the rounded inputs
// summed in fp32, prepared shapes create nothing during calls, bf16 gradients agree with
// fp32 ones within the bound bf16's 8-bit significand gives, and the trainer on it keeps the
// contracts: bitwise the same weights at any thread count, no primitive created in a step,
// evaluation rows independent of the chunk they fall in, NaN and Inf caught.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/cpu_features.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/engine/evaluator.hpp"
#include "mlptrain/engine/trainer.hpp"
#include "mlptrain/nn/backprop.hpp"
#include "bf16_here.hpp"
#include "synthetic_data.hpp"

using namespace mlptrain;
using mlptrain::test::bf16_runs_here;

namespace {

using mlptrain::test::signed_unit;  // synthetic_data.hpp

std::vector<float> random_vector(std::int64_t n, std::uint32_t stream, float scale = 1.0f) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = scale * signed_unit(11, stream, i);
    return v;
}

const GemmSettings onednn_fp32{GemmBackend::onednn, GemmPrecision::fp32};
const GemmSettings onednn_bf16{GemmBackend::onednn, GemmPrecision::bf16};

// One GEMM C = alpha·op(A)·op(B) + beta·C of the shapes backprop uses, with its operands.
struct Product {
    Transpose ta, tb;
    std::int64_t m, n, k;
    float alpha, beta;
    std::vector<float> A, B, C0;
    std::int64_t a_rows() const { return ta == Transpose::yes ? k : m; }
    std::int64_t a_cols() const { return ta == Transpose::yes ? m : k; }
    std::int64_t b_rows() const { return tb == Transpose::yes ? n : k; }
    std::int64_t b_cols() const { return tb == Transpose::yes ? k : n; }
    ConstMatrix a() const { return make_matrix(A.data(), a_rows(), a_cols()); }
    ConstMatrix b() const { return make_matrix(B.data(), b_rows(), b_cols()); }
    Product(Transpose ta_, Transpose tb_, std::int64_t m_, std::int64_t n_, std::int64_t k_, float alpha_, float beta_)
        : ta(ta_), tb(tb_), m(m_), n(n_), k(k_), alpha(alpha_), beta(beta_) {
        A = random_vector(m * k, 1);
        B = random_vector(k * n, 2, 0.05f);
        C0 = random_vector(m * n, 3, 0.01f);
    }
    // Σ_k |a||b| per element (the scale of its rounding errors) and the exact product in
    // double, of the operands as given or rounded to bf16.
    void reference(bool rounded, std::vector<double>& exact, std::vector<double>& scale) const {
        auto value = [&](float x) { return rounded ? static_cast<double>(float_from_bf16(bf16_from_float(x))) : x; };
        exact.assign(static_cast<std::size_t>(m * n), 0.0);
        scale.assign(static_cast<std::size_t>(m * n), 0.0);
        const ConstMatrix a_ = a(), b_ = b();
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                double s = 0, t = 0;
                for (std::int64_t p = 0; p < k; ++p) {
                    const double x = value(ta == Transpose::yes ? a_(p, i) : a_(i, p));
                    const double y = value(tb == Transpose::yes ? b_(j, p) : b_(p, j));
                    s += x * y;
                    t += std::fabs(x * y);
                }
                const auto e = static_cast<std::size_t>(i * n + j);
                exact[e] = alpha * s + beta * static_cast<double>(C0[e]);
                scale[e] = std::fabs(alpha) * t + std::fabs(beta * static_cast<double>(C0[e]));
            }
    }
};

// The step GEMMs of a layer in -> out over `rows` rows, as backprop calls them.
std::vector<Product> layer_products(std::int64_t rows, std::int64_t in, std::int64_t out) {
    return {Product(Transpose::no, Transpose::yes, rows, out, in, 1.0f, 1.0f),   // Z = X·Wᵀ + Z
            Product(Transpose::yes, Transpose::no, out, in, rows, 1.0f, 0.0f),   // dW = dZᵀ·X
            Product(Transpose::no, Transpose::no, rows, in, out, 1.0f, 0.0f)};   // dX = dZ·W
}

double relative_frobenius(const std::vector<float>& got, const std::vector<double>& want) {
    double d = 0, w = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        d += (got[i] - want[i]) * (got[i] - want[i]);
        w += want[i] * want[i];
    }
    return std::sqrt(d / w);
}

// Elements whose error exceeds `units` roundings of 2^-24 per term of their sum.
std::int64_t beyond_bound(const std::vector<float>& got, const std::vector<double>& want,
                          const std::vector<double>& scale, std::int64_t k, double units) {
    std::int64_t bad = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
        bad += std::fabs(got[i] - want[i]) > units * static_cast<double>(k + 2) * std::ldexp(scale[i], -24);
    return bad;
}

}  // namespace

// fp32 oneDNN and OpenBLAS both round a float dot product: against the exact product each
// stays within a few units of 2^-24 per term (the classic k·u bound), and so they agree
// with each other to float rounding — not bitwise (they block the sums differently).
TEST_CASE("oneDNN fp32 GEMMs match OpenBLAS to float rounding") {
    std::vector<Product> products;
    for (std::int64_t rows : {128, 37, 1})
        for (Product& p : layer_products(rows, 784, 1024)) products.push_back(std::move(p));
    products.emplace_back(Transpose::no, Transpose::yes, 64, 10, 1024, 0.5f, 0.25f);
    products.emplace_back(Transpose::yes, Transpose::yes, 20, 30, 40, 2.0f, 1.0f);
    GemmContext onednn(onednn_fp32);
    for (const Product& p : products) {
        CAPTURE(p.m);
        CAPTURE(p.n);
        CAPTURE(p.k);
        std::vector<float> mine = p.C0, theirs = p.C0;
        onednn.gemm(p.ta, p.tb, p.alpha, p.a(), p.b(), p.beta, make_matrix(mine.data(), p.m, p.n));
        gemm(p.ta, p.tb, p.alpha, p.a(), p.b(), p.beta, make_matrix(theirs.data(), p.m, p.n));
        std::vector<double> exact, scale;
        p.reference(false, exact, scale);
        CHECK(relative_frobenius(mine, exact) < 1e-6);
        CHECK(relative_frobenius(theirs, exact) < 1e-6);
        CHECK(beyond_bound(mine, exact, scale, p.k, 1.0) == 0);
        CHECK(beyond_bound(theirs, exact, scale, p.k, 1.0) == 0);
        std::vector<double> openblas(theirs.begin(), theirs.end());
        CHECK(relative_frobenius(mine, openblas) < 1e-5);
    }
}

// bf16 inputs: the products of bf16 values are exact in fp32 and only the sum rounds, so the
// result is the exact product of the rounded inputs within the fp32 bound — and differs from
// the fp32 product by the inputs' rounding (about 2^-8 relative), never more.
TEST_CASE("oneDNN bf16 GEMMs: exact products of the rounded inputs, summed in fp32") {
    if (!bf16_runs_here()) {
        MESSAGE("skipped: no bf16 dot products here (" << describe_bf16_support(detect_cpu_features()) << ")");
        return;
    }
    GemmContext onednn(onednn_bf16);
    for (const Product& p : layer_products(64, 300, 200)) {
        Bf16Buffer a(p.m * p.k), b(p.k * p.n);
        convert_to_bf16(a.data(), p.A.data(), p.m * p.k);
        convert_to_bf16(b.data(), p.B.data(), p.k * p.n);
        std::vector<float> C = p.C0;
        onednn.gemm(p.ta, p.tb, p.alpha, make_matrix(a.data(), p.a_rows(), p.a_cols()),
                    make_matrix(b.data(), p.b_rows(), p.b_cols()), p.beta, make_matrix(C.data(), p.m, p.n));
        std::vector<double> exact_rounded, scale, exact, unused;
        p.reference(true, exact_rounded, scale);
        p.reference(false, exact, unused);
        CHECK(relative_frobenius(C, exact_rounded) < 1e-6);
        CHECK(beyond_bound(C, exact_rounded, scale, p.k, 1.0) == 0);
        const double input_rounding = relative_frobenius(C, exact);
        CHECK(input_rounding > 1e-4);          // the inputs really were bf16
        CHECK(input_rounding < std::ldexp(1.0, -8));
    }
}

// Z = X·Wᵀ + b: oneDNN adds b as its bias argument, once per element after the dot product,
// so gemm_bias gives the bits of copying b into every row and accumulating onto it with
// beta = 1 (the forward pass before 2026-12-03, and still the OpenBLAS backend's way) on
// the same backend, fp32 and bf16 — the weights of a run do not change with it.
TEST_CASE("gemm_bias gives the bits of b copied into every row and beta = 1, on every backend") {
    std::vector<GemmSettings> backends{GemmSettings{}, onednn_fp32};
    if (bf16_runs_here()) backends.push_back(onednn_bf16);
    for (const GemmSettings& settings : backends) {
        CAPTURE(describe_gemm(settings));
        GemmContext ctx(settings);
        for (const auto& [rows, in, out] : {std::array<std::int64_t, 3>{128, 784, 1024}, {37, 784, 1024},
                                            {1, 1024, 10}, {64, 256, 10}}) {
            CAPTURE(rows);
            CAPTURE(out);
            const Product p(Transpose::no, Transpose::yes, rows, out, in, 1.0f, 1.0f);  // X (rows, in), W (out, in)
            const std::vector<float> b = random_vector(out, 4, 0.5f);
            Bf16Buffer xh(rows * in), wh(out * in);
            convert_to_bf16(xh.data(), p.A.data(), rows * in);
            convert_to_bf16(wh.data(), p.B.data(), out * in);
            std::vector<float> fused(static_cast<std::size_t>(rows * out), -1.0f), copied(fused.size());
            for (std::int64_t r = 0; r < rows; ++r)
                std::memcpy(copied.data() + r * out, b.data(), sizeof(float) * static_cast<std::size_t>(out));
            const Matrix Zf = make_matrix(fused.data(), rows, out), Zc = make_matrix(copied.data(), rows, out);
            if (ctx.bf16()) {
                const ConstMatrixBf16 X = make_matrix(xh.data(), rows, in), W = make_matrix(wh.data(), out, in);
                ctx.gemm_bias(Transpose::no, Transpose::yes, X, W, b.data(), Zf);
                ctx.gemm(Transpose::no, Transpose::yes, 1.0f, X, W, 1.0f, Zc);
            } else {
                ctx.gemm_bias(Transpose::no, Transpose::yes, p.a(), p.b(), b.data(), Zf);
                ctx.gemm(Transpose::no, Transpose::yes, 1.0f, p.a(), p.b(), 1.0f, Zc);
            }
            CHECK(std::memcmp(fused.data(), copied.data(), sizeof(float) * fused.size()) == 0);
        }
    }
}

TEST_CASE("prepared shapes create nothing during calls; an unprepared one is created and counted") {
    GemmContext onednn(onednn_fp32);
    const Product p(Transpose::no, Transpose::yes, 16, 24, 32, 1.0f, 1.0f);
    std::vector<float> C = p.C0;
    onednn.prepare(gemm_shape(p.ta, p.tb, 1.0f, p.a(), p.b(), 1.0f, make_matrix(C.data(), p.m, p.n)));
    CHECK(onednn.primitives() == 1);
    for (int i = 0; i < 3; ++i) onednn.gemm(p.ta, p.tb, 1.0f, p.a(), p.b(), 1.0f, make_matrix(C.data(), p.m, p.n));
    CHECK(onednn.primitives() == 1);
    CHECK(onednn.created_on_demand() == 0);
    onednn.gemm(p.ta, p.tb, 1.0f, p.a(), p.b(), 0.0f, make_matrix(C.data(), p.m, p.n));  // another beta
    CHECK(onednn.primitives() == 2);
    CHECK(onednn.created_on_demand() == 1);
    GemmContext openblas;  // OpenBLAS needs nothing prepared
    openblas.prepare(gemm_shape(p.ta, p.tb, 1.0f, p.a(), p.b(), 1.0f, make_matrix(C.data(), p.m, p.n)));
    CHECK(openblas.primitives() == 0);
}

// Gradient check of bf16 against fp32 on the same weights and rows. Each GEMM reads inputs
// rounded to bf16 (relative error ≤ u = 2^-8 each); to first order a layer's product is off
// by at most 2u relative, and the errors of L layers add along the chain rule, so
// ‖g16 − g32‖ ≤ 2L·u·‖g‖, i.e. ‖g16 − g32‖ / ‖g16 + g32‖ ≤ L·u. (Measured: about 2e-3.)
// The bound assumes a smooth network: a ReLU unit whose pre-activation changes sign between
// the two passes switches its derivative between 0 and 1, which is no rounding error. So
// for ReLU the rows where any unit flipped are left out (they are counted), and the check
// runs again on the others.
namespace {

struct GradientPair {
    double loss32 = 0, loss16 = 0;
    std::vector<double> relative;  // per layer, ‖g16 − g32‖ / ‖g16 + g32‖ of the weights
    std::vector<std::int64_t> flipped_rows;
};

GradientPair compare_gradients(const Model& model, const float* params, const bf16_bits* params_bf16,
                               const std::vector<float>& x, const std::vector<std::int32_t>& labels) {
    const auto rows = static_cast<std::int64_t>(labels.size());
    const std::int64_t in = model.dim_input();
    Workspace fp32(model, rows, 0, onednn_fp32), bf16(model, rows, 0, onednn_bf16);
    for (Workspace* ws : {&fp32, &bf16}) {
        std::memcpy(ws->input.data(), x.data(), sizeof(float) * static_cast<std::size_t>(rows * in));
        std::copy(labels.begin(), labels.end(), ws->labels.begin());
        prepare_gemms(*ws, model, rows, true);
    }
    GradientPair g;
    g.loss32 = forward_backward(fp32, model, params, fp32.grads.data(), rows, nullptr);
    g.loss16 = forward_backward(bf16, model, params, bf16.grads.data(), rows, nullptr, params_bf16);
    for (int l = 0; l < model.num_layers(); ++l) {
        const ConstMatrix a = model.weight(static_cast<const float*>(fp32.grads.data()), l);
        const ConstMatrix b = model.weight(static_cast<const float*>(bf16.grads.data()), l);
        double diff = 0, sum = 0;
        for (std::int64_t i = 0; i < a.rows * a.cols; ++i) {
            diff += std::pow(double(b.data[i]) - a.data[i], 2);
            sum += std::pow(double(b.data[i]) + a.data[i], 2);
        }
        g.relative.push_back(std::sqrt(diff / sum));
    }
    for (std::int64_t r = 0; r < rows; ++r) {
        bool flipped = false;
        for (int l = 0; l + 1 < model.num_layers(); ++l)
            for (std::int64_t j = 0; j < model.dim_out(l); ++j) {
                const std::size_t e = static_cast<std::size_t>(r * model.dim_out(l) + j);
                flipped |= (fp32.pre[static_cast<std::size_t>(l)].data()[e] > 0) !=
                           (bf16.pre[static_cast<std::size_t>(l)].data()[e] > 0);
            }
        if (flipped) g.flipped_rows.push_back(r);
    }
    CHECK(fp32.gemm.created_on_demand() + bf16.gemm.created_on_demand() == 0);
    return g;
}

}  // namespace

TEST_CASE("bf16 gradients agree with fp32 ones within L·2^-8") {
    if (!bf16_runs_here()) {
        MESSAGE("skipped: no bf16 dot products here");
        return;
    }
    for (Activation act : {Activation::tanh, Activation::sigmoid, Activation::relu}) {
        ModelSpec spec;
        spec.sizes = {40, 64, 48, 10};
        spec.hidden_activation = act;
        const Model model(spec);
        const double bound = model.num_layers() * std::ldexp(1.0, -8);
        AlignedBuffer params(model.layout().total());
        model.init_parameters(params.data(), default_init(act), 5);
        Bf16Buffer params_bf16(model.layout().total());
        convert_to_bf16(params_bf16.data(), params.data(), params.size());
        std::vector<float> x = random_vector(64 * 40, 7);
        std::vector<std::int32_t> labels;
        for (std::int32_t r = 0; r < 64; ++r) labels.push_back(r % 10);
        GradientPair g = compare_gradients(model, params.data(), params_bf16.data(), x, labels);
        if (act == Activation::relu) {  // again without the rows where a unit crossed the kink
            MESSAGE("relu: " << g.flipped_rows.size() << " of 64 rows had a unit change sign; left out");
            CHECK(g.flipped_rows.size() < 32);
            for (auto r = g.flipped_rows.rbegin(); r != g.flipped_rows.rend(); ++r) {
                x.erase(x.begin() + *r * 40, x.begin() + (*r + 1) * 40);
                labels.erase(labels.begin() + *r);
            }
            g = compare_gradients(model, params.data(), params_bf16.data(), x, labels);
            CHECK(g.flipped_rows.empty());
        }
        CHECK(std::fabs(g.loss16 - g.loss32) <= bound * std::fabs(g.loss32));
        for (std::size_t l = 0; l < g.relative.size(); ++l) {
            CAPTURE(l);
            MESSAGE(std::string(activation_name(act)) << " layer " << l << ": ‖g16 − g32‖/‖g16 + g32‖ = "
                                                      << g.relative[l] << " (bound " << bound << ")");
            CHECK(g.relative[l] > 1e-5);  // bf16 was really used
            CHECK(g.relative[l] <= bound);
        }
    }
}

namespace {

Dataset make_data(std::int64_t rows, std::int64_t features, std::int32_t classes) {
    Dataset d;
    d.source = "synthetic";
    d.rows = rows;
    d.features = features;
    for (std::int64_t i = 0; i < rows * features; ++i) d.x.push_back(signed_unit(5, 0, static_cast<std::uint64_t>(i)));
    for (std::int32_t c = 0; c < classes; ++c) d.class_names.push_back(std::to_string(c));
    for (std::int64_t r = 0; r < rows; ++r) {
        double s = 0;
        for (std::int64_t f = 0; f < features; ++f) s += d.x[static_cast<std::size_t>(r * features + f)] * (f % 3 - 1.0);
        d.labels.push_back(static_cast<std::int32_t>(s > 0.3 ? 2 : s < -0.3 ? 0 : 1));
    }
    return d;
}

std::vector<std::int64_t> range(std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(end - begin));
    std::iota(v.begin(), v.end(), begin);
    return v;
}

struct Outcome {
    std::string fingerprint;
    std::vector<float> params;
    std::vector<double> losses;
    double validation_loss = 0;
    int created_on_demand = 0;
};

// 3 epochs of 203 rows in batches of 30 over 4 shards (a partial last batch), dropout,
// Nesterov momentum, validation every epoch; then a test evaluation of 57 rows.
Outcome train(GemmSettings gemm, int threads) {
    const Dataset data = make_data(300, 20, 3);
    Split split;
    split.train = range(0, 203);
    split.validation = range(203, 243);
    split.test = range(243, 300);
    ModelSpec spec;
    spec.sizes = {20, 160, 120, 3};
    spec.dropout = 0.2f;
    const Model model(spec);
    TrainConfig config;
    config.epochs = 3;
    config.batch_size = 30;
    config.shards = 4;
    config.threads = threads;
    config.seed = 7;
    config.schedule.lr = 0.05f;
    config.optimizer.momentum = 0.9f;
    config.optimizer.nesterov = true;
    config.gemm = gemm;
    Trainer trainer(model, config, 0);
    Outcome o;
    trainer.fit(data, split, [&](const EpochReport& r) {
        o.losses.push_back(r.train_loss);
        o.validation_loss = r.validation->loss;
    });
    trainer.evaluate(data, split.test);
    o.fingerprint = trainer.weights_fingerprint();
    o.params.assign(trainer.params(), trainer.params() + model.layout().total());
    o.created_on_demand = trainer.gemm_created_on_demand();
    return o;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        d += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        n += double(b[i]) * b[i];
    }
    return std::sqrt(d / n);
}

}  // namespace

TEST_CASE("the trainer on oneDNN gives bitwise the same weights at any thread count, creating nothing in a step") {
    std::vector<GemmSettings> settings = {onednn_fp32};
    if (bf16_runs_here()) settings.push_back(onednn_bf16);
    for (const GemmSettings& gemm : settings) {
        const std::string precision_name = gemm_precision_name(gemm.precision);
        CAPTURE(precision_name);
        const Outcome reference = train(gemm, 1);
        CHECK(reference.created_on_demand == 0);
        CHECK(reference.losses.back() < reference.losses.front());
        for (int threads : {2, 3, 8}) {
            CAPTURE(threads);
            const Outcome o = train(gemm, threads);
            CHECK(o.fingerprint == reference.fingerprint);
            CHECK(o.losses == reference.losses);
            CHECK(o.created_on_demand == 0);
        }
    }
}

// Not the same bits as OpenBLAS (other blocking of the sums), but the same training to float
// rounding; bf16 trains too, its weights within the inputs' rounding of the fp32 run's.
TEST_CASE("training on oneDNN fp32 follows OpenBLAS to float rounding; bf16 follows within bf16 rounding") {
    const Outcome openblas = train(GemmSettings{}, 2);
    const Outcome fp32 = train(onednn_fp32, 2);
    CHECK(fp32.fingerprint != openblas.fingerprint);
    CHECK(relative_difference(fp32.params, openblas.params) < 1e-5);
    for (std::size_t e = 0; e < openblas.losses.size(); ++e)
        CHECK(fp32.losses[e] == doctest::Approx(openblas.losses[e]).epsilon(1e-5));
    if (!bf16_runs_here()) return;
    const Outcome bf16 = train(onednn_bf16, 2);
    const double drift = relative_difference(bf16.params, openblas.params);
    MESSAGE("weights after 21 steps, bf16 vs fp32: relative difference " << drift);
    CHECK(drift > 1e-6);
    CHECK(drift < 0.01);
    CHECK(bf16.validation_loss == doctest::Approx(openblas.validation_loss).epsilon(0.02));
}

// Every row's outputs are the same whatever chunk (GEMM row count) it is evaluated in: the
// trainer's chunks of 8 rows and the Evaluator's of 128 give the same bits.
TEST_CASE("evaluation outputs do not depend on the chunk size, fp32 and bf16") {
    std::vector<GemmSettings> settings = {onednn_fp32};
    if (bf16_runs_here()) settings.push_back(onednn_bf16);
    const Dataset data = make_data(300, 20, 3);
    const std::vector<std::int64_t> rows = range(0, 300);
    ModelSpec spec;
    spec.sizes = {20, 160, 120, 3};
    const Model model(spec);
    for (const GemmSettings& gemm : settings) {
        TrainConfig config;
        config.batch_size = 32;
        config.shards = 4;
        config.threads = 2;
        config.seed = 3;
        config.gemm = gemm;
        Trainer trainer(model, config, 0);
        trainer.prepare_evaluation(300);
        std::vector<float> by_trainer, by_evaluator;
        trainer.evaluate(data, rows, nullptr, &by_trainer);
        Evaluator evaluator(model, 3, 0, gemm);
        evaluator.evaluate(trainer.params(), data, rows, nullptr, &by_evaluator);
        CHECK(by_trainer.size() == 900);
        CHECK(std::memcmp(by_trainer.data(), by_evaluator.data(), sizeof(float) * 900) == 0);
        CHECK(trainer.gemm_created_on_demand() == 0);
    }
}

// The NaN/Inf checks hold on oneDNN: a NaN in the data (bf16 rounding keeps a NaN a NaN)
// stops the step with NumericError naming it and leaves the weights as they were, and an
// absurd learning rate is caught as it is with OpenBLAS.
TEST_CASE("NaN and Inf raise NumericError on oneDNN, fp32 and bf16, and leave the weights unchanged") {
    std::vector<GemmSettings> settings = {onednn_fp32};
    if (bf16_runs_here()) settings.push_back(onednn_bf16);
    ModelSpec spec;
    spec.sizes = {20, 160, 120, 3};
    const Model model(spec);
    for (const GemmSettings& gemm : settings) {
        const std::string precision_name = gemm_precision_name(gemm.precision);
        CAPTURE(precision_name);
        TrainConfig config;
        config.batch_size = 16;
        config.shards = 2;
        config.threads = 2;
        config.schedule.lr = 0.05f;
        config.gemm = gemm;
        for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
            CAPTURE(bad);
            Dataset data = make_data(16, 20, 3);
            data.x[5 * 20 + 3] = bad;  // row 5
            Trainer trainer(model, config, 0);
            const std::vector<float> before(trainer.params(), trainer.params() + model.layout().total());
            const std::vector<std::int64_t> rows = range(0, 16);
            std::string message;
            try {
                trainer.train_step(data, rows.data(), 16);
            } catch (const NumericError& e) {
                message = e.what();
            }
            CHECK(message.find("step 1") != std::string::npos);
            CHECK(trainer.step() == 0);
            CHECK(std::memcmp(before.data(), trainer.params(), sizeof(float) * before.size()) == 0);
        }
        config.schedule.lr = 1e30f;
        config.epochs = 20;
        const Dataset data = make_data(64, 20, 3);
        Split split;
        split.train = range(0, 64);
        Trainer trainer(model, config, 0);
        CHECK_THROWS_AS(trainer.fit(data, split, [](const EpochReport&) {}), NumericError);
    }
}
