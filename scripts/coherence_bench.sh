#!/usr/bin/env bash
# Reproduces the figures behind core/stream_store.hpp and the README's "The weights leave
# the cache on purpose": the cost, on this machine's first two CPUs, of one core updating
# 470 KiB of weights (SGD with momentum, AVX-512 where the CPU has it, else AVX2) right
# after the other core did nothing to them, read them, or wrote them; with plain stores
# and with streaming stores. Prints µs per update, the mean over 1,000 rounds.
#   usage: scripts/coherence_bench.sh
set -euo pipefail
[[ $(nproc) -ge 2 ]] || { echo "coherence_bench.sh: needs 2 CPUs" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/coherence.cpp" <<'CPP'
#include <pthread.h>
#include <immintrin.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Core 1 touches the weights (0: not at all, 1: reads them, 2: writes them), then core 0
// runs v = 0.9v + 0.1, θ -= 0.01v over them, with plain or streaming stores for θ.
static double update_us(int other, bool streaming) {
    const long n = 117568;  // 470 KiB of floats
    float* theta = static_cast<float*>(std::aligned_alloc(64, n * 4));
    float* v = static_cast<float*>(std::aligned_alloc(64, n * 4));
    for (long i = 0; i < n; ++i) theta[i] = v[i] = 1.0f;
    std::atomic<int> turn{0};
    const int rounds = 1000;
    volatile unsigned sink = 0;
    std::thread core1([&] {
        pin(1);
        for (int r = 0; r < rounds; ++r) {
            while (turn.load() != 1) {}
            unsigned x = 0;
            const unsigned* u = reinterpret_cast<const unsigned*>(theta);
            if (other == 1) for (long i = 0; i < n; ++i) x ^= u[i];
            if (other == 2) for (long i = 0; i < n; ++i) theta[i] += 1.0f;
            sink = x;
            turn.store(2);
        }
    });
    pin(0);
    double seconds = 0;
    for (int r = 0; r < rounds; ++r) {
        turn.store(1);
        while (turn.load() != 2) {}
        const auto start = std::chrono::steady_clock::now();
#ifdef __AVX512F__
        const __m512 mu = _mm512_set1_ps(0.9f), c = _mm512_set1_ps(0.1f), lr = _mm512_set1_ps(0.01f);
        for (long i = 0; i < n; i += 16) {
            const __m512 vv = _mm512_add_ps(_mm512_mul_ps(mu, _mm512_load_ps(v + i)), c);
            _mm512_store_ps(v + i, vv);
            const __m512 t = _mm512_sub_ps(_mm512_load_ps(theta + i), _mm512_mul_ps(lr, vv));
            if (streaming) _mm512_stream_ps(theta + i, t); else _mm512_store_ps(theta + i, t);
        }
#else
        const __m256 mu = _mm256_set1_ps(0.9f), c = _mm256_set1_ps(0.1f), lr = _mm256_set1_ps(0.01f);
        for (long i = 0; i < n; i += 8) {
            const __m256 vv = _mm256_add_ps(_mm256_mul_ps(mu, _mm256_load_ps(v + i)), c);
            _mm256_store_ps(v + i, vv);
            const __m256 t = _mm256_sub_ps(_mm256_load_ps(theta + i), _mm256_mul_ps(lr, vv));
            if (streaming) _mm256_stream_ps(theta + i, t); else _mm256_store_ps(theta + i, t);
        }
#endif
        if (streaming) _mm_sfence();
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    core1.join();
    std::free(theta);
    std::free(v);
    return seconds / rounds * 1e6;
}

int main() {
    const char* what[] = {"did nothing to them", "read them (shared lines)", "wrote them (modified lines)"};
    std::printf("core 0 updates 470 KiB of weights after core 1 ...   plain stores   streaming stores\n");
    for (int other = 0; other < 3; ++other)
        std::printf("  %-32s %12.1f us %14.1f us\n", what[other], update_us(other, false), update_us(other, true));
}
CPP
g++ -O2 -march=native -ffp-contract=off -pthread -o "$dir/coherence" "$dir/coherence.cpp"
"$dir/coherence"
