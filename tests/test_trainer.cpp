// Tests for the data-parallel trainer: it learns (XOR, a regression line), its results are
// bitwise independent of the thread count and a pure function of the seed, it handles the
// edge cases of sharding, early stopping restores the best weights, numeric blow-ups raise
// NumericError naming the step, and gradient clipping bounds the update.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/metrics.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/nn/workspace.hpp"
#include "mlptrain/engine/evaluator.hpp"
#include "mlptrain/engine/trainer.hpp"
#include "synthetic_data.hpp"

using mlptrain::Activation;
using mlptrain::Dataset;
using mlptrain::EpochReport;
using mlptrain::Loss;
using mlptrain::Model;
using mlptrain::ModelSpec;
using mlptrain::Split;
using mlptrain::TrainConfig;
using mlptrain::Trainer;
using mlptrain::test::make_blobs;
using mlptrain::test::signed_unit;

namespace {

Dataset make_xor() {
    Dataset d;
    d.source = "xor";
    d.rows = 4;
    d.features = 2;
    d.feature_names = {"a", "b"};
    d.x = {0, 0, 0, 1, 1, 0, 1, 1};
    d.labels = {0, 1, 1, 0};
    d.class_names = {"0", "1"};
    return d;
}

std::vector<std::int64_t> range(std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(end - begin));
    std::iota(v.begin(), v.end(), begin);
    return v;
}

ModelSpec spec_of(std::vector<std::int64_t> sizes, Activation act,
                  Loss loss = Loss::softmax_cross_entropy, float dropout = 0.0f) {
    ModelSpec s;
    s.sizes = std::move(sizes);
    s.hidden_activation = act;
    s.loss = loss;
    s.dropout = dropout;
    return s;
}

TrainConfig sgd_config(std::int64_t epochs, std::int64_t batch, float lr, float momentum) {
    TrainConfig c;
    c.epochs = epochs;
    c.batch_size = batch;
    c.threads = 1;
    c.seed = 1;
    c.optimizer.kind = mlptrain::OptimizerKind::sgd;
    c.optimizer.momentum = momentum;
    c.schedule.lr = lr;
    return c;
}

std::vector<float> params_of(const Trainer& t) {
    const std::int64_t n = t.model().layout().total();
    return {t.params(), t.params() + n};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

double norm_of_difference(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        s += d * d;
    }
    return std::sqrt(s);
}

bool all_finite(const std::vector<float>& v) {
    for (float x : v)
        if (!std::isfinite(x)) return false;
    return true;
}

struct FitResult {
    std::vector<float> params;
    std::string fingerprint;
    std::vector<double> train_loss;  // per epoch
    std::vector<double> validation_loss;
    std::int64_t steps = 0;
    std::vector<std::string> notices;
};

FitResult fit(const Model& model, const TrainConfig& config, const Dataset& data,
              const Split& split) {
    Trainer trainer(model, config, 0);
    FitResult r;
    trainer.fit(data, split, [&](const EpochReport& report) {
        r.train_loss.push_back(report.train_loss);
        if (report.validation) r.validation_loss.push_back(report.validation->loss);
    });
    r.params = params_of(trainer);
    r.fingerprint = trainer.weights_fingerprint();
    r.steps = trainer.step();
    r.notices = trainer.notices();
    return r;
}

// Runs `f` and returns the NumericError's message ("" if nothing or something else threw).
template <typename F>
std::string numeric_error_of(F f) {
    try {
        f();
    } catch (const mlptrain::NumericError& e) {
        CHECK(e.exit_status() == 3);
        return e.what();
    } catch (...) {
        return "<another exception>";
    }
    return "";
}

}  // namespace

// A 2-8-2 network learns XOR to 100% accuracy with softmax cross-entropy (tanh and relu).
TEST_CASE("trainer learns XOR") {
    const Dataset data = make_xor();
    Split split;
    split.train = range(0, 4);
    for (Activation act : {Activation::tanh, Activation::relu}) {
        CAPTURE(mlptrain::activation_name(act));
        const Model model(spec_of({2, 8, 2}, act));
        TrainConfig config = sgd_config(400, 4, 0.1f, 0.9f);
        Trainer trainer(model, config, 0);
        const mlptrain::EvalResult before = trainer.evaluate(data, split.train);
        std::int64_t epochs = 0;
        trainer.fit(data, split, [&](const EpochReport& r) {
            ++epochs;
            CHECK(r.epoch == epochs);
            CHECK(r.step == epochs);  // one batch of 4 per epoch
        });
        CHECK(epochs == 400);
        std::vector<std::int32_t> predictions;
        std::vector<float> outputs;
        const mlptrain::EvalResult after =
            trainer.evaluate(data, split.train, &predictions, &outputs);
        CHECK(after.rows == 4);
        CHECK(after.accuracy == 1.0);
        CHECK(predictions == data.labels);
        REQUIRE(outputs.size() == 8);
        for (std::size_t r = 0; r < 4; ++r) {
            CHECK(outputs[2 * r] + outputs[2 * r + 1] ==
                  doctest::Approx(1.0).epsilon(1e-5));  // softmax
            CHECK(outputs[2 * r + static_cast<std::size_t>(data.labels[r])] > 0.5f);
        }
        CHECK(after.loss < 0.1);
        CHECK(after.loss < before.loss);
    }
}

