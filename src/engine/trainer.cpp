// The synchronized data-parallel step and the epoch loop (see trainer.hpp).
//
// Determinism: shard s of a batch of n rows always holds rows [s·n/S, (s+1)·n/S); its
// gradient sum is computed by single-threaded BLAS into its own buffer; buffers are summed
// in the fixed tree (s, s+1), (s, s+2), (s, s+4)…, element by element, so the parallel split
// over parameter chunks changes nothing. Which buffer a chunk's sum lands in may depend on
// the thread count (reduce_chunk); its value does not, as a + b = b + a exactly. No thread
// count enters the arithmetic.
#include "mlptrain/engine/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/metrics.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/core/prefetch.hpp"
#include "mlptrain/core/simd.hpp"
#include "mlptrain/core/stream_store.hpp"
#include "mlptrain/core/text.hpp"
#include "mlptrain/engine/evaluator.hpp"
#include "mlptrain/nn/backprop.hpp"

namespace mlptrain {

// Floats per reduction/update chunk: 64 KiB, so a chunk of every shard buffer stays in L2
// while the tree and the update run over it.
constexpr std::int64_t chunk_floats = 16384;

std::int64_t default_shards(std::int64_t batch_size) {
    if (batch_size < 64) return 1;
    std::int64_t shards = 2;
    while (shards * 2 <= batch_size / 128) shards *= 2;
    return shards;
}

static bool is_power_of_two(std::int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

Trainer::Trainer(const Model& model, const TrainConfig& config, std::int64_t targets_cols,
                 Communicator* communicator)
    : model_(model),
      config_(config),
      workers_(worker_threads(config.threads)),
      params_(model.layout().total()),
      optimizer_(config.optimizer, model.layout().total()) {
    MLPTRAIN_ASSERT(config.batch_size >= 1, "batch size");
    if (!communicator) {
        own_communicator_ = make_local_communicator();
        communicator = own_communicator_.get();
    }
    comm_ = communicator;
    shards_ = config.shards > 0 ? config.shards : default_shards(config.batch_size);
    shard_rows_ = (config.batch_size + shards_ - 1) / shards_;
    // Each rank takes a contiguous block of shards. The block's local tree and the
    // allreduce across ranks then add up to the one global tree only when the rank count
    // and the block size are powers of two.
    const int ranks = comm_->size();
    if (ranks > 1 && (!is_power_of_two(ranks) || shards_ % ranks != 0 || !is_power_of_two(shards_ / ranks)))
        throw Error(describe(field_ref("shards") + " " + std::to_string(shards_) + " over " + std::to_string(ranks) + " ranks",
                             "a power-of-two number of ranks that divides the shards into power-of-two blocks",
                             std::to_string(ranks) + " ranks",
                             "launch 1, 2, 4, … ranks and use " + field_ref("shards") + " 2^k ≥ ranks, e.g. " +
                                 field_ref("shards") + " " + std::to_string(std::max<std::int64_t>(ranks, 4))));
    local_shards_ = shards_ / ranks;
    first_shard_ = comm_->rank() * local_shards_;
    const int threads = workers_.threads();
    // More threads than shards: a team of threads per shard, where its splits prove exact.
    if (config.shard_teams && threads > local_shards_) team_members_ = static_cast<int>(threads / local_shards_);
    MLPTRAIN_ASSERT(blas_threads_per_call() == 1, "BLAS must run one thread per call inside workers");
    for (std::int64_t s = 0; s < local_shards_; ++s)
        workspaces_.push_back(std::make_unique<Workspace>(model, shard_rows_, targets_cols, config.gemm));
    if (team_members_ > 1)
        for (const std::unique_ptr<Workspace>& ws : workspaces_) ws->enable_team(model, team_members_);
    make_evaluation_lanes(targets_cols);
    if (config.gemm.precision == GemmPrecision::bf16) params_bf16_ = Bf16Buffer(model.layout().total());
    shard_loss_.assign(static_cast<std::size_t>(local_shards_), 0.0);
    const auto pass_items = static_cast<std::size_t>(local_shards_ * team_members_);
    shard_seconds_.assign(pass_items, 0.0);
    shard_worker_.assign(pass_items, 0);
    worker_seconds_.assign(static_cast<std::size_t>(threads), 0.0);
    shard_gemm_seconds_.assign(pass_items, 0.0);
    worker_gemm_seconds_.assign(static_cast<std::size_t>(threads), 0.0);
    const std::int64_t chunks = (model.layout().total() + chunk_floats - 1) / chunk_floats;
    // Chunk c's reduced gradient lands in the first shard buffer of the thread that reduces
    // and updates it, so the update reads its own cache, not another core's. WorkerPool::run
    // gives thread k the k-th contiguous block of shards and of chunks. Across ranks, the
    // allreduce wants the whole sum in one buffer: shard 0's.
    for (std::int64_t c = 0; c < chunks; ++c) {
        const std::int64_t thread = c * threads / chunks;  // its block of chunks
        chunk_root_.push_back(comm_->size() == 1 ? std::min(thread * local_shards_ / threads, local_shards_ - 1) : 0);
    }
    // Every thread's passes read all the weights; weight_stores.hpp says how the update
    // then writes them.
    several_readers_ = threads > 1 && (local_shards_ > 1 || team_members_ > 1);
    // OpenBLAS's weight-gradient GEMMs add onto zeroed buffers (see add_and_clear); oneDNN's
    // overwrite theirs, so clearing them would only cost two passes over memory.
    clear_grads_ = config.gemm.backend == GemmBackend::openblas;
    chunk_sumsq_.assign(static_cast<std::size_t>(chunks), 0.0);
    chunk_bad_.assign(static_cast<std::size_t>(chunks), 0);
    model.init_parameters(params_.data(), config.init.value_or(default_init(model.spec().hidden_activation)),
                          config.seed);
    comm_->broadcast(params_.data(), params_.size(), 0);  // every replica starts from rank 0's
    round_weights();
    prepare_step(config.batch_size);
    note_threads();
}

Trainer::~Trainer() = default;

void Trainer::make_evaluation_lanes(std::int64_t targets_cols) {
    // The shards' workspaces, then forward-only ones for threads beyond the shards, as many as
    // the memory budget allows (evaluation_lanes).
    for (const std::unique_ptr<Workspace>& ws : workspaces_) eval_lanes_.push_back(ws.get());
    auto add_lane = [&] {
        eval_workspaces_.push_back(
            std::make_unique<Workspace>(model_, shard_rows_, targets_cols, config_.gemm, WorkspaceUse::evaluation));
        eval_lanes_.push_back(eval_workspaces_.back().get());
    };
    if (workers_.threads() <= local_shards_) return;
    add_lane();
    const int lanes = mlptrain::evaluation_lanes(workers_.threads(), local_shards_, workspaces_[0]->bytes() * local_shards_,
                                       eval_workspaces_[0]->bytes());
    while (static_cast<int>(eval_lanes_.size()) < lanes) add_lane();
}

void Trainer::time_gemm_calls(bool on) {
    for (const std::unique_ptr<Workspace>& ws : workspaces_)
        for (int m = 0; m < ws->team_members(); ++m) ws->member_context(m).time_calls(on);
}

std::string Trainer::weights_fingerprint() const {
    return fingerprint(params_.data(), params_.size());
}

void Trainer::run_shards(const Dataset& data, const std::int64_t* rows, std::int64_t n) {
    // The buffers are dirty from here until the update has cleared them: a step that
    // throws (a non-finite loss or gradient) leaves the flag false, and the next overwrites.
    const GradsInit init = grads_zero_ ? GradsInit::zero : GradsInit::any;
    grads_zero_ = false;
    if (const ShardTeamPlan* plan = team_plan(n)) return run_team_shards(*plan, data, rows, n, init);
    pass_items_ = local_shards_;
    workers_.run(local_shards_, [&](std::int64_t s) {
        const auto start = std::chrono::steady_clock::now();
        const std::int64_t g = first_shard_ + s;  // global shard index
        const std::int64_t lo = g * n / shards_, hi = (g + 1) * n / shards_;
        Workspace& ws = *workspaces_[static_cast<std::size_t>(s)];
        ws.gemm.reset_call_seconds();
        gather_batch(ws, data, rows + lo, hi - lo);
        const DropoutContext dropout{config_.seed, static_cast<std::uint64_t>(step_), rows + lo};
        shard_loss_[static_cast<std::size_t>(s)] =
            forward_backward(ws, model_, params_.data(), ws.grads.data(), hi - lo, &dropout, weights_bf16(), init);
        shard_seconds_[static_cast<std::size_t>(s)] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        shard_gemm_seconds_[static_cast<std::size_t>(s)] = ws.gemm.call_seconds();
        shard_worker_[static_cast<std::size_t>(s)] = WorkerPool::current_worker();
    });
}

// Each stage of the plan is one fork-join over every shard's members, thread k running
// member k % M of shard k / M (WorkerPool::run's contiguous blocks): a team on neighbouring
// threads, the same ones every step.
void Trainer::run_team_shards(const ShardTeamPlan& plan, const Dataset& data, const std::int64_t* rows,
                              std::int64_t n, GradsInit init) {
    const int M = plan.members;
    pass_items_ = local_shards_ * M;
    std::fill(shard_seconds_.begin(), shard_seconds_.end(), 0.0);
    for (int stage = 0; stage < static_cast<int>(plan.stages.size()); ++stage) {
        workers_.run(pass_items_, [&](std::int64_t i) {
            const auto start = std::chrono::steady_clock::now();
            const std::int64_t s = i / M;
            const int m = static_cast<int>(i % M);
            const std::int64_t g = first_shard_ + s;  // global shard index
            const std::int64_t lo = g * n / shards_;
            Workspace& ws = *workspaces_[static_cast<std::size_t>(s)];
            GemmContext& gemm = ws.member_context(m);
            if (stage == 0) gemm.reset_call_seconds();
            const DropoutContext dropout{config_.seed, static_cast<std::uint64_t>(step_), rows + lo};
            const double loss = run_team_stage(ws, model_, plan, stage, m, data, rows + lo, params_.data(),
                                               weights_bf16(), ws.grads.data(), &dropout, init);
            if (m == 0)
                for (const TeamOp& op : plan.stages[static_cast<std::size_t>(stage)].ops)
                    if (op.kind == TeamOp::Kind::loss) shard_loss_[static_cast<std::size_t>(s)] = loss;
            shard_seconds_[static_cast<std::size_t>(i)] +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            shard_gemm_seconds_[static_cast<std::size_t>(i)] = gemm.call_seconds();
            shard_worker_[static_cast<std::size_t>(i)] = WorkerPool::current_worker();
        });
    }
}

const ShardTeamPlan* Trainer::team_plan(std::int64_t n) const {
    if (team_members_ == 1) return nullptr;
    const ShardTeamPlan* found = nullptr;
    for (std::int64_t s = 0; s < local_shards_; ++s) {  // every shard the same rows, one plan
        const std::int64_t g = first_shard_ + s;
        const std::int64_t rows = (g + 1) * n / shards_ - g * n / shards_;
        if (found && found->rows != rows) return nullptr;
        if (found) continue;
        for (const ShardTeamPlan& plan : team_plans_)
            if (plan.rows == rows) found = &plan;
        if (!found) return nullptr;
    }
    return found && found->members > 1 ? found : nullptr;
}

int Trainer::shard_team() const {
    const ShardTeamPlan* plan = team_plan(config_.batch_size);
    return plan ? plan->members : 1;
}

void Trainer::note_threads() {
    const int threads = workers_.threads();
    if (threads <= local_shards_) return;
    const std::string per = local_shards_ == 1 ? "the shard" : "each shard";
    const std::string on_rank = comm_->size() > 1 ? " on each rank" : "";
    const int team = shard_team();
    if (team > 1) {
        const std::int64_t idle = threads - local_shards_ * team;
        notices_.push_back("note: " + std::to_string(threads) + " threads, " + std::to_string(local_shards_) +
                           " shard(s) per batch" + on_rank + ": a team of " + std::to_string(team) +
                           " threads shares " + per + "'s passes (its GEMM splits verified to give the bits of one "
                           "thread, in " + format_fixed(team_check_seconds_ * 1e3, 1) + " ms)" + (idle > 0 ? "; " + std::to_string(idle) + " thread(s) will idle" : ""));
        return;
    }
    const std::string why = !config_.shard_teams ? "teams are off (" + field_ref("shard_teams") + ")"
                            : team_refusal_.empty() ? "no team plan" : team_refusal_;
    const std::string checked =
        team_check_seconds_ > 0 ? "; checked in " + format_fixed(team_check_seconds_ * 1e3, 1) + " ms" : "";
    notices_.push_back("note: " + std::to_string(threads) + " threads but only " + std::to_string(local_shards_) +
                       " shard(s) per batch" + on_rank + ": " + std::to_string(threads - local_shards_) +
                       " thread(s) will idle (no team of threads per shard: " + why + checked + "); raise " +
                       field_ref("shards") + " (or " + field_ref("batch_size") + ") to use them, or lower " +
                       field_ref("threads"));
}

// Adds a finished step's phases (time points from train_step) and its workers' pass times
// to phases_.
void Trainer::account_phases(std::chrono::steady_clock::time_point start,
                             std::chrono::steady_clock::time_point passes_end,
                             std::chrono::steady_clock::time_point reduce_end,
                             std::chrono::steady_clock::time_point end) {
    auto seconds = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };
    std::fill(worker_seconds_.begin(), worker_seconds_.end(), 0.0);
    std::fill(worker_gemm_seconds_.begin(), worker_gemm_seconds_.end(), 0.0);
    const int last = static_cast<int>(worker_seconds_.size()) - 1;
    for (std::int64_t s = 0; s < pass_items_; ++s) {
        const auto w = static_cast<std::size_t>(std::min(shard_worker_[static_cast<std::size_t>(s)], last));
        worker_seconds_[w] += shard_seconds_[static_cast<std::size_t>(s)];
        worker_gemm_seconds_[w] += shard_gemm_seconds_[static_cast<std::size_t>(s)];
        phases_.gemm_calls += shard_gemm_seconds_[static_cast<std::size_t>(s)];
    }
    const auto busiest = std::max_element(worker_seconds_.begin(), worker_seconds_.end());
    const auto busiest_index = static_cast<std::size_t>(busiest - worker_seconds_.begin());
    phases_.busiest_worker_gemm_calls += worker_gemm_seconds_[busiest_index];
    ++phases_.steps;
    phases_.passes += seconds(start, passes_end);
    phases_.reduce += seconds(passes_end, reduce_end);
    phases_.update += seconds(reduce_end, end);
    phases_.busiest_worker += *busiest;
    phases_.idlest_worker += *std::min_element(worker_seconds_.begin(), worker_seconds_.end());
}

// into[i] += from[i], then from[i] = 0, for i < n: `from` is consumed here, and leaving it
// zeroed lets the next step's weight-gradient GEMMs add onto it (GradsInit::zero) instead
// of OpenBLAS clearing it in a separate memset pass.
MLPTRAIN_VECTOR_CLONES
static void add_and_clear(float* into, float* from, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
        into[i] += from[i];
        from[i] = 0.0f;
    }
}

