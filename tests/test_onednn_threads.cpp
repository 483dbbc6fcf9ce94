// No oversubscription on oneDNN (built only where libdnnl-dev is): Debian's oneDNN is an
// OpenMP build, yet while training with --threads T only the main thread and T−1 TBB workers
// run, every GEMM on its calling worker, because every primitive is created with one OpenMP
// thread; no OpenMP team is started and nothing spins afterwards. A binary of its own, so
// that the threads it starts with are the process's first (test_threads does the same for
// OpenBLAS).
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <thread>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/engine/trainer.hpp"

#include "bf16_here.hpp"
#include "test_support.hpp"
#include "thread_watch.hpp"

using namespace mlptrain;

using test_support::thread_cpu_ticks;

using thread_watch::train_and_watch;
using thread_watch::Observed;

// As test_threads for OpenBLAS: at most T−1 threads more than at the start, more than one
// when T > 1, and the threads that were there (OpenBLAS's parked pool) under 5% of the CPU.
TEST_CASE("oneDNN runs one thread per call: no OpenMP team, nothing spinning") {
    // OpenBLAS's pool threads spin for ~0.1 s after the library starts them; wait that out.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto baseline = thread_cpu_ticks();
    const int start_threads = static_cast<int>(baseline.size());
    std::vector<GemmSettings> settings = {{GemmBackend::onednn, GemmPrecision::fp32}};
    if (test::bf16_runs_here())
        settings.push_back({GemmBackend::onednn, GemmPrecision::bf16});
    int peak = 0;
    for (const GemmSettings& gemm : settings)
        for (int threads : {1, 2, 4}) {
            const Observed seen = train_and_watch(threads, baseline, gemm);
            const std::string precision = gemm_precision_name(gemm.precision);
            INFO("precision=" << precision << " threads=" << threads << " start=" << start_threads << " peak="
                              << seen.peak_threads << " baseline_ticks=" << seen.baseline_ticks
                              << " total_ticks=" << seen.total_ticks);
            // TBB keeps the workers of an earlier, wider arena: the bound is the widest so far.
            peak = std::max(peak, threads);
            CHECK(seen.peak_threads <= start_threads + peak - 1);
            if (threads > 1) CHECK(seen.peak_threads >= start_threads + 1);
            CHECK(seen.baseline_ticks * 20 <= seen.total_ticks + 1);
            MESSAGE("oneDNN " << precision << " threads=" << threads << ": peak threads " << seen.peak_threads
                              << " (start " << start_threads << "), pool CPU ticks " << seen.baseline_ticks << " of "
                              << seen.total_ticks);
        }
    // Idle after training: no thread burns CPU (an OpenMP team left spinning would; TBB's
    // workers spin only a few milliseconds before they sleep).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto before = thread_cpu_ticks();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto after = thread_cpu_ticks();
    long idle_ticks = 0;
    for (const auto& [tid, ticks] : after)
        if (before.count(tid) && tid != static_cast<int>(getpid())) idle_ticks += ticks - before.at(tid);
    CHECK(idle_ticks <= 2);
}
