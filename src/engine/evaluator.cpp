// Chunked, lane-parallel evaluation (see evaluator.hpp).
#include "mlptrain/engine/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "mlptrain/core/error.hpp"
#include "mlptrain/nn/backprop.hpp"
#include "mlptrain/nn/loss.hpp"

namespace mlptrain {

EvalResult evaluate_rows(const Model& model, const float* params, const Dataset& data,
                         const std::vector<std::int64_t>& rows, std::int64_t chunk_rows,
                         const std::vector<Workspace*>& lanes, WorkerPool& workers,
                         Communicator& comm, std::vector<std::int32_t>* predictions,
                         std::vector<float>* outputs, int outputs_layer, const bf16_bits* params_bf16) {
    EvalResult result;
    result.rows = static_cast<std::int64_t>(rows.size());
    if (rows.empty()) return result;
    const std::int64_t chunks = (result.rows + chunk_rows - 1) / chunk_rows;
    // Per-chunk sums in doubles (correct counts too: exact below 2^53), so that ranks can
    // add their chunks into zeros exactly.
    std::vector<double> loss(static_cast<std::size_t>(chunks), 0.0);
    std::vector<double> correct(static_cast<std::size_t>(chunks), 0.0);
    const std::int64_t out = model.dim_output();
    MLPTRAIN_ASSERT(outputs_layer >= -1 && outputs_layer < model.num_layers(), "evaluation outputs layer");
    // The layer `outputs` receives: forward_loss leaves every layer's activations in ws.post.
    const int copied = outputs_layer < 0 ? model.num_layers() - 1 : outputs_layer;
    const std::int64_t width = model.dim_out(copied);
    if (predictions) predictions->assign(rows.size(), 0);
    if (outputs) outputs->assign(rows.size() * static_cast<std::size_t>(width), 0.0f);
    // Ranks split the chunks (c mod ranks) unless every row's output is wanted here. Lane s
    // of a rank evaluates its chunks s, s+lanes, … with workspace s.
    const bool split_ranks = comm.size() > 1 && !predictions && !outputs;
    const std::int64_t stride = split_ranks ? comm.size() : 1;
    const std::int64_t first = split_ranks ? comm.rank() : 0;
    const auto lane_count = static_cast<std::int64_t>(lanes.size());
    workers.run(lane_count, [&](std::int64_t s) {
        Workspace& ws = *lanes[static_cast<std::size_t>(s)];
        MLPTRAIN_ASSERT(ws.max_rows >= chunk_rows, "evaluation chunk larger than the workspace");
        for (std::int64_t c = first + s * stride; c < chunks; c += lane_count * stride) {
            const std::int64_t lo = c * chunk_rows, n = std::min(chunk_rows, result.rows - lo);
            gather_batch(ws, data, rows.data() + lo, n);
            loss[static_cast<std::size_t>(c)] = forward_loss(ws, model, params, n, params_bf16);
            const ConstMatrix P = ws.post.back().as_matrix(n, out);
            const ConstMatrix A = ws.post[static_cast<std::size_t>(copied)].as_matrix(n, width);
            for (std::int64_t r = 0; r < n; ++r) {
                if (data.is_classification()) {
                    const std::int32_t p = predicted_class(P, r, model.spec().loss);
                    correct[static_cast<std::size_t>(c)] += p == ws.labels[static_cast<std::size_t>(r)];
                    if (predictions) (*predictions)[static_cast<std::size_t>(lo + r)] = p;
                }
                if (outputs) std::memcpy(outputs->data() + (lo + r) * width, A.row(r), sizeof(float) * width);
            }
        }
    });
    if (split_ranks) {
        comm.allreduce_sum(loss.data(), chunks);
        comm.allreduce_sum(correct.data(), chunks);
    }
    double loss_sum = 0.0, correct_sum = 0.0;
    for (std::int64_t c = 0; c < chunks; ++c) {
        loss_sum += loss[static_cast<std::size_t>(c)];
        correct_sum += correct[static_cast<std::size_t>(c)];
    }
    result.loss = loss_sum / static_cast<double>(result.rows);
    result.accuracy = correct_sum / static_cast<double>(result.rows);
    return result;
}

int evaluation_lanes(int threads, std::int64_t shards, std::int64_t training_bytes, std::int64_t evaluation_bytes) {
    if (threads <= shards) return static_cast<int>(shards);
    const std::int64_t budget = std::max(training_bytes, extra_evaluation_budget);
    const std::int64_t affordable = budget / std::max<std::int64_t>(evaluation_bytes, 1);
    return static_cast<int>(shards + std::min<std::int64_t>(threads - shards, std::max<std::int64_t>(affordable, 1)));
}

Evaluator::Evaluator(const Model& model, int threads, std::int64_t targets_cols, GemmSettings gemm)
    : model_(model), workers_(worker_threads(threads)), comm_(make_local_communicator()) {
    for (int s = 0; s < workers_.threads(); ++s) {
        workspaces_.push_back(
            std::make_unique<Workspace>(model, chunk_rows_, targets_cols, gemm, WorkspaceUse::evaluation));
        lanes_.push_back(workspaces_.back().get());
    }
    if (gemm.precision == GemmPrecision::bf16) params_bf16_ = Bf16Buffer(model.layout().total());
}

const bf16_bits* Evaluator::prepare(const float* params, std::int64_t rows) {
    const std::int64_t sizes[] = {std::min(rows, chunk_rows_), rows % chunk_rows_};
    for (Workspace* ws : lanes_)
        for (std::int64_t n : sizes)
            if (n > 0) prepare_gemms(*ws, model_, n, false);
    if (params_bf16_.size() == 0) return nullptr;
    convert_to_bf16(params_bf16_.data(), params, params_bf16_.size());
    return params_bf16_.data();
}

Evaluator::~Evaluator() = default;

EvalResult Evaluator::evaluate(const float* params, const Dataset& data, const std::vector<std::int64_t>& rows,
                               std::vector<std::int32_t>* predictions, std::vector<float>* outputs,
                               int outputs_layer) {
    std::vector<float> own_outputs;  // every row's outputs are checked, wanted or not
    std::vector<float>& out = outputs ? *outputs : own_outputs;
    const bf16_bits* params_bf16 = prepare(params, static_cast<std::int64_t>(rows.size()));
    const EvalResult result = evaluate_rows(model_, params, data, rows, chunk_rows_, lanes_, workers_, *comm_,
                                            predictions, &out, outputs_layer, params_bf16);
    if (std::isfinite(result.loss) && all_finite(out.data(), static_cast<std::int64_t>(out.size()))) return result;
    if (outputs_layer < 0) throw_non_finite(params, data, rows, out);
    // A hidden layer was wanted: find the first bad row through the network's outputs.
    std::vector<float> network_outputs;
    evaluate_rows(model_, params, data, rows, chunk_rows_, lanes_, workers_, *comm_, nullptr, &network_outputs, -1,
                  params_bf16);
    throw_non_finite(params, data, rows, network_outputs);
}

void Evaluator::throw_non_finite(const float* params, const Dataset& data, const std::vector<std::int64_t>& rows,
                                 const std::vector<float>& outputs) {
    const std::int64_t width = model_.dim_output();
    std::int64_t bad = 0, first = -1;
    for (std::size_t r = 0; r < rows.size(); ++r)
        if (!all_finite(outputs.data() + static_cast<std::int64_t>(r) * width, width)) {
            if (first < 0) first = static_cast<std::int64_t>(r);
            ++bad;
        }
    if (first < 0)
        throw NumericError("the loss over " + std::to_string(rows.size()) +
                           " rows is not finite though every output is (outputs too large for the loss; hint: "
                           "check the data for extreme values)");
    // The first bad row once more, alone, to see which layer lost it.
    Workspace& ws = *lanes_[0];
    const bf16_bits* params_bf16 = prepare(params, 1);
    gather_batch(ws, data, &rows[static_cast<std::size_t>(first)], 1);
    forward_loss(ws, model_, params, 1, params_bf16);
    const int layer = first_non_finite_layer(ws, model_, 1);
    throw NumericError("the model's outputs are not finite (NaN or Inf) for " + std::to_string(bad) + " of " +
                       std::to_string(rows.size()) + " rows, first row " +
                       std::to_string(rows[static_cast<std::size_t>(first)] + 1) + ", first non-finite in " +
                       (layer >= 0 ? describe_layer_outputs(model_, params, layer) : std::string("the output activation")) +
                       " (hint: the weights are too large for this data; check the data for extreme values, or use "
                       "an earlier checkpoint)");
}

}  // namespace mlptrain
