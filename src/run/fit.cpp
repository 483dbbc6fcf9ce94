// A prepared run trained to its end (see fit.hpp): resume, checkpoints, stop requests, the
// ranks' agreement, and the final test evaluation.
#include "mlptrain/run/fit.hpp"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <new>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/metrics.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {
namespace {

// FNV-1a 64 of a string, for the ranks' agreement on configuration and model.
std::uint64_t hash_text(const std::string& text) {
    return fingerprint64(reinterpret_cast<const unsigned char*>(text.data()), static_cast<std::int64_t>(text.size()));
}

// FNV-1a 64 of the dataset's size and contents, for the ranks' agreement on the data.
std::uint64_t hash_dataset(const Dataset& d) {
    auto bytes = [](const auto& v) {
        return fingerprint64(reinterpret_cast<const unsigned char*>(v.data()),
                             static_cast<std::int64_t>(v.size() * sizeof(v[0])));
    };
    return hash_text(std::to_string(d.rows) + "x" + std::to_string(d.features) + ":" + std::to_string(bytes(d.x)) +
                     std::to_string(bytes(d.x_u8)) + std::to_string(bytes(d.labels)) + std::to_string(bytes(d.y)));
}

// Before step 0 every rank must train the same thing; a mismatch names the rank and what
// differs instead of hanging or silently averaging different models.
void check_ranks_agree(Communicator& comm, const PreparedRun& run) {
    const std::pair<const char*, std::uint64_t> checks[] = {{"configuration", hash_text(config_lines(run.config))},
                                                            {"model", hash_text(run.spec.describe())},
                                                            {"dataset (size and contents)", hash_dataset(run.data)}};
    for (const auto& [what, value] : checks) {
        const int rank = comm.first_disagreeing_rank(value);
        if (rank >= 0)
            throw Error(describe(std::string(what) + " of rank " + std::to_string(rank), "the same as rank 0's",
                                 "a different one", "every rank must get the same settings and the same data files"));
    }
}

// After every epoch the replicas must hold the same weights.
void check_replicas_agree(Communicator& comm, const Trainer& trainer, std::int64_t epoch) {
    const std::int64_t bytes = static_cast<std::int64_t>(sizeof(float)) * trainer.model().layout().total();
    const int rank = comm.first_disagreeing_rank(fingerprint64(reinterpret_cast<const unsigned char*>(trainer.params()), bytes));
    if (rank >= 0)
        throw Error(describe("rank " + std::to_string(rank) + " after epoch " + std::to_string(epoch),
                             "the weights of rank 0", "different weights",
                             "the replicas diverged; check that every node runs the same binary on the same CPU type"));
}

void restore_trainer(Trainer& trainer, const LoadedCheckpoint& c) {
    const ModelSpec& spec = trainer.model().spec();
    if (spec != c.info.spec)
        throw Error(describe(c.path, "model " + spec.describe(), c.info.spec.describe(),
                             "resume with the configuration the checkpoint was saved with"));
    require_roles(c, trainer.required_roles());
    trainer.restore(c.snapshot());
}

// Rank 0's checkpoint directory, if the run writes one. Runs never mix in one directory:
// pruning keeps the newest steps, which could be another run's, and `latest` must name this
// run's newest checkpoint.
std::optional<CheckpointDir> open_checkpoints(const PreparedRun& run, bool leader) {
    const std::string& dir = run.config.checkpoint_dir;
    if (!leader || dir.empty()) return std::nullopt;
    const std::vector<std::int64_t> steps = checkpoint_steps(dir);
    const std::string where = field_ref("checkpoint_dir") + " " + dir;
    if (!steps.empty() && !run.resume)
        throw Error(describe(where, "an empty directory (or " + field_ref("resume") + " from it)",
                             "checkpoints of an earlier run, up to step " + std::to_string(steps.back()),
                             "continue that run with " + field_ref("resume") + " " + dir + ", or choose another directory"));
    if (!steps.empty() && steps.back() > run.resume->step)
        throw Error(describe(where, "no checkpoint later than the resumed step " + std::to_string(run.resume->step),
                             "checkpoints up to step " + std::to_string(steps.back()),
                             "resume from the directory's latest, or write to another " + field_ref("checkpoint_dir")));
    return CheckpointDir(dir, static_cast<int>(run.config.keep_checkpoints), field_ref("checkpoint_dir"));
}

// The final test: the loss and accuracy, and for regression the RMSE and R² in the targets'
// original units (outputs and targets un-standardized).
void evaluate_test(Trainer& trainer, const PreparedRun& run, FitResult& result) {
    if (run.targets_cols == 0) {
        result.test = trainer.evaluate(run.data, run.split.test, &result.test_predicted);
        return;
    }
    std::vector<float> outputs;
    result.test = trainer.evaluate(run.data, run.split.test, nullptr, &outputs);
    const std::int64_t rows = result.test->rows, cols = run.targets_cols;
    std::vector<float> targets;
    for (std::int64_t r : run.split.test)
        targets.insert(targets.end(), run.data.y.begin() + r * cols, run.data.y.begin() + (r + 1) * cols);
    if (!run.target_standardization.empty()) {
        undo_standardization(outputs.data(), rows, run.target_standardization);
        undo_standardization(targets.data(), rows, run.target_standardization);
    }
    result.test_regression = score_regression(outputs.data(), targets.data(), rows, cols);
    result.test->loss = result.test_regression->mse;
}

// The trainer, or, when its buffers do not fit in memory, an error that says which setting
// asked for how much.
std::unique_ptr<Trainer> make_trainer(const Model& model, const PreparedRun& run, Communicator& comm) {
    // Weights, their momentum or Adam moments, and each shard's gradient: float copies. A
    // request beyond the machine's memory is refused before it is made (zeroing it would
    // call the OOM killer, not return an error).
    const std::int64_t shards = run.train.shards > 0 ? run.train.shards : default_shards(run.train.batch_size);
    const double bytes = static_cast<double>(3 + shards) * 4.0 * static_cast<double>(model.layout().total());
    const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
    auto too_large = [&] {
        std::string layers;
        for (std::int64_t width : run.config.layers) layers += (layers.empty() ? "" : ",") + std::to_string(width);
        return Error(describe(field_ref("layers") + " " + layers, "a network whose training state fits in memory",
                              std::to_string(model.layout().parameter_count()) + " parameters, about " +
                                  format_fixed(bytes / 1e9, 1) + " GB for the weights, optimizer moments and " +
                                  std::to_string(shards) + " shard gradient(s), on a machine with " +
                                  format_fixed(memory / 1e9, 1) + " GB",
                              "use narrower or fewer layers, or a machine with more memory"));
    };
    if (memory > 0 && bytes > memory) throw too_large();
    try {
        return std::make_unique<Trainer>(model, run.train, run.targets_cols, &comm);
    } catch (const std::bad_alloc&) {
        throw too_large();
    }
}

RunStart run_start(const Trainer& trainer, const PreparedRun& run, const BlasSelection& blas) {
    RunStart start;
    start.blas = blas;
    start.threads = trainer.threads();
    start.shards = trainer.shards();
    start.parameters = trainer.model().layout().parameter_count();
    start.notices = trainer.notices();
    start.gemm = trainer.config().gemm;
    start.resumed = run.resume.has_value();
    if (run.resume) start.resumed_from = run.resume->path;
    start.step = trainer.step();
    start.state = trainer.state();
    return start;
}

}  // namespace

