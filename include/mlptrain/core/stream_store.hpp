// Streaming (non-temporal) stores, for the one buffer every worker thread reads in a step
// and one thread writes: the weights.
//
// Why: after a step's passes, every core's cache holds the weights as shared lines. A core
// that then overwrites its part with ordinary stores must upgrade each line (invalidate the
// others' copies) one at a time; measured on the project's 2-core Zen 5 VM
// (scripts/coherence_bench.sh), writing 470 KiB of lines the other core had read took
// 121-182 µs, against 9-11 µs for lines only this core held and 33-49 µs with streaming
// stores, which invalidate every copy as part of the write and send the line to memory.
// The other cores' next reads then come from memory instead of another core's cache.
// Where the cores share a cache that costs more than it saves: engine/weight_stores.hpp
// measures which way a run goes.
#pragma once

#include <cstddef>

namespace mlptrain {

// Copies `bytes` from `from` to `to` (not overlapping) with streaming stores where the
// target is 16-byte aligned (SSE2: every x86-64 CPU), plain stores for the rest and on
// other architectures. The stores are weakly ordered: call stream_fence() before another
// thread may read `to`.
void stream_copy(void* to, const void* from, std::size_t bytes);

// Orders every earlier streaming store before every later store (SFENCE).
void stream_fence();

}  // namespace mlptrain