// into[i] += from[i] for i < n: where the next backward pass overwrites `from` anyway
// (oneDNN; see clear_grads_).
MLPTRAIN_VECTOR_CLONES
static void add_into(float* into, const float* from, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) into[i] += from[i];
}

// Whether g[0..n) holds a NaN or ±Inf (exponent bits all ones), in integer and/add/or that
// the vectorizer may reorder freely: (u & 0x7fffffff) + 0x00800000 reaches bit 31 exactly
// when the exponent is 0xff.
MLPTRAIN_VECTOR_CLONES
static bool any_non_finite(const float* g, std::int64_t n) {
    std::uint32_t flags = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        std::uint32_t u;
        std::memcpy(&u, g + i, sizeof u);
        flags |= (u & 0x7fffffffu) + 0x00800000u;
    }
    return (flags & 0x80000000u) != 0;
}

// Σ(scale·g)² in index order, in double: the clipping norm. The order is part of the result
// (it scales the step), so this stays one serial chain, run only when clipping is on.
static double sum_of_squares(const float* g, std::int64_t n, float scale) {
    double sumsq = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double v = static_cast<double>(scale) * g[i];
        sumsq += v * v;
    }
    return sumsq;
}

// Floats per block of a chunk: every tree level runs over one 4 KiB block of each shard
// buffer before the next block, so the levels find it in L1. Element i sees the same
// additions in the same order as with whole-chunk levels.
constexpr std::int64_t block_floats = 1024;

