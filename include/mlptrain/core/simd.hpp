// Function multi-versioning for the step's hot element-wise loops: a generic Debian build
// (no -march, so SSE2 code: 4 float lanes) still runs them at the machine's vector width.
#pragma once

// MLPTRAIN_VECTOR_CLONES before a function's definition makes GCC compile it three times
// (AVX-512F, AVX2, the x86-64 baseline) and pick one per process when it is loaded (an
// ifunc whose resolver checks CPUID, and XCR0 for the OS-saved ymm/zmm state). Only for
// element-wise maps, and reductions whose order is fixed in the source: -ffp-contract=off
// holds in every clone (no a·b+c is fused into an FMA), and without -ffast-math the
// vectorizer never reorders a float or double sum, so every clone computes the same bits
// as the baseline. scripts/vector_width_check.sh proves it on the machine at hand: builds
// with -DMLPTRAIN_VECTOR_CLONES_UP_TO_AVX2 (the AVX2 code on an AVX-512 machine) and
// -DMLPTRAIN_NO_VECTOR_CLONES (the baseline only) must give the default build's
// fingerprints.
//
// ThreadSanitizer builds get no clones: GCC instruments the ifunc resolver too, and the
// dynamic loader runs resolvers before the TSan runtime is initialized (a crash at load).
#if defined(MLPTRAIN_NO_VECTOR_CLONES) || !defined(__GNUC__) || defined(__clang__) || \
    !defined(__x86_64__) || !defined(__linux__) || defined(__SANITIZE_THREAD__)
#define MLPTRAIN_VECTOR_CLONES
#elif defined(MLPTRAIN_VECTOR_CLONES_UP_TO_AVX2)
#define MLPTRAIN_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MLPTRAIN_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

// A helper loop called from a cloned function: forced inline, so that each clone compiles
// it for its own ISA (a plain static helper stays one baseline copy that every clone calls).
#if defined(__GNUC__)
#define MLPTRAIN_CLONE_INLINE __attribute__((always_inline)) inline
#else
#define MLPTRAIN_CLONE_INLINE inline
#endif
