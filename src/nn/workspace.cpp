// Sizing of the per-shard workspace and the gather of a batch into it (see workspace.hpp).
#include "mlptrain/nn/workspace.hpp"

namespace mlptrain {

Workspace::Workspace(const Model& model, std::int64_t max_rows_, std::int64_t targets_cols_, GemmSettings gemm_,
                     WorkspaceUse use_)
    : max_rows(max_rows_),
      use(use_),
      input(max_rows_ * model.dim_input()),
      labels(static_cast<std::size_t>(max_rows_), 0),
      targets(max_rows_ * targets_cols_),
      targets_cols(targets_cols_),
      gemm(gemm_) {
    MLPTRAIN_ASSERT(max_rows_ >= 1, "workspace needs at least one row");
    const bool training = use == WorkspaceUse::training;
    const bool dropout = training && model.spec().dropout > 0.0f;
    if (training) {
        delta_a = AlignedBuffer(max_rows_ * model.max_width());
        delta_b = AlignedBuffer(max_rows_ * model.max_width());
        grads = AlignedBuffer(model.layout().total());
    }
    if (gemm.bf16()) {
        input_h = Bf16Buffer(max_rows_ * model.dim_input());
        if (training) delta_h = Bf16Buffer(max_rows_ * model.max_width());
        for (int l = 0; l + 1 < model.num_layers(); ++l) act_h.emplace_back(max_rows_ * model.dim_out(l));
    }
    for (int l = 0; l < model.num_layers(); ++l) {
        pre.emplace_back(max_rows_ * model.dim_out(l));
        post.emplace_back(max_rows_ * model.dim_out(l));
        const bool hidden = l + 1 < model.num_layers();
        mask.emplace_back(dropout && hidden ? max_rows_ * model.dim_out(l) : 0);
        dropped.emplace_back(dropout && hidden ? max_rows_ * model.dim_out(l) : 0);
    }
}

void Workspace::enable_team(const Model& model, int members) {
    MLPTRAIN_ASSERT(members >= 1, "a team has a member");
    MLPTRAIN_ASSERT(use == WorkspaceUse::training, "a team shares a training workspace");
    team_delta.clear();
    team_delta_h.clear();
    member_gemm.clear();
    if (members == 1) return;
    for (int l = 0; l < model.num_layers(); ++l) {
        team_delta.emplace_back(max_rows * model.dim_out(l));
        if (gemm.bf16()) team_delta_h.emplace_back(max_rows * model.dim_out(l));
    }
    for (int m = 1; m < members; ++m) member_gemm.emplace_back(gemm.settings());
}

std::int64_t Workspace::bytes() const {
    std::int64_t floats = input.size() + delta_a.size() + delta_b.size() + targets.size() + grads.size();
    std::int64_t halves = input_h.size() + delta_h.size();
    for (const auto* list : {&pre, &post, &mask, &dropped, &team_delta})
        for (const AlignedBuffer& b : *list) floats += b.size();
    for (const auto* list : {&act_h, &team_delta_h})
        for (const Bf16Buffer& b : *list) halves += b.size();
    return 4 * floats + 2 * halves + 4 * static_cast<std::int64_t>(labels.size());
}

void gather_batch(Workspace& ws, const Dataset& data, const std::int64_t* rows, std::int64_t n, std::int64_t first) {
    MLPTRAIN_ASSERT(n >= 0 && first >= 0 && first + n <= ws.max_rows, "batch larger than the workspace");
    gather_features(row_block(ws.input.as_matrix(ws.max_rows, data.features), first, first + n), data, rows, n);
    if (data.is_classification()) gather_labels(ws.labels.data() + first, data, rows, n);
    else gather_targets(row_block(ws.targets.as_matrix(ws.max_rows, ws.targets_cols), first, first + n), data, rows, n);
}

}  // namespace mlptrain