// Where the sum of shards [first, first + count) lies while the tree runs: in `root` if the
// range holds it, else in its first shard's buffer.
static std::int64_t holder(std::int64_t first, std::int64_t count, std::int64_t root) {
    return root >= first && root < first + count ? root : first;
}

// Sums chunk `chunk` of this rank's shard gradients into its root shard's buffer along the
// fixed tree, clearing the other shards' buffers as it consumes them. Each pair of partial
// sums (left, right) is added into the one holding the root, else into the left: a + b and
// b + a are the same float, so the root changes where the sum lands, not its bits. With
// `check`, each 4 KiB block of the sum is tested for NaN/Inf right after its last level,
// while it is in L1, instead of in a second pass over the chunk.
void Trainer::reduce_chunk(std::int64_t chunk, bool check) {
    const std::int64_t begin = chunk * chunk_floats;
    const std::int64_t end = std::min(begin + chunk_floats, params_.size());
    const std::int64_t root = chunk_root_[static_cast<std::size_t>(chunk)];
    auto grads = [&](std::int64_t s) { return workspaces_[static_cast<std::size_t>(s)]->grads.data(); };
    bool bad = false;
    for (std::int64_t b = begin; b < end; b += block_floats) {
        const std::int64_t n = std::min(block_floats, end - b);
        for (std::int64_t stride = 1; stride < local_shards_; stride *= 2) {
            for (std::int64_t s = 0; s + stride < local_shards_; s += 2 * stride) {
                const std::int64_t left = holder(s, stride, root), right = holder(s + stride, stride, root);
                float* into = grads(right == root ? right : left) + b;
                float* from = grads(right == root ? left : right) + b;
                // The consumed buffer, usually another core's, is written next (cleared
                // here, or with oneDNN overwritten by its owner's next pass): ask for the
                // lines of its next block exclusive now (core/prefetch.hpp).
                const std::int64_t next = std::min(block_floats, end - b - n);
                prefetch_for_write(from + n, sizeof(float) * static_cast<std::size_t>(next));
                if (clear_grads_) add_and_clear(into, from, n);
                else add_into(into, from, n);
            }
        }
        if (check) bad = bad || any_non_finite(grads(root) + b, n);  // the block's sum, still in L1
    }
    if (check) chunk_bad_[static_cast<std::size_t>(chunk)] = bad ? 1 : 0;
}