// A regression network (mse on numeric targets) fits y = 2x − 1 closely.
TEST_CASE("trainer fits a regression line") {
    Dataset data;
    data.rows = 32;
    data.features = 1;
    data.feature_names = {"x"};
    data.outputs = 1;
    for (std::int64_t r = 0; r < data.rows; ++r) {
        const float x = -1.0f + 2.0f * static_cast<float>(r) / 31.0f;
        data.x.push_back(x);
        data.y.push_back(2.0f * x - 1.0f);
    }
    Split split;
    split.train = range(0, 32);
    const Model model(spec_of({1, 8, 1}, Activation::tanh, Loss::mse));
    TrainConfig config = sgd_config(200, 8, 0.05f, 0.9f);
    Trainer trainer(model, config, 1);
    const double before = trainer.evaluate(data, split.train).loss;
    trainer.fit(data, split, [](const EpochReport&) {});
    std::vector<float> outputs;
    const mlptrain::EvalResult after = trainer.evaluate(data, split.train, nullptr, &outputs);
    CHECK(after.loss < 1e-3);
    CHECK(after.loss < before / 100);
    REQUIRE(outputs.size() == 32);
    CHECK(outputs[0] == doctest::Approx(-3.0).epsilon(0.05));
    CHECK(outputs[31] == doctest::Approx(1.0).epsilon(0.05));
}

// train_step returns the batch's mean loss before the update (no dropout): the same value
// evaluate() reports for those rows, and the step changes the parameters.
TEST_CASE("train_step returns the mean loss of the batch") {
    const Dataset data = make_blobs(24, 4, 3);
    const Model model(spec_of({4, 10, 3}, Activation::tanh));
    TrainConfig config = sgd_config(1, 24, 0.1f, 0.0f);
    config.shards = 3;
    Trainer trainer(model, config, 0);
    const std::vector<std::int64_t> rows = range(0, 24);
    const double expected = trainer.evaluate(data, rows).loss;
    const std::vector<float> before = params_of(trainer);
    const double loss = trainer.train_step(data, rows.data(), 24);
    CHECK(loss == doctest::Approx(expected).epsilon(1e-12));
    CHECK(trainer.step() == 1);
    CHECK(params_of(trainer) != before);
    CHECK(trainer.evaluate(data, rows).loss < expected);
}

// The final weights are bitwise the same for 1, 2, 3, 4 and 8 threads: shuffling,
// momentum + Nesterov, dropout, 4 shards, a batch (30) that 4 does not divide, a final
// partial batch (203 = 6·30 + 23), and a model large enough for two reduction chunks.
TEST_CASE("results do not depend on the thread count") {
    const Dataset data = make_blobs(203, 6, 3);
    Split split;
    split.train = range(0, 203);
    const Model model(
        spec_of({6, 160, 120, 3}, Activation::relu, Loss::softmax_cross_entropy, 0.2f));
    REQUIRE(model.layout().total() > 16384);  // more than one reduction chunk
    TrainConfig config = sgd_config(3, 30, 0.05f, 0.9f);
    config.optimizer.nesterov = true;
    config.shards = 4;
    config.seed = 7;
    config.threads = 1;
    const FitResult reference = fit(model, config, data, split);
    CHECK(reference.steps == 3 * 7);
    CHECK(all_finite(reference.params));
    CHECK(reference.train_loss.back() < reference.train_loss.front());
    for (int threads : {2, 3, 4, 8}) {
        CAPTURE(threads);
        config.threads = threads;
        const FitResult r = fit(model, config, data, split);
        CHECK(r.fingerprint == reference.fingerprint);
        CHECK(same_bits(r.params, reference.params));
        CHECK(r.train_loss == reference.train_loss);  // the loss log too, bit for bit
    }
}

// Evaluation runs a shard's rows a chunk at a time on every worker thread, beyond the
// shards' own workspaces too (forward-only ones): the loss, accuracy, predictions and
// outputs are bitwise those of one thread. 203 rows in chunks of 15 (batch 30, 2 shards)
// give 14 chunks, the last partial; at 5 threads lanes 2-4 are evaluation workspaces.
TEST_CASE("evaluation uses every thread and gives the one-thread result") {
    const Dataset data = make_blobs(203, 6, 3);
    const std::vector<std::int64_t> rows = range(0, 203);
    const Model model(spec_of({6, 160, 120, 3}, Activation::relu));
    TrainConfig config = sgd_config(1, 30, 0.05f, 0.9f);
    config.shards = 2;
    struct Evaluated {
        mlptrain::EvalResult result;
        std::vector<std::int32_t> predictions;
        std::vector<float> outputs;
    };
    auto evaluate_with = [&](int threads) {
        config.threads = threads;
        Trainer trainer(model, config, 0);
        CHECK(trainer.evaluation_lanes() == std::max(threads, 2));
        trainer.train_step(data, rows.data(), 30);  // weights away from their initial values
        Evaluated e;
        e.result = trainer.evaluate(data, rows, &e.predictions, &e.outputs);
        return e;
    };
    const Evaluated reference = evaluate_with(1);
    CHECK(reference.result.rows == 203);
    REQUIRE(reference.outputs.size() == 203 * 3);
    for (int threads : {2, 3, 5}) {
        CAPTURE(threads);
        const Evaluated e = evaluate_with(threads);
        CHECK(e.result.loss == reference.result.loss);  // a double: the same value, the same bits
        CHECK(e.result.accuracy == reference.result.accuracy);
        CHECK(e.predictions == reference.predictions);
        CHECK(same_bits(e.outputs, reference.outputs));
    }
}

