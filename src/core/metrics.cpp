// Fingerprints and confusion matrices (see metrics.hpp).
#include "mlptrain/core/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "mlptrain/core/error.hpp"

namespace mlptrain {

std::uint64_t fingerprint64(const unsigned char* bytes, std::int64_t size) {
    std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a offset basis
    for (std::int64_t i = 0; i < size; ++i) {
        hash ^= bytes[i];
        hash *= 0x100000001b3ull;  // FNV prime
    }
    return hash;
}

std::string fingerprint(const float* data, std::int64_t count) {
    const std::uint64_t hash = fingerprint64(reinterpret_cast<const unsigned char*>(data),
                                             count * static_cast<std::int64_t>(sizeof(float)));
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    return text;
}

std::vector<std::vector<std::int64_t>> confusion_matrix(const std::vector<std::int32_t>& truth,
                                                        const std::vector<std::int32_t>& predicted,
                                                        std::int64_t classes) {
    MLPTRAIN_ASSERT(truth.size() == predicted.size(), "confusion matrix sizes");
    std::vector<std::vector<std::int64_t>> counts(static_cast<std::size_t>(classes),
                                                  std::vector<std::int64_t>(static_cast<std::size_t>(classes), 0));
    for (std::size_t i = 0; i < truth.size(); ++i) {
        MLPTRAIN_ASSERT(truth[i] >= 0 && truth[i] < classes && predicted[i] >= 0 &&
                            predicted[i] < classes,
                        "class out of range");
        ++counts[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(predicted[i])];
    }
    return counts;
}

RegressionScore score_regression(const float* predicted, const float* targets, std::int64_t rows,
                                 std::int64_t outputs) {
    MLPTRAIN_ASSERT(rows > 0 && outputs > 0, "score_regression needs values");
    RegressionScore score;
    const auto n = static_cast<double>(rows * outputs);
    double sse = 0.0, sst = 0.0;
    for (std::int64_t j = 0; j < outputs; ++j) {
        double mean = 0.0;
        for (std::int64_t r = 0; r < rows; ++r) mean += targets[r * outputs + j];
        mean /= static_cast<double>(rows);
        for (std::int64_t r = 0; r < rows; ++r) {
            const double t = targets[r * outputs + j];
            const double d = predicted[r * outputs + j] - t;
            sse += d * d;
            sst += (t - mean) * (t - mean);
        }
    }
    score.mse = sse / n;
    score.rmse = std::sqrt(score.mse);
    score.mean_rmse = std::sqrt(sst / n);
    score.r2 = sst > 0.0 ? 1.0 - sse / sst : 0.0;
    return score;
}

}  // namespace mlptrain