float* Trainer::reduced_gradient(std::int64_t chunk) const {
    return workspaces_[static_cast<std::size_t>(chunk_root_[static_cast<std::size_t>(chunk)])]->grads.data();
}

// Records whether the reduced gradient's chunk holds NaN/Inf (unless reduce_chunk did) and,
// when clipping needs the global norm, Σ(scale·g)² of the chunk. (Without clipping the norm
// is never used; its serial double sum was 4-14 % of a step.)
void Trainer::check_chunk(std::int64_t chunk, float grad_scale, bool finite_checked) {
    const std::int64_t begin = chunk * chunk_floats;
    const std::int64_t end = std::min(begin + chunk_floats, params_.size());
    const float* g = reduced_gradient(chunk);
    if (!finite_checked) chunk_bad_[static_cast<std::size_t>(chunk)] = any_non_finite(g + begin, end - begin) ? 1 : 0;
    const bool bad = chunk_bad_[static_cast<std::size_t>(chunk)] != 0;
    chunk_sumsq_[static_cast<std::size_t>(chunk)] =
        config_.clip_norm > 0.0f && !bad ? sum_of_squares(g + begin, end - begin, grad_scale) : 0.0;
}

// Where a non-finite loss came from: the first layer (in forward order) whose
// pre-activations hold NaN/Inf in any of this rank's shards, else the loss itself.
std::string Trainer::first_non_finite_layer(std::int64_t n) const {
    int first = -1;
    for (std::int64_t s = 0; s < local_shards_; ++s) {
        const std::int64_t g = first_shard_ + s;
        const std::int64_t rows = (g + 1) * n / shards_ - g * n / shards_;
        const int layer = mlptrain::first_non_finite_layer(*workspaces_[static_cast<std::size_t>(s)], model_, rows);
        if (layer >= 0 && (first < 0 || layer < first)) first = layer;
    }
    if (first >= 0) return describe_layer_outputs(model_, params_.data(), first);
    return "the loss (finite outputs, overflowing loss)";
}

