// What `train` prints while it runs: a redrawn progress bar with ETA and live loss when
// stdout is a terminal, nothing between epoch lines otherwise (batch jobs, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mlptrain::cli {

class ProgressBar {
public:
    // enabled: draw at all (a terminal, not --quiet).
    explicit ProgressBar(bool enabled) : enabled_(enabled) {}
    // After `done` of `total` rows of epoch `epoch` of `epochs`, with the running mean loss.
    // Redraws at most ten times a second.
    void update(std::int64_t epoch, std::int64_t epochs, std::int64_t done, std::int64_t total,
                double loss);
    // Erases the bar so that a normal line can be printed in its place.
    void clear();

private:
    bool enabled_;
    bool drawn_ = false;
    std::int64_t epoch_ = -1;
    std::chrono::steady_clock::time_point epoch_start_{}, last_draw_{};
};

// True when stdout is a terminal.
bool stdout_is_terminal();

}  // namespace mlptrain::cli