// The evaluation lanes beyond the shards are capped by memory: within the shards' training
// workspaces (all of them) or extra_evaluation_budget, whichever is larger, but at least one.
// A forward-only workspace holds no gradient or deltas.
TEST_CASE("evaluation lanes beyond the shards fit a memory budget") {
    using mlptrain::evaluation_lanes;
    using mlptrain::extra_evaluation_budget;
    CHECK(evaluation_lanes(2, 2, 1000, 100) == 2);   // no thread beyond the shards
    CHECK(evaluation_lanes(1, 4, 1000, 100) == 4);   // more shards than threads: every shard's own
    CHECK(evaluation_lanes(16, 2, 1000, 100) == 16);  // small lanes: every thread
    const std::int64_t big = extra_evaluation_budget / 4;  // 64 MiB a lane
    CHECK(evaluation_lanes(16, 2, 1000, big) == 6);          // 4 within the budget
    CHECK(evaluation_lanes(16, 2, 10 * big, big) == 12);     // the training's own size is larger
    CHECK(evaluation_lanes(16, 2, 1000, 4 * extra_evaluation_budget) == 3);  // one extra at least

    const Model model(spec_of({6, 160, 120, 3}, Activation::relu, Loss::softmax_cross_entropy, 0.2f));
    const mlptrain::Workspace training(model, 32, 0);
    const mlptrain::Workspace evaluation(model, 32, 0, {}, mlptrain::WorkspaceUse::evaluation);
    const std::int64_t activations = 4 * 32 * (6 + 2 * (160 + 120 + 3));  // X, Z and A of every layer
    CHECK(evaluation.bytes() == activations + 4 * 32);                     // and the labels
    // the training workspace adds the gradient, the two delta buffers and the dropout masks
    CHECK(training.bytes() == evaluation.bytes() + 4 * (model.layout().total() + 2 * 32 * 160 + 2 * 32 * (160 + 120)));
}

// The trainer's shards call gemm() concurrently, so it must give every thread exactly the
// single-threaded product. Eight threads (oversubscribing small machines, which widens any
// race) multiply a shard-shaped first layer (8 rows, 6 inputs, 160 outputs) many times; a
// BLAS without locking (OpenBLAS built USE_THREAD=0 without USE_LOCKING=1) corrupts some.
TEST_CASE("gemm is safe to call from concurrent shards") {
    const std::int64_t m = 8, k = 6, n = 160;
    std::vector<float> X(static_cast<std::size_t>(m * k)), W(static_cast<std::size_t>(n * k));
    for (std::size_t i = 0; i < X.size(); ++i) X[i] = signed_unit(1, 0, i);
    for (std::size_t i = 0; i < W.size(); ++i) W[i] = signed_unit(1, 1, i);
    std::vector<float> reference(static_cast<std::size_t>(m * n));
    mlptrain::gemm(mlptrain::Transpose::no, mlptrain::Transpose::yes, 1.0f,
                   mlptrain::make_matrix(X.data(), m, k), mlptrain::make_matrix(W.data(), n, k),
                   0.0f, mlptrain::make_matrix(reference.data(), m, n));
    std::atomic<long> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            std::vector<float> Z(reference.size());
            for (int it = 0; it < 50000; ++it) {
                mlptrain::gemm(mlptrain::Transpose::no, mlptrain::Transpose::yes, 1.0f,
                               mlptrain::make_matrix(X.data(), m, k),
                               mlptrain::make_matrix(W.data(), n, k), 0.0f,
                               mlptrain::make_matrix(Z.data(), m, n));
                if (std::memcmp(Z.data(), reference.data(), sizeof(float) * Z.size()) != 0) ++wrong;
            }
        });
    for (std::thread& t : threads) t.join();
    CAPTURE(mlptrain::blas_description());
    CHECK(wrong.load() == 0);
}

// Many steps with concurrent shards, oversubscribed (up to 8 threads, more than the cores
// of a small machine), still give bitwise the 1-thread weights: a BLAS that is not safe to
// call from several threads at once (e.g. an OpenBLAS built with USE_THREAD=0 but without
// USE_LOCKING=1) corrupts an occasional GEMM here and turns this red.
TEST_CASE("concurrent shards over many steps match one thread bit for bit") {
    const Dataset data = make_blobs(203, 6, 3);
    Split split;
    split.train = range(0, 203);
    const Model model(spec_of({6, 160, 120, 3}, Activation::relu));
    TrainConfig config = sgd_config(100, 30, 0.05f, 0.9f);
    config.shards = 4;
    config.seed = 3;
    config.threads = 1;
    const FitResult reference = fit(model, config, data, split);
    REQUIRE(reference.steps == 700);
    int mismatches = 0;
    for (int threads : {8, 4, 8, 3}) {
        config.threads = threads;
        const FitResult r = fit(model, config, data, split);
        if (r.fingerprint != reference.fingerprint) {
            ++mismatches;
            MESSAGE("threads " << threads << ": " << r.fingerprint
                               << " != " << reference.fingerprint);
        }
    }
    CHECK(mismatches == 0);
}