void Trainer::throw_non_finite_gradient() const {
    for (const Slot& slot : model_.layout().slots())
        for (std::int64_t i = slot.offset; i < slot.offset + slot.size(); ++i)
            if (!std::isfinite(reduced_gradient(i / chunk_floats)[i]))
                throw NumericError("step " + std::to_string(step_ + 1) +
                                   ": the gradient is not finite (NaN or Inf), first in " +
                                   slot.name + " (hint: lower " + field_ref("lr") + ", use " +
                                   field_ref("clip_norm") + ", or check the data for extreme values)");
    throw NumericError("step " + std::to_string(step_ + 1) + ": the gradient norm overflowed");
}

// The optimizer step over chunk `chunk` with its reduced gradient, which it then clears
// where clear_grads_ says (consumed; see add_and_clear). The new weights that the next
// step's passes read (fp32 params, or their bf16 roundings) go out with streaming stores
// when this step's weight stores are streaming (weight_stores.hpp; stream_store.hpp), one
// block at a time through a buffer on the stack.
void Trainer::update_chunk(std::int64_t chunk, const StepScalars& scalars) {
    const std::int64_t begin = chunk * chunk_floats, end = std::min(begin + chunk_floats, params_.size());
    float* grad = reduced_gradient(chunk);
    const bool bf16 = params_bf16_.size() > 0;
    // Only this thread reads the fp32 weights where the GEMMs read their bf16 roundings.
    if (!stream_weights_ || bf16) optimizer_.update(params_.data(), grad, begin, end, scalars);
    if (stream_weights_) {
        for (std::int64_t b = begin; b < end; b += block_floats) {
            const std::int64_t n = std::min(block_floats, end - b);
            alignas(64) float block[block_floats];
            alignas(64) bf16_bits block_bf16[block_floats];
            if (bf16) {
                convert_to_bf16(block_bf16, params_.data() + b, n);
                stream_copy(params_bf16_.data() + b, block_bf16, sizeof(bf16_bits) * static_cast<std::size_t>(n));
            } else {
                optimizer_.update_into(params_.data(), grad, b, b + n, scalars, block);
                stream_copy(params_.data() + b, block, sizeof(float) * static_cast<std::size_t>(n));
            }
        }
        stream_fence();
    } else if (bf16) {
        convert_to_bf16(params_bf16_.data() + begin, params_.data() + begin, end - begin);  // while in cache
    }
    if (clear_grads_) std::memset(grad + begin, 0, sizeof(float) * static_cast<std::size_t>(end - begin));
}

