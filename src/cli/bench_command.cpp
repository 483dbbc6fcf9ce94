// `mlptrain bench`: training throughput on synthetic data, next to the GEMM ceiling measured
// in the same process — what T concurrent single-threaded sgemm callers reach on the step's
// GEMMs with B/T rows each, the best any split of this batch could do.
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/run/config.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/rng.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace mlptrain::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// `rows` samples of uniform features and uniformly drawn class labels.
Dataset synthetic_dataset(std::int64_t rows, std::int64_t features, std::int64_t classes,
                          std::uint64_t seed) {
    Dataset data;
    data.source = "synthetic";
    data.rows = rows;
    data.features = features;
    data.x.resize(static_cast<std::size_t>(rows * features));
    for (std::int64_t i = 0; i < rows * features; ++i)
        data.x[static_cast<std::size_t>(i)] =
            uniform01(random_bits(seed, RngPurpose::synthetic, 0, static_cast<std::uint64_t>(i))[0]);
    for (std::int64_t c = 0; c < classes; ++c) data.class_names.push_back(std::to_string(c));
    for (std::int64_t r = 0; r < rows; ++r)
        data.labels.push_back(static_cast<std::int32_t>(uniform_below(
            random_bits(seed, RngPurpose::synthetic, 1, static_cast<std::uint64_t>(r))[0] * 0x100000001ull,
            static_cast<std::uint64_t>(classes))));
    return data;
}

// The step's GEMMs for `rows` rows: per layer Z = X·Wᵀ, dW = dZᵀ·X, dX = dZ·W.
struct GemmSet {
    std::vector<AlignedBuffer> X, W, Z, dW, dX;
    std::vector<std::int64_t> sizes;
    std::int64_t rows;
    GemmSet(const std::vector<std::int64_t>& sizes_, std::int64_t rows_) : sizes(sizes_), rows(rows_) {
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
            const std::int64_t in = sizes[l], out = sizes[l + 1];
            X.emplace_back(rows * in);
            W.emplace_back(out * in);
            Z.emplace_back(rows * out);
            dW.emplace_back(out * in);
            dX.emplace_back(rows * in);
            for (std::int64_t i = 0; i < rows * in; ++i) X.back().data()[i] = 0.001f * static_cast<float>(i % 997);
            for (std::int64_t i = 0; i < out * in; ++i) W.back().data()[i] = 0.001f * static_cast<float>(i % 991);
        }
    }
    void run() {
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
            const std::int64_t in = sizes[l], out = sizes[l + 1];
            const ConstMatrix x = X[l].as_matrix(rows, in), w = W[l].as_matrix(out, in);
            gemm(Transpose::no, Transpose::yes, 1.0f, x, w, 0.0f, Z[l].as_matrix(rows, out));
            const ConstMatrix dz = Z[l].as_matrix(rows, out);
            gemm(Transpose::yes, Transpose::no, 1.0f, dz, x, 0.0f, dW[l].as_matrix(out, in));
            gemm(Transpose::no, Transpose::no, 1.0f, dz, w, 0.0f, dX[l].as_matrix(rows, in));
        }
    }
    double flops() const {
        double f = 0;
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l)
            f += 3.0 * 2.0 * static_cast<double>(rows) * static_cast<double>(sizes[l]) * static_cast<double>(sizes[l + 1]);
        return f;
    }
};

// GFLOP/s of `threads` concurrent callers each running the step's GEMMs on `rows` rows,
// for about `seconds`.
double gemm_ceiling(const std::vector<std::int64_t>& sizes, std::int64_t rows, int threads, double seconds) {
    std::vector<std::unique_ptr<GemmSet>> sets;
    for (int t = 0; t < threads; ++t) sets.push_back(std::make_unique<GemmSet>(sizes, rows));
    for (auto& s : sets) s->run();  // warm caches and OpenBLAS buffers
    std::atomic<int> ready{0};
    std::atomic<bool> go{false}, stop{false};
    std::vector<std::int64_t> reps(static_cast<std::size_t>(threads), 0);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            ++ready;
            while (!go.load()) std::this_thread::yield();
            while (!stop.load()) {
                sets[static_cast<std::size_t>(t)]->run();
                ++reps[static_cast<std::size_t>(t)];
            }
        });
    while (ready.load() < threads) std::this_thread::yield();
    const auto start = Clock::now();
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& w : workers) w.join();
    const double elapsed = seconds_since(start);
    double flops = 0;
    for (int t = 0; t < threads; ++t) flops += static_cast<double>(reps[static_cast<std::size_t>(t)]) * sets[0]->flops();
    return flops / elapsed / 1e9;
}

}  // namespace