// Adam with weight decay and a cosine schedule with warm-up is thread-independent too.
TEST_CASE("adamw with a schedule does not depend on the thread count") {
    const Dataset data = make_blobs(100, 5, 4);
    Split split;
    split.train = range(0, 80);
    split.validation = range(80, 100);
    const Model model(spec_of({5, 32, 4}, Activation::tanh));
    TrainConfig config = sgd_config(3, 16, 0.01f, 0.0f);
    config.optimizer.kind = mlptrain::OptimizerKind::adamw;
    config.optimizer.beta1 = 0.9f;
    config.optimizer.beta2 = 0.999f;
    config.optimizer.weight_decay = 0.01f;
    config.schedule.kind = mlptrain::ScheduleKind::cosine;
    config.schedule.warmup_steps = 3;
    config.schedule.total_steps = 15;
    config.shards = 2;
    config.threads = 1;
    const FitResult one = fit(model, config, data, split);
    config.threads = 2;
    const FitResult two = fit(model, config, data, split);
    CHECK(same_bits(one.params, two.params));
    CHECK(one.validation_loss == two.validation_loss);
    CHECK(one.validation_loss.size() == 3);
}

// The same seed gives identical weights; another seed gives different ones (init, shuffle
// and dropout are all seeded).
TEST_CASE("results are a function of the seed") {
    const Dataset data = make_blobs(50, 4, 3);
    Split split;
    split.train = range(0, 50);
    const Model model(spec_of({4, 12, 3}, Activation::relu, Loss::softmax_cross_entropy, 0.1f));
    TrainConfig config = sgd_config(2, 8, 0.05f, 0.9f);
    config.seed = 11;
    const FitResult a = fit(model, config, data, split);
    const FitResult b = fit(model, config, data, split);
    CHECK(a.fingerprint == b.fingerprint);
    CHECK(same_bits(a.params, b.params));
    config.seed = 12;
    const FitResult c = fit(model, config, data, split);
    CHECK(c.fingerprint != a.fingerprint);
    CHECK_FALSE(same_bits(c.params, a.params));
    // The fingerprint is the fingerprint of the whole parameter arena.
    CHECK(a.fingerprint ==
          mlptrain::fingerprint(a.params.data(), static_cast<std::int64_t>(a.params.size())));
}

// A batch smaller than the shard count (3 rows, 4 shards) leaves a shard empty; the step
// still equals the 1-shard step up to float rounding and is thread-independent.
TEST_CASE("batch smaller than the shard count") {
    const Dataset data = make_blobs(10, 3, 2);
    const Model model(spec_of({3, 6, 2}, Activation::tanh));
    TrainConfig config = sgd_config(1, 3, 0.1f, 0.0f);
    {  // (scoped: a live Trainer's thread limit applies to the whole process)
        config.shards = 4;
        config.threads = 2;
        Trainer four(model, config, 0);
        CHECK(four.shards() == 4);
        config.shards = 1;
        config.threads = 1;
        Trainer one(model, config, 0);
        const std::int64_t rows[] = {4, 7, 1};
        const std::vector<float> start = params_of(one);
        REQUIRE(same_bits(params_of(four), start));
        const double l4 = four.train_step(data, rows, 3);
        const double l1 = one.train_step(data, rows, 3);
        CHECK(l4 == doctest::Approx(l1).epsilon(1e-6));
        const std::vector<float> p4 = params_of(four), p1 = params_of(one);
        CHECK(all_finite(p4));
        CHECK(norm_of_difference(p4, start) > 1e-4);
        CHECK(norm_of_difference(p4, p1) < 1e-5 * norm_of_difference(p1, start));
    }
    // Over a few epochs (10 rows: batches 3, 3, 3, 1), 1 and 4 threads agree bit for bit.
    Split split;
    split.train = range(0, 10);
    config.shards = 4;
    config.epochs = 3;
    config.threads = 1;
    const FitResult a = fit(model, config, data, split);
    config.threads = 4;
    const FitResult b = fit(model, config, data, split);
    CHECK(a.steps == 12);
    CHECK(same_bits(a.params, b.params));
    CHECK(all_finite(a.params));
}

// More threads than shards is allowed and tells the user (a notice) that threads will
// idle; threads ≤ shards gives no such notice.
TEST_CASE("more threads than shards gives a notice") {
    const Model model(spec_of({3, 4, 2}, Activation::tanh));
    TrainConfig config = sgd_config(1, 8, 0.1f, 0.0f);
    config.shards = 2;
    config.threads = 4;
    {  // (scoped: a live Trainer's thread limit applies to the whole process)
        Trainer many(model, config, 0);
        CHECK(many.threads() == 4);
        CHECK(many.shards() == 2);
        bool found = false;
        for (const std::string& n : many.notices())
            found = found || (n.find("idle") != std::string::npos &&
                              n.find('4') != std::string::npos && n.find('2') != std::string::npos);
        CHECK(found);
        config.threads = 2;
        Trainer enough(model, config, 0);
        for (const std::string& n : enough.notices()) CHECK(n.find("idle") == std::string::npos);
    }
    // And it still trains, identically to one thread.
    const Dataset data = make_blobs(8, 3, 2);
    Split split;
    split.train = range(0, 8);
    config.threads = 4;
    const FitResult a = fit(model, config, data, split);
    config.threads = 1;
    const FitResult b = fit(model, config, data, split);
    CHECK(same_bits(a.params, b.params));
}

