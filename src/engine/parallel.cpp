// The worker pool over a oneTBB arena (see parallel.hpp); the only user of TBB's headers.
#include "mlptrain/engine/parallel.hpp"

#include <algorithm>
#include <string>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/version.h>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/core_latency.hpp"
#include "mlptrain/core/error.hpp"

// ThreadSanitizer builds (gcc defines __SANITIZE_THREAD__, clang has the feature test).
#if defined(__SANITIZE_THREAD__)
#define MLPTRAIN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MLPTRAIN_TSAN 1
#endif
#endif
#ifdef MLPTRAIN_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace mlptrain {

int default_threads() { return std::max(1, static_cast<int>(affinity_cpus().size())); }

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

int WorkerPool::current_worker() {
    const int slot = tbb::this_task_arena::current_thread_index();  // negative outside an arena
    return slot < 0 ? 0 : slot;
}

#ifdef MLPTRAIN_TSAN
// Sync addresses for the annotations below. Globals, because a task must acquire before it
// reads anything the forking thread wrote, its own closure included; shared by all pools,
// which only adds ordering between pools that run at the same time.
static char tsan_fork_token, tsan_join_token;
#endif

// Under ThreadSanitizer: Debian's libtbb is not instrumented, so TSan cannot see that the
// caller's writes happen before the tasks and the tasks before the caller's next reads;
// without help it reports every pair of fork-join phases as a race. This is the engine's one
// fork-join, so it says so here: the fork releases one sync address that each task acquires
// first, and each task releases a second that the caller acquires after the join. Two
// addresses, so that tasks of one phase are not ordered after each other: a real race
// between two of them is still reported.
void WorkerPool::run_on_workers(std::int64_t count, void (*call)(const void*, std::int64_t), const void* body) {
    const auto task = [&](std::int64_t i) {
#ifdef MLPTRAIN_TSAN
        __tsan_acquire(&tsan_fork_token);
#endif
        call(body, i);
#ifdef MLPTRAIN_TSAN
        __tsan_release(&tsan_join_token);
#endif
    };
#ifdef MLPTRAIN_TSAN
    __tsan_release(&tsan_fork_token);  // after `task` is built: the tasks read its captures
#endif
    // The static partitioner: thread k runs the k-th contiguous block of [0, count), the
    // same thread every call (no stealing), so what a thread wrote in one phase is in its
    // cache in the next (see Trainer's chunk roots).
    arena_->arena->execute([&] { tbb::parallel_for(std::int64_t{0}, count, task, tbb::static_partitioner()); });
#ifdef MLPTRAIN_TSAN
    __tsan_acquire(&tsan_join_token);
#endif
}

}  // namespace mlptrain
