// The data-parallel trainer: cuts every mini-batch into a fixed number of shards, runs the
// shards' forward/backward passes on worker threads (single-threaded BLAS inside each),
// sums the shard gradients in one fixed pairwise tree, scales by 1/B once, and applies one
// optimizer step. Results depend on (data, configuration, seed) only — never on threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/engine/parallel.hpp"
#include "mlptrain/engine/shard_team.hpp"
#include "mlptrain/engine/snapshot.hpp"
#include "mlptrain/engine/train_state.hpp"
#include "mlptrain/engine/weight_stores.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/nn/optimizer.hpp"
#include "mlptrain/nn/schedule.hpp"
#include "mlptrain/nn/workspace.hpp"

namespace mlptrain {

// The trainer's resolved settings (run/prepare.hpp derives them from a RunConfig; the
// documented defaults live in run/settings.cpp, not here).
struct TrainConfig {
    std::int64_t epochs = 1;
    std::int64_t batch_size = 1;
    std::int64_t shards = 0;  // 0: default_shards(batch_size)
    int threads = 0;          // 0: every CPU of the affinity mask (worker_threads)
    std::uint64_t seed = 0;
    std::optional<InitKind> init;  // default: default_init(hidden activation)
    OptimizerConfig optimizer;
    ScheduleConfig schedule;       // holds the learning rate
    float clip_norm = 0.0f;        // clip the global gradient norm to this (0: off)
    std::int64_t patience = 0;     // early stopping on validation loss (0: off)
    AllreduceKind allreduce = AllreduceKind::tree;  // across MPI ranks
    // The GEMMs' backend and input precision (run/gemm_selection.hpp decides for a run).
    // bf16: the weights are rounded once per step, after the update, into one copy that
    // every shard reads; master weights, gradients and optimizer state stay fp32.
    GemmSettings gemm;
    // How the update writes the weights when several threads read them (weight_stores.hpp):
    // the speed, not the bits.
    WeightStores weight_stores = WeightStores::automatic;
    // With more threads than shards on a rank, let a team of threads share each shard's
    // passes where the GEMM library gives the split the same bits (engine/shard_team.hpp):
    // the speed, not the bits.
    bool shard_teams = true;
};

// Shards for a batch size: about 128 rows per shard (where single-threaded sgemm reaches
// its plateau), at least 2 from 64 rows up so that two cores have work. A pure function
// of the batch size: the shard count is part of what defines the result.
std::int64_t default_shards(std::int64_t batch_size);

// Where the wall time of the steps went, summed over the steps since the last
// Trainer::reset_step_phases() (a benchmark divides by `steps`): the shard passes (gather,
// forward, loss, backward: the GEMMs and the element-wise work between them), the
// reduction (the loss and gradient trees, the allreduce across ranks, the finite check and
// the clipping norm) and the optimizer update. Of the passes, also the time of the busiest
// and of the least busy worker thread: the other threads wait for the busiest, so
// `passes` − `busiest_worker` is what the fork and join cost, and `busiest_worker` −
// `idlest_worker` what the uneven split did. Two clock reads per phase and per shard; a
// step that throws is not counted. With Trainer::time_gemm_calls on, also the time the
// GEMM library calls took inside the passes: summed over all workers, and the busiest
// worker's share (0 when off).
struct StepPhases {
    std::int64_t steps = 0;
    double passes = 0.0, reduce = 0.0, update = 0.0;   // seconds, wall
    double busiest_worker = 0.0, idlest_worker = 0.0;  // seconds, summed over the steps
    double gemm_calls = 0.0, busiest_worker_gemm_calls = 0.0;  // seconds, summed over the steps

