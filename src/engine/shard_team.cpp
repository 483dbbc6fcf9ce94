// Planning and verifying a team's split of a shard's passes (see shard_team.hpp).
#include "mlptrain/engine/shard_team.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "mlptrain/core/arena.hpp"
#include "mlptrain/core/error.hpp"

namespace mlptrain {

static double flops(std::int64_t m, std::int64_t n, std::int64_t k) {
    return static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
}

// Stages: the ops in pass order, a join wherever the split changes (member 0 alone needs
// every member's rows, a row block every unit of its rows) and around every op split by
// units (it reads every row of its input).
static std::vector<TeamStage> team_stages(const std::vector<LayerSplit>& layer_split) {
    std::vector<TeamStage> stages;
    auto add = [&](TeamOp op, LayerSplit split) {
        if (stages.empty() || stages.back().split != split || split == LayerSplit::units)
            stages.push_back({split, false, {}});
        stages.back().ops.push_back(op);
    };
    const int L = static_cast<int>(layer_split.size());
    add({TeamOp::Kind::gather, 0}, LayerSplit::rows);
    for (int l = 0; l < L; ++l) add({TeamOp::Kind::forward, l}, layer_split[static_cast<std::size_t>(l)]);
    add({TeamOp::Kind::loss, L - 1}, LayerSplit::whole);
    for (int l = L - 1; l >= 1; --l) add({TeamOp::Kind::backward, l}, layer_split[static_cast<std::size_t>(l)]);
    stages.push_back({LayerSplit::units, true, {}});
    return stages;
}

// Unit blocks of the weight gradients, by member: a layer marked in `split_units` to every
// member in equal blocks; the others whole, biggest first, to the member with the least
// work so far (member 0 starts with the layers it runs alone).
static std::vector<std::vector<UnitBlock>> team_unit_blocks(const Model& model, const ShardTeamPlan& plan,
                                                            const std::vector<char>& split_units) {
    const int members = plan.members;
    std::vector<std::vector<UnitBlock>> blocks(static_cast<std::size_t>(members));
    std::vector<double> load(static_cast<std::size_t>(members), 0.0);
    std::vector<int> whole_layers;
    for (int l = 0; l < model.num_layers(); ++l) {
        const std::int64_t out = model.dim_out(l), in = model.dim_in(l);
        if (plan.layer_split[static_cast<std::size_t>(l)] == LayerSplit::whole)
            load[0] += flops(plan.rows, out, in) * (l > 0 ? 2.0 : 1.0);
        if (!split_units[static_cast<std::size_t>(l)]) {
            whole_layers.push_back(l);
            continue;
        }
        for (int m = 0; m < members; ++m) {
            const UnitBlock b{l, m * out / members, (m + 1) * out / members};
            blocks[static_cast<std::size_t>(m)].push_back(b);
            load[static_cast<std::size_t>(m)] += flops(b.end - b.begin, in, plan.rows);
        }
    }
    std::stable_sort(whole_layers.begin(), whole_layers.end(), [&](int a, int b) {
        return model.dim_out(a) * model.dim_in(a) > model.dim_out(b) * model.dim_in(b);
    });
    for (int l : whole_layers) {
        std::size_t least = static_cast<std::size_t>(members - 1);  // ties: away from member 0
        for (std::size_t m = least; m-- > 0;)
            if (load[m] < load[least]) least = m;
        blocks[least].push_back({l, 0, model.dim_out(l)});
        load[least] += flops(model.dim_out(l), model.dim_in(l), plan.rows);
    }
    return blocks;
}

ShardTeamPlan make_team_plan(const Model& model, std::int64_t rows, int members, const SplitCheck& exact) {
    ShardTeamPlan plan;
    plan.rows = rows;
    plan.members = members;
    const std::int64_t block_rows = rows / members;  // the smallest member's rows
    auto accepted = [&](int l, LayerSplit split, bool weight_gradient) {
        return !exact || exact(l, split, weight_gradient);
    };
    bool any_split = false;
    std::vector<char> split_units;  // by layer: the weight gradient by units
    for (int l = 0; l < model.num_layers(); ++l) {
        const std::int64_t in = model.dim_in(l), out = model.dim_out(l);
        // forward (rows, out)·(out, in)ᵀ and dX (rows, out)·(out, in): blocks of rows, of Z's
        // units, of dX's units (none for layer 0, which has no dX)
        const bool rows_ok = block_rows >= 1 && flops(block_rows, out, in) > team_split_min_block;
        const bool units_ok = out >= members && flops(rows, out / members, in) > team_split_min_block &&
                              (l == 0 || (in >= members && flops(rows, out, in / members) > team_split_min_block));
        LayerSplit split = LayerSplit::whole;
        const LayerSplit order[2] = {block_rows >= team_rows_by_rows ? LayerSplit::rows : LayerSplit::units,
                                     block_rows >= team_rows_by_rows ? LayerSplit::units : LayerSplit::rows};
        for (LayerSplit s : order)
            if ((s == LayerSplit::rows ? rows_ok : units_ok) && accepted(l, s, false)) {
                split = s;
                break;
            }
        plan.layer_split.push_back(split);
        const bool dw = out >= members && flops(out / members, in, rows) > team_split_min_block &&
                        accepted(l, LayerSplit::units, true);
        split_units.push_back(dw ? 1 : 0);
        any_split = any_split || split != LayerSplit::whole || dw;
    }
    if (!any_split) {
        plan.members = 1;
        return plan;
    }
    plan.stages = team_stages(plan.layer_split);
    plan.unit_blocks = team_unit_blocks(model, plan, split_units);
    return plan;
}

PassBlock ShardTeamPlan::split_block(LayerSplit split, int m) const {
    switch (split) {
        case LayerSplit::whole: return m == 0 ? PassBlock{rows, 0, rows} : PassBlock{rows, 0, 0};
        case LayerSplit::rows: return member_rows(m);
        case LayerSplit::units: return member_units(m);
    }
    return {rows, 0, 0};
}

PassBlock ShardTeamPlan::stage_block(int stage, int m) const {
    return split_block(stages[static_cast<std::size_t>(stage)].split, m);
}

// The next test value in [−1, 1) from a splitmix64 sequence: cheap (a check of a big network
// draws millions), and any values with mixed signs and magnitudes show a different order of
// additions.
static float next_value(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<float>(z >> 40) * 0x1p-23f - 1.0f;
}

// A random GEMM operand for the verification: values in [−1, 1) with about a quarter exact
// zeros (as ReLU deltas have), and in a bf16 context its rounding.
struct TestOperand {
    AlignedBuffer f32;
    Bf16Buffer h;
    LayerOperand view;

