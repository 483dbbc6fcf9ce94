// --metrics-out: one JSON object per epoch, one per line (JSON Lines), flushed as written
// so that a running job can be followed and plotted (scripts/plot_metrics.py).
#pragma once

#include <cstdio>
#include <string>

#include "mlptrain/engine/train_state.hpp"

namespace mlptrain::cli {

class MetricsLog {
public:
    // Opens (truncates) `path`, or does nothing if it is empty. Throws Error if it cannot.
    // `append` continues an existing log (a resumed run).
    MetricsLog(const std::string& path, bool append = false);
    ~MetricsLog();
    MetricsLog(const MetricsLog&) = delete;
    MetricsLog& operator=(const MetricsLog&) = delete;

    // {"epoch", "step", "train_loss", "val_loss", "val_accuracy", "lr", "samples_per_s",
    //  "median_step_ms", "seconds", "best"}; validation fields are null without a validation
    //  split.
    void write(const EpochReport& report);

private:
    std::FILE* file_ = nullptr;
    std::string path_;
};

}  // namespace mlptrain::cli
