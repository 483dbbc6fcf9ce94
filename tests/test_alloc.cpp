// The performance contract's "no allocation in a step": this binary replaces the global
// allocation functions (operator new/delete and malloc's family, so TBB's and OpenBLAS's
// allocations count too) and counts every call made while a step runs.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "mlptrain/core/rng.hpp"
#include "mlptrain/engine/trainer.hpp"
#include "bf16_here.hpp"
#include "blas_core_here.hpp"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
void note() {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) { note(); return __libc_malloc(n); }
void* calloc(std::size_t n, std::size_t size) { note(); return __libc_calloc(n, size); }
void* realloc(void* p, std::size_t n) { note(); return __libc_realloc(p, n); }
void* aligned_alloc(std::size_t alignment, std::size_t n) { note(); return __libc_memalign(alignment, n); }
void* memalign(std::size_t alignment, std::size_t n) { note(); return __libc_memalign(alignment, n); }
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
    note();
    *out = __libc_memalign(alignment, n);
    return *out ? 0 : ENOMEM;
}
void free(void* p) { __libc_free(p); }
}

void* operator new(std::size_t n) {
    note();
    if (void* p = __libc_malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { note(); return __libc_malloc(n ? n : 1); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { note(); return __libc_malloc(n ? n : 1); }
void* operator new(std::size_t n, std::align_val_t a) {
    note();
    if (void* p = __libc_memalign(static_cast<std::size_t>(a), n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }

using namespace mlptrain;

static Dataset random_dataset(std::int64_t rows, std::int64_t features, std::int32_t classes) {
    Dataset d;
    d.rows = rows;
    d.features = features;
    for (std::int64_t i = 0; i < rows * features; ++i)
        d.x.push_back(uniform01(random_bits(3, RngPurpose::synthetic, 0, static_cast<std::uint64_t>(i))[0]));
    for (std::int32_t c = 0; c < classes; ++c) d.class_names.push_back(std::to_string(c));
    for (std::int64_t r = 0; r < rows; ++r) d.labels.push_back(static_cast<std::int32_t>(r % classes));
    return d;
}

// SGD with momentum 0.9 at lr 0.05: the step most cases count.
static TrainConfig sgd_momentum(std::int64_t batch, std::int64_t shards, int threads) {
    TrainConfig config;
    config.batch_size = batch;
    config.shards = shards;
    config.threads = threads;
    config.schedule.lr = 0.05f;
    config.optimizer.momentum = 0.9f;
    return config;
}

// Counts the allocations of `steps` steps after one warm-up step (full and partial batches).
// With `team`, also the threads of a shard's team (Trainer::shard_team).
static long allocations_in_steps(const ModelSpec& spec, TrainConfig config, int steps, int* team = nullptr) {
    const Model model(spec);
    const Dataset data = random_dataset(500, spec.sizes.front(), static_cast<std::int32_t>(spec.sizes.back()));
    std::vector<std::int64_t> rows(500);
    for (std::int64_t i = 0; i < 500; ++i) rows[static_cast<std::size_t>(i)] = (i * 7) % 500;
    Trainer trainer(model, config, 0);
    if (team) *team = trainer.shard_team();
    trainer.train_step(data, rows.data(), config.batch_size);
    trainer.train_step(data, rows.data() + 1, config.batch_size - 1);  // partial batch
    allocations = 0;
    counting = true;
    for (int s = 0; s < steps; ++s) {
        const std::int64_t n = s % 3 == 2 ? config.batch_size / 2 + 1 : config.batch_size;
        trainer.train_step(data, rows.data() + s * 10, n);
    }
    counting = false;
    return allocations.load();
}

// The counting itself works: an allocation while counting is seen.
TEST_CASE("the replaced allocator counts allocations") {
    allocations = 0;
    counting = true;
    auto* p = new std::vector<int>(100);
    counting = false;
    delete p;
    CHECK(allocations.load() >= 2);
}

// A steady-state step of the sharded parallel trainer allocates nothing.
TEST_CASE("steps after the first allocate nothing (2 threads, 4 shards, momentum)") {
    ModelSpec spec;
    spec.sizes = {20, 32, 16, 5};
    TrainConfig config = sgd_momentum(64, 4, 2);
    config.optimizer.nesterov = true;
    CHECK(allocations_in_steps(spec, config, 30) == 0);
}

// The other paths of a step (dropout masks, gradient clipping, Adam) allocate nothing.
TEST_CASE("steps with dropout, clipping and adam allocate nothing") {
    ModelSpec spec;
    spec.sizes = {20, 32, 16, 5};
    spec.dropout = 0.3f;
    spec.hidden_activation = Activation::tanh;
    TrainConfig config;
    config.batch_size = 48;
    config.shards = 3;
    config.threads = 3;
    config.clip_norm = 0.5f;
    config.schedule.lr = 0.05f;
    config.optimizer.kind = OptimizerKind::adamw;
    config.optimizer.beta1 = 0.9f;
    config.optimizer.beta2 = 0.999f;
    config.optimizer.weight_decay = 0.01f;
    CHECK(allocations_in_steps(spec, config, 30) == 0);
}

// The weight-store tuner's probes and switches, recorded after every step, allocate
// nothing (its buffers are reserved when it is made). With intervals of 0 it probes after
// every few steps; plain stores faster makes it switch.
TEST_CASE("the weight-store tuner allocates nothing after construction") {
    WeightStoreTuner::Options options;
    options.first_probe_seconds = options.min_interval_seconds = options.max_interval_seconds = 0.0;
    WeightStoreTuner tuner(options);
    allocations = 0;
    counting = true;
    for (int i = 0; i < 1000; ++i) tuner.record(tuner.streaming() ? 2e-3 : 1e-3);
    counting = false;
    CHECK(allocations.load() == 0);
    CHECK(tuner.probes() > 50);
    CHECK(tuner.switches() == 1);
}

// Teams of threads sharing a shard (engine/shard_team.hpp) allocate nothing in a step either:
// 4 threads, 2 shards, on OpenBLAS's AVX-512 kernels, whose splits verify (the
// environment's Haswell kernels would refuse the team).
TEST_CASE("steps of teams sharing a shard allocate nothing") {
    if (!test::blas_core_runs_here("SkylakeX")) {
        MESSAGE("skipped: this CPU cannot run OpenBLAS's AVX-512 kernels");
        return;
    }
    ModelSpec spec;
    spec.sizes = {64, 512, 256, 5};
    spec.dropout = 0.1f;
    const TrainConfig config = sgd_momentum(128, 2, 4);
    int team = 0;
    long count = -1;
    test::with_blas_core("SkylakeX", [&] { count = allocations_in_steps(spec, config, 12, &team); });
    CHECK(team == 2);
    CHECK(count == 0);
}

// A single-shard, single-thread step (the inline path) allocates nothing.
TEST_CASE("single-shard steps allocate nothing") {
    ModelSpec spec;
    spec.sizes = {4, 16, 3};
    const TrainConfig config = sgd_momentum(16, 0, 1);  // shards 0: from the batch size (1)
    CHECK(allocations_in_steps(spec, config, 30) == 0);
}

#ifdef MLPTRAIN_WITH_ONEDNN
// Per-step allocation counts of `steps` steps (full and partial batches, every shape
// prepared first, as fit() does), after one warm-up step of each size.
static std::vector<long> allocations_per_step(const ModelSpec& spec, TrainConfig config, int steps, int& on_demand) {
    const Model model(spec);
    const Dataset data = random_dataset(500, spec.sizes.front(), static_cast<std::int32_t>(spec.sizes.back()));
    std::vector<std::int64_t> rows(500);
    for (std::int64_t i = 0; i < 500; ++i) rows[static_cast<std::size_t>(i)] = (i * 7) % 500;
    Trainer trainer(model, config, 0);
    const std::int64_t partial = config.batch_size / 2 + 1;
    trainer.prepare_step(partial);
    trainer.train_step(data, rows.data(), config.batch_size);
    trainer.train_step(data, rows.data() + 1, partial);
    std::vector<long> counts;
    for (int s = 0; s < steps; ++s) {
        const std::int64_t n = s % 3 == 2 ? partial : config.batch_size;
        allocations = 0;
        counting = true;
        trainer.train_step(data, rows.data() + s * 10, n);
        counting = false;
        counts.push_back(allocations.load());
    }
    on_demand = trainer.gemm_created_on_demand();
    return counts;
}

// oneDNN 2.6.3 allocates inside every dnnl_primitive_execute: it builds a std::unordered_map
// of the call's arguments (6 small blocks per call, 7 with the sum post-op of Z = X·Wᵀ + Z,
// all freed before it returns), and its public API has no way around that. What holds
// instead, and is checked here: every step allocates the same small number of blocks (no
// growth, nothing cached or created on demand: every primitive was made before the steps),
// at most 8 per GEMM call.
TEST_CASE("oneDNN steps allocate the same few blocks every step and create no primitive") {
    ModelSpec spec;
    spec.sizes = {20, 32, 16, 5};
    spec.dropout = 0.2f;
    TrainConfig config = sgd_momentum(64, 4, 2);
    std::vector<GemmPrecision> precisions = {GemmPrecision::fp32};
    if (test::bf16_runs_here()) precisions.push_back(GemmPrecision::bf16);
    const long calls_per_step = 4 * 8;  // 4 shards × (3 forward + 3 dW + 2 dX)
    for (GemmPrecision precision : precisions) {
        const std::string precision_name = gemm_precision_name(precision);
        CAPTURE(precision_name);
        config.gemm = GemmSettings{GemmBackend::onednn, precision};
        int on_demand = -1;
        const std::vector<long> counts = allocations_per_step(spec, config, 30, on_demand);
        MESSAGE("oneDNN " << std::string(gemm_precision_name(precision)) << ": " << counts.front() << " allocations per step ("
                          << calls_per_step << " GEMM calls)");
        CHECK(on_demand == 0);
        CHECK(counts.front() > 0);
        CHECK(counts.front() <= 8 * calls_per_step);
        for (long c : counts) CHECK(c == counts.front());
    }
}
#endif
