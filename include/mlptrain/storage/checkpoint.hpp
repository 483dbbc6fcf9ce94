// Checkpoints: what a run saves so that it can resume bit for bit, or be used to evaluate
// and predict — parameters, optimizer moments, early-stopping weights, the feature
// standardization, class names, the model spec, the configuration, the loop state and the
// RNG keys — on top of the safetensors format (safetensors.hpp). Also the checkpoint
// directory: numbered files, a `latest` pointer, and the last K kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/data/dataset.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/storage/safetensors.hpp"
#include "mlptrain/engine/trainer.hpp"

namespace mlptrain {

// Everything a checkpoint holds besides the trainer's buffers.
struct CheckpointInfo {
    ModelSpec spec;
    std::vector<std::string> class_names;  // empty for regression
    Standardization standardization;       // empty if none
    std::string config;                    // the run's configuration, as `key = value` lines
    bool input_u8 = false;                 // trained on uint8 pixels scaled by 1/255 (IDX)
};

// Writes `path` atomically. Throws NumericError (and writes nothing) if any parameter or
// moment is not finite.
void save_checkpoint(const std::string& path, Trainer& trainer, const CheckpointInfo& info);

struct LoadedCheckpoint {
    std::string path;
    CheckpointInfo info;
    TrainState state;
    std::int64_t step = 0;
    SafetensorsFile file;
};

// Reads and validates `path` (format, checksums, and that the tensors match the model spec
// it carries). Throws Error naming the file.
LoadedCheckpoint load_checkpoint(const std::string& path);

// Copies parameters, moments, early-stopping weights, loop state and step into `trainer`,
// whose model must have the checkpoint's spec and whose optimizer its moments. Throws
// Error naming the first mismatch.
void restore_trainer(Trainer& trainer, const LoadedCheckpoint& checkpoint);

// Copies the checkpoint's parameters into a buffer with `model`'s layout.
void restore_parameters(float* params, const Model& model, const LoadedCheckpoint& checkpoint);

// A directory of checkpoints "step-<12 digits>.safetensors" with a `latest` file naming
// the newest complete one (replaced atomically after that file is durable).
class CheckpointDir {
public:
    CheckpointDir(std::string dir, int keep);  // creates dir if needed; throws Error if it can't
    // Saves the trainer's current step, updates `latest`, removes the oldest beyond keep.
    std::string save(Trainer& trainer, const CheckpointInfo& info);
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    int keep_;
};

// The step numbers of the step-*.safetensors files in `dir`, ascending (none if no dir).
std::vector<std::int64_t> checkpoint_steps(const std::string& dir);

// Loads a checkpoint file, or the newest step-*.safetensors of a directory that loads
// (the step number decides, not `latest`, which a writer killed after its rename has not
// updated yet). Throws Error naming `flag` if there is none.
LoadedCheckpoint load_newest_checkpoint(const std::string& dir_or_file, const std::string& flag = "--resume");

}  // namespace mlptrain
