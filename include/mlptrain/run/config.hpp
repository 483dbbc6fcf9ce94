// The plain configuration of a training run, filled by the command line (src/cli/) or by a
// program linking mlptrain_core, and validated here with flag-named messages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/nn/activation.hpp"
#include "mlptrain/nn/loss.hpp"
#include "mlptrain/engine/trainer.hpp"

namespace mlptrain {

struct RunConfig {
    // Data: one file that is split, or separate train/test files.
    std::string data;
    std::string train_data, test_data;
    std::string train_labels, test_labels;  // IDX label files (default: derived from the names)
    std::string label;  // CSV label column (name or 0-based index); empty: last column
    double validation_fraction = 0.1;
    double test_fraction = 0.2;
    bool standardize = true;
    std::int64_t max_rows = 0;  // use only the first N rows of each data file (0: all)  // per-feature standardization fitted on the training rows

    // Model.
    std::vector<std::int64_t> hidden = {64, 32};
    Activation activation = Activation::relu;
    Loss loss = Loss::softmax_cross_entropy;
    float dropout = 0.0f;

    // Optimization and execution (epochs, batch, lr, optimizer, threads, shards, seed, …).
    TrainConfig train;
    std::int64_t lr_reference_batch = 0;  // linear scaling rule: lr·batch/ref (0: off)
    std::int64_t lr_step_epochs = 0;      // step schedule period in epochs (→ step_every)

    // Checkpoints.
    std::string checkpoint_dir;
    std::int64_t checkpoint_every = 0;  // steps; 0: at epoch ends only
    std::int64_t keep_checkpoints = 3;
    std::string resume;                 // checkpoint file or directory

    // Output.
    bool quiet = false;
    bool verbose = false;
    std::string metrics_out;

    RunConfig();
};

// Checks every value against its flag's rules; throws Error naming the flag.
void validate(const RunConfig& config);

// "64,32" → {64, 32}; throws Error naming `flag` on an empty, zero or non-numeric entry.
std::vector<std::int64_t> parse_layer_sizes(const std::string& text, const std::string& flag);

}  // namespace mlptrain
