// Checks over matrix views (see matrix.hpp).
#include "mlptrain/core/matrix.hpp"

#include <cmath>

namespace mlptrain {

bool all_finite(const float* data, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i)
        if (!std::isfinite(data[i])) return false;
    return true;
}

bool all_finite(ConstMatrix m) {
    for (std::int64_t r = 0; r < m.rows; ++r)
        if (!all_finite(m.row(r), m.cols)) return false;
    return true;
}

}  // namespace mlptrain
