// The fp32 → bf16 rounding: round to nearest, ties to even, on ties, near-ties, overflow,
// NaN, infinities, zeros and subnormals; the AVX-512 kernels give the scalar rule's bits
// (on a sample of all 2^32 inputs here, on all of them with --no-skip: scripts/check_bf16.sh);
// bf16 buffers; and the CPU test for bf16 dot products. Needs no oneDNN.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/cpu_features.hpp"

using namespace mlptrain;

namespace {

float from_bits(std::uint32_t u) {
    float x;
    std::memcpy(&x, &u, sizeof x);
    return x;
}

bf16_bits round_bits(std::uint32_t u) { return bf16_from_float(from_bits(u)); }

// An independent reference: the nearer of the two bf16 neighbours by exact distance (in
// double), the even one on a tie. Finite inputs only.
bf16_bits nearest_even(std::uint32_t u) {
    const std::uint32_t down = u & 0xFFFF0000u;
    const double x = static_cast<double>(from_bits(u)), lo = static_cast<double>(from_bits(down));
    const std::uint32_t up_bits = down + 0x10000u;  // the next bf16 away from zero (may be Inf)
    const double hi = (up_bits & 0x7FFFFFFFu) == 0x7F800000u
                          ? (x < 0 ? -1.0 : 1.0) * 3.4028236692093846e38  // 2^128: where Inf starts
                          : static_cast<double>(from_bits(up_bits));
    const double d_lo = x > lo ? x - lo : lo - x, d_hi = x > hi ? x - hi : hi - x;
    if (d_lo < d_hi) return static_cast<bf16_bits>(down >> 16);
    if (d_hi < d_lo) return static_cast<bf16_bits>(up_bits >> 16);
    return static_cast<bf16_bits>(((down >> 16) & 1u) ? up_bits >> 16 : down >> 16);
}

bool is_nan_bits(std::uint32_t u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }

// Compares `kernel` with the scalar rule on the inputs first, first + stride, … (wrapping
// 2^32), every tail length too. Returns the mismatches.
using Kernel = void (*)(bf16_bits*, const float*, std::int64_t);
std::uint64_t mismatches(Kernel kernel, std::uint64_t first, std::uint64_t stride, std::uint64_t count) {
    constexpr std::size_t block = 4096;
    std::vector<float> in(block);
    std::vector<bf16_bits> got(block + 1), want(block);
    std::uint64_t bad = 0, done = 0;
    std::uint32_t u = static_cast<std::uint32_t>(first);
    while (done < count) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block, count - done));
        for (std::size_t i = 0; i < n; ++i, u += static_cast<std::uint32_t>(stride)) in[i] = from_bits(u);
        convert_to_bf16_scalar(want.data(), in.data(), static_cast<std::int64_t>(n));
        got[n] = 0xABCD;  // a guard: nothing may be written past n
        kernel(got.data(), in.data(), static_cast<std::int64_t>(n));
        for (std::size_t i = 0; i < n; ++i) bad += got[i] != want[i];
        bad += got[n] != 0xABCD;
        done += n;
    }
    return bad;
}

}  // namespace

TEST_CASE("bf16 rounding: ties go to even, everything else to the nearest") {
    CHECK(round_bits(0x3F800000u) == 0x3F80);  // 1.0 exactly
    CHECK(round_bits(0x3F808000u) == 0x3F80);  // 1 + 2^-8: a tie, 0x3F80 is even
    CHECK(round_bits(0x3F818000u) == 0x3F82);  // 1 + 3·2^-8: a tie, up to the even 0x3F82
    CHECK(round_bits(0x3F807FFFu) == 0x3F80);  // just below the tie
    CHECK(round_bits(0x3F808001u) == 0x3F81);  // just above it
    CHECK(round_bits(0xBF818000u) == 0xBF82);  // the same for negative values
    CHECK(round_bits(0xBF808000u) == 0xBF80);
    CHECK(round_bits(0x3FFF8000u) == 0x4000);  // a carry into the exponent: 2 − 2^-8 → 2
    CHECK(bf16_from_float(0.1f) == 0x3DCD);    // 0x3DCCCCCD rounds up
    CHECK(float_from_bf16(0x3F80) == 1.0f);
    CHECK(float_from_bf16(0xC040) == -3.0f);
}

TEST_CASE("bf16 rounding: overflow, infinities, zeros, subnormals") {
    CHECK(round_bits(0x7F7F0000u) == 0x7F7F);  // the largest bf16 stays
    CHECK(round_bits(0x7F7F7FFFu) == 0x7F7F);
    CHECK(round_bits(0x7F7F8000u) == 0x7F80);  // a tie above it: to the even Inf
    CHECK(round_bits(0x7F7FFFFFu) == 0x7F80);  // FLT_MAX overflows to +Inf, as IEEE says
    CHECK(round_bits(0xFF7FFFFFu) == 0xFF80);
    CHECK(round_bits(0x7F800000u) == 0x7F80);
    CHECK(round_bits(0xFF800000u) == 0xFF80);
    CHECK(round_bits(0x00000000u) == 0x0000);
    CHECK(round_bits(0x80000000u) == 0x8000);  // −0 keeps its sign
    CHECK(round_bits(0x00008000u) == 0x0000);  // subnormal tie to the even 0
    CHECK(round_bits(0x00018000u) == 0x0002);  // subnormal tie up to the even 0x0002
    CHECK(round_bits(0x00010001u) == 0x0001);  // subnormals are rounded, not flushed
    CHECK(round_bits(0x007FFFFFu) == 0x0080);  // the largest subnormal rounds to the smallest normal
}

