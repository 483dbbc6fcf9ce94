// How a team of threads shares one shard's passes when a rank has more threads than
// shards (nn/backprop.hpp's team functions do the work). Shards define the result and never
// follow the thread count, so without teams a 16-core node with 2 shards a batch left 14
// cores idle. A team splits each big layer's forward GEMM Z = X·Wᵀ + b and data-gradient
// GEMM dX = dZ·W by blocks of the shard's rows or of the layer's units (LayerSplit), and
// each big weight gradient dW = dZᵀ·X by blocks of units (rows of dW); small layers, the loss
// and the output layer run whole on member 0. Every element is then the same dot product as
// in the one-thread passes, but whether the GEMM library gives a block the whole GEMM's bits depends on its
// kernels (OpenBLAS's AVX-512 kernels do, its Haswell kernels do not: see
// scripts/gemm_block_bits.sh), so a plan is verified on the run's own GEMM context, shapes
// and kernels before it is used, and a run whose splits would change a bit keeps one thread
// per shard. Either way the weights are those of any other thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mlptrain/data/dataset.hpp"
#include "mlptrain/nn/backprop.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/nn/workspace.hpp"

namespace mlptrain {

// How a team shares a layer's forward GEMM Z = X·Wᵀ + b and data-gradient GEMM dX = dZ·W:
// not at all (member 0 runs it over all rows), by blocks of the shard's rows, or by blocks of
// the layer's units (of Z's columns forward, of dX's columns backward) over all rows. Row
// blocks need no join between layers; unit blocks keep each GEMM's rows whole (OpenBLAS runs
// a 128-row block of units much faster than 16 rows of all of them) at a join per layer.
enum class LayerSplit : char { whole, rows, units };

// One piece of a stage: gathering the member's rows of the batch (and their bf16
// rounding), layer l's forward pass, the loss (whole), or layer l's step of the delta chain
// (dX = dZ_l·W_l and the delta of layer l − 1).
struct TeamOp {
    enum class Kind { gather, forward, loss, backward };
    Kind kind = Kind::forward;
    int layer = 0;
};

// What the team's members run between two joins, each over its block as `split` says, or,
// with `weight_gradients`, its unit blocks of the weight gradients (ShardTeamPlan::unit_blocks).
struct TeamStage {
    LayerSplit split = LayerSplit::rows;
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
    std::vector<LayerSplit> layer_split;              // by layer: its forward and dX GEMMs
    std::vector<TeamStage> stages;                    // in order, a join between each two
    std::vector<std::vector<UnitBlock>> unit_blocks;  // by member

    PassBlock member_rows(int m) const { return {rows, m * rows / members, (m + 1) * rows / members}; }
    PassBlock member_units(int m) const { return {rows, 0, rows, m, members}; }
    // Member m's block where the work is split as `split` (whole: all rows on member 0, no
    // rows on the others), of layer l's GEMMs (layer_block), or in stage `stage`.
    PassBlock split_block(LayerSplit split, int m) const;
    PassBlock layer_block(int l, int m) const { return split_block(layer_split[static_cast<std::size_t>(l)], m); }
    PassBlock stage_block(int stage, int m) const;
};

// The smallest GEMM a team splits (m·n·k of every block above it): below it a block would run
// OpenBLAS's small-matrix kernels, whose bits differ from the whole GEMM's, and the join
// would cost more than the split saves.
constexpr double team_split_min_block = 100.0 * 100.0 * 100.0;
// Row blocks at least this tall are split by rows; shorter ones by units where they can.
constexpr std::int64_t team_rows_by_rows = 64;

// Whether splitting layer `layer`'s forward and dX GEMMs as `split` (or, with
// `weight_gradient`, its weight gradient by units) gives the whole GEMMs' bits.
using SplitCheck = std::function<bool(int layer, LayerSplit split, bool weight_gradient)>;

// The stages and unit blocks for a team of `members` threads over a shard of `rows` rows:
// each layer split by rows when the members' row blocks are tall (team_rows_by_rows), else
// by units, else by rows, where the blocks are big enough and `exact` (if given) accepts the
// split, else whole; each weight gradient by units where big enough and accepted. members = 1
// when nothing would be split.
ShardTeamPlan make_team_plan(const Model& model, std::int64_t rows, int members, const SplitCheck& exact = {});

// The plan for a shard of `rows` rows with at most `members` threads: the largest team
// (trying members, members/2, …) that splits something, every split verified on ws's GEMM
// context (random operands with zeros, the blocks against the whole GEMM, bit for bit; the
// weight gradients at both betas); members = 1 when nothing can be split, with the reason
// in *why. Prepares the GEMM shapes it runs (oneDNN primitives; allocates): call it outside
// steps, with ws sized for `members` (Workspace::enable_team).
ShardTeamPlan plan_shard_team(Workspace& ws, const Model& model, std::int64_t rows, int members, std::string* why);

// Makes every member's GEMM context ready for the plan's shapes (oneDNN primitives).
void prepare_team_gemms(Workspace& ws, const Model& model, const ShardTeamPlan& plan);

// Runs stage `stage` of the plan for member `member` of the shard in `ws`, whose rows of the
// dataset are shard_rows[0, plan.rows). The weight-gradient stage adds onto zeros where
// `init` says so (GradsInit::zero). Returns the shard's loss from the stage that computes it
// (member 0), else 0.
double run_team_stage(Workspace& ws, const Model& model, const ShardTeamPlan& plan, int stage, int member,
                      const Dataset& data, const std::int64_t* shard_rows, const float* params,
                      const bf16_bits* params_bf16, float* grads, const DropoutContext* dropout, GradsInit init);

}  // namespace mlptrain