StepScalars Trainer::reduce_and_check(std::int64_t n) {
    const std::int64_t chunks = static_cast<std::int64_t>(chunk_sumsq_.size());
    const float inv_batch = 1.0f / static_cast<float>(n);
    const float lr = learning_rate(config_.schedule, step_);
    float* grad = workspaces_[0]->grads.data();  // the whole sum, across ranks
    auto any_bad = [&] {
        for (unsigned char bad : chunk_bad_)
            if (bad) return true;
        return false;
    };

    // Reduce this rank's shards, combine the ranks (continuing the same tree), check every
    // chunk, and only then step: a step that finds NaN/Inf changes nothing (tested). Two
    // sweeps. (One staged sweep, reducing, checking and updating each chunk while in cache
    // into spare buffers swapped in when all were finite, measured 3-4 % slower on
    // 784-1024-1024-10 and no faster on 784-256-128-10: the spare buffers double what the
    // update streams through memory.)
    if (comm_->size() == 1) {
        workers_.run(chunks, [&](std::int64_t c) {
            reduce_chunk(c, true);              // checks each block's sum while in L1
            check_chunk(c, inv_batch, true);    // the norm, while the chunk is still in cache
        });
    } else {
        workers_.run(chunks, [&](std::int64_t c) { reduce_chunk(c, false); });
        const auto start = std::chrono::steady_clock::now();
        comm_->allreduce_sum(grad, params_.size(), config_.allreduce);
        allreduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        workers_.run(chunks, [&](std::int64_t c) { check_chunk(c, inv_batch, false); });
    }
    if (any_bad()) throw_non_finite_gradient();
    double clip = 1.0;
    if (config_.clip_norm > 0.0f) {
        double sumsq = 0.0;
        for (std::int64_t c = 0; c < chunks; ++c) sumsq += chunk_sumsq_[static_cast<std::size_t>(c)];
        if (!std::isfinite(sumsq)) throw_non_finite_gradient();
        const double norm = std::sqrt(sumsq);
        clip = norm > config_.clip_norm ? config_.clip_norm / norm : 1.0;
    }
    return optimizer_.scalars(step_ + 1, lr, static_cast<float>(inv_batch * clip));
}

