// No oversubscription: while training with --threads T, only the main thread and T−1 TBB
// workers run; OpenBLAS computes on the calling worker (one thread per call), and its
// parked pool threads, started when the library loads, take no CPU time.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <thread>
#include <map>
#include <sstream>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/engine/trainer.hpp"

#include "test_support.hpp"
#include "thread_watch.hpp"

using namespace mlptrain;

using test_support::thread_cpu_ticks;

using thread_watch::train_and_watch;
using thread_watch::Observed;

// Each BLAS call runs on the calling thread once a trainer exists.
TEST_CASE("OpenBLAS runs one thread per call") {
    ModelSpec spec;
    spec.sizes = {4, 8, 2};
    const Model model(spec);
    Trainer trainer(model, TrainConfig{}, 0);
    CHECK(blas_threads_per_call() == 1);
    const std::string text = blas_description();
    CHECK((text.find("1 thread(s) per call") != std::string::npos || text.find("serial") != std::string::npos));
}

// With --threads T the process adds at most T−1 threads (TBB workers) to those it started
// with, uses more than one when T > 1, and the threads it started with (OpenBLAS's pool)
// stay idle: under 5% of the CPU time spent training.
TEST_CASE("thread count and CPU use during training match --threads") {
    // OpenBLAS's pool threads spin for about 2^28 cycles (its THREAD_TIMEOUT, ~0.1 s)
    // after the library starts them, then park; wait that out once.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto baseline = thread_cpu_ticks();
    const int start_threads = static_cast<int>(baseline.size());
    for (int threads : {1, 2, 4}) {
        const Observed seen = train_and_watch(threads, baseline);
        INFO("threads=" << threads << " start=" << start_threads << " peak=" << seen.peak_threads
                        << " baseline_ticks=" << seen.baseline_ticks << " total_ticks=" << seen.total_ticks);
        CHECK(seen.peak_threads <= start_threads + threads - 1);
        if (threads > 1) CHECK(seen.peak_threads >= start_threads + 1);
        CHECK(seen.baseline_ticks * 20 <= seen.total_ticks + 1);
        MESSAGE("threads=" << threads << " peak threads " << seen.peak_threads << ", pool CPU ticks "
                           << seen.baseline_ticks << " of " << seen.total_ticks);
    }
}
