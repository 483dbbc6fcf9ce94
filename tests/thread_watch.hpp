// What the thread tests watch (test_threads for OpenBLAS, test_onednn_threads for oneDNN):
// the threads of this process and their CPU time while a trainer runs.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <map>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/engine/trainer.hpp"

#include "test_support.hpp"

namespace thread_watch {

using namespace mlptrain;
using test_support::thread_cpu_ticks;

struct Observed {
    int peak_threads = 0;
    long baseline_ticks = 0;  // CPU used during training by threads that existed before, main excepted
    long total_ticks = 0;
};

// 40 epochs of 64-256-256-4 on 1024 rows, batch 128 in 8 shards, on `threads` threads.
inline Observed train_and_watch(int threads, const std::map<int, long>& baseline, GemmSettings gemm = {}) {
    ModelSpec spec;
    spec.sizes = {64, 256, 256, 4};
    const Model model(spec);
    Dataset data;
    data.rows = 1024;
    data.features = 64;
    for (std::int64_t i = 0; i < 1024 * 64; ++i)
        data.x.push_back(uniform01(random_bits(5, RngPurpose::synthetic, 0, static_cast<std::uint64_t>(i))[0]));
    data.class_names = {"a", "b", "c", "d"};
    for (std::int32_t r = 0; r < 1024; ++r) data.labels.push_back(r % 4);
    Split split;
    for (std::int64_t r = 0; r < 1024; ++r) split.train.push_back(r);
    TrainConfig config;
    config.batch_size = 128;
    config.shards = 8;
    config.threads = threads;
    config.epochs = 40;
    config.schedule.lr = 0.05f;
    config.optimizer.momentum = 0.9f;
    config.gemm = gemm;
    Trainer trainer(model, config, 0);
    const auto before = thread_cpu_ticks();
    Observed seen;
    trainer.fit(data, split, [&](const EpochReport&) {
        seen.peak_threads = std::max(seen.peak_threads, static_cast<int>(thread_cpu_ticks().size()));
    });
    const auto after = thread_cpu_ticks();
    const int main_tid = static_cast<int>(getpid());
    for (const auto& [tid, ticks] : after) {
        const auto was = before.find(tid);
        const long used = ticks - (was == before.end() ? 0 : was->second);
        seen.total_ticks += used;
        if (baseline.count(tid) && tid != main_tid) seen.baseline_ticks += used;
    }
    return seen;
}

}  // namespace thread_watch
