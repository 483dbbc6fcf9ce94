// Planning and verifying a team's split of a shard's passes (see shard_team.hpp).
#include "mlptrain/engine/shard_team.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "mlptrain/core/arena.hpp"
#include "mlptrain/core/error.hpp"

namespace mlptrain {

static double flops(std::int64_t m, std::int64_t n, std::int64_t k) {
    return static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
}

// The stages and unit blocks for `members` threads, or members = 1 when no layer's row
// blocks would be big enough to split.
static ShardTeamPlan make_plan(const Model& model, std::int64_t rows, int members) {
    ShardTeamPlan plan;
    plan.rows = rows;
    const int L = model.num_layers();
    const std::int64_t block_rows = rows / members;  // the smallest member's rows
    bool any_split = false;
    for (int l = 0; l < L; ++l) {
        // forward (block_rows, out)·(out, in) and dX (block_rows, in)·… : the same m·n·k
        const bool split = block_rows >= 1 && flops(block_rows, model.dim_out(l), model.dim_in(l)) > team_split_min_block;
        plan.split_layers.push_back(split ? 1 : 0);
        any_split = any_split || split;
    }
    if (!any_split) return plan;
    plan.members = members;

    // Stages: the ops in pass order, a join wherever they switch between row blocks and
    // member 0 alone (which needs every member's rows, or gives them what it wrote).
    auto add = [&](TeamOp op, bool whole) {
        if (plan.stages.empty() || plan.stages.back().whole != whole) plan.stages.push_back({whole, false, {}});
        plan.stages.back().ops.push_back(op);
    };
    for (int l = 0; l < L; ++l) add({TeamOp::Kind::forward, l}, !plan.split_layers[static_cast<std::size_t>(l)]);
    add({TeamOp::Kind::loss, L - 1}, true);
    for (int l = L - 1; l >= 1; --l) add({TeamOp::Kind::backward, l}, !plan.split_layers[static_cast<std::size_t>(l)]);
    plan.stages.push_back({false, true, {}});

    // Unit blocks: a layer whose blocks are big enough goes to every member in equal
    // blocks; the others whole, biggest first, to the member with the least work so far
    // (member 0 starts with the layers it runs alone).
    plan.unit_blocks.assign(static_cast<std::size_t>(members), {});
    std::vector<double> load(static_cast<std::size_t>(members), 0.0);
    std::vector<int> whole_layers;
    for (int l = 0; l < L; ++l) {
        const std::int64_t out = model.dim_out(l), in = model.dim_in(l);
        if (!plan.split_layers[static_cast<std::size_t>(l)]) load[0] += flops(rows, out, in) * (l > 0 ? 2.0 : 1.0);
        if (out >= members && flops(out / members, in, rows) > team_split_min_block) {
            for (int m = 0; m < members; ++m) {
                const UnitBlock b{l, m * out / members, (m + 1) * out / members};
                plan.unit_blocks[static_cast<std::size_t>(m)].push_back(b);
                load[static_cast<std::size_t>(m)] += flops(b.end - b.begin, in, rows);
            }
        } else {
            whole_layers.push_back(l);
        }
    }
    std::stable_sort(whole_layers.begin(), whole_layers.end(), [&](int a, int b) {
        return model.dim_out(a) * model.dim_in(a) > model.dim_out(b) * model.dim_in(b);
    });
    for (int l : whole_layers) {
        std::size_t least = static_cast<std::size_t>(members - 1);  // ties: away from member 0
        for (std::size_t m = least; m-- > 0;)
            if (load[m] < load[least]) least = m;
        plan.unit_blocks[least].push_back({l, 0, model.dim_out(l)});
        load[least] += flops(model.dim_out(l), model.dim_in(l), rows);
    }
    return plan;
}

// A random GEMM operand for the verification: values in [−1, 1) with about a quarter exact
// zeros (as ReLU deltas have), and in a bf16 context its rounding.
struct TestOperand {
    AlignedBuffer f32;
    Bf16Buffer h;
    LayerOperand view;