    TestOperand(std::int64_t rows, std::int64_t cols, bool bf16, std::uint64_t& state) : f32(rows * cols) {
        for (std::int64_t i = 0; i < rows * cols; ++i) {
            const float v = next_value(state);
            f32.data()[i] = v < -0.5f ? 0.0f : v;
        }
        view.f32 = f32.as_matrix(rows, cols);
        if (bf16) {
            h = Bf16Buffer(rows * cols);
            convert_to_bf16(h.as_matrix(rows, cols), view.f32);
            view.bf16 = h.as_matrix(rows, cols);
        }
    }
};

// C = op(A)·op(B) + beta·C, or with `bias` C = op(A)·op(B) + 1·biasᵀ, on the context's
// precision, its shape prepared first (outside steps: may create a oneDNN primitive).
static void prepared_gemm(GemmContext& g, Transpose ta, Transpose tb, const LayerOperand& A, const LayerOperand& B,
                          float beta, const float* bias, Matrix C) {
    const GemmPrecision p = g.settings().precision;
    if (bias) {
        g.prepare(gemm_bias_shape(ta, tb, A.f32, B.f32, C, p));
        if (g.bf16()) g.gemm_bias(ta, tb, A.bf16, B.bf16, bias, C);
        else g.gemm_bias(ta, tb, A.f32, B.f32, bias, C);
        return;
    }
    g.prepare(gemm_shape(ta, tb, 1.0f, A.f32, B.f32, beta, C, p));
    if (g.bf16()) g.gemm(ta, tb, 1.0f, A.bf16, B.bf16, beta, C);
    else g.gemm(ta, tb, 1.0f, A.f32, B.f32, beta, C);
}

static bool same_bits(const AlignedBuffer& a, const AlignedBuffer& b) {
    return std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
}

// Random operands of one layer for the verification (made on first use).
struct LayerOperands {
    TestOperand X, W, dZ, b;
    LayerOperands(const Model& model, int l, std::int64_t n, bool bf16, std::uint64_t& state)
        : X(n, model.dim_in(l), bf16, state),
          W(model.dim_out(l), model.dim_in(l), bf16, state),
          dZ(n, model.dim_out(l), bf16, state),
          b(1, model.dim_out(l), false, state) {}
};

// Whether splitting layer l as `split` among `members` (its forward and dX GEMMs, or with
// `weight_gradient` its dW by units) gives the whole GEMMs' bits on g.
static bool split_is_exact(GemmContext& g, const Model& model, int l, std::int64_t n, int members, LayerSplit split,
                           bool weight_gradient, const LayerOperands& op) {
    const std::int64_t in = model.dim_in(l), out = model.dim_out(l);
    auto block = [&](int m) {
        return split == LayerSplit::rows ? PassBlock{n, m * n / members, (m + 1) * n / members}
                                         : PassBlock{n, 0, n, m, members};
    };
    if (weight_gradient) {
        // dW = dZᵀ·X, whole and by unit blocks, onto zeros (beta = 1 where the step adds onto
        // them) and overwriting what was there (beta = 0)
        for (GradsInit init : {GradsInit::zero, GradsInit::any}) {
            AlignedBuffer whole(out * in), blocks(out * in);
            if (init == GradsInit::any)
                for (std::int64_t i = 0; i < out * in; ++i) whole.data()[i] = blocks.data()[i] = 0.5f;
            prepared_gemm(g, Transpose::yes, Transpose::no, op.dZ.view, op.X.view,
                          weight_gradient_beta(g.settings(), init, n, out, in), nullptr, whole.as_matrix(out, in));
            for (int m = 0; m < members; ++m) {
                const std::int64_t u0 = m * out / members, u1 = (m + 1) * out / members;
                prepared_gemm(g, Transpose::yes, Transpose::no, operand_columns(op.dZ.view, u0, u1), op.X.view,
                              weight_gradient_beta(g.settings(), init, n, u1 - u0, in), nullptr,
                              row_block(blocks.as_matrix(out, in), u0, u1));
            }
            if (!same_bits(whole, blocks)) return false;
        }
        return true;
    }
    // Z = X·Wᵀ + b: a block's rows of X and units of W (W's rows) give its block of Z
    AlignedBuffer whole(n * out), blocks(n * out);
    prepared_gemm(g, Transpose::no, Transpose::yes, op.X.view, op.W.view, 0.0f, op.b.f32.data(), whole.as_matrix(n, out));
    for (int m = 0; m < members; ++m) {
        const PassBlock b = block(m);
        const std::int64_t u0 = b.unit_begin(out), u1 = b.unit_end(out);
        prepared_gemm(g, Transpose::no, Transpose::yes, operand_rows(op.X.view, b.row_begin, b.row_end),
                      operand_rows(op.W.view, u0, u1), 0.0f, op.b.f32.data() + u0, block_of(blocks.as_matrix(n, out), b));
    }
    if (!same_bits(whole, blocks)) return false;
    if (l == 0) return true;
    // dX = dZ·W: a block's rows of dZ and input units (W's columns) give its block of dX
    AlignedBuffer whole_dx(n * in), blocks_dx(n * in);
    prepared_gemm(g, Transpose::no, Transpose::no, op.dZ.view, op.W.view, 0.0f, nullptr, whole_dx.as_matrix(n, in));
    for (int m = 0; m < members; ++m) {
        const PassBlock b = block(m);
        prepared_gemm(g, Transpose::no, Transpose::no, operand_rows(op.dZ.view, b.row_begin, b.row_end),
                      operand_columns(op.W.view, b.unit_begin(in), b.unit_end(in)), 0.0f, nullptr,
                      block_of(blocks_dx.as_matrix(n, in), b));
    }
    return same_bits(whole_dx, blocks_dx);
}

ShardTeamPlan plan_shard_team(Workspace& ws, const Model& model, std::int64_t rows, int members, std::string* why) {
    MLPTRAIN_ASSERT(members >= 1 && members <= ws.team_members() && rows <= ws.max_rows, "plan_shard_team team");
    std::string reason = "no layer is big enough to split between threads at " + std::to_string(rows) +
                         " rows a shard";
    std::uint64_t state = 20261204;
    std::vector<std::unique_ptr<LayerOperands>> operands(static_cast<std::size_t>(model.num_layers()));
    for (int m = members; m >= 2; m /= 2) {
        std::string refused;
        const SplitCheck exact = [&](int l, LayerSplit split, bool weight_gradient) {
            std::unique_ptr<LayerOperands>& op = operands[static_cast<std::size_t>(l)];
            if (!op) op = std::make_unique<LayerOperands>(model, l, rows, ws.gemm.bf16(), state);
            if (split_is_exact(ws.gemm, model, l, rows, m, split, weight_gradient, *op)) return true;
            if (refused.empty())
                refused = "layers." + std::to_string(l) + "'s " +
                          (weight_gradient ? "weight-gradient GEMM by units"
                                           : std::string("forward and data-gradient GEMMs by ") +
                                                 (split == LayerSplit::rows ? "rows" : "units")) +
                          " in blocks give other bits than the whole GEMMs with these kernels";
            return false;
        };
        ShardTeamPlan plan = make_team_plan(model, rows, m, exact);
        if (plan.members > 1) {
            prepare_team_gemms(ws, model, plan);
            return plan;
        }
        if (!refused.empty()) reason = refused;
    }
    if (why) *why = reason;
    ShardTeamPlan none;
    none.rows = rows;
    none.layer_split.assign(static_cast<std::size_t>(model.num_layers()), LayerSplit::whole);
    return none;
}

void prepare_team_gemms(Workspace& ws, const Model& model, const ShardTeamPlan& plan) {
    const GemmPrecision p = ws.gemm.settings().precision;
    const std::int64_t n = plan.rows;
    for (int m = 0; m < plan.members; ++m) {
        GemmContext& g = ws.member_context(m);
        for (int l = 0; l < model.num_layers(); ++l) {
            const PassBlock b = plan.layer_block(l, m);
            if (b.row_begin == b.row_end) continue;
            const std::int64_t r = b.row_end - b.row_begin, in = model.dim_in(l), out = model.dim_out(l);
            const std::int64_t units = b.unit_end(out) - b.unit_begin(out), ins = b.unit_end(in) - b.unit_begin(in);
            // Z (r, units) = X (r, in)·W (units, in)ᵀ + b; dX (r, ins) = dZ (r, out)·W (out, ins)
            g.prepare(gemm_bias_shape(Transpose::no, Transpose::yes, ConstMatrix{nullptr, r, in, in},
                                      ConstMatrix{nullptr, units, in, in}, Matrix{nullptr, r, units, out}, p));
            if (l > 0)
                g.prepare(gemm_shape(Transpose::no, Transpose::no, 1.0f, ConstMatrix{nullptr, r, out, out},
                                     ConstMatrix{nullptr, out, ins, in}, 0.0f, Matrix{nullptr, r, ins, in}, p));
        }
        for (const UnitBlock& u : plan.unit_blocks[static_cast<std::size_t>(m)]) {
            const std::int64_t in = model.dim_in(u.layer), out = model.dim_out(u.layer), units = u.end - u.begin;
            const float beta = weight_gradient_beta(g.settings(), GradsInit::zero, n, units, in);
            g.prepare(gemm_shape(Transpose::yes, Transpose::no, 1.0f, ConstMatrix{nullptr, n, units, out},
                                 ConstMatrix{nullptr, n, in, in}, beta, Matrix{nullptr, units, in, in}, p));
        }
    }
}

double run_team_stage(Workspace& ws, const Model& model, const ShardTeamPlan& plan, int stage, int member,
                      const Dataset& data, const std::int64_t* shard_rows, const float* params,
                      const bf16_bits* params_bf16, float* grads, const DropoutContext* dropout, GradsInit init) {
    const TeamStage& st = plan.stages[static_cast<std::size_t>(stage)];
    GemmContext& gemm = ws.member_context(member);
    if (st.weight_gradients) {
        for (const UnitBlock& u : plan.unit_blocks[static_cast<std::size_t>(member)])
            team_weight_gradient(ws, gemm, model, grads, plan.rows, u.layer, u.begin, u.end, dropout, init);
        return 0.0;
    }
    const PassBlock b = plan.stage_block(stage, member);
    if (b.row_begin == b.row_end) return 0.0;
    double loss = 0.0;
    for (const TeamOp& op : st.ops) {
        switch (op.kind) {
            case TeamOp::Kind::gather:
                gather_batch(ws, data, shard_rows + b.row_begin, b.row_end - b.row_begin, b.row_begin);
                team_round_input(ws, model, b);
                break;
            case TeamOp::Kind::forward: team_forward(ws, gemm, model, params, params_bf16, b, op.layer, dropout); break;
            case TeamOp::Kind::loss: loss = team_loss(ws, model, plan.rows); break;
            case TeamOp::Kind::backward:
                team_backward(ws, gemm, model, params, params_bf16, b, op.layer, dropout);
                break;
        }
    }
    return loss;
}

}  // namespace mlptrain
