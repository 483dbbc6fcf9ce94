// How long one cache line takes to go from one CPU to another and back, measured in-process.
// On a virtual machine the host decides where the vCPUs sit, and moves them: two vCPUs that
// share a last-level cache pass a line back and forth in under 200 ns, two on different
// dies in 400-600 ns (AMD EPYC VM, 2 vCPUs, 2026-12-03). Everything that crosses cores in a
// step (the reduction reads the other shards' gradients; the passes read weights that
// another core updated) moves with it: the same binary's 784-256-128-10 step ran 344 µs
// beside a 176 ns round trip and 382-437 µs beside 360-570 ns. `mlptrain bench` reports it
// next to every figure so that a reader can tell which placement a run had.
#pragma once

#include <vector>

namespace mlptrain {

// The CPUs of this process's affinity mask, in order.
std::vector<int> affinity_cpus();

// The median round trip, in nanoseconds, of a cache line passed between two threads pinned
// to `cpus[0]` and `cpus[j]` (an atomic counter each side bumps in turn), taken over the pairs
// j = 1 … min(threads, cpus.size()) − 1: what the step's worker threads pay to exchange data.
// 0 when fewer than two threads or two CPUs take part (nothing to measure). Each pair runs at
// most `trips` round trips or `max_seconds`, whichever ends first (a descheduled peer cannot
// make it hang).
double measure_core_round_trip_ns(int threads, const std::vector<int>& cpus, int trips = 2000,
                                  double max_seconds = 0.05);

}  // namespace mlptrain