    TestOperand(std::int64_t rows, std::int64_t cols, bool bf16, std::mt19937& rng) : f32(rows * cols) {
        std::uniform_real_distribution<float> value(-1.0f, 1.0f);
        for (std::int64_t i = 0; i < rows * cols; ++i) {
            const float v = value(rng);
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

static LayerOperand rows_of(const LayerOperand& x, std::int64_t begin, std::int64_t end) {
    LayerOperand b{row_block(x.f32, begin, end), {}};
    if (x.bf16.data) b.bf16 = row_block(x.bf16, begin, end);
    return b;
}

static LayerOperand columns_of(const LayerOperand& x, std::int64_t begin, std::int64_t end) {
    LayerOperand b{column_block(x.f32, begin, end), {}};
    if (x.bf16.data) b.bf16 = column_block(x.bf16, begin, end);
    return b;
}

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

// Whether every split of the plan gives the whole GEMM's bits on ws.gemm; else why not.
static bool verify_plan(Workspace& ws, const Model& model, const ShardTeamPlan& plan, std::string* why) {
    GemmContext& g = ws.gemm;
    const bool bf16 = g.bf16();
    const std::int64_t n = plan.rows;
    std::mt19937 rng(20261204);
    auto fail = [&](const std::string& what) {
        if (why) *why = what + " in blocks gives other bits than the whole GEMM with these kernels";
        return false;
    };
    for (int l = 0; l < model.num_layers(); ++l) {
        const std::int64_t in = model.dim_in(l), out = model.dim_out(l);
        const std::string layer = "layers." + std::to_string(l);
        TestOperand X(n, in, bf16, rng), W(out, in, bf16, rng), dZ(n, out, bf16, rng), b(1, out, false, rng);
        if (plan.split_layers[static_cast<std::size_t>(l)]) {
            // Z = X·Wᵀ + b, whole and by the members' row blocks
            AlignedBuffer whole(n * out), blocks(n * out);
            prepared_gemm(g, Transpose::no, Transpose::yes, X.view, W.view, 0.0f, b.f32.data(), whole.as_matrix(n, out));
            for (int m = 0; m < plan.members; ++m) {
                const RowBlock r = plan.member_rows(m);
                prepared_gemm(g, Transpose::no, Transpose::yes, rows_of(X.view, r.begin, r.end), W.view, 0.0f,
                              b.f32.data(), row_block(blocks.as_matrix(n, out), r.begin, r.end));
            }
            if (!same_bits(whole, blocks)) return fail(layer + "'s forward GEMM");
            if (l > 0) {  // dX = dZ·W (overwritten)
                AlignedBuffer whole_dx(n * in), blocks_dx(n * in);
                prepared_gemm(g, Transpose::no, Transpose::no, dZ.view, W.view, 0.0f, nullptr, whole_dx.as_matrix(n, in));
                for (int m = 0; m < plan.members; ++m) {
                    const RowBlock r = plan.member_rows(m);
                    prepared_gemm(g, Transpose::no, Transpose::no, rows_of(dZ.view, r.begin, r.end), W.view, 0.0f,
                                  nullptr, row_block(blocks_dx.as_matrix(n, in), r.begin, r.end));
                }
                if (!same_bits(whole_dx, blocks_dx)) return fail(layer + "'s data-gradient GEMM");
            }
        }
        std::vector<UnitBlock> unit_blocks;
        for (const std::vector<UnitBlock>& member : plan.unit_blocks)
            for (const UnitBlock& u : member)
                if (u.layer == l && (u.begin > 0 || u.end < out)) unit_blocks.push_back(u);
        if (unit_blocks.empty()) continue;
        // dW = dZᵀ·X, whole and by unit blocks, onto zeros (beta = 1 where the step adds
        // onto them) and overwriting what was there (beta = 0)
        for (GradsInit init : {GradsInit::zero, GradsInit::any}) {
            AlignedBuffer whole(out * in), blocks(out * in);
            if (init == GradsInit::any)
                for (std::int64_t i = 0; i < out * in; ++i) whole.data()[i] = blocks.data()[i] = 0.5f;
            prepared_gemm(g, Transpose::yes, Transpose::no, dZ.view, X.view,
                          weight_gradient_beta(g.settings(), init, n, out, in), nullptr, whole.as_matrix(out, in));
            for (const UnitBlock& u : unit_blocks)
                prepared_gemm(g, Transpose::yes, Transpose::no, columns_of(dZ.view, u.begin, u.end), X.view,
                              weight_gradient_beta(g.settings(), init, n, u.end - u.begin, in), nullptr,
                              row_block(blocks.as_matrix(out, in), u.begin, u.end));
            if (!same_bits(whole, blocks)) return fail(layer + "'s weight-gradient GEMM");
        }
    }
    return true;
}

ShardTeamPlan plan_shard_team(Workspace& ws, const Model& model, std::int64_t rows, int members, std::string* why) {
    MLPTRAIN_ASSERT(members >= 1 && members <= ws.team_members() && rows <= ws.max_rows, "plan_shard_team team");
    std::string reason = "no layer is big enough to split between threads at " + std::to_string(rows) +
                         " rows a shard";
    for (int m = members; m >= 2; m /= 2) {
        ShardTeamPlan plan = make_plan(model, rows, m);
        if (plan.members == 1) continue;
        std::string failed;
        if (verify_plan(ws, model, plan, &failed)) {
            prepare_team_gemms(ws, model, plan);
            return plan;
        }
        reason = failed;
    }
    if (why) *why = reason;
    ShardTeamPlan none;
    none.rows = rows;
    return none;
}

void prepare_team_gemms(Workspace& ws, const Model& model, const ShardTeamPlan& plan) {
    const GemmPrecision p = ws.gemm.settings().precision;
    const std::int64_t n = plan.rows;
    for (int m = 0; m < plan.members; ++m) {
        GemmContext& g = ws.member_context(m);
        const RowBlock own = plan.member_rows(m);
        for (int l = 0; l < model.num_layers(); ++l) {
            const bool split = plan.split_layers[static_cast<std::size_t>(l)] != 0;
            if (!split && m != 0) continue;
            const std::int64_t r = split ? own.end - own.begin : n, in = model.dim_in(l), out = model.dim_out(l);
            const ConstMatrix X{nullptr, r, in, in}, W{nullptr, out, in, in}, dZ{nullptr, r, out, out};
            g.prepare(gemm_bias_shape(Transpose::no, Transpose::yes, X, W, Matrix{nullptr, r, out, out}, p));
            if (l > 0) g.prepare(gemm_shape(Transpose::no, Transpose::no, 1.0f, dZ, W, 0.0f, Matrix{nullptr, r, in, in}, p));
        }
        for (const UnitBlock& u : plan.unit_blocks[static_cast<std::size_t>(m)]) {
            const std::int64_t in = model.dim_in(u.layer), out = model.dim_out(u.layer), units = u.end - u.begin;
            const float beta = weight_gradient_beta(g.settings(), GradsInit::zero, n, units, in);
            g.prepare(gemm_shape(Transpose::yes, Transpose::no, 1.0f, ConstMatrix{nullptr, n, units, out},
                                 ConstMatrix{nullptr, n, in, in}, beta, Matrix{nullptr, units, in, in}, p));
        }
    }
}

RowBlock team_stage_rows(const ShardTeamPlan& plan, int stage, int member) {
    const TeamStage& st = plan.stages[static_cast<std::size_t>(stage)];
    if (st.weight_gradients || (st.whole && member != 0)) return {plan.rows, 0, 0};
    return st.whole ? RowBlock{plan.rows, 0, plan.rows} : plan.member_rows(member);
}

double run_team_stage(Workspace& ws, const Model& model, const ShardTeamPlan& plan, int stage, int member,
                      const float* params, const bf16_bits* params_bf16, float* grads, const DropoutContext* dropout,
                      GradsInit init) {
    const TeamStage& st = plan.stages[static_cast<std::size_t>(stage)];
    GemmContext& gemm = ws.member_context(member);
    if (st.weight_gradients) {
        for (const UnitBlock& u : plan.unit_blocks[static_cast<std::size_t>(member)])
            team_weight_gradient(ws, gemm, model, grads, plan.rows, u.layer, u.begin, u.end, dropout, init);
        return 0.0;
    }
    const RowBlock rows = team_stage_rows(plan, stage, member);
    if (rows.begin == rows.end) return 0.0;
    double loss = 0.0;
    for (const TeamOp& op : st.ops) {
        switch (op.kind) {
            case TeamOp::Kind::forward:
                team_forward(ws, gemm, model, params, params_bf16, rows, op.layer, op.layer + 1, dropout);
                break;
            case TeamOp::Kind::loss: loss = team_loss(ws, model, plan.rows); break;
            case TeamOp::Kind::backward:
                team_backward(ws, gemm, model, params, params_bf16, rows, op.layer, op.layer, dropout);
                break;
        }
    }
    return loss;
}

}  // namespace mlptrain
