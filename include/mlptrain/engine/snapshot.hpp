// What a trainer exports for a checkpoint and imports to resume: its buffers by role, all in
// the parameter arena's layout, and the loop state. Checkpoint code reads and writes this
// plain record and never sees the trainer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/engine/train_state.hpp"

namespace mlptrain {

// A buffer of the arena's layout (ParameterLayout::total() floats) with its role:
// "params", "optimizer.<moment>" (e.g. "optimizer.momentum", "optimizer.exp_avg") or
// "best" (the early-stopping copy of the weights).
struct SnapshotBuffer {
    std::string role;
    const float* data = nullptr;
};

struct Snapshot {
    std::int64_t step = 0;  // optimizer steps taken
    TrainState state;
    std::uint64_t seed = 0;    // the run's seed (every random stream derives from it)
    std::int64_t shards = 0;   // shards per batch: part of what defines the result
    std::string weights_fingerprint;
    std::vector<SnapshotBuffer> buffers;  // "params" first, then the optimizer's, then "best"

    // The buffer of `role`, or nullptr.
    const float* find(const std::string& role) const {
        for (const SnapshotBuffer& b : buffers)
            if (b.role == role) return b.data;
        return nullptr;
    }
};

}  // namespace mlptrain
