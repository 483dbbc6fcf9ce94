// The register-only fp32 peak loop (see fma_peak.hpp). Each width's loop is one function
// compiled for its instructions with a GCC target attribute; detect_cpu_features() picks
// the widest the CPU and OS allow, so the build itself needs no -march.
#include "mlptrain/core/fma_peak.hpp"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "mlptrain/core/cpu_features.hpp"

namespace mlptrain {
namespace {

// Independent chains per loop: enough to cover FMA latency (4-5 cycles) × 2 FMA pipes, few
// enough to stay in registers (16 of 32 zmm; 12 of 16 ymm/xmm, with the two constants).
constexpr int zmm_chains = 16, ymm_chains = 12;
constexpr std::int64_t reps_per_chunk = 1 << 15;

// Constants the compiler cannot see (x·1 + 0 would fold): x ← x·a + b stays near 1, far
// from denormals, for any number of steps.
volatile float factor = 0.999f, offset = 0.001f, one = 1.0f, zero = 0.0f;

// Each loop runs `reps` rounds over its chains and returns the flops done; the chains' sum
// goes to `sink` so that nothing is dead code.
__attribute__((target("avx512f"))) double fma_zmm(std::int64_t reps, float* sink) {
    const __m512 a = _mm512_set1_ps(factor), b = _mm512_set1_ps(offset);
    __m512 x[zmm_chains];
    for (int c = 0; c < zmm_chains; ++c) x[c] = _mm512_set1_ps(1.0f + 0.01f * static_cast<float>(c));
    for (std::int64_t r = 0; r < reps; ++r) {
#pragma GCC unroll 16
        for (int c = 0; c < zmm_chains; ++c) x[c] = _mm512_fmadd_ps(x[c], a, b);
    }
    for (int c = 1; c < zmm_chains; ++c) x[0] = _mm512_add_ps(x[0], x[c]);
    alignas(64) float lanes[16];  // not _mm512_reduce_add_ps: GCC 12's header warns inside it
    _mm512_store_ps(lanes, x[0]);
    for (float v : lanes) *sink += v;
    return 2.0 * 16 * zmm_chains * static_cast<double>(reps);
}

__attribute__((target("avx2,fma"))) double fma_ymm(std::int64_t reps, float* sink) {
    const __m256 a = _mm256_set1_ps(factor), b = _mm256_set1_ps(offset);
    __m256 x[ymm_chains];
    for (int c = 0; c < ymm_chains; ++c) x[c] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(c));
    for (std::int64_t r = 0; r < reps; ++r) {
#pragma GCC unroll 16
        for (int c = 0; c < ymm_chains; ++c) x[c] = _mm256_fmadd_ps(x[c], a, b);
    }
    for (int c = 1; c < ymm_chains; ++c) x[0] = _mm256_add_ps(x[0], x[c]);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, x[0]);
    for (float v : lanes) *sink += v;
    return 2.0 * 8 * ymm_chains * static_cast<double>(reps);
}

// Without FMA the peak is a multiply pipe and an add pipe working side by side: half the
// chains multiply by 1, half add 0.
__attribute__((target("avx"))) double mul_add_ymm(std::int64_t reps, float* sink) {
    const __m256 a = _mm256_set1_ps(one), b = _mm256_set1_ps(zero);
    __m256 x[ymm_chains];
    for (int c = 0; c < ymm_chains; ++c) x[c] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(c));
    for (std::int64_t r = 0; r < reps; ++r) {
#pragma GCC unroll 16
        for (int c = 0; c < ymm_chains; c += 2) x[c] = _mm256_mul_ps(x[c], a), x[c + 1] = _mm256_add_ps(x[c + 1], b);
    }
    for (int c = 1; c < ymm_chains; ++c) x[0] = _mm256_add_ps(x[0], x[c]);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, x[0]);
    for (float v : lanes) *sink += v;
    return 8.0 * ymm_chains * static_cast<double>(reps);
}

double mul_add_xmm(std::int64_t reps, float* sink) {
    const __m128 a = _mm_set1_ps(one), b = _mm_set1_ps(zero);
    __m128 x[ymm_chains];
    for (int c = 0; c < ymm_chains; ++c) x[c] = _mm_set1_ps(1.0f + 0.01f * static_cast<float>(c));
    for (std::int64_t r = 0; r < reps; ++r) {
#pragma GCC unroll 16
        for (int c = 0; c < ymm_chains; c += 2) x[c] = _mm_mul_ps(x[c], a), x[c + 1] = _mm_add_ps(x[c + 1], b);
    }
    for (int c = 1; c < ymm_chains; ++c) x[0] = _mm_add_ps(x[0], x[c]);
    alignas(16) float lanes[4];
    _mm_store_ps(lanes, x[0]);
    for (float v : lanes) *sink += v;
    return 4.0 * ymm_chains * static_cast<double>(reps);
}

using Loop = double (*)(std::int64_t, float*);

// `threads` threads run `loop` in chunks until `seconds` have passed; GFLOP/s of all.
double one_round(Loop loop, int threads, double seconds) {
    using Clock = std::chrono::steady_clock;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<double> flops(static_cast<std::size_t>(threads), 0.0);
    std::vector<float> sinks(static_cast<std::size_t>(threads) * 16, 0.0f);  // a cache line each
    Clock::time_point start;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            ++ready;
            while (!go.load()) std::this_thread::yield();
            const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(
                                                           std::chrono::duration<double>(seconds));
            do flops[static_cast<std::size_t>(t)] += loop(reps_per_chunk, &sinks[static_cast<std::size_t>(t) * 16]);
            while (Clock::now() < deadline);
        });
    while (ready.load() < threads) std::this_thread::yield();
    start = Clock::now();
    go = true;
    for (std::thread& w : workers) w.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    double total = 0.0;
    for (double f : flops) total += f;
    return total / elapsed / 1e9;
}

}  // namespace

FmaPeak measure_fma_peak(int threads, double seconds) {
    FmaPeak peak;
    peak.threads = std::max(1, threads);
    Loop loop = mul_add_xmm;
    peak.isa = "SSE mul+add (xmm)";
    switch (widest_vector_isa(detect_cpu_features())) {
        case VectorIsa::avx512: loop = fma_zmm, peak.isa = "AVX-512 FMA (zmm)"; break;
        case VectorIsa::avx2: loop = fma_ymm, peak.isa = "AVX2 FMA (ymm)"; break;
        case VectorIsa::avx: loop = mul_add_ymm, peak.isa = "AVX mul+add (ymm)"; break;
        case VectorIsa::sse: break;
    }
    for (int round = 0; round < 2; ++round)
        peak.gflops = std::max(peak.gflops, one_round(loop, peak.threads, seconds / 2));
    return peak;
}

}  // namespace mlptrain