    StepPhases& operator+=(const StepPhases& o) {
        steps += o.steps;
        passes += o.passes, reduce += o.reduce, update += o.update;
        busiest_worker += o.busiest_worker, idlest_worker += o.idlest_worker;
        gemm_calls += o.gemm_calls, busiest_worker_gemm_calls += o.busiest_worker_gemm_calls;
        return *this;
    }
};

struct FitCallbacks {
    std::function<void(const EpochReport&)> on_epoch;
    // After every step, with the state consistent (a checkpoint may be taken here); at an
    // epoch's end it runs after on_epoch, with state at the next epoch's start. Returning
    // false stops training at once.
    std::function<bool(const TrainState&)> after_step;
};

class Trainer {
public:
    // `targets_cols` > 0 for regression targets (mse), 0 for class labels. With a
    // communicator of several ranks, this rank trains its contiguous block of the shards
    // (nullptr: one process). Throws Error if the shards cannot be split bit-exactly.
    Trainer(const Model& model, const TrainConfig& config, std::int64_t targets_cols,
            Communicator* communicator = nullptr);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    const Model& model() const { return model_; }
    const TrainConfig& config() const { return config_; }
    int threads() const { return workers_.threads(); }
    std::int64_t shards() const { return shards_; }  // global, all ranks
    std::int64_t shard_rows() const { return shard_rows_; }  // of a full batch's shards
    // Wall time spent in the gradient allreduce across ranks so far (0 for one process).
    double allreduce_seconds() const { return allreduce_seconds_; }
    // Where the steps' time went since the last reset (or construction).
    const StepPhases& step_phases() const { return phases_; }
    void reset_step_phases() { phases_ = StepPhases{}; }
    // Times every GEMM call of the passes into step_phases() (GemmContext::time_calls).
    void time_gemm_calls(bool on);
    std::int64_t step() const { return step_; }
    const float* params() const { return params_.data(); }
    std::string weights_fingerprint() const;
    // Threads per shard in a full batch's step: a team that shares each shard's passes
    // (shard_team.hpp), or 1.
    int shard_team() const;
    // Wall time spent planning and verifying teams' splits so far (prepare_step), seconds.
    double team_check_seconds() const { return team_check_seconds_; }
    // The plan of a full batch's teams, or nullptr when every thread runs whole shards.
    const ShardTeamPlan* batch_team_plan() const { return team_plan(config_.batch_size); }
    // Things the user should know once (idle threads, teams), one line each; field references
    // marked (core/error.hpp's field_ref).
    const std::vector<std::string>& notices() const { return notices_; }
    // The stores the update writes the weights with: plain when one thread reads them (one
    // thread, or one shard a rank), else as config().weight_stores says; with `auto`, what
    // the tuner measured and chose (its counts: steps of each kind, probes, switches).
    WeightStores weight_stores() const {
        return several_readers_ ? config_.weight_stores : WeightStores::plain;
    }
    const WeightStoreTuner& weight_store_tuner() const { return store_tuner_; }

    // One synchronized step over dataset rows rows[0..n), 1 ≤ n ≤ batch size.
    // Returns the mean loss of the batch. Throws NumericError on NaN/Inf.
    double train_step(const Dataset& data, const std::int64_t* rows, std::int64_t n);

    // Makes the GEMMs of a step over n rows ready on every shard (the constructor does it
    // for the full batch; fit() for the epoch's last, partial batch), and those of an
    // evaluation of `rows` rows. With oneDNN this creates the primitives of those shapes,
    // so that no step creates one; a shape not prepared is created on demand and counted.
    void prepare_step(std::int64_t n);
    void prepare_evaluation(std::int64_t rows);
    // oneDNN primitives in all workspaces, and how many a step or evaluation created on demand.
    int gemm_primitives() const;
    int gemm_created_on_demand() const;
    // How many chunks an evaluation runs at once: the local shards, and a lane for each
    // thread beyond them within a memory budget (evaluator.hpp's evaluation_lanes).
    int evaluation_lanes() const { return static_cast<int>(eval_lanes_.size()); }

    // Mean loss and accuracy over `rows` (see evaluate_rows), with this trainer's weights.
    EvalResult evaluate(const Dataset& data, const std::vector<std::int64_t>& rows,
                        std::vector<std::int32_t>* predictions = nullptr,
                        std::vector<float>* outputs = nullptr);

    // Where the epoch loop stands.
    const TrainState& state() const { return state_; }
    // Whether early stopping ended the run (patience ran out on the validation loss).
    bool stopped_early() const;

    // Everything a resumed run needs to continue bit for bit: views of the weights, the
    // optimizer's moments and the early-stopping copy, valid until the next step.
    Snapshot snapshot() const;
    // The roles restore() needs: "params" and the optimizer's moments.
    std::vector<std::string> required_roles() const;
    // Copies a snapshot's buffers, loop state and step into this trainer. Asserts that the
    // required roles are present (check with required_roles() first).
    void restore(const Snapshot& snapshot);

