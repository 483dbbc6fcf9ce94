// Prefetch for writing (see prefetch.hpp).
#include "mlptrain/core/prefetch.hpp"

#include "mlptrain/core/cpu_features.hpp"

namespace mlptrain {

#if defined(__x86_64__)
// PREFETCHW on the line holding *p. Inline assembly: GCC drops __builtin_prefetch loops in
// functions it deems free of side effects.
static inline void prefetchw(const char* p) { asm volatile("prefetchw %0" : : "m"(*p)); }

// Read once at load time, so that no step pays for (or allocates in) the CPUID decoding.
static const bool prefetchw_supported = detect_cpu_features().prefetchw;
#endif

void prefetch_for_write(const void* p, std::size_t bytes) {
#if defined(__x86_64__)
    if (!prefetchw_supported || bytes == 0) return;
    // Every 64th byte from p, and the last byte: each line of the range once or twice.
    const char* begin = static_cast<const char*>(p);
    for (std::size_t i = 0; i < bytes; i += 64) prefetchw(begin + i);
    prefetchw(begin + bytes - 1);
#else
    (void)p;
    (void)bytes;
#endif
}

}  // namespace mlptrain
