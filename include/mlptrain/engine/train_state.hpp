// The plain records of a training run: where the epoch loop stands (TrainState, saved in
// every checkpoint), what an epoch reports, and what an evaluation measures. No behaviour,
// so that checkpoints, metrics logs and callers can use them without the trainer.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>

namespace mlptrain {

struct EvalResult {
    double loss = 0.0;      // mean loss
    double accuracy = 0.0;  // classification only
    std::int64_t rows = 0;
};

struct TrainState {
    std::int64_t epoch = 1;           // the epoch in progress, 1-based
    std::int64_t position = 0;        // rows of this epoch's shuffled order already trained
    double epoch_loss_sum = 0.0;      // Σ per-sample loss over those rows
    double best_loss = INFINITY;      // early stopping: best validation loss so far
    std::int64_t epochs_since_best = 0;
    bool finished = false;            // every epoch ran, or early stopping ended the run
};

struct EpochReport {
    std::int64_t epoch = 0;  // 1-based
    std::int64_t step = 0;   // optimizer steps so far
    double train_loss = 0.0;
    std::optional<EvalResult> validation;
    double learning_rate = 0.0;
    double samples_per_second = 0.0;   // the epoch's rows / the wall time of its steps
    double median_step_seconds = 0.0;  // the median wall time of the epoch's steps (steady state)
    double seconds = 0.0;       // since training started
    bool best = false;          // the best validation loss so far (early stopping)
};

}  // namespace mlptrain