// A training set smaller than one batch gives one partial step per epoch.
TEST_CASE("dataset smaller than one batch") {
    const Dataset data = make_blobs(5, 3, 2);
    Split split;
    split.train = range(0, 5);
    const Model model(spec_of({3, 6, 2}, Activation::relu));
    TrainConfig config = sgd_config(4, 16, 0.1f, 0.9f);
    config.shards = 4;
    Trainer trainer(model, config, 0);
    const std::vector<float> start = params_of(trainer);
    std::vector<std::int64_t> steps;
    trainer.fit(data, split, [&](const EpochReport& r) {
        steps.push_back(r.step);
        CHECK(std::isfinite(r.train_loss));
    });
    CHECK(steps == std::vector<std::int64_t>{1, 2, 3, 4});
    CHECK(all_finite(params_of(trainer)));
    CHECK(params_of(trainer) != start);
}

// A single training sample trains (one row in one of the 4 shards) and its loss falls.
TEST_CASE("a single training sample") {
    const Dataset data = make_blobs(6, 3, 2);
    Split split;
    split.train = {3};
    const Model model(spec_of({3, 6, 2}, Activation::tanh));
    TrainConfig config = sgd_config(20, 8, 0.1f, 0.0f);
    config.shards = 4;
    config.threads = 2;
    Trainer trainer(model, config, 0);
    std::vector<double> losses;
    trainer.fit(data, split, [&](const EpochReport& r) { losses.push_back(r.train_loss); });
    REQUIRE(losses.size() == 20);
    CHECK(trainer.step() == 20);
    CHECK(losses.back() < losses.front());
    CHECK(trainer.evaluate(data, split.train).accuracy == 1.0);
}

// XOR's four rows for training, then the same inputs with the opposite labels (rows 4-7)
// for validation: the better the network learns, the worse its validation loss.
static Dataset xor_with_opposite_validation() {
    Dataset data = make_xor();
    data.rows = 8;
    data.x = {0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1};
    data.labels = {0, 1, 1, 0, 1, 0, 0, 1};
    return data;
}

// Rows 0-3 train, rows 4-7 (the opposite labels) validate.
static Split xor_split() {
    Split split;
    split.train = range(0, 4);
    split.validation = range(4, 8);
    return split;
}

// Early stopping keeps the weights of the epoch with the best validation loss: here the
// validation rows carry the opposite XOR labels, so learning the training set makes the
// validation loss worse, training stops after `patience` epochs without improvement, and
// the final parameters are bitwise the snapshot taken when report.best was last set.
TEST_CASE("early stopping restores the best weights") {
    const Dataset data = xor_with_opposite_validation();
    const Split split = xor_split();
    const Model model(spec_of({2, 8, 2}, Activation::tanh));
    TrainConfig config = sgd_config(200, 4, 0.1f, 0.9f);
    config.patience = 5;
    Trainer trainer(model, config, 0);
    std::vector<float> best_snapshot, last_snapshot;
    std::int64_t best_epoch = 0, last_epoch = 0;
    trainer.fit(data, split, [&](const EpochReport& r) {
        REQUIRE(r.validation.has_value());
        last_epoch = r.epoch;
        last_snapshot = params_of(trainer);
        if (r.best) {
            best_epoch = r.epoch;
            best_snapshot = last_snapshot;
        }
    });
    REQUIRE(best_epoch >= 1);
    CHECK(last_epoch == best_epoch + config.patience);  // stopped early
    CHECK(last_epoch < config.epochs);
    CHECK(same_bits(params_of(trainer), best_snapshot));
    CHECK_FALSE(same_bits(params_of(trainer), last_snapshot));
}

// Without patience, nothing is restored: the final weights are the last epoch's.
TEST_CASE("no early stopping keeps the last weights") {
    const Dataset data = xor_with_opposite_validation();
    const Split split = xor_split();
    const Model model(spec_of({2, 8, 2}, Activation::tanh));
    TrainConfig config = sgd_config(30, 4, 0.1f, 0.9f);
    Trainer trainer(model, config, 0);
    std::vector<float> last_snapshot;
    std::int64_t epochs = 0;
    trainer.fit(data, split, [&](const EpochReport& r) {
        ++epochs;
        CHECK_FALSE(r.best);
        last_snapshot = params_of(trainer);
    });
    CHECK(epochs == 30);
    CHECK(same_bits(params_of(trainer), last_snapshot));
}