FitResult fit(PreparedRun& run, RunObserver& observer, Communicator* communicator) {
    std::unique_ptr<Communicator> local;
    if (!communicator) communicator = (local = make_local_communicator()).get();
    Communicator& comm = *communicator;
    check_ranks_agree(comm, run);
    // Before the first GEMM and before any worker thread exists: the core may be switched.
    const BlasSelection& blas = process_blas_core(run.config.blas_core, &comm);
    const Model model(run.spec);
    std::unique_ptr<Trainer> owned = make_trainer(model, run, comm);
    Trainer& trainer = *owned;
    if (run.resume) restore_trainer(trainer, *run.resume);
    std::optional<CheckpointDir> checkpoints = open_checkpoints(run, comm.rank() == 0);
    const CheckpointInfo info{run.spec,
                              run.data.class_names,
                              run.standardization,
                              run.target_standardization,
                              run.saved_config,
                              run.data_hash,
                              !run.data.x_u8.empty(),
                              run.train.gemm,
                              run.train.gemm.backend == GemmBackend::onednn ? onednn_description() : blas_description()};
    observer.on_start(run_start(trainer, run, blas));

    FitResult result;
    FitCallbacks callbacks;
    callbacks.after_step = [&](const TrainState& state) {
        // Ranks stop at the same step boundary (a signal may reach one first).
        const int request = observer.stop_request();
        const int agreed = comm.size() > 1 ? comm.max_over_ranks(request) : request;
        const bool epoch_end = state.position == 0;
        const bool periodic = run.config.checkpoint_every > 0 && trainer.step() % run.config.checkpoint_every == 0;
        if (checkpoints && (epoch_end || periodic || agreed > 0)) {
            const auto start = std::chrono::steady_clock::now();
            const std::string path = checkpoints->save(trainer.snapshot(), info);
            observer.on_checkpoint(path, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        if (agreed > 0) {
            result.stop_request = agreed;
            return false;
        }
        if (!epoch_end) observer.on_step(state, trainer.step());
        return true;
    };
    callbacks.on_epoch = [&](const EpochReport& report) {
        if (comm.size() > 1) check_replicas_agree(comm, trainer, report.epoch);
        observer.on_epoch(report);
    };
    result.finished = trainer.fit(run.data, run.split, callbacks);
    result.stopped_early = trainer.stopped_early();
    result.step = trainer.step();
    result.state = trainer.state();
    if (checkpoints) result.checkpoint_dir = checkpoints->dir();
    if (result.finished && !run.split.test.empty()) evaluate_test(trainer, run, result);
    result.weights_fingerprint = trainer.weights_fingerprint();
    result.params.assign(trainer.params(), trainer.params() + model.layout().total());
    return result;
}

}  // namespace mlptrain
