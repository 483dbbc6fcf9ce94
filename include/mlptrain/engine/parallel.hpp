// The engine's one fork-join: body(i) for i in [0, count) on a fixed set of worker threads
// (a oneTBB arena behind a pimpl, so no TBB header reaches the library's users). Which
// thread runs which i never matters to a result: callers give each i its own outputs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace mlptrain {

// CPUs in this process's affinity mask (what taskset and Slurm grant).
int default_threads();

// The oneTBB version that runs (TBB_runtime_version(): "2021.8.0"), for benchmark records.
std::string tbb_version();

// The worker threads for a request: `requested` (≥ 1), or default_threads() for 0, at most
// the concurrent callers the linked BLAS keeps buffers for. Throws ConfigError (field
// "threads") for a request above that.
int worker_threads(int requested);

class WorkerPool {
public:
    explicit WorkerPool(int threads);  // threads ≥ 1, from worker_threads()
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    int threads() const { return threads_; }

    // Which of the pool's threads runs the caller: 0 … threads() − 1 inside a body of run()
    // (its slot in the arena), 0 outside one. For accounting (who was busy how long), never
    // for a result.
    static int current_worker();

    // Runs body(i) for every i in [0, count) and returns when all are done: thread k of n
    // takes the k-th of n contiguous blocks of [0, count), the same thread each call (for
    // the caches; no result depends on it). Inline on the calling thread for one thread or
    // one item (no scheduling cost for tiny networks). Allocates nothing.
    template <typename Body>
    void run(std::int64_t count, const Body& body) {
        if (threads_ == 1 || count == 1) {
            for (std::int64_t i = 0; i < count; ++i) body(i);
            return;
        }
        run_on_workers(count, [](const void* b, std::int64_t i) { (*static_cast<const Body*>(b))(i); }, &body);
    }

private:
    void run_on_workers(std::int64_t count, void (*call)(const void*, std::int64_t), const void* body);

    struct Arena;
    int threads_ = 1;
    std::unique_ptr<Arena> arena_;
};

}  // namespace mlptrain