// A NaN in the data raises NumericError naming the step (step 1, the first one).
TEST_CASE("a NaN in the data raises NumericError with the step") {
    Dataset data = make_blobs(12, 3, 2);
    data.x[4] = std::numeric_limits<float>::quiet_NaN();  // row 1
    const Model model(spec_of({3, 5, 2}, Activation::relu));
    TrainConfig config = sgd_config(2, 4, 0.1f, 0.9f);
    Trainer trainer(model, config, 0);
    const std::int64_t rows[] = {0, 1, 2, 3};
    const std::string message = numeric_error_of([&] { trainer.train_step(data, rows, 4); });
    CHECK(message.find("step 1") != std::string::npos);
    // Through fit, too (rows are shuffled, but every epoch touches row 1).
    Trainer fresh(model, config, 0);
    Split split;
    split.train = range(0, 12);
    const std::string fit_message =
        numeric_error_of([&] { fresh.fit(data, split, [](const EpochReport&) {}); });
    CHECK(fit_message.find("step ") != std::string::npos);
    CHECK(fit_message.find("NaN") != std::string::npos);
}

// A step that raises NumericError changes nothing: the parameters stay those of the last
// complete step (here a NaN reaches only layer 0's weight gradient, in the first reduction
// chunk of a two-chunk model; ReLU maps the NaN pre-activations to 0, so the loss and the
// other chunk's gradient stay finite). With and without clipping alike, on one thread and
// on two over two shards (where the chunks are reduced into different shard buffers and
// the weights are written with streaming stores).
TEST_CASE("a step that raises NumericError leaves the parameters unchanged") {
    Dataset data = make_blobs(8, 6, 3);
    data.x[6 * 2 + 1] = std::numeric_limits<float>::quiet_NaN();  // row 2
    const Model model(spec_of({6, 160, 120, 3}, Activation::relu));
    REQUIRE(model.layout().total() > 16384);
    const std::vector<std::int64_t> rows = range(0, 8);
    for (const auto& [threads, clip] : {std::pair{1, 0.0f}, {1, 1e6f}, {2, 0.0f}, {2, 1e6f}}) {
        CAPTURE(threads);
        CAPTURE(clip);
        TrainConfig config = sgd_config(1, 8, 0.1f, 0.9f);
        config.clip_norm = clip;
        config.threads = threads;
        config.shards = threads;
        Trainer trainer(model, config, 0);
        const std::vector<float> before = params_of(trainer);
        const std::string message =
            numeric_error_of([&] { trainer.train_step(data, rows.data(), 8); });
        CHECK(message.find("step 1") != std::string::npos);
        CHECK(trainer.step() == 0);
        CHECK(same_bits(params_of(trainer), before));
    }
}

// How the update writes the weights (streaming or plain stores, or switching between them
// as the tuner measures) changes the speed, never the bits: runs with each give the same
// weights. The automatic run goes on until the tuner has probed the other kind twice, so
// that the kind changes between steps at least four times; the other runs take as many
// steps. One thread writes plain stores whatever is asked.
TEST_CASE("the weight stores change the speed, not the bits") {
    using mlptrain::WeightStores;
    const Dataset data = make_blobs(512, 64, 3);
    const std::vector<std::int64_t> rows = range(0, 512);
    const Model model(spec_of({64, 256, 3}, Activation::relu));
    REQUIRE(model.layout().total() > 16384);  // two chunks: one per thread
    for (auto kind : {mlptrain::OptimizerKind::sgd, mlptrain::OptimizerKind::adam}) {
        const std::string name = mlptrain::optimizer_name(kind);
        CAPTURE(name);
        TrainConfig config = sgd_config(1, 128, 0.01f, 0.9f);
        config.optimizer.kind = kind;
        config.threads = 2;
        config.shards = 4;
        Trainer automatic(model, config, 0);
        CHECK(automatic.weight_stores() == WeightStores::automatic);
        std::int64_t steps = 0;
        while (automatic.weight_store_tuner().probes() < 2 && steps < 200000)
            automatic.train_step(data, rows.data() + 128 * (steps++ % 4), 128);
        REQUIRE(automatic.weight_store_tuner().probes() >= 2);
        CHECK(automatic.weight_store_tuner().plain_steps() >= 2 * 8);
        for (WeightStores stores : {WeightStores::streaming, WeightStores::plain}) {
            const std::string stores_name = mlptrain::weight_stores_name(stores);
            CAPTURE(stores_name);
            config.weight_stores = stores;
            Trainer trainer(model, config, 0);
            CHECK(trainer.weight_stores() == stores);
            for (std::int64_t s = 0; s < steps; ++s) trainer.train_step(data, rows.data() + 128 * (s % 4), 128);
            CHECK(same_bits(params_of(trainer), params_of(automatic)));
        }
        config.weight_stores = WeightStores::streaming;
        config.threads = 1;
        CHECK(Trainer(model, config, 0).weight_stores() == WeightStores::plain);
    }
}

