// The worker pool over a oneTBB arena (see parallel.hpp); the only user of TBB's headers.
#include "mlptrain/engine/parallel.hpp"

#include <sched.h>

#include <algorithm>
#include <string>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/version.h>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/error.hpp"

namespace mlptrain {

int default_threads() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    return 1;
}

std::string tbb_version() { return TBB_runtime_version(); }

int worker_threads(int requested) {
    const int cap = blas_max_concurrent_callers();
    if (requested <= 0) return std::min(default_threads(), cap);
    if (requested > cap)
        throw ConfigError("threads", "at most " + std::to_string(cap) + " threads", std::to_string(requested),
                          "the linked OpenBLAS keeps work buffers for that many concurrent callers; "
                          "run more MPI ranks for more cores");
    return requested;
}

struct WorkerPool::Arena {
    explicit Arena(int threads) {
        // The arena bounds this pool's threads. Only an explicit request for more threads
        // than TBB would start by default (oversubscription on purpose) needs the
        // process-wide limit raised; a global_control below the default would throttle
        // other TBB users.
        if (threads > tbb::info::default_concurrency())
            limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                          static_cast<std::size_t>(threads));
        arena = std::make_unique<tbb::task_arena>(threads);
    }
    std::unique_ptr<tbb::global_control> limit;
    std::unique_ptr<tbb::task_arena> arena;
};

WorkerPool::WorkerPool(int threads) : threads_(threads) {
    MLPTRAIN_ASSERT(threads >= 1, "a worker pool needs a thread");
    // The workers are the parallelism: a BLAS pool working under them would oversubscribe
    // the cores.
    set_blas_single_threaded();
    if (threads > 1) arena_ = std::make_unique<Arena>(threads);
}

WorkerPool::~WorkerPool() = default;

void WorkerPool::run_on_workers(std::int64_t count, void (*call)(const void*, std::int64_t), const void* body) {
    arena_->arena->execute([&] {
        tbb::parallel_for(std::int64_t{0}, count, [&](std::int64_t i) { call(body, i); });
    });
}

}  // namespace mlptrain