TEST_CASE("bf16 rounding: a NaN stays a NaN, quiet, with its sign") {
    for (std::uint32_t nan : {0x7F800001u, 0x7FBFFFFFu, 0x7FC00000u, 0x7FFFFFFFu, 0xFF800001u, 0xFFFF8000u}) {
        const bf16_bits b = round_bits(nan);
        CAPTURE(nan);
        CHECK((b & 0x7F80) == 0x7F80);
        CHECK((b & 0x007F) != 0);              // not Inf: adding the bias would have carried
        CHECK((b & 0x0040) != 0);              // quiet
        CHECK((b & 0x8000) == ((nan >> 16) & 0x8000));
    }
    CHECK(round_bits(0x7FA00000u) == 0x7FE0);  // the payload's top bits are kept
}

TEST_CASE("bf16 rounding agrees with an independent nearest-even reference") {
    std::uint64_t bad = 0, checked = 0;
    for (std::uint64_t i = 0; i < (1ull << 32); i += 65521) {  // a prime stride: every bit pattern mixes
        const auto u = static_cast<std::uint32_t>(i);
        for (std::uint32_t v : {u, (u & 0xFFFF0000u) | 0x8000u, (u & 0xFFFF0000u) | 0x7FFFu}) {
            if (is_nan_bits(v) || (v & 0x7F800000u) == 0x7F800000u) continue;
            bad += round_bits(v) != nearest_even(v);
            ++checked;
        }
    }
    CHECK(checked > 150000);
    CHECK(bad == 0);
}

TEST_CASE("the AVX-512 kernels give the scalar rule's bits") {
    const CpuFeatures cpu = detect_cpu_features();
    MESSAGE("convert_to_bf16 uses the " << bf16_kernel() << " kernel here");
    std::vector<Kernel> kernels;
    if (cpu.avx512f) kernels.push_back(convert_to_bf16_avx512);
    if (cpu.avx512f && cpu.avx512_bf16) kernels.push_back(convert_to_bf16_avx512bf16);
    kernels.push_back(convert_to_bf16);
    for (Kernel kernel : kernels) {
        CHECK(mismatches(kernel, 0, 4099, 1u << 20) == 0);        // across all exponents
        CHECK(mismatches(kernel, 0x00000000u, 1, 1u << 16) == 0);  // subnormals, densely
        CHECK(mismatches(kernel, 0x7F7F0000u, 1, 1u << 18) == 0);  // overflow, Inf, NaN
        CHECK(mismatches(kernel, 0xFF7F0000u, 1, 1u << 18) == 0);
        for (std::uint64_t n = 0; n <= 40; ++n) CHECK(mismatches(kernel, 0x3F7FFFF0u, 1, n) == 0);  // tails
    }
}

// All 2^32 inputs (about 30 s for both kernels on 2 cores): scripts/check_bf16.sh runs it.
TEST_CASE("the AVX-512 kernels give the scalar rule's bits on all 2^32 inputs" * doctest::skip(true)) {
    const CpuFeatures cpu = detect_cpu_features();
    for (Kernel kernel : {convert_to_bf16_avx512, convert_to_bf16_avx512bf16}) {
        if (!cpu.avx512f || (kernel == convert_to_bf16_avx512bf16 && !cpu.avx512_bf16)) continue;
        std::uint64_t bad[2] = {0, 0};
        std::thread half([&] { bad[1] = mismatches(kernel, 1ull << 31, 1, 1ull << 31); });
        bad[0] = mismatches(kernel, 0, 1, 1ull << 31);
        half.join();
        CHECK(bad[0] + bad[1] == 0);
    }
}

TEST_CASE("matrix conversion follows the rows of strided views") {
    std::vector<float> src = {1.0f, 2.0f, -1.0f, 99.0f, 0.5f, 3.0f, 0.25f, 99.0f};  // 2 × 3, ld 4
    Bf16Buffer dst(2 * 3);
    convert_to_bf16(dst.as_matrix(2, 3), ConstMatrix{src.data(), 2, 3, 4});
    const bf16_bits want[] = {0x3F80, 0x4000, 0xBF80, 0x3F00, 0x4040, 0x3E80};
    for (int i = 0; i < 6; ++i) CHECK(dst.data()[i] == want[i]);
    Bf16Buffer moved = std::move(dst);
    CHECK(moved.size() == 6);
    CHECK(dst.size() == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(moved.data()) % 64 == 0);
}

TEST_CASE("bf16 dot products: AVX512_BF16, or AMX-BF16 with its tiles") {
    CpuFeatures none;
    CHECK_FALSE(has_bf16_dot_products(none));
    CpuFeatures avx = none;
    avx.avx512f = avx.avx512_bf16 = true;
    CHECK(has_bf16_dot_products(avx));
    CpuFeatures amx = none;
    amx.amx_bf16 = true;
    CHECK_FALSE(has_bf16_dot_products(amx));  // without the tile architecture
    amx.amx_tile = true;
    CHECK(has_bf16_dot_products(amx));
    CHECK(describe_bf16_support(avx) == "avx512_bf16 yes, amx_bf16 no");
    // CPUID decoding: AMX counts only when the OS enabled the tile state (XCR0 17-18).
    CpuidDump d;
    d.leaf0.eax = 7;
    d.leaf1.ecx = 1u << 27;           // OSXSAVE
    d.leaf7_0.edx = (1u << 22) | (1u << 24);
    d.xcr0 = 0xE7;
    CHECK_FALSE(decode_cpu_features(d).amx_bf16);
    d.xcr0 = 0xE7 | (3ull << 17);
    CHECK(decode_cpu_features(d).amx_bf16);
    CHECK(decode_cpu_features(d).amx_tile);
}
