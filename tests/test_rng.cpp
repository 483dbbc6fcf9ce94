// Tests for the counter-based generator: Philox4x32-10 known answers from the Random123
// distribution, the exact bits-to-float transforms, normal moments, the seeded shuffle,
// and the independence of dropout streams.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include "mlptrain/core/rng.hpp"

using mlptrain::RngPurpose;
using Words = std::array<std::uint32_t, 4>;

// Philox4x32-10 matches the known-answer vectors of Random123's kat_vectors.
TEST_CASE("philox4x32-10 known answers") {
    CHECK(mlptrain::philox4x32({0, 0, 0, 0}, {0, 0}) ==
          Words{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
    CHECK(mlptrain::philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                               {0xffffffffu, 0xffffffffu}) ==
          Words{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
    CHECK(mlptrain::philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                               {0xa4093822u, 0x299f31d0u}) ==
          Words{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

// random_bits is a pure function of its arguments and each argument changes the output.
TEST_CASE("random_bits depends on every argument") {
    const Words base = mlptrain::random_bits(42, RngPurpose::init, 3, 7);
    CHECK(mlptrain::random_bits(42, RngPurpose::init, 3, 7) == base);
    CHECK(mlptrain::random_bits(43, RngPurpose::init, 3, 7) != base);
    CHECK(mlptrain::random_bits(42ull | (1ull << 40), RngPurpose::init, 3, 7) != base);
    CHECK(mlptrain::random_bits(42, RngPurpose::shuffle, 3, 7) != base);
    CHECK(mlptrain::random_bits(42, RngPurpose::init, 4, 7) != base);
    CHECK(mlptrain::random_bits(42, RngPurpose::init, 3, 8) != base);
    CHECK(mlptrain::random_bits(42, RngPurpose::init, 3, 7ull | (1ull << 33)) != base);
}

// uniform01 keeps the top 24 bits: 0 → 0, all ones → 1 − 2^−24 (never 1), 2^31 → 0.5.
TEST_CASE("uniform01 exact edge values") {
    CHECK(mlptrain::uniform01(0u) == 0.0f);
    CHECK(mlptrain::uniform01(0xffffffffu) == 1.0f - 0x1p-24f);
    CHECK(mlptrain::uniform01(0xffffffffu) < 1.0f);
    CHECK(mlptrain::uniform01(0x80000000u) == 0.5f);
    CHECK(mlptrain::uniform01(0x000000ffu) == 0.0f);  // low 8 bits are dropped
    CHECK(mlptrain::uniform01(0x00000100u) == 0x1p-24f);
}

// uniform_below stays in [0, n) and hits the ends.
TEST_CASE("uniform_below range") {
    CHECK(mlptrain::uniform_below(0, 10) == 0);
    CHECK(mlptrain::uniform_below(~0ull, 10) == 9);
    CHECK(mlptrain::uniform_below(1ull << 63, 10) == 5);
    CHECK(mlptrain::uniform_below(~0ull, 1) == 0);
}

// standard_normal over 100k counter-based draws has mean ≈ 0, variance ≈ 1 and is finite
// even for the extreme bits (0 and all ones).
TEST_CASE("standard_normal moments") {
    const int n = 100000;
    double sum = 0.0, sumsq = 0.0, sum4 = 0.0;
    for (int i = 0; i < n; ++i) {
        const Words b =
            mlptrain::random_bits(7, RngPurpose::synthetic, 0, static_cast<std::uint64_t>(i));
        const double x = mlptrain::standard_normal(b[0], b[1]);
        sum += x;
        sumsq += x * x;
        sum4 += x * x * x * x;
    }
    const double mean = sum / n, var = sumsq / n - mean * mean;
    CHECK(std::fabs(mean) < 0.02);            // standard error 0.0032
    CHECK(std::fabs(var - 1.0) < 0.03);       // standard error ≈ 0.0045
    CHECK(std::fabs(sum4 / n - 3.0) < 0.15);  // kurtosis of a normal
    for (std::uint32_t a : {0u, 0xffffffffu})
        for (std::uint32_t b : {0u, 0xffffffffu})
            CHECK(std::isfinite(mlptrain::standard_normal(a, b)));
    // bits_a = all ones gives u1 = 1, log 1 = 0: exactly zero.
    CHECK(mlptrain::standard_normal(0xffffffffu, 12345u) == 0.0f);
}

// shuffle_indices yields a permutation; the same (seed, stream) gives the same order,
// another stream or seed a different one.
TEST_CASE("shuffle is a seeded permutation") {
    std::vector<std::int64_t> identity(1000);
    std::iota(identity.begin(), identity.end(), 0);
    std::vector<std::int64_t> a = identity, b = identity, c = identity, d = identity;
    mlptrain::shuffle_indices(a, 5, RngPurpose::shuffle, 1);
    mlptrain::shuffle_indices(b, 5, RngPurpose::shuffle, 1);
    mlptrain::shuffle_indices(c, 5, RngPurpose::shuffle, 2);
    mlptrain::shuffle_indices(d, 6, RngPurpose::shuffle, 1);
    CHECK(a == b);
    CHECK(a != identity);
    CHECK(a != c);
    CHECK(a != d);
    std::vector<std::int64_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == identity);
    // Positions are roughly uniform: element 0 lands in every tenth across many streams.
    std::vector<int> bucket(10, 0);
    for (std::uint32_t stream = 0; stream < 2000; ++stream) {
        std::vector<std::int64_t> v(100);
        std::iota(v.begin(), v.end(), 0);
        mlptrain::shuffle_indices(v, 9, RngPurpose::shuffle, stream);
        const auto pos = std::find(v.begin(), v.end(), 0) - v.begin();
        ++bucket[static_cast<std::size_t>(pos / 10)];
    }
    for (int count : bucket) CHECK((count > 130 && count < 270));
    // Tiny inputs are fine.
    std::vector<std::int64_t> one = {42}, none;
    mlptrain::shuffle_indices(one, 1, RngPurpose::shuffle, 0);
    mlptrain::shuffle_indices(none, 1, RngPurpose::shuffle, 0);
    CHECK(one == std::vector<std::int64_t>{42});
}

// Dropout bits differ by layer, step, row, block and seed, and are reproducible.
TEST_CASE("dropout_bits differ by layer, step and row") {
    const Words base = mlptrain::dropout_bits(11, 1, 5, 100, 0);
    CHECK(mlptrain::dropout_bits(11, 1, 5, 100, 0) == base);
    CHECK(mlptrain::dropout_bits(11, 2, 5, 100, 0) != base);
    CHECK(mlptrain::dropout_bits(11, 1, 6, 100, 0) != base);
    CHECK(mlptrain::dropout_bits(11, 1, 5, 101, 0) != base);
    CHECK(mlptrain::dropout_bits(11, 1, 5, 100, 1) != base);
    CHECK(mlptrain::dropout_bits(12, 1, 5, 100, 0) != base);
    // Every (layer, step, row) gets its own words.
    std::set<Words> seen;
    for (std::uint32_t layer = 0; layer < 4; ++layer)
        for (std::uint64_t step = 0; step < 8; ++step)
            for (std::uint64_t row = 0; row < 8; ++row)
                seen.insert(mlptrain::dropout_bits(3, layer, step, row, 0));
    CHECK(seen.size() == 4 * 8 * 8);
    // Keep/drop decisions at p = 0.5 are balanced.
    int kept = 0;
    for (std::uint64_t row = 0; row < 2500; ++row)
        for (std::uint32_t w : mlptrain::dropout_bits(3, 0, 0, row, 0))
            kept += mlptrain::uniform01(w) >= 0.5f;
    CHECK(std::abs(kept - 5000) < 300);
}