int run_bench(const std::vector<std::string>& args) {
    po::options_description desc("mlptrain bench options");
    desc.add_options()
        ("layers", po::value<std::string>()->default_value("784,1024,1024,10"), "all layer sizes, input to output")
        ("batch-size", po::value<std::string>()->default_value("256"), "rows per step")
        ("threads", po::value<std::string>(), "worker threads (default: CPUs in the affinity mask)")
        ("shards", po::value<std::string>(), "shards per batch (default: from the batch size)")
        ("steps", po::value<std::string>(), "timed steps (default: as many as fit in --seconds)")
        ("seconds", po::value<std::string>()->default_value("3"), "time budget of the timed steps when --steps is not given")
        ("warmup", po::value<std::string>()->default_value("10"), "untimed steps first")
        ("activation", po::value<std::string>()->default_value("relu"), "hidden activation")
        ("no-ceiling", po::bool_switch(), "skip the GEMM ceiling measurement (always skipped under MPI)")
        ("allreduce", po::value<std::string>()->default_value("tree"), "across MPI ranks: tree or mpi")
        ("json", po::bool_switch(), "print one JSON object instead of text")
        ("help,h", "show this help");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::unknown_option& e) {
        throw Error("unknown option '" + e.get_option_name() + "' (hint: run 'mlptrain bench --help' for the options)");
    } catch (const po::error& e) {
        throw Error(std::string(e.what()) + " (hint: run 'mlptrain bench --help' for the options)");
    }
    if (vm.count("help")) {
        std::cout << "usage: mlptrain bench [options]\n\n" << desc;
        return 0;
    }
    auto text = [&](const char* name) { return vm[name].as<std::string>(); };
    const std::vector<std::int64_t> sizes = parse_layer_sizes(text("layers"), "--layers");
    if (sizes.size() < 2)
        throw Error(describe("--layers", "at least an input and an output size, e.g. 784,1024,10", "'" + text("layers") + "'"));
    const std::int64_t batch = parse_int(text("batch-size"), "--batch-size");
    const std::int64_t warmup = parse_int(text("warmup"), "--warmup");
    const double budget = parse_real(text("seconds"), "--seconds");
    const std::int64_t steps = vm.count("steps") ? parse_int(text("steps"), "--steps") : 0;
    if (batch < 1) throw Error(describe("--batch-size", "a positive integer", std::to_string(batch)));
    if (warmup < 0) throw Error(describe("--warmup", "a non-negative integer", std::to_string(warmup)));
    if (vm.count("steps") && steps < 1) throw Error(describe("--steps", "a positive integer", std::to_string(steps)));
    if (budget <= 0) throw Error(describe("--seconds", "a positive number", text("seconds")));

    TrainConfig config;
    config.batch_size = batch;
    config.schedule.lr = 0.001f;
    config.optimizer.momentum = 0.9f;
    if (vm.count("threads")) config.threads = static_cast<int>(parse_int(text("threads"), "--threads"));
    if (vm.count("shards")) config.shards = parse_int(text("shards"), "--shards");
    if (config.threads < 0 || (vm.count("threads") && config.threads == 0))
        throw Error(describe("--threads", "a positive integer", text("threads")));
    if (config.threads > 1024) throw Error(describe("--threads", "an integer from 1 to 1024", text("threads")));
    if (batch > (1 << 24)) throw Error(describe("--batch-size", "an integer from 1 to 16777216", text("batch-size")));
    if (vm.count("shards") && (config.shards < 1 || config.shards > batch))
        throw Error(describe("--shards", "an integer from 1 to --batch-size", text("shards")));

    if (text("allreduce") == "mpi") config.allreduce = AllreduceKind::mpi;
    else if (text("allreduce") != "tree") throw Error(describe("--allreduce", "tree or mpi", "'" + text("allreduce") + "'"));

    ModelSpec spec;
    spec.sizes = sizes;
    spec.hidden_activation = parse_activation(text("activation"));
    spec.loss = Loss::softmax_cross_entropy;
    const Model model(spec);
    const std::int64_t rows = std::max<std::int64_t>(batch * 8, 1024);
    const Dataset data = synthetic_dataset(rows, sizes.front(), sizes.back(), 7);
    std::vector<std::int64_t> order(static_cast<std::size_t>(rows));
    for (std::int64_t i = 0; i < rows; ++i) order[static_cast<std::size_t>(i)] = i;

    // Under mpirun each rank trains its block of the shards; rank 0 reports.
    const std::unique_ptr<Communicator> comm = make_communicator(nullptr, nullptr);
    if (comm->rank() != 0) std::cout.setstate(std::ios::badbit);
    Trainer trainer(model, config, 0, comm.get());
    const int threads = trainer.threads();
    const int ranks = comm->size();
    std::int64_t position = 0;
    auto one_step = [&] {
        if (position + batch > rows) position = 0;
        trainer.train_step(data, order.data() + position, batch);
        position += batch;
    };

    // Ceiling before and after training (the machine may be shared); the higher is used,
    // which makes the efficiency a conservative figure.
    const bool ceiling_on = !vm["no-ceiling"].as<bool>() && ranks == 1;
    const std::int64_t ceiling_rows = std::max<std::int64_t>(1, batch / threads);
    double ceiling = ceiling_on ? gemm_ceiling(sizes, ceiling_rows, threads, 1.0) : 0.0;

    for (std::int64_t i = 0; i < warmup; ++i) one_step();
    const double allreduce_before = trainer.allreduce_seconds();
    std::int64_t timed = 0;
    const auto start = Clock::now();
    if (steps > 0) {
        for (; timed < steps; ++timed) one_step();
    } else {
        // Ranks must run the same number of steps: rank 0's clock decides, by broadcast.
        float go_on = 1.0f;
        while (go_on > 0.0f) {
            one_step();
            ++timed;
            go_on = timed < 3 || seconds_since(start) < budget ? 1.0f : 0.0f;
            comm->broadcast(&go_on, 1, 0);
        }
    }
    const double elapsed = seconds_since(start);
    const double allreduce_share = (trainer.allreduce_seconds() - allreduce_before) / elapsed;
    if (ceiling_on) ceiling = std::max(ceiling, gemm_ceiling(sizes, ceiling_rows, threads, 1.0));

    const double samples_per_s = static_cast<double>(timed * batch) / elapsed;
    const double params = static_cast<double>(model.layout().parameter_count());
    const double gflops = 6.0 * params * samples_per_s / 1e9;
    const double efficiency = ceiling > 0 ? gflops / ceiling : 0.0;

    if (vm["json"].as<bool>()) {
        nlohmann::json j = {
            {"layers", sizes}, {"batch_size", batch}, {"threads", threads},
            {"shards", trainer.shards()}, {"parameters", static_cast<std::int64_t>(params)},
            {"steps", timed}, {"seconds", elapsed}, {"samples_per_s", samples_per_s},
            {"steps_per_s", static_cast<double>(timed) / elapsed},
            {"us_per_step", elapsed / static_cast<double>(timed) * 1e6}, {"gflops", gflops},
            {"ceiling_gflops", ceiling}, {"ceiling_rows_per_caller", ceiling_rows},
            {"efficiency", efficiency}, {"ranks", ranks}, {"allreduce_share", allreduce_share},
            {"allreduce", config.allreduce == AllreduceKind::tree ? "tree" : "mpi"},
            {"blas", blas_description()}};
        std::cout << j.dump() << "\n";
        return 0;
    }
    if (comm->rank() != 0) return 0;
    std::printf("network %s, batch %lld, %d rank(s) x %d thread(s), %lld shard(s); BLAS %s\n",
                spec.describe().c_str(), static_cast<long long>(batch), ranks, threads,
                static_cast<long long>(trainer.shards()), blas_description().c_str());
    for (const std::string& notice : trainer.notices()) std::printf("%s\n", notice.c_str());
    std::printf("%lld steps in %.3f s: %.0f samples/s, %.1f steps/s, %.1f us/step\n",
                static_cast<long long>(timed), elapsed, samples_per_s,
                static_cast<double>(timed) / elapsed, elapsed / static_cast<double>(timed) * 1e6);
    std::printf("achieved %.2f GFLOP/s (6 x %.0f parameters x samples/s)\n", gflops, params);
    if (ranks > 1) std::printf("allreduce: %.1f%% of the time\n", 100.0 * allreduce_share);
    if (ceiling_on)
        std::printf("GEMM ceiling %.2f GFLOP/s (%d concurrent sgemm callers x %lld rows); efficiency %.3f\n",
                    ceiling, threads, static_cast<long long>(ceiling_rows), efficiency);
    return 0;
}

}  // namespace mlptrain::cli
