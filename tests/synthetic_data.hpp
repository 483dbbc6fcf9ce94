// Synthetic data for the tests, a pure function of its arguments: counter-based random
// numbers (core/rng.hpp), so every test run and every thread count sees the same values.
#pragma once

#include <cstdint>
#include <string>

#include "mlptrain/core/rng.hpp"
#include "mlptrain/data/dataset.hpp"

namespace mlptrain::test {

// A number in [−1, 1) from (seed, stream, index).
inline float signed_unit(std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
    const auto bits = random_bits(seed, RngPurpose::synthetic, stream, index);
    return 2.0f * uniform01(bits[0]) - 1.0f;
}

// `rows` samples of `features` uniform features in [−1, 1); the class is the argmax of a
// fixed linear map, so the data are learnable.
inline Dataset make_blobs(std::int64_t rows, std::int64_t features, std::int32_t classes) {
    Dataset d;
    d.source = "blobs";
    d.rows = rows;
    d.features = features;
    for (std::int64_t f = 0; f < features; ++f) d.feature_names.push_back("f" + std::to_string(f));
    for (std::int32_t c = 0; c < classes; ++c) d.class_names.push_back("c" + std::to_string(c));
    for (std::int64_t r = 0; r < rows; ++r) {
        std::int32_t best = 0;
        double best_score = -1e30;
        for (std::int64_t f = 0; f < features; ++f)
            d.x.push_back(signed_unit(5, 0, static_cast<std::uint64_t>(r * features + f)));
        for (std::int32_t c = 0; c < classes; ++c) {
            double score = 0.0;
            for (std::int64_t f = 0; f < features; ++f)
                score += d.x[static_cast<std::size_t>(r * features + f)] *
                         signed_unit(6, static_cast<std::uint32_t>(c), static_cast<std::uint64_t>(f));
            if (score > best_score) best_score = score, best = c;
        }
        d.labels.push_back(best);
    }
    return d;
}

}  // namespace mlptrain::test
