// Forward and backward passes over one shard (see backprop.hpp). The chain rule, output to
// input: dZ = dA ⊙ act'(Z), dW = dZᵀ·X, db = colsum(dZ), dX = dZ·W.
#include "mlptrain/nn/backprop.hpp"

#include <algorithm>
#include <cstring>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/core/simd.hpp"

namespace mlptrain {

// C = op(A)·op(B) + beta·C on the context's inputs: the bf16 roundings in a bf16 context.
static void layer_gemm(GemmContext& gemm, Transpose ta, Transpose tb, const LayerOperand& A, const LayerOperand& B,
                       float beta, Matrix C) {
    if (gemm.bf16()) gemm.gemm(ta, tb, 1.0f, A.bf16, B.bf16, beta, C);
    else gemm.gemm(ta, tb, 1.0f, A.f32, B.f32, beta, C);
}

void dense_forward(GemmContext& gemm, Matrix Z, const LayerOperand& X, const LayerOperand& W, const float* b) {
    // X (B, in), W (out, in), b (out), Z (B, out)
    MLPTRAIN_ASSERT(Z.rows == X.f32.rows && Z.cols == W.f32.rows && X.f32.cols == W.f32.cols, "dense_forward shape");
    // Z = X·Wᵀ + 1·bᵀ (b in every row; on the bf16 roundings in a bf16 context)
    if (gemm.bf16()) gemm.gemm_bias(Transpose::no, Transpose::yes, X.bf16, W.bf16, b, Z);
    else gemm.gemm_bias(Transpose::no, Transpose::yes, X.f32, W.f32, b, Z);
}

void dense_forward(Matrix Z, ConstMatrix X, ConstMatrix W, const float* b) {
    GemmContext openblas;
    dense_forward(openblas, Z, {X, {}}, {W, {}}, b);
}

// Whether the weight-gradient GEMM may add onto a buffer of zeros (beta = 1) instead of
// overwriting it (beta = 0). OpenBLAS's beta = 0 path clears C with a memset pass before the
// kernels add α·op(A)·op(B) to it (3-4 % of the big network's step); onto our zeros, the
// kernels run the same instructions on the same +0, so the bits are equal by construction.
// Only its small-matrix kernels (SkylakeX/Cooperlake, m·n·k ≤ 100³) differ: with beta = 0
// they store α·acc, with beta = 1 they add it to C, which turns a −0 into +0. Those GEMMs
// keep beta = 0; their memset is a few KiB. oneDNN writes C without a clearing pass, and its
// primitives are prepared for beta = 0 (prepare_gemms): it always overwrites.
float weight_gradient_beta(const GemmSettings& gemm, GradsInit init, std::int64_t rows, std::int64_t out,
                           std::int64_t in) {
    constexpr double small_matrix_limit = 100.0 * 100.0 * 100.0;
    const bool onto_zeros = gemm.backend == GemmBackend::openblas && init == GradsInit::zero &&
                            static_cast<double>(out) * static_cast<double>(in) * static_cast<double>(rows) >
                                small_matrix_limit;
    return onto_zeros ? 1.0f : 0.0f;
}

// db[j] = Σ_r dZ(r, j), each column summed row after row from 0.0f. Cloned per vector
// width (core/simd.hpp): the lanes run across columns, so every column's additions keep
// their order and the bits are the same at any width. (A baseline build ran it 4 lanes wide
// on a 16-lane machine: 0.3 % of the big network's oneDNN step.)
MLPTRAIN_VECTOR_CLONES
static void column_sums(float* __restrict db, ConstMatrix dZ) {
    // dZ (B, n), db (n)
    const std::int64_t n = dZ.cols;
    std::fill(db, db + n, 0.0f);
    std::int64_t r = 0;
    for (; r + 4 <= dZ.rows; r += 4) {  // four rows per pass over db, added in row order
        const float* __restrict d0 = dZ.row(r);
        const float* __restrict d1 = dZ.row(r + 1);
        const float* __restrict d2 = dZ.row(r + 2);
        const float* __restrict d3 = dZ.row(r + 3);
        for (std::int64_t j = 0; j < n; ++j) db[j] = (((db[j] + d0[j]) + d1[j]) + d2[j]) + d3[j];
    }
    for (; r < dZ.rows; ++r) {
        const float* __restrict dz = dZ.row(r);
        for (std::int64_t j = 0; j < n; ++j) db[j] += dz[j];
    }
}

void dense_backward(GemmContext& gemm, Matrix dX, Matrix dW, float* db, const LayerOperand& dZ,
                    const LayerOperand& X, const LayerOperand& W, GradsInit init) {
    // dZ (B, out), X (B, in), W (out, in), dW (out, in), db (out), dX (B, in)
    MLPTRAIN_ASSERT(dZ.f32.rows == X.f32.rows && dZ.f32.cols == W.f32.rows && X.f32.cols == W.f32.cols &&
                        dW.rows == W.f32.rows && dW.cols == W.f32.cols,
                    "dense_backward shape");
    const float beta = weight_gradient_beta(gemm.settings(), init, dZ.f32.rows, dW.rows, dW.cols);
    layer_gemm(gemm, Transpose::yes, Transpose::no, dZ, X, beta, dW);  // dW = dZᵀ·X (+ its zeros)
    column_sums(db, dZ.f32);                                           // db = colsum(dZ)
    if (dX.data) layer_gemm(gemm, Transpose::no, Transpose::no, dZ, W, 0.0f, dX);  // dX = dZ·W
}

void dense_backward(Matrix dX, Matrix dW, float* db, ConstMatrix dZ, ConstMatrix X, ConstMatrix W,
                    GradsInit init) {
    GemmContext openblas;
    dense_backward(openblas, dX, dW, db, {dZ, {}}, {X, {}}, {W, {}}, init);
}

void prepare_gemms(Workspace& ws, const Model& model, std::int64_t n, bool backward) {
    MLPTRAIN_ASSERT(n >= 1 && n <= ws.max_rows, "prepare_gemms rows");
    MLPTRAIN_ASSERT(!backward || ws.use == WorkspaceUse::training, "backward GEMMs need a training workspace");
    const GemmPrecision p = ws.gemm.settings().precision;
    for (int l = 0; l < model.num_layers(); ++l) {
        const std::int64_t in = model.dim_in(l), out = model.dim_out(l);
        // The views dense_forward and dense_backward pass: X (n, in), W (out, in), Z and dZ
        // (n, out), dW (out, in), dX (n, in), all dense. Only their dimensions matter here.
        const Matrix X{nullptr, n, in, in}, W{nullptr, out, in, in}, Z{nullptr, n, out, out};
        ws.gemm.prepare(gemm_bias_shape(Transpose::no, Transpose::yes, X, W, Z, p));
        if (!backward) continue;
        ws.gemm.prepare(gemm_shape(Transpose::yes, Transpose::no, 1.0f, Z, X, 0.0f, W, p));
        if (l > 0) ws.gemm.prepare(gemm_shape(Transpose::no, Transpose::no, 1.0f, Z, W, 0.0f, X, p));
    }
}

// Layer l's weights as a GEMM operand: fp32, and in a bf16 workspace the caller's bf16 copy.
static LayerOperand layer_weights(const Workspace& ws, const Model& model, const float* params,
                                  const bf16_bits* params_bf16, int l) {
    LayerOperand W{model.weight(params, l), {}};
    if (ws.gemm.bf16()) {
        MLPTRAIN_ASSERT(params_bf16 != nullptr, "a bf16 workspace needs the weights in bf16");
        const Slot& slot = model.layout().slot(model.weight_slot(l));
        W.bf16 = make_matrix(params_bf16 + slot.offset, slot.rows, slot.cols);
    }
    return W;
}

static Targets batch_targets(Workspace& ws, std::int64_t n) {
    Targets t;
    if (ws.targets_cols > 0) t.values = ws.targets.as_matrix(n, ws.targets_cols);
    else t.labels = ws.labels.data();
    return t;
}

// The input of layer l: the gathered batch, or the previous layer's (dropped-out) output;
// in a bf16 workspace also its rounding (made by round_layer_input).
static LayerOperand layer_input(Workspace& ws, const Model& model, int l, std::int64_t n,
                                bool dropout_on) {
    LayerOperand X;
    if (l == 0) X.f32 = ws.input.as_matrix(n, model.dim_input());
    else X.f32 = (dropout_on ? ws.dropped[l - 1] : ws.post[l - 1]).as_matrix(n, model.dim_in(l));
    if (ws.gemm.bf16())
        X.bf16 = (l == 0 ? ws.input_h : ws.act_h[static_cast<std::size_t>(l - 1)]).as_matrix(n, model.dim_in(l));
    return X;
}

LayerOperand operand_rows(const LayerOperand& X, std::int64_t begin, std::int64_t end) {
    LayerOperand o{row_block(X.f32, begin, end), {}};
    if (X.bf16.data) o.bf16 = row_block(X.bf16, begin, end);
    return o;
}

LayerOperand operand_columns(const LayerOperand& X, std::int64_t begin, std::int64_t end) {
    LayerOperand o{column_block(X.f32, begin, end), {}};
    if (X.bf16.data) o.bf16 = column_block(X.bf16, begin, end);
    return o;
}

// The block `b` of a shard's (n, cols) buffer.
static Matrix buffer_block(AlignedBuffer& buffer, PassBlock b, std::int64_t cols) {
    return block_of(buffer.as_matrix(b.n, cols), b);
}

// In a bf16 workspace: rounds block `b` of layer l's input, once, right after it was
// produced.
static void round_layer_input(Workspace& ws, const Model& model, int l, PassBlock b, bool dropout_on) {
    if (!ws.gemm.bf16()) return;
    Bf16Buffer& to = l == 0 ? ws.input_h : ws.act_h[static_cast<std::size_t>(l - 1)];
    convert_to_bf16(block_of(to.as_matrix(b.n, model.dim_in(l)), b),
                    block_of(layer_input(ws, model, l, b.n, dropout_on).f32, b));
}

// mask = keep/(1−p) with keep ~ Bernoulli(1−p) from (seed, layer, step, row); D = A ⊙ mask,
// over block `b` of layer l's outputs. The bits of units j … j + 3 (j a multiple of 4) come
// from one draw, whichever block holds them.
static void apply_dropout(Workspace& ws, const Model& model, int l, PassBlock b, const DropoutContext& ctx) {
    const float p = model.spec().dropout;
    const float scale = 1.0f / (1.0f - p);
    Matrix A = ws.post[l].as_matrix(b.n, model.dim_out(l));
    Matrix M = ws.mask[l].as_matrix(b.n, model.dim_out(l));
    Matrix D = ws.dropped[l].as_matrix(b.n, model.dim_out(l));
    const std::int64_t c0 = b.unit_begin(A.cols), c1 = b.unit_end(A.cols);
    for (std::int64_t r = b.row_begin; r < b.row_end; ++r) {
        const auto row = static_cast<std::uint64_t>(ctx.rows[r]);
        for (std::int64_t j = c0 - c0 % 4; j < c1; j += 4) {
            const auto bits = dropout_bits(ctx.seed, static_cast<std::uint32_t>(l), ctx.step, row,
                                           static_cast<std::uint32_t>(j / 4));
            for (std::int64_t k = std::max(j, c0); k < std::min(j + 4, c1); ++k) {
                M(r, k) = uniform01(bits[static_cast<std::size_t>(k - j)]) >= p ? scale : 0.0f;
                D(r, k) = A(r, k) * M(r, k);
            }
        }
    }
}

// Layer l's forward pass over block `b` of its outputs: Z = X·Wᵀ + b over the block's rows of
// X and its units (rows of W), then for a hidden layer A = act(Z), dropout, and the bf16
// rounding of the next layer's input. Every output element depends on its row of X and its
// unit's weights alone, so blocks can run apart.
static void forward_layer(Workspace& ws, GemmContext& gemm, const Model& model, const float* params,
                          const bf16_bits* params_bf16, PassBlock b, int l, const DropoutContext* dropout) {
    const bool dropout_on = dropout && model.spec().dropout > 0.0f;
    const std::int64_t out = model.dim_out(l), u0 = b.unit_begin(out), u1 = b.unit_end(out);
    // X (rows, in_l), W (units, in_l), Z (rows, units)
    const LayerOperand X = operand_rows(layer_input(ws, model, l, b.n, dropout_on), b.row_begin, b.row_end);
    const LayerOperand W = operand_rows(layer_weights(ws, model, params, params_bf16, l), u0, u1);
    const Matrix Z = buffer_block(ws.pre[l], b, out);
    dense_forward(gemm, Z, X, W, model.bias(params, l) + u0);
    if (l + 1 < model.num_layers()) {
        activation_forward(buffer_block(ws.post[l], b, out), Z, model.spec().hidden_activation);
        if (dropout_on) apply_dropout(ws, model, l, b, *dropout);
        round_layer_input(ws, model, l + 1, b, dropout_on);
    }
}

// The output activation and the loss over all n rows (summed in row order), and with
// dZ_out also ∂loss/∂Z of the output layer.
static double output_loss(Workspace& ws, const Model& model, std::int64_t n, Matrix* dZ_out) {
    const int L = model.num_layers();
    Matrix Z = ws.pre[L - 1].as_matrix(n, model.dim_output());
    Matrix P = ws.post[L - 1].as_matrix(n, model.dim_output());
    const Targets targets = batch_targets(ws, n);
    if (dZ_out) return loss_forward_backward(*dZ_out, P, Z, targets, model.spec().loss);
    return loss_forward(P, Z, targets, model.spec().loss);
}

static double forward_layers(Workspace& ws, const Model& model, const float* params, const bf16_bits* params_bf16,
                             std::int64_t n, const DropoutContext* dropout, Matrix* dZ_out) {
    const PassBlock all{n, 0, n};
    round_layer_input(ws, model, 0, all, false);
    for (int l = 0; l < model.num_layers(); ++l) forward_layer(ws, ws.gemm, model, params, params_bf16, all, l, dropout);
    return output_loss(ws, model, n, dZ_out);
}

double forward_loss(Workspace& ws, const Model& model, const float* params, std::int64_t n,
                    const bf16_bits* params_bf16) {
    MLPTRAIN_ASSERT(n >= 1 && n <= ws.max_rows, "forward rows");
    return forward_layers(ws, model, params, params_bf16, n, nullptr, nullptr);
}

// dZ as a GEMM operand: in a bf16 workspace rounded once into ws.delta_h, for both GEMMs.
static LayerOperand delta_operand(Workspace& ws, Matrix dZ) {
    LayerOperand d{dZ, {}};
    if (!ws.gemm.bf16()) return d;
    const MatrixBf16 h = ws.delta_h.as_matrix(dZ.rows, dZ.cols);
    convert_to_bf16(h, dZ);
    d.bf16 = h;
    return d;
}

// Hidden layer l's delta from the data gradient of the layer above, in place over block `b`
// of layer l's outputs (dX holds just that block): dA_l = dX (⊙ mask_l); dZ_l = dA_l ⊙ act'(Z_l).
static void hidden_delta(Workspace& ws, const Model& model, int l, Matrix dX, PassBlock b, bool dropout_on) {
    if (dropout_on) {
        const ConstMatrix M = buffer_block(ws.mask[l], b, model.dim_out(l));
        for (std::int64_t r = 0; r < dX.rows; ++r)
            for (std::int64_t j = 0; j < dX.cols; ++j) dX(r, j) *= M(r, j);
    }
    activation_backward(dX, dX, buffer_block(ws.pre[l], b, model.dim_out(l)),
                        buffer_block(ws.post[l], b, model.dim_out(l)), model.spec().hidden_activation);
}

double forward_backward(Workspace& ws, const Model& model, const float* params, float* grads,
                        std::int64_t n, const DropoutContext* dropout, const bf16_bits* params_bf16,
                        GradsInit init) {
    MLPTRAIN_ASSERT(n >= 0 && n <= ws.max_rows, "forward_backward rows");
    MLPTRAIN_ASSERT(ws.use == WorkspaceUse::training, "backward passes need a training workspace");
    if (n == 0) {  // an empty shard contributes a zero gradient to the fixed tree
        std::memset(grads, 0, sizeof(float) * static_cast<std::size_t>(model.layout().total()));
        return 0.0;
    }
    const bool dropout_on = dropout && model.spec().dropout > 0.0f;
    const int L = model.num_layers();
    Matrix dZ = ws.delta_a.as_matrix(n, model.dim_output());
    const double loss = forward_layers(ws, model, params, params_bf16, n, dropout, &dZ);

    AlignedBuffer* next = &ws.delta_b;
    for (int l = L - 1; l >= 0; --l) {
        // dZ (n, out_l), X (n, in_l), W (out_l, in_l)
        Matrix dX = l > 0 ? next->as_matrix(n, model.dim_in(l)) : Matrix{};
        dense_backward(ws.gemm, dX, model.weight(grads, l), model.bias(grads, l), delta_operand(ws, dZ),
                       layer_input(ws, model, l, n, dropout_on), layer_weights(ws, model, params, params_bf16, l),
                       init);
        if (l == 0) break;
        hidden_delta(ws, model, l - 1, dX, PassBlock{n, 0, n}, dropout_on);
        next = dZ.data == ws.delta_a.data() ? &ws.delta_a : &ws.delta_b;
        dZ = dX;
    }
    return loss;
}

// ---- A shard's passes shared by a team (see backprop.hpp) ----

// dZ_l of the team's shard (n, out_l) as a GEMM operand: fp32, and its rounding in bf16.
static LayerOperand team_delta(Workspace& ws, const Model& model, int l, std::int64_t n) {
    LayerOperand d{ws.team_delta[static_cast<std::size_t>(l)].as_matrix(n, model.dim_out(l)), {}};
    if (ws.gemm.bf16()) d.bf16 = ws.team_delta_h[static_cast<std::size_t>(l)].as_matrix(n, model.dim_out(l));
    return d;
}

// In a bf16 workspace: rounds block `b` of dZ_l once, right after it was produced.
static void round_team_delta(Workspace& ws, const Model& model, int l, PassBlock b) {
    if (!ws.gemm.bf16()) return;
    const std::size_t i = static_cast<std::size_t>(l);
    convert_to_bf16(block_of(ws.team_delta_h[i].as_matrix(b.n, model.dim_out(l)), b),
                    buffer_block(ws.team_delta[i], b, model.dim_out(l)));
}

void team_round_input(Workspace& ws, const Model& model, PassBlock b) {
    round_layer_input(ws, model, 0, b, false);
}

void team_forward(Workspace& ws, GemmContext& gemm, const Model& model, const float* params,
                  const bf16_bits* params_bf16, PassBlock b, int l, const DropoutContext* dropout) {
    MLPTRAIN_ASSERT(!ws.team_delta.empty() && 0 <= l && l < model.num_layers(), "team_forward layer");
    forward_layer(ws, gemm, model, params, params_bf16, b, l, dropout);
}

double team_loss(Workspace& ws, const Model& model, std::int64_t n) {
    const int L = model.num_layers();
    Matrix dZ = ws.team_delta[static_cast<std::size_t>(L - 1)].as_matrix(n, model.dim_output());
    const double loss = output_loss(ws, model, n, &dZ);
    round_team_delta(ws, model, L - 1, {n, 0, n});
    return loss;
}

void team_backward(Workspace& ws, GemmContext& gemm, const Model& model, const float* params,
                   const bf16_bits* params_bf16, PassBlock b, int l, const DropoutContext* dropout) {
    MLPTRAIN_ASSERT(l >= 1 && l < model.num_layers(), "team_backward layer");
    const bool dropout_on = dropout && model.spec().dropout > 0.0f;
    const std::int64_t in = model.dim_in(l);
    // dZ_l (rows, out_l), W_l's columns of the block's units (out_l, units), dX = dZ_{l−1}
    // after hidden_delta (rows, units)
    const LayerOperand dZ = operand_rows(team_delta(ws, model, l, b.n), b.row_begin, b.row_end);
    const LayerOperand W = operand_columns(layer_weights(ws, model, params, params_bf16, l), b.unit_begin(in), b.unit_end(in));
    const Matrix dX = buffer_block(ws.team_delta[static_cast<std::size_t>(l - 1)], b, in);
    layer_gemm(gemm, Transpose::no, Transpose::no, dZ, W, 0.0f, dX);  // dX = dZ·W
    hidden_delta(ws, model, l - 1, dX, b, dropout_on);
    round_team_delta(ws, model, l - 1, b);
}

void team_weight_gradient(Workspace& ws, GemmContext& gemm, const Model& model, float* grads, std::int64_t n,
                          int l, std::int64_t begin, std::int64_t end, const DropoutContext* dropout,
                          GradsInit init) {
    // Units [begin, end) of layer l: dZ_l (n, units) the columns of dZ_l, X_l (n, in_l),
    // dW_l (units, in_l) its rows of the weight gradient, db_l (units).
    const bool dropout_on = dropout && model.spec().dropout > 0.0f;
    const LayerOperand dZ = operand_columns(team_delta(ws, model, l, n), begin, end);
    const Matrix dW = row_block(model.weight(grads, l), begin, end);
    const float beta = weight_gradient_beta(gemm.settings(), init, n, dW.rows, dW.cols);
    layer_gemm(gemm, Transpose::yes, Transpose::no, dZ, layer_input(ws, model, l, n, dropout_on), beta,
               dW);                                       // dW = dZᵀ·X (+ its zeros)
    column_sums(model.bias(grads, l) + begin, dZ.f32);  // db = colsum(dZ)
}

int first_non_finite_layer(const Workspace& ws, const Model& model, std::int64_t n) {
    for (int l = 0; l < model.num_layers(); ++l)
        if (!all_finite(ws.pre[static_cast<std::size_t>(l)].data(), n * model.dim_out(l))) return l;
    return -1;
}

std::string describe_layer_outputs(const Model& model, const float* params, int layer) {
    return "layers." + std::to_string(layer) + " (its outputs X·Wᵀ + b; weights " +
           (all_finite(model.weight(params, layer)) ? "finite" : "not finite") + ")";
}

}  // namespace mlptrain