void Trainer::update_weights(const StepScalars& scalars) {
    workers_.run(static_cast<std::int64_t>(chunk_sumsq_.size()), [&](std::int64_t c) { update_chunk(c, scalars); });
    grads_zero_ = clear_grads_;  // the tree cleared the consumed shards, the update the root
}

// Σ values[0..n) in the fixed pairwise tree (values is overwritten).
static double tree_sum(double* values, std::int64_t n) {
    for (std::int64_t stride = 1; stride < n; stride *= 2)
        for (std::int64_t s = 0; s + stride < n; s += 2 * stride) values[s] += values[s + stride];
    return n > 0 ? values[0] : 0.0;
}

double Trainer::train_step(const Dataset& data, const std::int64_t* rows, std::int64_t n) {
    MLPTRAIN_ASSERT(n >= 1 && n <= config_.batch_size, "train_step batch size");
    const auto start = std::chrono::steady_clock::now();
    run_shards(data, rows, n);
    const auto passes_end = std::chrono::steady_clock::now();
    // The batch's loss: the shard losses summed in the same tree as the gradients.
    double loss = tree_sum(shard_loss_.data(), local_shards_);
    comm_->allreduce_sum(&loss, 1);
    loss /= static_cast<double>(n);
    if (!std::isfinite(loss))
        throw NumericError("step " + std::to_string(step_ + 1) + ": the loss is " +
                           (std::isnan(loss) ? "NaN" : "infinite") + ", first non-finite in " +
                           first_non_finite_layer(n) +
                           " (hint: lower " + field_ref("lr") + ", use " + field_ref("clip_norm") +
                           ", or check the data for extreme values)");
    const StepScalars scalars = reduce_and_check(n);
    const auto reduce_end = std::chrono::steady_clock::now();
    const bool tuned = several_readers_ && config_.weight_stores == WeightStores::automatic;
    stream_weights_ = several_readers_ && (config_.weight_stores == WeightStores::streaming ||
                                           (tuned && store_tuner_.streaming()));
    update_weights(scalars);
    const auto end = std::chrono::steady_clock::now();
    account_phases(start, passes_end, reduce_end, end);
    // Only full batches are comparable; the step's passes read what the last update wrote.
    if (tuned && n == config_.batch_size) store_tuner_.record(std::chrono::duration<double>(end - start).count());
    ++step_;
    return loss;
}

EvalResult Trainer::evaluate(const Dataset& data, const std::vector<std::int64_t>& rows,
                             std::vector<std::int32_t>* predictions, std::vector<float>* outputs) {
    // Chunks of a shard's rows over every thread: the result is the same with any lane count.
    return evaluate_rows(model_, params_.data(), data, rows, shard_rows_, eval_lanes_, workers_, *comm_,
                         predictions, outputs, -1, weights_bf16());
}

bool Trainer::stopped_early() const {
    return config_.patience > 0 && state_.epochs_since_best >= config_.patience;
}

Snapshot Trainer::snapshot() const {
    Snapshot s;
    s.step = step_;
    s.state = state_;
    s.seed = config_.seed;
    s.shards = shards_;
    s.weights_fingerprint = weights_fingerprint();
    s.buffers.push_back({"params", params_.data()});
    const std::vector<std::string> names = optimizer_.moment_names();
    const std::vector<const AlignedBuffer*> moments = optimizer_.moments();
    for (std::size_t m = 0; m < moments.size(); ++m) s.buffers.push_back({"optimizer." + names[m], moments[m]->data()});
    if (best_params_.size() == params_.size()) s.buffers.push_back({"best", best_params_.data()});
    return s;
}

std::vector<std::string> Trainer::required_roles() const {
    std::vector<std::string> roles{"params"};
    for (const std::string& name : optimizer_.moment_names()) roles.push_back("optimizer." + name);
    return roles;
}

