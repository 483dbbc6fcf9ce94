// No oversubscription: during training the process runs the main thread plus the TBB
// workers of --threads and nothing else (OpenBLAS is serial inside the workers).
#include <doctest/doctest.h>

#include <dirent.h>

#include "mlptrain/blas.hpp"
#include "mlptrain/rng.hpp"
#include "mlptrain/trainer.hpp"

using namespace mlptrain;

static int process_threads() {
    int count = 0;
    if (DIR* dir = opendir("/proc/self/task")) {
        while (dirent* entry = readdir(dir))
            if (entry->d_name[0] != '.') ++count;
        closedir(dir);
    }
    return count;
}

// Peak thread count seen between steps while training a 4-shard network.
static int peak_threads_while_training(int threads) {
    ModelSpec spec;
    spec.sizes = {32, 64, 64, 4};
    const Model model(spec);
    Dataset data;
    data.rows = 256;
    data.features = 32;
    for (std::int64_t i = 0; i < 256 * 32; ++i)
        data.x.push_back(uniform01(random_bits(5, RngPurpose::synthetic, 0, static_cast<std::uint64_t>(i))[0]));
    data.class_names = {"a", "b", "c", "d"};
    for (std::int32_t r = 0; r < 256; ++r) data.labels.push_back(r % 4);
    Split split;
    for (std::int64_t r = 0; r < 256; ++r) split.train.push_back(r);
    TrainConfig config;
    config.batch_size = 64;
    config.shards = 8;
    config.threads = threads;
    config.epochs = 5;
    Trainer trainer(model, config, 0);
    int peak = 0;
    trainer.fit(data, split, [&](const EpochReport&) { peak = std::max(peak, process_threads()); });
    return peak;
}

// The linked BLAS creates no threads of its own.
TEST_CASE("the linked OpenBLAS is the serial build") {
    CHECK(blas_is_serial());
    CHECK(blas_description().find("serial") != std::string::npos);
}

// With --threads T the process has at most T threads (main + T−1 workers) while training,
// and it does use more than one when T > 1.
TEST_CASE("thread count during training matches --threads") {
    for (int threads : {1, 2, 4}) {
        const int peak = peak_threads_while_training(threads);
        INFO("threads=" << threads << " peak=" << peak);
        CHECK(peak <= threads);
        if (threads > 1) CHECK(peak >= 2);
    }
}
