// Philox4x32-10 (Random123, the reference implementation) and the transforms from its
// bits to numbers (see rng.hpp).
#include "mlptrain/core/rng.hpp"

#include <cmath>
#include <utility>

#include <Random123/philox.h>
// philox.h also defines a C-style macro of our function's name.
#undef philox4x32

#include "mlptrain/core/error.hpp"

namespace mlptrain {

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> ctr,
                                        std::array<std::uint32_t, 2> key) {
    // Random123's reference Philox4x32 (10 rounds), the generator the paper defines.
    const r123::Philox4x32::ctr_type c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
    const r123::Philox4x32::key_type k = {{key[0], key[1]}};
    const r123::Philox4x32::ctr_type out = r123::Philox4x32()(c, k);
    return {out[0], out[1], out[2], out[3]};
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
