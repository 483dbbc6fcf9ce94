// The terminal progress bar (see progress.hpp).
#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace mlptrain::cli {

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

void ProgressBar::update(std::int64_t epoch, std::int64_t epochs, std::int64_t done,
                         std::int64_t total, double loss) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (epoch != epoch_) {
        epoch_ = epoch;
        epoch_start_ = now;
        last_draw_ = {};
    }
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
    const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
    constexpr int width = 30;
    const int filled = static_cast<int>(fraction * width);
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < width) bar += '>';
    bar.resize(width, ' ');
    std::printf("\r\033[Kepoch %lld/%lld [%s] %3.0f%%  loss %.4f  ETA %d:%02d", static_cast<long long>(epoch),
                static_cast<long long>(epochs), bar.c_str(), fraction * 100.0, loss,
                static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
    std::fflush(stdout);
    drawn_ = true;
}

void ProgressBar::clear() {
    if (!drawn_) return;
    std::printf("\r\033[K");
    std::fflush(stdout);
    drawn_ = false;
}

}  // namespace mlptrain::cli
