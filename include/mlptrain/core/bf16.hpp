// bfloat16 for --precision bf16: the fp32 → bf16 rounding (round to nearest, ties to even),
// bf16 buffers and matrix views, and whether this CPU has bf16 dot products. The rounding
// has one rule everywhere: a scalar version and two AVX-512 versions that give the same bits
// (tests compare them), chosen once by CPUID. Nothing here depends on oneDNN: GEMM inputs
// are rounded where they are produced, and the GEMM backend (blas.hpp) only reads them.
#pragma once

#include <cstdint>
#include <string>

#include "mlptrain/core/cpu_features.hpp"
#include "mlptrain/core/matrix.hpp"

namespace mlptrain {

// A bf16 value's bits: the upper half of an fp32 with the same sign and exponent, 8
// significant bits (7 stored). Its unit roundoff is 2^-8.
using bf16_bits = std::uint16_t;

// Round to nearest, ties to even, on the raw bits: add 0x7FFF plus the lowest kept bit and
// truncate. Subnormals round like every other value (no flush to zero), ±Inf stays ±Inf,
// values past the largest bf16 become ±Inf, and a NaN stays a NaN (quiet bit set, sign and
// the payload's top bits kept: adding the bias could carry a NaN's payload into Inf).
inline bf16_bits bf16_from_float(float x) {
    std::uint32_t u;
    __builtin_memcpy(&u, &x, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<bf16_bits>((u >> 16) | 0x0040u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<bf16_bits>(u >> 16);
}

inline float float_from_bf16(bf16_bits b) {
    const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
    float x;
    __builtin_memcpy(&x, &u, sizeof x);
    return x;
}

// dst[i] = bf16_from_float(src[i]) for i < n, with the fastest kernel this CPU runs.
// Allocates nothing; elementwise, so any split of the work gives the same bits.
void convert_to_bf16(bf16_bits* dst, const float* src, std::int64_t n);

// The kernels behind convert_to_bf16, for the tests: the scalar rule; the same rule on
// AVX-512F integer lanes; VCVTNEPS2BF16 (AVX512_BF16), which is nearest-even too but reads
// subnormal inputs as zero, with vectors holding a subnormal sent to the integer lanes.
// The AVX-512 ones may only be called where bf16_kernel() says the CPU has them.
void convert_to_bf16_scalar(bf16_bits* dst, const float* src, std::int64_t n);
void convert_to_bf16_avx512(bf16_bits* dst, const float* src, std::int64_t n);
void convert_to_bf16_avx512bf16(bf16_bits* dst, const float* src, std::int64_t n);
// Which kernel convert_to_bf16 uses here: "avx512_bf16", "avx512f" or "scalar".
const char* bf16_kernel();

// Row-major bf16 matrix views, as ConstMatrix/Matrix are for floats.
struct ConstMatrixBf16 {
    const bf16_bits* data = nullptr;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::int64_t ld = 0;  // elements between the starts of consecutive rows, >= cols
};

struct MatrixBf16 {
    bf16_bits* data = nullptr;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::int64_t ld = 0;
    bf16_bits* row(std::int64_t r) const { return data + r * ld; }
    operator ConstMatrixBf16() const { return {data, rows, cols, ld}; }
};

inline MatrixBf16 make_matrix(bf16_bits* data, std::int64_t rows, std::int64_t cols) {
    return {data, rows, cols, cols};
}
inline ConstMatrixBf16 make_matrix(const bf16_bits* data, std::int64_t rows, std::int64_t cols) {
    return {data, rows, cols, cols};
}

// Owning, 64-byte aligned, zero-initialized buffer of bf16 values. Move-only.
class Bf16Buffer {
public:
    Bf16Buffer() = default;
    explicit Bf16Buffer(std::int64_t size);
    ~Bf16Buffer();
    Bf16Buffer(Bf16Buffer&& other) noexcept;
    Bf16Buffer& operator=(Bf16Buffer&& other) noexcept;
    Bf16Buffer(const Bf16Buffer&) = delete;
    Bf16Buffer& operator=(const Bf16Buffer&) = delete;

    bf16_bits* data() { return data_; }
    const bf16_bits* data() const { return data_; }
    std::int64_t size() const { return size_; }
    // This buffer viewed as a (rows, cols) matrix; asserts that it fits.
    MatrixBf16 as_matrix(std::int64_t rows, std::int64_t cols);

private:
    bf16_bits* data_ = nullptr;
    std::int64_t size_ = 0;
};

// dst = bf16(src) element by element; shapes must match. Overwrites dst.
void convert_to_bf16(MatrixBf16 dst, ConstMatrix src);

// Whether this CPU and OS have bf16 dot products a GEMM library can use: AVX512_BF16
// (Cooper Lake, Zen 4 and later), or AMX-BF16 with the tile state enabled by the OS
// (Sapphire Rapids and later).
bool has_bf16_dot_products(const CpuFeatures& cpu);
// "avx512_bf16 yes, amx_bf16 no (tiles not enabled by the OS)": for messages and headers.
std::string describe_bf16_support(const CpuFeatures& cpu);

}  // namespace mlptrain
