// Prefetch for writing (PREFETCHW), for memory this core is about to read and then write
// while another core's cache holds it: the gradient buffers the reduction tree adds into
// and clears, which the other cores' backward passes wrote.
//
// Why: reading such a line first brings it in shared, and the write that follows must then
// upgrade it, a second round trip to the other core (about 520 ns each on the project's
// 2-core Zen 5 VM, scripts/coherence_bench.sh). PREFETCHW asks for the line in exclusive
// state at once, and ahead of use. Measured there on 784-256-128-10, batch 64, 2 threads:
// each thread's share of the reduction 39 → 30 µs and 53 → 44 µs a step.
#pragma once

#include <cstddef>

namespace mlptrain {

// Hints that [p, p + bytes) will be written soon: PREFETCHW on every 64-byte line, where
// the CPU has it (CPUID PRFCHW); nothing elsewhere. Never faults, never changes memory.
void prefetch_for_write(const void* p, std::size_t bytes);

}  // namespace mlptrain
