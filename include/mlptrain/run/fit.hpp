// The second half of a training run: the trainer on a prepared run, resumed from its
// checkpoint if it has one, checkpointing as configured, stopping cleanly on request, the
// ranks of an MPI job kept in agreement, and the test set evaluated at the end. What the
// caller hears and asks goes through a RunObserver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mlptrain/core/metrics.hpp"
#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/engine/train_state.hpp"
#include "mlptrain/run/blas_selection.hpp"
#include "mlptrain/run/prepare.hpp"

namespace mlptrain {

// The trainer as it starts, for a run header.
struct RunStart {
    int threads = 1;
    std::int64_t shards = 1;  // per batch, all ranks
    std::int64_t parameters = 0;
    std::vector<std::string> notices;  // from the trainer (field references marked)
    BlasSelection blas;                // the BLAS core the run uses, and why
    GemmSettings gemm;                 // the GEMMs' backend and input precision
    bool resumed = false;
    std::string resumed_from;  // the checkpoint file
    std::int64_t step = 0;     // steps already taken
    TrainState state;
};

// What a caller of fit() hears about the run, and how it asks it to stop. Every method has
// an empty default; all run on the calling thread, on every rank.
class RunObserver {
public:
    virtual ~RunObserver() = default;
    virtual void on_start(const RunStart&) {}
    // After each step that does not end an epoch (progress displays).
    virtual void on_step(const TrainState&, std::int64_t /*step*/) {}
    virtual void on_epoch(const EpochReport&) {}
    // A checkpoint was written (on rank 0) in `seconds`.
    virtual void on_checkpoint(const std::string& /*path*/, double /*seconds*/) {}
    // Polled at every step boundary: a positive value asks the run to checkpoint and stop.
    // The ranks agree on the largest value any of them returns.
    virtual int stop_request() { return 0; }
};

struct FitResult {
    bool finished = false;      // every epoch ran, or early stopping ended the run
    int stop_request = 0;       // when not finished: the request that stopped it
    bool stopped_early = false;  // early stopping ended it (the best weights were restored)
    std::int64_t step = 0;
    TrainState state;
    std::string checkpoint_dir;  // where checkpoints were written ("" for none)
    std::optional<EvalResult> test;            // when finished with a test set (regression: loss in
                                               // the targets' original units)
    std::optional<RegressionScore> test_regression;  // mse: RMSE and R², original units
    std::vector<std::int32_t> test_predicted;  // classification: the class of each test row
    std::string weights_fingerprint;
    std::vector<float> params;  // the final weights, in the arena layout of Model(spec)
};

// Trains `run` to the end or until the observer asks to stop. With a communicator of
// several ranks (nullptr: one process) every rank calls this with the same run; rank 0
// alone writes checkpoints. Throws Error, NumericError on NaN/Inf.
FitResult fit(PreparedRun& run, RunObserver& observer, Communicator* communicator = nullptr);

}  // namespace mlptrain
