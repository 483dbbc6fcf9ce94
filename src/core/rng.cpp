// Philox4x32-10 and the transforms from its bits to numbers (see rng.hpp).
#include "mlptrain/core/rng.hpp"

#include <cmath>
#include <utility>

#include "mlptrain/core/error.hpp"

namespace mlptrain {

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> ctr,
                                        std::array<std::uint32_t, 2> key) {
    constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // round multipliers
    constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // key schedule (Weyl)
    for (int round = 0; round < 10; ++round) {
        const std::uint64_t p0 = static_cast<std::uint64_t>(M0) * ctr[0];
        const std::uint64_t p1 = static_cast<std::uint64_t>(M1) * ctr[2];
        const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
        const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
        ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
        key[0] += W0;
        key[1] += W1;
    }
    return ctr;
}

std::array<std::uint32_t, 4> random_bits(std::uint64_t seed, RngPurpose purpose,
                                         std::uint32_t stream, std::uint64_t index) {
    return philox4x32({static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
                       stream, static_cast<std::uint32_t>(purpose)},
                      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
}

std::array<std::uint32_t, 4> dropout_bits(std::uint64_t seed, std::uint32_t layer,
                                          std::uint64_t step, std::uint64_t row,
                                          std::uint32_t block) {
    // Rows and steps beyond 2^32 would wrap and repeat masks; far beyond any dataset here.
    MLPTRAIN_ASSERT(row < (1ull << 32) && step < (1ull << 32) && layer < (1u << 24),
                    "dropout counter out of range");
    return philox4x32({block, static_cast<std::uint32_t>(row), static_cast<std::uint32_t>(step),
                       (static_cast<std::uint32_t>(RngPurpose::dropout) << 24) | layer},
                      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
}

float standard_normal(std::uint32_t bits_a, std::uint32_t bits_b) {
    // u1 in (0, 1] so that log(u1) is finite; u2 in [0, 1).
    const double u1 = (static_cast<double>(bits_a) + 1.0) * 0x1p-32;
    const double u2 = static_cast<double>(bits_b) * 0x1p-32;
    const double two_pi = 6.283185307179586476925286766559;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2));
}

void shuffle_indices(std::vector<std::int64_t>& indices, std::uint64_t seed, RngPurpose purpose,
                     std::uint32_t stream) {
    for (std::uint64_t i = indices.size(); i > 1; --i) {
        const auto bits = random_bits(seed, purpose, stream, i - 1);
        const std::uint64_t word = (static_cast<std::uint64_t>(bits[1]) << 32) | bits[0];
        std::swap(indices[i - 1], indices[uniform_below(word, i)]);
    }
}

}  // namespace mlptrain
