// Non-owning row-major matrix views: rows are samples, `ld` is the distance between rows.
// Every layer, loss and GEMM call speaks in these; nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mlptrain/core/error.hpp"

namespace mlptrain {

struct ConstMatrix {
    const float* data = nullptr;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::int64_t ld = 0;  // elements between the starts of consecutive rows, >= cols

    const float* row(std::int64_t r) const { return data + r * ld; }
    float operator()(std::int64_t r, std::int64_t c) const { return data[r * ld + c]; }
};

struct Matrix {
    float* data = nullptr;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::int64_t ld = 0;

    float* row(std::int64_t r) const { return data + r * ld; }
    float& operator()(std::int64_t r, std::int64_t c) const { return data[r * ld + c]; }
    operator ConstMatrix() const { return {data, rows, cols, ld}; }

    // The first `n` rows of this view (a shard or a partial batch uses a prefix).
    Matrix top_rows(std::int64_t n) const {
        MLPTRAIN_ASSERT(n >= 0 && n <= rows, "top_rows out of range");
        return {data, n, cols, ld};
    }
};

// Rows [begin, end) of a view (a team member's block of a shard's rows), and columns
// [begin, end) (a block of a layer's units): views of the same memory with the same `ld`,
// for any of the float and bf16 view types.
template <class View>
View row_block(View m, std::int64_t begin, std::int64_t end) {
    MLPTRAIN_ASSERT(begin >= 0 && begin <= end && end <= m.rows, "row_block out of range");
    m.data += begin * m.ld;
    m.rows = end - begin;
    return m;
}
template <class View>
View column_block(View m, std::int64_t begin, std::int64_t end) {
    MLPTRAIN_ASSERT(begin >= 0 && begin <= end && end <= m.cols, "column_block out of range");
    m.data += begin;
    m.cols = end - begin;
    return m;
}

// Whether every one of the n values is finite (no NaN, no ±Inf).
bool all_finite(const float* data, std::int64_t n);
bool all_finite(ConstMatrix m);

inline Matrix make_matrix(float* data, std::int64_t rows, std::int64_t cols) {
    return {data, rows, cols, cols};
}
inline ConstMatrix make_matrix(const float* data, std::int64_t rows, std::int64_t cols) {
    return {data, rows, cols, cols};
}

}  // namespace mlptrain
