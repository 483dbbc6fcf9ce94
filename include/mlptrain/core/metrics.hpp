// Measures of a run: the weights fingerprint (so anyone can compare two runs bit for bit),
// accuracy and the confusion matrix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlptrain {

// FNV-1a 64 over the bytes of `count` floats, as 16 hex digits.
std::string fingerprint(const float* data, std::int64_t count);
// FNV-1a 64 over `size` bytes.
std::uint64_t fingerprint64(const unsigned char* bytes, std::int64_t size);

// counts[true][predicted] for `classes` classes.
std::vector<std::vector<std::int64_t>> confusion_matrix(const std::vector<std::int32_t>& truth,
                                                        const std::vector<std::int32_t>& predicted,
                                                        std::int64_t classes);

// How well predicted values fit regression targets, in the targets' units. R² = 1 −
// SSE / SST, SST around the targets' own mean: 0 for predicting that mean, 1 for a perfect
// fit; mean_rmse is the RMSE of predicting the mean, the baseline to beat.
struct RegressionScore {
    double mse = 0.0;  // mean over rows and outputs of (predicted − target)²
    double rmse = 0.0;
    double r2 = 0.0;
    double mean_rmse = 0.0;
};
// predicted and targets: rows × outputs, row-major.
RegressionScore score_regression(const float* predicted, const float* targets, std::int64_t rows,
                                 std::int64_t outputs);

}  // namespace mlptrain
