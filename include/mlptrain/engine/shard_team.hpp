// How a team of threads shares one shard's passes when a rank has more threads than
// shards (nn/backprop.hpp's team functions do the work). Shards define the result and never
// follow the thread count, so without teams a 16-core node with 2 shards a batch left 14
// cores idle. A team splits each big layer's forward GEMM Z = X·Wᵀ + b and data-gradient
// GEMM dX = dZ·W by blocks of the shard's rows, and each big weight gradient dW = dZᵀ·X by
// blocks of the layer's units (rows of dW); small layers, the loss and the output layer run
// whole on member 0. Every element is then the same dot product as in the one-thread
// passes, but whether the GEMM library gives a block the whole GEMM's bits depends on its
// kernels (OpenBLAS's AVX-512 kernels do, its Haswell kernels do not: see
// scripts/gemm_block_bits.sh), so a plan is verified on the run's own GEMM context, shapes
// and kernels before it is used, and a run whose splits would change a bit keeps one thread
// per shard. Either way the weights are those of any other thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/nn/backprop.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/nn/workspace.hpp"

namespace mlptrain {

// One piece of a stage: layer l's forward over the member's rows (or all rows, in a whole
// stage), the loss (whole), or layer l's step of the delta chain (dX = dZ_l·W_l and the delta
// of layer l − 1).
struct TeamOp {
    enum class Kind { forward, loss, backward };
    Kind kind = Kind::forward;
    int layer = 0;
};

// What the team's members run between two joins: with `whole`, member 0 runs the ops over
// all of the shard's rows and the others wait; else every member runs them over its rows.
// `weight_gradients`: every member computes its unit blocks (ShardTeamPlan::unit_blocks).
struct TeamStage {
    bool whole = false;
    bool weight_gradients = false;
    std::vector<TeamOp> ops;
};

// Units [begin, end) of layer `layer`'s weight and bias gradients.
struct UnitBlock {
    int layer = 0;
    std::int64_t begin = 0, end = 0;
};

struct ShardTeamPlan {
    std::int64_t rows = 0;  // the shard's rows
    int members = 1;        // 1: no team, forward_backward runs the shard
    std::vector<char> split_layers;                 // by layer: forward and dX in row blocks
    std::vector<TeamStage> stages;                  // in order, a join between each two
    std::vector<std::vector<UnitBlock>> unit_blocks;  // by member

    RowBlock member_rows(int m) const { return {rows, m * rows / members, (m + 1) * rows / members}; }
};

// The smallest GEMM a team splits (m·n·k of every block above it): below it a block would run
// OpenBLAS's small-matrix kernels, whose bits differ from the whole GEMM's, and the join
// would cost more than the split saves.
constexpr double team_split_min_block = 100.0 * 100.0 * 100.0;

// The plan for a shard of `rows` rows with at most `members` threads: the largest team
// (trying members, members/2, …) that splits at least one layer and whose every split gives
// the whole GEMM's bits on ws's GEMM context (random operands with zeros, each block against
// the whole, bit for bit, at the weight gradients' both betas); members = 1 when none does,
// with the reason in *why. Prepares the GEMM shapes it runs (oneDNN primitives; allocates):
// call it outside steps, with ws sized for `members` (Workspace::enable_team).
ShardTeamPlan plan_shard_team(Workspace& ws, const Model& model, std::int64_t rows, int members, std::string* why);

// Makes every member's GEMM context ready for the plan's shapes (oneDNN primitives).
void prepare_team_gemms(Workspace& ws, const Model& model, const ShardTeamPlan& plan);

// The rows member `member` works on in stage `stage` (begin == end: none).
RowBlock team_stage_rows(const ShardTeamPlan& plan, int stage, int member);

// Runs stage `stage` of the plan for member `member` of the shard in `ws`. The weight-
// gradient stage adds onto zeros where `init` says so (GradsInit::zero). A team's shard
// loss is returned by the stage that holds the loss (on member 0), else 0.
double run_team_stage(Workspace& ws, const Model& model, const ShardTeamPlan& plan, int stage, int member,
                      const float* params, const bf16_bits* params_bf16, float* grads, const DropoutContext* dropout,
                      GradsInit init);

}  // namespace mlptrain
