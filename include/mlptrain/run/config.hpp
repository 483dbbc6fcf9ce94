// The plain configuration of a training run — what a user sets, in the user's terms —
// filled by the command line (src/cli/) or by a C++ program, with the documented defaults
// from the one settings table (settings.hpp). Also its text form: `key = value` lines, as in
// a --config file and in every checkpoint. Errors name the field (ConfigError).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/blas_core.hpp"
#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/engine/weight_stores.hpp"
#include "mlptrain/nn/activation.hpp"
#include "mlptrain/nn/loss.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/nn/optimizer.hpp"
#include "mlptrain/nn/schedule.hpp"

namespace mlptrain {

struct RunConfig {
    // Data: one file that is split, or a training file and a separate test file.
    std::string data;
    std::string train_data, test_data;
    std::string train_labels, test_labels;  // IDX label files (default: derived from the names)
    std::string label;                      // CSV label column (name or 0-based index); empty: last
    double validation_fraction = 0.0;
    double test_fraction = 0.0;
    bool standardize = false;         // per-feature standardization fitted on the training rows
    bool standardize_target = false;  // mse: the same for the regression targets
    std::int64_t max_rows = 0;  // use only the first N rows of each data file (0: all)

    // Model.
    std::vector<std::int64_t> layers;  // hidden layer widths
    Activation activation = Activation::relu;
    Loss loss = Loss::softmax_cross_entropy;
    float dropout = 0.0f;
    std::optional<InitKind> init;  // default: default_init(activation)

    // Optimization.
    std::int64_t epochs = 0;
    std::int64_t batch_size = 0;
    float lr = 0.0f;
    std::int64_t lr_reference_batch = 0;  // linear scaling rule: lr·batch/ref (0: off)
    OptimizerKind optimizer = OptimizerKind::sgd;
    float momentum = 0.0f;
    bool nesterov = false;
    float weight_decay = 0.0f;
    float l2 = 0.0f;
    float beta1 = 0.0f, beta2 = 0.0f;
    ScheduleKind schedule = ScheduleKind::constant;
    std::int64_t warmup_steps = 0;
    std::int64_t lr_step_epochs = 0;  // step schedule period in epochs
    float lr_gamma = 0.0f;
    float min_lr = 0.0f;
    float clip_norm = 0.0f;
    std::int64_t patience = 0;  // early stopping (0: off)

    // Execution.
    int threads = 0;          // 0: every CPU of the affinity mask
    std::int64_t shards = 0;  // 0: from the batch size
    std::uint64_t seed = 0;
    AllreduceKind allreduce = AllreduceKind::tree;
    WeightStores weight_stores = WeightStores::automatic;  // how the update writes the weights: speed only
    bool shard_teams = true;  // teams of threads share a shard where that keeps the bits: speed only
    BlasCoreOption blas_core;  // OpenBLAS kernel set: auto, keep or a core (run/blas_selection.hpp)
    std::optional<GemmBackend> gemm;  // GEMM library; unset: openblas, or onednn for bf16 (gemm_selection.hpp)
    GemmPrecision precision = GemmPrecision::fp32;  // GEMM inputs; defines the result
    bool no_fallback = false;  // bf16 even on a network too small to gain from it (gemm_selection.hpp)

    // Checkpoints.
    std::string checkpoint_dir;
    std::int64_t checkpoint_every = 0;  // steps; 0: at epoch ends only
    std::int64_t keep_checkpoints = 0;  // newest files kept; 0: every one
    std::string resume;  // checkpoint file or directory to continue from
    bool allow_precision_change = false;  // resume a checkpoint trained in another precision

    // Every field at its documented default (settings.cpp's table).
    RunConfig();
};

// Checks the values against each other and their ranges; throws ConfigError naming the field.
void validate(const RunConfig& config);

// Sets the field whose key (the flag's name without "--", e.g. "batch-size") is `key` from
// its text form. Throws ConfigError naming the field for a bad value, Error for an unknown key.
void apply_setting(RunConfig& config, const std::string& key, const std::string& value);

// The settings that define a run's result (everything but threads, checkpointing and
// allreduce), as `key = value` lines that apply_setting reads back exactly. A checkpoint
// stores them; a resumed run must keep them.
std::string config_lines(const RunConfig& config);

// One `key = value` line of a configuration text.
struct ConfigEntry {
    std::string key;
    std::string value;
    int line = 0;  // 1-based
};

// Splits a configuration text into entries: `key = value` lines, blank lines, and comments
// from '#' to the end of a line. Throws Error naming `source` and the line for a line
// without '=' or a key that is not a setting (the message lists the way to see them), and for
// a key given twice.
std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& source);

// The configuration a text of `key = value` lines describes (e.g. a checkpoint's): the
// defaults, then each entry. Throws Error naming `source` and the line of a bad entry.
RunConfig config_from_text(const std::string& text, const std::string& source);

// "64,32" → {64, 32}; throws ConfigError for `field` on an empty, zero or non-numeric entry.
std::vector<std::int64_t> parse_layer_sizes(const std::string& text, const std::string& field);

// Strict conversions for setting values: the whole text must be a number in range. Throw
// ConfigError for `field`.
std::int64_t parse_integer(const std::string& text, const std::string& field);
double parse_real(const std::string& text, const std::string& field);
// A thread count: 1 to 1024.
int parse_threads(const std::string& text, const std::string& field);

}  // namespace mlptrain