void Trainer::restore(const Snapshot& snapshot) {
    const auto bytes = sizeof(float) * static_cast<std::size_t>(params_.size());
    auto copy = [&](const std::string& role, float* into) {
        const float* from = snapshot.find(role);
        MLPTRAIN_ASSERT(from != nullptr, "snapshot without the buffer '" + role + "'");
        std::memcpy(into, from, bytes);
    };
    copy("params", params_.data());
    const std::vector<std::string> names = optimizer_.moment_names();
    const std::vector<AlignedBuffer*> moments = optimizer_.moments();
    for (std::size_t m = 0; m < moments.size(); ++m) copy("optimizer." + names[m], moments[m]->data());
    if (snapshot.find("best")) {
        best_params_ = AlignedBuffer(params_.size());
        copy("best", best_params_.data());
    }
    state_ = snapshot.state;
    step_ = snapshot.step;
    round_weights();
}

// The upper median of `values` (reordered), 0 when empty: a benchmark's steady-state step.
static double upper_median(std::vector<double>& values) {
    if (values.empty()) return 0.0;
    const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
    std::nth_element(values.begin(), middle, values.end());
    return *middle;
}

bool Trainer::fit(const Dataset& data, const Split& split, const FitCallbacks& callbacks) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const std::int64_t train_rows = static_cast<std::int64_t>(split.train.size());
    MLPTRAIN_ASSERT(train_rows >= 1, "no training rows");
    const bool early_stopping = config_.patience > 0 && !split.validation.empty();
    if (early_stopping && best_params_.size() != params_.size()) best_params_ = AlignedBuffer(params_.size());
    std::vector<std::int64_t> order;
    TrainState& st = state_;
    // Every GEMM shape of the run before its first step: the epoch's last batch and the
    // evaluations (the trainer's and fit's test) may have row counts of their own.
    if (train_rows % config_.batch_size) prepare_step(train_rows % config_.batch_size);
    for (const auto* part : {&split.validation, &split.test}) prepare_evaluation(static_cast<std::int64_t>(part->size()));

    while (!st.finished && st.epoch <= config_.epochs) {
        order = split.train;
        shuffle_indices(order, config_.seed, RngPurpose::shuffle, static_cast<std::uint32_t>(st.epoch));
        step_seconds_.clear();  // reserved here, not in a step: a step allocates nothing
        step_seconds_.reserve(static_cast<std::size_t>((train_rows + config_.batch_size - 1) / config_.batch_size));
        const auto epoch_start = clock::now();
        const std::int64_t first_position = st.position;
        while (st.position < train_rows) {
            const std::int64_t n = std::min(config_.batch_size, train_rows - st.position);
            const auto step_start = clock::now();
            st.epoch_loss_sum += train_step(data, order.data() + st.position, n) * static_cast<double>(n);
            step_seconds_.push_back(std::chrono::duration<double>(clock::now() - step_start).count());
            st.position += n;
            if (st.position < train_rows && callbacks.after_step && !callbacks.after_step(st)) return false;
        }
        const double epoch_seconds = std::chrono::duration<double>(clock::now() - epoch_start).count();
        EpochReport report;
        report.epoch = st.epoch;
        report.step = step_;
        report.train_loss = st.epoch_loss_sum / static_cast<double>(train_rows);
        report.learning_rate = learning_rate(config_.schedule, std::max<std::int64_t>(step_ - 1, 0));
        report.samples_per_second =
            static_cast<double>(train_rows - first_position) / std::max(epoch_seconds, 1e-9);
        report.median_step_seconds = upper_median(step_seconds_);
        if (!split.validation.empty()) report.validation = evaluate(data, split.validation);
        report.seconds = std::chrono::duration<double>(clock::now() - start).count();
        if (early_stopping) {
            if (report.validation->loss < st.best_loss) {
                st.best_loss = report.validation->loss;
                std::memcpy(best_params_.data(), params_.data(), sizeof(float) * params_.size());
                st.epochs_since_best = 0;
                report.best = true;
            } else if (++st.epochs_since_best >= config_.patience) {
                st.finished = true;
            }
        }
        if (callbacks.on_epoch) callbacks.on_epoch(report);
        ++st.epoch;
        st.position = 0;
        st.epoch_loss_sum = 0.0;
        if (st.epoch > config_.epochs) st.finished = true;
        if (st.finished && early_stopping && std::isfinite(st.best_loss)) {
            std::memcpy(params_.data(), best_params_.data(), sizeof(float) * params_.size());
            round_weights();
        }
        if (callbacks.after_step && !callbacks.after_step(st)) return st.finished;
    }
    return true;
}

}  // namespace mlptrain
