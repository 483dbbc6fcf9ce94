// The first half of a training run: every rule that turns a RunConfig into what the trainer
// runs on — loading and splitting the data, standardizing it, the model spec, the learning
// rate's scaling and schedule lengths, the batch clamped to the data, and a resumed run's
// saved configuration checked and kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mlptrain/data/dataset.hpp"
#include "mlptrain/engine/trainer.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/run/config.hpp"
#include "mlptrain/storage/checkpoint.hpp"

namespace mlptrain {

struct PreparedRun {
    RunConfig config;             // as given; checkpoint_dir defaults to a resumed directory
    std::string saved_config;     // config_lines(config), data paths canonical: what checkpoints store
    std::string data_hash;        // dataset_hash of the data as loaded: what identifies it on resume
    Dataset data;                 // a test file's rows appended after the training file's; standardized
    Split split;
    Standardization standardization;  // fitted on split.train, or the resumed checkpoint's
    // mse with standardize_target: the targets' map, likewise (data.y is standardized).
    Standardization target_standardization;
    ModelSpec spec;
    TrainConfig train;            // resolved (resolve_train_config)
    std::int64_t targets_cols = 0;  // regression targets per row (mse), 0 for class labels
    std::optional<LoadedCheckpoint> resume;
    // Things to tell the user once, e.g. that the batch was clamped (field references marked).
    std::vector<std::string> notes;
};

// A run's data as its configuration names it: the file(s) loaded (the first max_rows rows
// of each; a separate test file's rows appended after the training file's) and split by the
// seed and fractions. Not standardized. The same data and split every time, so that a saved
// run's parts can be found again (inference.hpp: load_run_part).
struct RunData {
    Dataset data;
    Split split;
};
RunData load_run_data(const RunConfig& config);

// Loads the data, splits it, builds the spec and resolves the training settings (the GEMM
// backend and precision too: gemm_selection.hpp, which may refuse them here). With
// config.resume set (or `resume` given: a checkpoint the caller loaded), the run continues
// that checkpoint: its standardization is kept and the result-defining settings must equal
// the saved ones (check_same_configuration). Throws Error (ConfigError for a bad field).
PreparedRun prepare_run(const RunConfig& config, std::optional<LoadedCheckpoint> resume = std::nullopt);

// The checkpoint config.resume names (a file, or a directory's newest that loads).
LoadedCheckpoint load_resume_checkpoint(const std::string& resume);

// Throws ConfigError naming the first result-defining setting whose value differs between
// `saved` (config_lines of the checkpoint at `path`) and `current`. Data paths are not
// compared as text: the data's content (PreparedRun::data_hash) identifies it, so a resumed
// run may reach the same file by another path, or from another directory. A change of
// precision is refused first, with its own message, unless `allow_precision_change`.
void check_same_configuration(const std::string& saved, const std::string& current, const std::string& path,
                              bool allow_precision_change = false);

// The trainer's settings for `train_rows` training rows: the batch clamped to them (a note
// says so), then the linear scaling rule lr·batch/lr_reference_batch on the clamped batch,
// and the schedule's step counts from the steps per epoch.
TrainConfig resolve_train_config(const RunConfig& config, std::int64_t train_rows, std::vector<std::string>& notes);

}  // namespace mlptrain
