// JSON Lines metrics log (see metrics_log.hpp), written with nlohmann::json.
#include "metrics_log.hpp"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mlptrain/core/error.hpp"

namespace mlptrain::cli {

MetricsLog::MetricsLog(const std::string& path, bool append) : path_(path) {
    if (path.empty()) return;
    file_ = std::fopen(path.c_str(), append ? "a" : "w");
    if (!file_)
        throw Error(describe("--metrics-out " + path, "a file that can be written",
                             std::strerror(errno), "check that the directory exists"));
}

MetricsLog::~MetricsLog() {
    if (file_) std::fclose(file_);
}

void MetricsLog::write(const EpochReport& r) {
    if (!file_) return;
    nlohmann::json j = {{"epoch", r.epoch},
                        {"step", r.step},
                        {"train_loss", r.train_loss},
                        {"val_loss", nullptr},
                        {"val_accuracy", nullptr},
                        {"lr", r.learning_rate},
                        {"samples_per_s", r.samples_per_second},
                        {"median_step_ms", r.median_step_seconds * 1e3},
                        {"seconds", r.seconds},
                        {"best", r.best}};
    if (r.validation) {
        j["val_loss"] = r.validation->loss;
        j["val_accuracy"] = r.validation->accuracy;
    }
    const std::string line = j.dump() + "\n";
    if (std::fputs(line.c_str(), file_) < 0 || std::fflush(file_) != 0)
        throw Error(describe("--metrics-out " + path_, "a writable file", std::strerror(errno),
                             "is the disk full?"));
}

}  // namespace mlptrain::cli
