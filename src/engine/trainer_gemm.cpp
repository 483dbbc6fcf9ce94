// The trainer's GEMM shapes, prepared before any step, and its bf16 copy of the weights
// (see trainer.hpp).
#include <algorithm>
#include <chrono>

#include "mlptrain/engine/trainer.hpp"
#include "mlptrain/nn/backprop.hpp"

namespace mlptrain {

void Trainer::prepare_step(std::int64_t n) {
    MLPTRAIN_ASSERT(n >= 1 && n <= config_.batch_size, "prepare_step batch size");
    // Shard s always holds the rows of global shard first_shard_ + s (train_step).
    for (std::int64_t s = 0; s < local_shards_; ++s) {
        const std::int64_t g = first_shard_ + s;
        const std::int64_t rows = (g + 1) * n / shards_ - g * n / shards_;
        if (rows > 0) prepare_gemms(*workspaces_[static_cast<std::size_t>(s)], model_, rows, true);
    }
    if (team_members_ == 1) return;
    // Every local shard of a step has the same rows or the step runs without teams
    // (team_plan); one verified plan per row count, its shapes ready on every shard.
    const std::int64_t rows = (first_shard_ + 1) * n / shards_ - first_shard_ * n / shards_;
    for (const ShardTeamPlan& plan : team_plans_)
        if (plan.rows == rows) return;
    if (rows < 1) return;
    std::string why;
    const auto start = std::chrono::steady_clock::now();
    team_plans_.push_back(plan_shard_team(*workspaces_[0], model_, rows, team_members_, &why));
    team_check_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const ShardTeamPlan& plan = team_plans_.back();
    if (n == config_.batch_size) team_refusal_ = why;
    if (plan.members > 1)
        for (std::size_t s = 1; s < workspaces_.size(); ++s) prepare_team_gemms(*workspaces_[s], model_, plan);
}

void Trainer::prepare_evaluation(std::int64_t rows) {
    // evaluate() cuts the rows into chunks of shard_rows_ and the rest, over every lane.
    const std::int64_t sizes[] = {std::min(rows, shard_rows_), rows % shard_rows_};
    for (Workspace* ws : eval_lanes_)
        for (std::int64_t n : sizes)
            if (n > 0) prepare_gemms(*ws, model_, n, false);
}

int Trainer::gemm_primitives() const {
    int count = 0;
    for (const std::unique_ptr<Workspace>& ws : workspaces_)
        for (int m = 0; m < ws->team_members(); ++m) count += ws->member_context(m).primitives();
    for (const std::unique_ptr<Workspace>& ws : eval_workspaces_) count += ws->gemm.primitives();
    return count;
}

int Trainer::gemm_created_on_demand() const {
    int count = 0;
    for (const std::unique_ptr<Workspace>& ws : workspaces_)
        for (int m = 0; m < ws->team_members(); ++m) count += ws->member_context(m).created_on_demand();
    for (const std::unique_ptr<Workspace>& ws : eval_workspaces_) count += ws->gemm.created_on_demand();
    return count;
}

void Trainer::round_weights(std::int64_t begin, std::int64_t end) {
    if (params_bf16_.size() == 0) return;
    convert_to_bf16(params_bf16_.data() + begin, params_.data() + begin, end - begin);
}

void Trainer::round_weights() { round_weights(0, params_.size()); }

}  // namespace mlptrain
