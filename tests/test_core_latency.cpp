// Tests for the cross-core round trip that `mlptrain bench` reports (core/core_latency.hpp):
// which CPUs take part, that nothing is measured where no two threads or CPUs exist, that a
// measurement finishes with a positive figure, and that the time limit ends it. No test
// judges the figure itself (it depends on where the host puts the CPUs).
#include <doctest/doctest.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "mlptrain/core/core_latency.hpp"
#include "mlptrain/engine/parallel.hpp"

using mlptrain::affinity_cpus;
using mlptrain::measure_core_round_trip_ns;

TEST_CASE("the affinity CPUs are the process's mask, in order") {
    const std::vector<int> cpus = affinity_cpus();
    REQUIRE(!cpus.empty());
    // Counted independently of affinity_cpus (which default_threads now uses).
    cpu_set_t mask;
    CPU_ZERO(&mask);
    REQUIRE(sched_getaffinity(0, sizeof mask, &mask) == 0);
    CHECK(static_cast<int>(cpus.size()) == CPU_COUNT(&mask));
    CHECK(mlptrain::default_threads() == CPU_COUNT(&mask));
    CHECK(std::is_sorted(cpus.begin(), cpus.end()));
    CHECK(std::adjacent_find(cpus.begin(), cpus.end()) == cpus.end());
    const int here = sched_getcpu();
    if (here >= 0) CHECK(std::find(cpus.begin(), cpus.end(), here) != cpus.end());
}

TEST_CASE("no round trip without two threads on two CPUs") {
    const std::vector<int> cpus = affinity_cpus();
    CHECK(measure_core_round_trip_ns(1, cpus) == 0.0);
    CHECK(measure_core_round_trip_ns(0, cpus) == 0.0);
    CHECK(measure_core_round_trip_ns(4, {cpus.front()}) == 0.0);
    CHECK(measure_core_round_trip_ns(4, {}) == 0.0);
}

TEST_CASE("a round trip between two CPUs is measured, and ends at its time limit") {
    const std::vector<int> cpus = affinity_cpus();
    if (cpus.size() < 2) {
        MESSAGE("one CPU in the affinity mask: nothing to measure");
        return;
    }
    // A generous limit: a busy machine may deschedule the peer for a time slice or two.
    const double ns = measure_core_round_trip_ns(2, cpus, 200, 2.0);
    CHECK(ns > 0.0);
    CHECK(ns < 2.0e9);  // at least one of the 200 trips finished within the 2 s
    // Far more trips than fit in 50 ms (10⁹ × ~400 ns is minutes): the limit ends it, with
    // whatever trips were done (none, if the peer never ran: 0).
    const auto start = std::chrono::steady_clock::now();
    CHECK(measure_core_round_trip_ns(2, cpus, 1000000000, 0.05) >= 0.0);
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 10.0);
}