    // The epoch loop from state(): each epoch reshuffles split.train (seeded by the epoch
    // number alone), steps through it in batches (the last may be partial), evaluates
    // split.validation and reports; early stopping, if configured and there is a
    // validation set, restores the best weights at the end. Returns true when all epochs
    // ran (or early stopping ended them), false when after_step asked to stop.
    bool fit(const Dataset& data, const Split& split, const FitCallbacks& callbacks);
    bool fit(const Dataset& data, const Split& split,
             const std::function<void(const EpochReport&)>& on_epoch) {
        return fit(data, split, FitCallbacks{on_epoch, nullptr});
    }

private:
    void run_shards(const Dataset& data, const std::int64_t* rows, std::int64_t n);
    // The passes of every shard by its team (run_shards decides).
    void run_team_shards(const ShardTeamPlan& plan, const Dataset& data, const std::int64_t* rows, std::int64_t n,
                         GradsInit init);
    // The plan every local shard of a step over n rows runs with, or nullptr (one thread a shard).
    const ShardTeamPlan* team_plan(std::int64_t n) const;
    // The notes on idle threads and teams, once the full batch's plan is made.
    void note_threads();
    // eval_lanes_ (the constructor, once the shards' workspaces exist).
    void make_evaluation_lanes(std::int64_t targets_cols);
    // Reduces, checks and clips: the scalars of the update, or throws NumericError.
    StepScalars reduce_and_check(std::int64_t n);
    void update_weights(const StepScalars& scalars);
    void account_phases(std::chrono::steady_clock::time_point start, std::chrono::steady_clock::time_point passes_end,
                        std::chrono::steady_clock::time_point reduce_end, std::chrono::steady_clock::time_point end);
    // With `check`, also records in chunk_bad_ whether the sum holds NaN/Inf.
    void reduce_chunk(std::int64_t chunk, bool check);
    // The buffer that holds chunk `chunk`'s reduced gradient after reduce_chunk.
    float* reduced_gradient(std::int64_t chunk) const;
    void update_chunk(std::int64_t chunk, const StepScalars& scalars);
    void check_chunk(std::int64_t chunk, float grad_scale, bool finite_checked);
    void throw_non_finite_gradient() const;
    std::string first_non_finite_layer(std::int64_t n) const;
    // bf16 GEMM inputs: params_bf16_[begin, end) = bf16(params_[begin, end)), or all of it.
    void round_weights(std::int64_t begin, std::int64_t end);
    void round_weights();
    const bf16_bits* weights_bf16() const { return params_bf16_.size() > 0 ? params_bf16_.data() : nullptr; }

    const Model& model_;
    TrainConfig config_;
    WorkerPool workers_;
    std::int64_t shards_ = 1;
    std::int64_t local_shards_ = 1;
    std::int64_t first_shard_ = 0;
    Communicator* comm_ = nullptr;
    std::unique_ptr<Communicator> own_communicator_;
    double allreduce_seconds_ = 0.0;
    std::int64_t shard_rows_ = 1;
    std::int64_t step_ = 0;
    TrainState state_;
    AlignedBuffer best_params_;  // early stopping
    AlignedBuffer params_;
    Bf16Buffer params_bf16_;  // bf16 GEMM inputs only: the weights as the GEMMs read them
    Optimizer optimizer_;
    std::vector<std::unique_ptr<Workspace>> workspaces_;  // one per shard
    // Evaluation runs chunks of a shard's rows on every worker thread: the shards'
    // workspaces, and with more threads than local shards an evaluation workspace (forward
    // passes only) for each thread beyond them, as many as the memory budget allows
    // (evaluator.hpp's evaluation_lanes).
    std::vector<std::unique_ptr<Workspace>> eval_workspaces_;
    std::vector<Workspace*> eval_lanes_;
    std::vector<double> shard_loss_;
    // Each pass item's time this step: a local shard, or with teams a member of a shard's
    // team (shard · members + member); pass_items_ of them in this step.
    std::int64_t pass_items_ = 0;
    std::vector<double> shard_seconds_;  // this step's pass time of each item
    std::vector<int> shard_worker_;      // and the worker that ran it (WorkerPool::current_worker)
    std::vector<double> worker_seconds_;  // this step's pass time of each worker
    std::vector<double> shard_gemm_seconds_, worker_gemm_seconds_;  // of those, in GEMM calls
    StepPhases phases_;
    std::vector<double> chunk_sumsq_;
    std::vector<unsigned char> chunk_bad_;
    std::vector<std::int64_t> chunk_root_;  // the shard buffer each chunk is reduced into
    bool several_readers_ = false;          // several threads' passes read the weights
    bool stream_weights_ = false;           // this step's update writes them with streaming stores
    WeightStoreTuner store_tuner_;          // with WeightStores::automatic
    bool clear_grads_ = true;               // the step leaves the gradient buffers zeroed
    // Every local shard's gradient buffer is all zeros: true at construction (AlignedBuffer
    // zero-fills), false from a step's backward passes until its update has cleared them
    // all, so that after a step that threw the next one overwrites them instead of adding
    // onto them.
    bool grads_zero_ = true;
    std::vector<std::string> notices_;
    int team_members_ = 1;                  // the most threads a shard's team may have
    std::vector<ShardTeamPlan> team_plans_;  // by shard rows, made by prepare_step
    std::string team_refusal_;              // why the full batch's shards run without teams
    double team_check_seconds_ = 0.0;       // plan_shard_team's time, all shard sizes
    std::vector<double> step_seconds_;  // this epoch's step times (reserved before the epoch)
};

}  // namespace mlptrain