// Each step leaves the shards' gradient buffers cleared, so that the next adds onto zeros:
// a trainer's third step gives the bits of a fresh trainer (whose buffers are new) restored
// to the state after its second. Four shards (a two-level tree), SGD and Adam, a layer past
// OpenBLAS's small-matrix limit, two reduction chunks.
TEST_CASE("every step starts from cleared gradient buffers") {
    const Dataset data = make_blobs(512, 64, 3);
    const std::vector<std::int64_t> rows = range(0, 512);
    const Model model(spec_of({64, 256, 3}, Activation::relu));
    REQUIRE(model.layout().total() > 16384);
    for (int threads : {1, 2})  // 2: prefetched reduction, streamed weights
    for (auto kind : {mlptrain::OptimizerKind::sgd, mlptrain::OptimizerKind::adam}) {
        const std::string name = mlptrain::optimizer_name(kind);
        CAPTURE(threads);
        CAPTURE(name);
        TrainConfig config = sgd_config(1, 256, 0.01f, 0.9f);  // 64 rows per shard
        config.optimizer.kind = kind;
        config.threads = threads;
        config.shards = 4;
        Trainer trainer(model, config, 0), resumed(model, config, 0);
        for (int step = 0; step < 2; ++step) trainer.train_step(data, rows.data() + 256 * step, 256);
        resumed.restore(trainer.snapshot());
        trainer.train_step(data, rows.data(), 256);
        resumed.train_step(data, rows.data(), 256);
        CHECK(same_bits(params_of(trainer), params_of(resumed)));
    }
}

// The step-phase tests' data and model, and their steps: SGD with momentum, 256 rows over
// 4 shards, on `threads`.
struct PhasesFixture {
    const Dataset data = make_blobs(512, 64, 3);
    const std::vector<std::int64_t> rows = range(0, 512);
    const Model model{spec_of({64, 256, 3}, Activation::relu)};
};

static TrainConfig phases_config(int threads) {
    TrainConfig config = sgd_config(1, 256, 0.01f, 0.9f);
    config.threads = threads;
    config.shards = 4;
    return config;
}

// The step phases account for the steps' wall time: each phase is measured, they add up to
// no more than the steps took, a worker's pass time fits inside the passes' wall time, and
// a step that throws is not counted. With 1 thread the least busy worker is the busiest;
// with 2, passes this short may all run on the calling thread before the other wakes.
TEST_CASE_FIXTURE(PhasesFixture, "step phases account for the time of the steps") {
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        const TrainConfig config = phases_config(threads);
        Trainer trainer(model, config, 0);
        trainer.train_step(data, rows.data(), 256);
        CHECK(trainer.step_phases().steps == 1);
        trainer.reset_step_phases();
        CHECK(trainer.step_phases().steps == 0);
        CHECK(trainer.step_phases().passes == 0.0);
        const auto start = std::chrono::steady_clock::now();
        for (int step = 0; step < 3; ++step) trainer.train_step(data, rows.data() + 256 * (step % 2), 256);
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const mlptrain::StepPhases p = trainer.step_phases();
        CHECK(p.steps == 3);
        CHECK(p.passes > 0.0);
        CHECK(p.reduce > 0.0);
        CHECK(p.update > 0.0);
        CHECK(p.passes + p.reduce + p.update <= wall);
        CHECK(p.busiest_worker > 0.0);
        CHECK(p.busiest_worker <= p.passes);
        CHECK(p.idlest_worker <= p.busiest_worker);
        CHECK(p.idlest_worker >= 0.0);
        if (threads == 1) CHECK(p.idlest_worker == p.busiest_worker);

        Dataset bad = data;
        bad.x[64 * 3] = std::numeric_limits<float>::quiet_NaN();
        CHECK(!numeric_error_of([&] { trainer.train_step(bad, rows.data(), 256); }).empty());
        CHECK(trainer.step_phases().steps == 3);
    }
}

// With Trainer::time_gemm_calls on, the phases also hold the GEMM calls' time: nonzero, no
// more than the workers' pass time, the busiest worker's within it; off, nothing. The same
// bits either way (the clock reads sit around the library calls).
TEST_CASE_FIXTURE(PhasesFixture, "step phases time the GEMM calls when asked") {
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        const TrainConfig config = phases_config(threads);
        Trainer timed(model, config, 0), plain(model, config, 0);
        timed.time_gemm_calls(true);
        for (int step = 0; step < 3; ++step) {
            timed.train_step(data, rows.data() + 256 * (step % 2), 256);
            plain.train_step(data, rows.data() + 256 * (step % 2), 256);
        }
        const mlptrain::StepPhases t = timed.step_phases(), p = plain.step_phases();
        CHECK(p.gemm_calls == 0.0);
        CHECK(p.busiest_worker_gemm_calls == 0.0);
        CHECK(t.gemm_calls > 0.0);
        CHECK(t.gemm_calls <= t.busiest_worker * threads);
        CHECK(t.busiest_worker_gemm_calls > 0.0);
        CHECK(t.busiest_worker_gemm_calls <= t.busiest_worker);
        CHECK(same_bits(params_of(timed), params_of(plain)));
        timed.time_gemm_calls(false);
        timed.reset_step_phases();
        timed.train_step(data, rows.data(), 256);
        CHECK(timed.step_phases().gemm_calls == 0.0);
    }
}

