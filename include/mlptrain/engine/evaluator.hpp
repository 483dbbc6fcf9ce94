// Forward passes over many rows — the loss, accuracy, predicted classes and outputs of a
// model — in chunks of a fixed number of rows spread over worker lanes. Per-chunk sums are
// combined in chunk order, so a result depends on neither the threads nor the ranks.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/engine/parallel.hpp"
#include "mlptrain/engine/train_state.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/nn/workspace.hpp"

namespace mlptrain {

// Mean loss and accuracy of `params` over `rows`, chunk_rows rows at a time (each lane's
// workspace, training or evaluation, holds at least chunk_rows rows; lane s takes chunks
// s, s + lanes, …: fewer lanes than worker threads leave threads idle, with the same
// result). predictions (if given) get the predicted class of each row (classification),
// outputs (if given) the rows × outputs network outputs, or with outputs_layer = l ≥ 0 the
// rows × dim_out(l) activations of layer l (0-based, as Model counts; after its activation
// function, without dropout). With several ranks and neither requested, the ranks split the
// chunks and combine their sums. Lanes with bf16 GEMM inputs read the weights from
// params_bf16 (params rounded to bf16, arena layout).
EvalResult evaluate_rows(const Model& model, const float* params, const Dataset& data,
                         const std::vector<std::int64_t>& rows, std::int64_t chunk_rows,
                         const std::vector<Workspace*>& lanes, WorkerPool& workers,
                         Communicator& comm, std::vector<std::int32_t>* predictions = nullptr,
                         std::vector<float>* outputs = nullptr, int outputs_layer = -1,
                         const bf16_bits* params_bf16 = nullptr);

// How many lanes the trainer evaluates on: one per local shard (its training workspace),
// and one per thread beyond them, each an evaluation workspace of `evaluation_bytes`, as long
// as those together stay within the larger of the shards' `training_bytes` (all of them) and
// extra_evaluation_budget: a few shards of very many rows on many threads would otherwise
// take many times the training's memory for evaluation alone.
constexpr std::int64_t extra_evaluation_budget = std::int64_t{256} << 20;
int evaluation_lanes(int threads, std::int64_t shards, std::int64_t training_bytes, std::int64_t evaluation_bytes);

// evaluate_rows for a trained model outside training: its own workspaces, one lane per
// worker thread, in one process, GEMMs on the given backend and precision.
class Evaluator {
public:
    // `targets_cols` > 0 for regression targets (mse), 0 for class labels; threads 0: all.
    Evaluator(const Model& model, int threads, std::int64_t targets_cols, GemmSettings gemm = {});
    ~Evaluator();

    int threads() const { return workers_.threads(); }
    // As evaluate_rows; throws NumericError (naming how many rows, the first of them and the
    // first layer whose outputs are not finite) when an output or the loss is NaN or Inf.
    EvalResult evaluate(const float* params, const Dataset& data, const std::vector<std::int64_t>& rows,
                        std::vector<std::int32_t>* predictions = nullptr,
                        std::vector<float>* outputs = nullptr, int outputs_layer = -1);

private:
    [[noreturn]] void throw_non_finite(const float* params, const Dataset& data, const std::vector<std::int64_t>& rows,
                                       const std::vector<float>& outputs);
    // Prepares the lanes' GEMMs for chunks of `rows` rows and, for bf16 inputs, rounds the
    // weights into params_bf16_; returns them (nullptr for fp32).
    const bf16_bits* prepare(const float* params, std::int64_t rows);

    // Rows per chunk. Fixed, because the chunk sums' order defines the loss to the last bit.
    static constexpr std::int64_t chunk_rows_ = 128;

    const Model& model_;
    WorkerPool workers_;
    std::unique_ptr<Communicator> comm_;
    std::vector<std::unique_ptr<Workspace>> workspaces_;  // evaluation workspaces, one per thread
    std::vector<Workspace*> lanes_;                       // the same, as evaluate_rows takes them
    Bf16Buffer params_bf16_;
};

}  // namespace mlptrain
