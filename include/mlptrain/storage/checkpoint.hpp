// Checkpoints: what a run saves so that it can resume bit for bit, or be used to evaluate
// and predict — the trainer's snapshot (parameters, optimizer moments, early-stopping weights,
// loop state, seed), the feature standardization, class names, the model spec and the
// configuration — on top of the safetensors format (safetensors.hpp). Also the checkpoint
// directory: numbered files, a `latest` pointer, and the last K kept (or all).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mlptrain/core/arena.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/engine/snapshot.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/storage/safetensors.hpp"

namespace mlptrain {

// Everything a checkpoint holds besides the trainer's snapshot.
struct CheckpointInfo {
    ModelSpec spec;
    std::vector<std::string> class_names;  // empty for regression
    Standardization standardization;       // features; empty if none
    Standardization target_standardization;  // regression targets; empty if none
    std::string config;                    // the run's configuration, as `key = value` lines
    std::string data_hash;                 // what the run trained on (dataset_hash, hex; "" if unknown)
    bool input_u8 = false;                 // trained on uint8 pixels scaled by 1/255 (IDX)
    // The GEMMs the run computed with (after any fallback; its configuration says what was
    // asked), and the library's description. Checkpoints from before they were recorded
    // read as OpenBLAS fp32 with an empty library.
    GemmSettings gemm;
    std::string gemm_library;
};

// Writes `path` atomically: one tensor per slot of every snapshot buffer ("<slot>" for the
// parameters, "<role>.<slot>" for the others), then the standardization. Throws
// NumericError (and writes nothing) if any parameter or moment is not finite.
void save_checkpoint(const std::string& path, const Snapshot& snapshot, const CheckpointInfo& info);

struct LoadedCheckpoint {
    std::string path;
    CheckpointInfo info;
    TrainState state;
    std::int64_t step = 0;
    SafetensorsFile file;                          // the tensors as read
    std::vector<std::string> warnings;             // newer checkpoints that did not load
    std::map<std::string, AlignedBuffer> buffers;  // role → buffer in the arena layout of info.spec

    const float* params() const { return buffers.at("params").data(); }
    // The buffers, step and state as a trainer imports them (views into this checkpoint).
    Snapshot snapshot() const;
};

// Reads and validates `path` (format, checksums, and that the tensors match the model spec
// it carries). Throws Error naming the file.
LoadedCheckpoint load_checkpoint(const std::string& path);

// Throws Error naming the checkpoint and the first tensor of the first of `roles` it lacks
// ("the checkpoint does not fit this model or optimizer").
void require_roles(const LoadedCheckpoint& checkpoint, const std::vector<std::string>& roles);

// A directory of checkpoints "step-<12 digits>.safetensors" with a `latest` file naming
// the newest complete one (replaced atomically after that file is durable).
class CheckpointDir {
public:
    // Creates dir if needed, with its parents; throws Error naming `what` (the caller's name
    // for the directory, e.g. a field reference) if it can't. keep: files kept; 0: every one.
    CheckpointDir(std::string dir, int keep, const std::string& what);
    // Saves the snapshot's step, updates `latest`, removes the oldest beyond keep (if keep > 0).
    std::string save(const Snapshot& snapshot, const CheckpointInfo& info);
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    int keep_;
};

// The step numbers of the step-*.safetensors files in `dir`, ascending (none if no dir).
std::vector<std::int64_t> checkpoint_steps(const std::string& dir);

// Loads a checkpoint file, or the newest step-*.safetensors of a directory that loads
// (the step number decides, not `latest`, which a writer killed after its rename has not
// updated yet). Newer files that do not load are skipped with a warning; with
// `set_aside_corrupt` (a run resuming into the directory) they are also renamed
// "<file>.corrupt", never deleted, so that they are not in its way. Throws Error naming
// `what` (the caller's name for the path, e.g. a flag or a field reference) if none loads.
LoadedCheckpoint load_newest_checkpoint(const std::string& dir_or_file, const std::string& what,
                                        bool set_aside_corrupt = false);

}  // namespace mlptrain