// The step after one that raised NumericError trains exactly as if the bad step had never
// run. A step leaves its shards' gradient buffers cleared for the next one to add onto
// (GradsInit::zero); a step that throws leaves them dirty, so the next must overwrite them.
// Both throws: a NaN gradient behind a finite loss (ReLU maps the NaN pre-activations to 0)
// from the reduction, and a NaN loss (identity) before it. Layer 0's weight gradient
// (256 × 64 over 128 rows per shard) is past OpenBLAS's small-matrix limit, so its GEMM
// really adds onto the buffer; two shards, two reduction chunks.
TEST_CASE("the step after a NumericError gives the bits of a fresh trainer's step") {
    const Dataset good = make_blobs(256, 64, 3);
    Dataset bad = good;
    bad.x[64 * 200 + 2] = std::numeric_limits<float>::quiet_NaN();  // row 200: the second shard
    const std::vector<std::int64_t> rows = range(0, 256);
    for (int threads : {1, 2})  // 2: the bad step is found by two threads' checks
    for (Activation act : {Activation::relu, Activation::identity}) {
        const std::string name = mlptrain::activation_name(act);
        CAPTURE(threads);
        CAPTURE(name);
        const Model model(spec_of({64, 256, 3}, act));
        REQUIRE(model.layout().total() > 16384);
        TrainConfig config = sgd_config(1, 256, 0.01f, 0.9f);
        config.threads = threads;
        config.shards = 2;
        Trainer recovered(model, config, 0), fresh(model, config, 0);
        recovered.train_step(good, rows.data(), 256);
        fresh.train_step(good, rows.data(), 256);
        const std::string message = numeric_error_of([&] { recovered.train_step(bad, rows.data(), 256); });
        CHECK(message.find(act == Activation::relu ? "gradient is not finite" : "loss is NaN") != std::string::npos);
        for (int step = 0; step < 2; ++step) {
            CHECK(numeric_error_of([&] { recovered.train_step(good, rows.data(), 256); }).empty());
            fresh.train_step(good, rows.data(), 256);
        }
        CHECK(same_bits(params_of(recovered), params_of(fresh)));
    }
}

// An absurd learning rate (1e30) blows the weights up; the trainer raises NumericError
// naming the step instead of training on silently.
TEST_CASE("an absurd learning rate raises NumericError with the step") {
    const Dataset data = make_blobs(40, 4, 3);
    Split split;
    split.train = range(0, 40);
    const Model model(spec_of({4, 16, 3}, Activation::relu));
    TrainConfig config = sgd_config(20, 8, 1e30f, 0.9f);
    Trainer trainer(model, config, 0);
    const std::string message =
        numeric_error_of([&] { trainer.fit(data, split, [](const EpochReport&) {}); });
    REQUIRE_FALSE(message.empty());
    CHECK(message.find("step ") != std::string::npos);
    CHECK(message.find("<another exception>") == std::string::npos);
}

// With clipping, one plain SGD step (no momentum) moves the parameters by at most
// lr·clip_norm, and exactly that when the gradient norm exceeds clip_norm, in the
// unclipped step's direction.
TEST_CASE("gradient clipping bounds the update") {
    const Dataset data = make_blobs(16, 4, 3);
    const Model model(spec_of({4, 16, 3}, Activation::tanh));
    const float lr = 0.5f, clip = 0.01f;
    TrainConfig config = sgd_config(1, 16, lr, 0.0f);
    config.shards = 2;
    Trainer plain(model, config, 0);
    config.clip_norm = clip;
    Trainer clipped(model, config, 0);
    const std::vector<float> start = params_of(plain);
    const std::vector<std::int64_t> rows = range(0, 16);
    plain.train_step(data, rows.data(), 16);
    clipped.train_step(data, rows.data(), 16);
    const std::vector<float> p = params_of(plain), c = params_of(clipped);
    const double unclipped_move = norm_of_difference(p, start);
    const double clipped_move = norm_of_difference(c, start);
    REQUIRE(unclipped_move > lr * clip * 2);  // the gradient norm exceeds clip_norm
    CHECK(clipped_move <= lr * clip * (1 + 1e-5));
    CHECK(clipped_move >= lr * clip * (1 - 1e-3));
    double dot = 0.0;
    for (std::size_t i = 0; i < p.size(); ++i)
        dot += (static_cast<double>(p[i]) - start[i]) * (static_cast<double>(c[i]) - start[i]);
    CHECK(dot / (unclipped_move * clipped_move) == doctest::Approx(1.0).epsilon(1e-5));
    // A clip norm above the gradient norm changes nothing.
    config.clip_norm = 1e6f;
    Trainer loose(model, config, 0);
    loose.train_step(data, rows.data(), 16);
    CHECK(norm_of_difference(params_of(loose), p) <= 1e-6 * unclipped_move);
}

// default_shards is a pure function of the batch size: 1 below 64 rows, then powers of two
// at about 128 rows per shard; default_threads is at least 1.
TEST_CASE("default shards and threads") {
    CHECK(mlptrain::default_shards(1) == 1);
    CHECK(mlptrain::default_shards(63) == 1);
    CHECK(mlptrain::default_shards(64) == 2);
    CHECK(mlptrain::default_shards(256) == 2);
    CHECK(mlptrain::default_shards(512) == 4);
    CHECK(mlptrain::default_shards(1024) == 8);
    CHECK(mlptrain::default_threads() >= 1);
    const Model model(spec_of({3, 4, 2}, Activation::tanh));
    TrainConfig config = sgd_config(1, 512, 0.1f, 0.0f);
    config.threads = 1;
    Trainer trainer(model, config, 0);
    CHECK(trainer.shards() == 4);
}
