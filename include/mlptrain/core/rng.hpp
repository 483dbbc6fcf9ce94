// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11) and our own
// bits-to-number transforms. Every random value is a pure function of
// (seed, purpose, stream, index): no generator state, so results cannot depend on which
// thread or rank draws them, nor on the standard library's distributions.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace mlptrain {

// What the numbers are for; part of the counter so that streams never overlap.
enum class RngPurpose : std::uint32_t {
    init = 1,       // weight initialization: stream = layer, index = weight index
    shuffle = 2,    // epoch reshuffle: stream = epoch
    split = 3,      // train/validation/test split: stream = class
    dropout = 4,    // dropout masks: stream = layer, index = (step, global sample)
    synthetic = 5,  // synthetic benchmark data
};

// Philox4x32-10 of counter `ctr` under key `key`.
std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> ctr,
                                        std::array<std::uint32_t, 2> key);

// Four independent 32-bit words for (seed, purpose, stream, index).
std::array<std::uint32_t, 4> random_bits(std::uint64_t seed, RngPurpose purpose,
                                         std::uint32_t stream, std::uint64_t index);

// Four words for the dropout mask of neurons 4·block .. 4·block+3 of `layer` for dataset row
// `row` at optimizer step `step`: counter (block, row, step, purpose|layer), key = seed.
std::array<std::uint32_t, 4> dropout_bits(std::uint64_t seed, std::uint32_t layer,
                                          std::uint64_t step, std::uint64_t row,
                                          std::uint32_t block);

// Uniform in [0, 1) with 24 random bits: exactly representable, never 1.
inline float uniform01(std::uint32_t bits) { return static_cast<float>(bits >> 8) * 0x1p-24f; }

// Uniform integer in [0, n) from 64 random bits (multiply-shift; bias below 2^-32 for n < 2^32).
inline std::uint64_t uniform_below(std::uint64_t bits, std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(bits) * n) >> 64);
}

// Standard normal from two words by Box-Muller (computed in double, rounded once).
float standard_normal(std::uint32_t bits_a, std::uint32_t bits_b);

// Fisher-Yates shuffle whose swaps come from (seed, purpose, stream, position).
void shuffle_indices(std::vector<std::int64_t>& indices, std::uint64_t seed, RngPurpose purpose,
                     std::uint32_t stream);

}  // namespace mlptrain
