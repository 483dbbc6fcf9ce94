// fp32 → bf16 rounding kernels, bf16 buffers and the CPU's bf16 support (see bf16.hpp). The
// AVX-512 kernels are compiled with target attributes, so the file builds for baseline
// x86-64 and picks a kernel at run time; nothing here needs -march.
#include "mlptrain/core/bf16.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#define MLPTRAIN_BF16_X86 1
#endif

namespace mlptrain {

void convert_to_bf16_scalar(bf16_bits* dst, const float* src, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = bf16_from_float(src[i]);
}

#ifdef MLPTRAIN_BF16_X86
namespace {

// bf16_from_float on 16 integer lanes: the bf16 values in the low halves of the lanes.
// The maskz forms with an all-ones mask, because GCC 12's plain _mm512_srli_epi32 trips
// -Wmaybe-uninitialized inside its own header (GCC bug 105593).
__attribute__((target("avx512f"))) inline __m512i bf16_of_16(__m512i u) {
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF);
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
    const __m512i quiet = _mm512_set1_epi32(0x00400000);
    const __mmask16 all = 0xFFFF;
    const __m512i lsb = _mm512_and_si512(_mm512_maskz_srli_epi32(all, u, 16), one);
    const __m512i rounded = _mm512_add_epi32(u, _mm512_add_epi32(bias, lsb));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
    const __m512i bits = _mm512_mask_blend_epi32(nan, rounded, _mm512_or_si512(u, quiet));
    return _mm512_maskz_srli_epi32(all, bits, 16);
}

}  // namespace

__attribute__((target("avx512f"))) void convert_to_bf16_avx512(bf16_bits* dst, const float* src, std::int64_t n) {
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16)  // VPMOVDW stores the low halves
        _mm512_mask_cvtepi32_storeu_epi16(dst + i, 0xFFFF, bf16_of_16(_mm512_loadu_si512(src + i)));
    if (i < n) {  // masked load and store: nothing read or written past n
        const auto mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
        _mm512_mask_cvtepi32_storeu_epi16(dst + i, mask, bf16_of_16(_mm512_maskz_loadu_epi32(mask, src + i)));
    }
}

// VCVTNEPS2BF16 rounds to nearest even but reads subnormal inputs as zero; a vector holding
// a subnormal (rare in training) takes the integer lanes instead, so the bits are exactly
// bf16_from_float's at about twice the integer kernel's speed.
__attribute__((target("avx512f,avx512bf16"))) void convert_to_bf16_avx512bf16(bf16_bits* dst, const float* src,
                                                                             std::int64_t n) {
    const __m512i exponent = _mm512_set1_epi32(0x7F800000), mantissa = _mm512_set1_epi32(0x007FFFFF);
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i u = _mm512_loadu_si512(src + i);
        const __mmask16 subnormal = _mm512_testn_epi32_mask(u, exponent) & _mm512_test_epi32_mask(u, mantissa);
        if (subnormal == 0) {
            const __m256bh h = _mm512_cvtneps_pbh(_mm512_castsi512_ps(u));
            __m256i bits;
            std::memcpy(&bits, &h, sizeof bits);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), bits);
        } else {
            _mm512_mask_cvtepi32_storeu_epi16(dst + i, 0xFFFF, bf16_of_16(u));
        }
    }
    if (i < n) convert_to_bf16_avx512(dst + i, src + i, n - i);  // the masked tail
}
#else
void convert_to_bf16_avx512(bf16_bits* dst, const float* src, std::int64_t n) { convert_to_bf16_scalar(dst, src, n); }
void convert_to_bf16_avx512bf16(bf16_bits* dst, const float* src, std::int64_t n) {
    convert_to_bf16_scalar(dst, src, n);
}
#endif

namespace {

enum class Kernel { scalar, avx512f, avx512_bf16 };

// Chosen once; a function-local static of an enum allocates nothing.
Kernel kernel() {
    static const Kernel chosen = [] {
        const CpuFeatures cpu = detect_cpu_features();
        return cpu.avx512_bf16 ? Kernel::avx512_bf16 : cpu.avx512f ? Kernel::avx512f : Kernel::scalar;
    }();
    return chosen;
}

}  // namespace

void convert_to_bf16(bf16_bits* dst, const float* src, std::int64_t n) {
    switch (kernel()) {
        case Kernel::avx512_bf16: convert_to_bf16_avx512bf16(dst, src, n); return;
        case Kernel::avx512f: convert_to_bf16_avx512(dst, src, n); return;
        case Kernel::scalar: convert_to_bf16_scalar(dst, src, n); return;
    }
}

const char* bf16_kernel() {
    switch (kernel()) {
        case Kernel::avx512_bf16: return "avx512_bf16";
        case Kernel::avx512f: return "avx512f";
        case Kernel::scalar: break;
    }
    return "scalar";
}

void convert_to_bf16(MatrixBf16 dst, ConstMatrix src) {
    // src (rows, cols) → dst (rows, cols)
    MLPTRAIN_ASSERT(dst.rows == src.rows && dst.cols == src.cols, "convert_to_bf16 shape");
    if (dst.ld == dst.cols && src.ld == src.cols) {
        convert_to_bf16(dst.data, src.data, src.rows * src.cols);
        return;
    }
    for (std::int64_t r = 0; r < src.rows; ++r) convert_to_bf16(dst.row(r), src.row(r), src.cols);
}

Bf16Buffer::Bf16Buffer(std::int64_t size) : size_(size) {
    MLPTRAIN_ASSERT(size >= 0, "negative buffer size");
    if (size == 0) return;
    const std::size_t bytes = static_cast<std::size_t>((size + 31) / 32 * 32) * sizeof(bf16_bits);
    data_ = static_cast<bf16_bits*>(std::aligned_alloc(64, bytes));
    if (!data_) throw std::bad_alloc();
    std::memset(data_, 0, bytes);
}

Bf16Buffer::~Bf16Buffer() { std::free(data_); }

MatrixBf16 Bf16Buffer::as_matrix(std::int64_t rows, std::int64_t cols) {
    MLPTRAIN_ASSERT(rows >= 0 && cols >= 0 && rows * cols <= size_, "matrix does not fit buffer");
    return make_matrix(data_, rows, cols);
}

Bf16Buffer::Bf16Buffer(Bf16Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Bf16Buffer& Bf16Buffer::operator=(Bf16Buffer&& other) noexcept {
    if (this != &other) {
        std::free(data_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

bool has_bf16_dot_products(const CpuFeatures& cpu) {
    return (cpu.avx512f && cpu.avx512_bf16) || (cpu.amx_bf16 && cpu.amx_tile);
}

std::string describe_bf16_support(const CpuFeatures& cpu) {
    auto yes = [](bool v) { return v ? "yes" : "no"; };
    return std::string("avx512_bf16 ") + yes(cpu.avx512_bf16) + ", amx_bf16 " + yes(cpu.amx_bf16);
}

}  // namespace mlptrain
