// `mlptrain bench`: training throughput on synthetic data, next to two limits measured in the
// same process — the GEMM ceiling (what T concurrent single-threaded sgemm callers reach on
// the step's GEMMs with B/T rows each, the best any split of this batch could do) and the
// FMA peak (what T threads of register-only multiply-adds reach: the silicon's limit) — then
// the speed of evaluation (forward passes only) and, with --json, the environment record a reader needs to reproduce or distrust the figure.
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench_environment.hpp"
#include "blas_core_option.hpp"
#include "command_line.hpp"
#include "commands.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/core_latency.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/fma_peak.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/engine/launch_check.hpp"
#include "mlptrain/engine/shard_team.hpp"
#include "mlptrain/engine/trainer.hpp"
#include "mlptrain/nn/backprop.hpp"
#include "mlptrain/core/text.hpp"
#include "mlptrain/run/blas_selection.hpp"
#include "mlptrain/run/config.hpp"
#include "mlptrain/run/gemm_selection.hpp"
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

// The step's GEMM calls for `rows` rows, as backprop makes them, on the run's backend and
// precision: per layer Z = X·Wᵀ + b, dW = dZᵀ·X, and dX = dZ·W except for the first layer.
// With a team plan (engine/shard_team.hpp), the blocks of those calls that member `member`
// of a shard's team makes, on views of the same buffers (the step's strides). bf16 inputs are
// rounded once, before timing (the step rounds them as they are produced). dW takes the beta
// of a steady step (weight_gradient_beta with GradsInit::zero): with OpenBLAS the big weight
// gradients add onto the zeros the reduction left (beta = 1, no clearing pass inside the
// GEMM; the step pays for the clearing in its reduction), here onto what the last call wrote:
// the same instructions, whatever the values.
struct GemmSet {
    std::vector<AlignedBuffer> X, W, b, Z, dW, dX;
    std::vector<Bf16Buffer> Xh, Wh, Zh;
    std::int64_t rows;
    GemmContext gemm;
    // One library call: C = op(A)·op(B) + beta·C, or with `bias` Z = X·Wᵀ + b as the step's
    // gemm_bias makes it (OpenBLAS: b copied into Z's rows, not timed here, then beta = 1).
    struct Call {
        Transpose ta, tb;
        ConstMatrix A, B;
        ConstMatrixBf16 Ah, Bh;
        float beta;
        const float* bias;
        Matrix C;
    };
    std::vector<Call> calls;

    GemmSet(const std::vector<std::int64_t>& sizes, std::int64_t rows_, GemmSettings settings,
            const ShardTeamPlan* plan = nullptr, int member = 0)
        : rows(rows_), gemm(settings) {
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
            const std::int64_t in = sizes[l], out = sizes[l + 1];
            X.emplace_back(rows * in);
            W.emplace_back(out * in);
            b.emplace_back(out);
            Z.emplace_back(rows * out);
            dW.emplace_back(out * in);
            dX.emplace_back(rows * in);
            for (std::int64_t i = 0; i < rows * in; ++i) X.back().data()[i] = 0.001f * static_cast<float>(i % 997);
            for (std::int64_t i = 0; i < out * in; ++i) W.back().data()[i] = 0.001f * static_cast<float>(i % 991);
            for (std::int64_t i = 0; i < out; ++i) b.back().data()[i] = 0.01f * static_cast<float>(i % 7);
            if (!gemm.bf16()) continue;
            Xh.emplace_back(rows * in);
            Wh.emplace_back(out * in);
            Zh.emplace_back(rows * out);
            convert_to_bf16(Xh.back().data(), X.back().data(), rows * in);
            convert_to_bf16(Wh.back().data(), W.back().data(), out * in);
        }
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) add_calls(l, sizes[l], sizes[l + 1], plan, member);
        for (const Call& c : calls) {
            const GemmPrecision p = gemm.settings().precision;
            if (c.bias) gemm.prepare(gemm_bias_shape(c.ta, c.tb, c.A, c.B, c.C, p));
            else gemm.prepare(gemm_shape(c.ta, c.tb, 1.0f, c.A, c.B, c.beta, c.C, p));
        }
    }
    // Layer l's calls, whole or the member's blocks: its forward block (rows, or units of W
    // with every row, or all of it on member 0 where the layer is not split), its unit blocks
    // of dW, its block of dX.
    void add_calls(std::size_t l, std::int64_t in, std::int64_t out, const ShardTeamPlan* plan, int member) {
        const Matrix x = X[l].as_matrix(rows, in), w = W[l].as_matrix(out, in), z = Z[l].as_matrix(rows, out);
        // The same blocks of the bf16 copies (none in an fp32 context).
        auto h = [&](std::vector<Bf16Buffer>& buffers, std::int64_t r, std::int64_t c, auto block) {
            return gemm.bf16() ? ConstMatrixBf16(block(buffers[l].as_matrix(r, c))) : ConstMatrixBf16{};
        };
        const PassBlock block = plan ? plan->layer_block(static_cast<int>(l), member) : PassBlock{rows, 0, rows};
        const std::int64_t r0 = block.row_begin, r1 = block.row_end;
        if (r1 > r0) {  // Z (block) = X (its rows)·W (its units)ᵀ + b
            const std::int64_t u0 = block.unit_begin(out), u1 = block.unit_end(out);
            calls.push_back({Transpose::no, Transpose::yes, row_block(x, r0, r1), row_block(w, u0, u1),
                             h(Xh, rows, in, [&](auto m) { return row_block(m, r0, r1); }),
                             h(Wh, out, in, [&](auto m) { return row_block(m, u0, u1); }), 1.0f, b[l].data() + u0,
                             block_of(z, block)});
        }
        const std::vector<UnitBlock> whole{{static_cast<int>(l), 0, out}};
        for (const UnitBlock& u : plan ? plan->unit_blocks[static_cast<std::size_t>(member)] : whole) {
            if (u.layer != static_cast<int>(l)) continue;  // dW (its units) = dZ (its columns)ᵀ·X
            const float beta = weight_gradient_beta(gemm.settings(), GradsInit::zero, rows, u.end - u.begin, in);
            calls.push_back({Transpose::yes, Transpose::no, column_block(z, u.begin, u.end), x,
                             h(Zh, rows, out, [&](auto m) { return column_block(m, u.begin, u.end); }),
                             h(Xh, rows, in, [](auto m) { return m; }), beta, nullptr,
                             row_block(dW[l].as_matrix(out, in), u.begin, u.end)});
        }
        if (l > 0 && r1 > r0) {  // dX (block) = dZ (its rows)·W (its input units)
            const std::int64_t i0 = block.unit_begin(in), i1 = block.unit_end(in);
            calls.push_back({Transpose::no, Transpose::no, row_block(z, r0, r1), column_block(w, i0, i1),
                             h(Zh, rows, out, [&](auto m) { return row_block(m, r0, r1); }),
                             h(Wh, out, in, [&](auto m) { return column_block(m, i0, i1); }), 0.0f, nullptr,
                             block_of(dX[l].as_matrix(rows, in), block)});
        }
    }
    void run() {
        for (const Call& c : calls) {
            if (c.bias && gemm.settings().backend == GemmBackend::openblas)
                gemm.gemm(c.ta, c.tb, 1.0f, c.A, c.B, 1.0f, c.C);
            else if (c.bias && gemm.bf16()) gemm.gemm_bias(c.ta, c.tb, c.Ah, c.Bh, c.bias, c.C);
            else if (c.bias) gemm.gemm_bias(c.ta, c.tb, c.A, c.B, c.bias, c.C);
            else if (gemm.bf16()) gemm.gemm(c.ta, c.tb, 1.0f, c.Ah, c.Bh, c.beta, c.C);
            else gemm.gemm(c.ta, c.tb, 1.0f, c.A, c.B, c.beta, c.C);
        }
    }
};

// What `threads` concurrent callers reach, each running the step's GEMMs on `rows` rows
// for about `seconds`, in samples per second (rows of every caller).
struct GemmCeiling {
    double samples_per_s = 0.0;  // every caller's rows over the window: the ceiling
    // threads × the slowest caller's rate: what the GEMMs reach when every round waits for
    // the slowest caller, as a synchronized step waits for its slowest worker. Below the
    // ceiling when the host runs one vCPU slower than the other (README, "Speed").
    double lockstep_samples_per_s = 0.0;
    double balance = 0.0;  // the slowest caller's rate ÷ the fastest's
};

// With a team plan, `threads` callers are the members of shards' teams (caller t member
// t % members), each running its blocks of a shard of plan->rows rows; a member's run
// counts as rows / members samples.
GemmCeiling gemm_ceiling(const std::vector<std::int64_t>& sizes, std::int64_t rows, int threads, double seconds,
                         GemmSettings settings, const ShardTeamPlan* plan = nullptr) {
    std::vector<std::unique_ptr<GemmSet>> sets;
    for (int t = 0; t < threads; ++t)
        sets.push_back(std::make_unique<GemmSet>(sizes, rows, settings, plan, plan ? t % plan->members : 0));
    for (auto& s : sets) s->run();  // warm caches and OpenBLAS buffers
    std::atomic<int> ready{0};
    std::atomic<bool> go{false}, stop{false};
    std::vector<std::int64_t> reps(static_cast<std::size_t>(threads), 0);
    std::vector<double> busy(static_cast<std::size_t>(threads), 0.0);  // seconds to each caller's last rep
    std::vector<std::thread> workers;
    Clock::time_point start;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            ++ready;
            while (!go.load()) std::this_thread::yield();
            std::int64_t n = 0;
            Clock::time_point last = start;
            while (!stop.load()) {
                sets[static_cast<std::size_t>(t)]->run();
                ++n;
                last = Clock::now();
            }
            reps[static_cast<std::size_t>(t)] = n;
            busy[static_cast<std::size_t>(t)] = std::chrono::duration<double>(last - start).count();
        });
    while (ready.load() < threads) std::this_thread::yield();
    start = Clock::now();
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& w : workers) w.join();
    const double elapsed = seconds_since(start);
    GemmCeiling c;
    std::int64_t total = 0;
    double slowest = 0.0, fastest = 0.0, sum = 0.0;  // each caller's runs per second of its own runs
    for (int t = 0; t < threads; ++t) {
        const auto i = static_cast<std::size_t>(t);
        total += reps[i];
        const double rate = busy[i] > 0 ? static_cast<double>(reps[i]) / busy[i] : 0.0;
        slowest = t == 0 ? rate : std::min(slowest, rate);
        fastest = std::max(fastest, rate);
        sum += rate;
    }
    c.samples_per_s = static_cast<double>(total * rows) / (plan ? plan->members : 1) / elapsed;
    // The ceiling's share that lock step keeps: threads × slowest ÷ Σ rates (≤ 1).
    c.lockstep_samples_per_s = sum > 0 ? c.samples_per_s * static_cast<double>(threads) * slowest / sum : 0.0;
    c.balance = fastest > 0 ? slowest / fastest : 0.0;
    return c;
}

}  // namespace

namespace {

struct BenchOptions {
    std::vector<std::int64_t> sizes;  // all layers, input to output
    Activation activation = Activation::relu;
    std::int64_t batch = 0, warmup = 0, steps = 0;  // steps 0: as many as fit in `seconds`
    double seconds = 0.0;
    double warmup_seconds = 0.0;  // the warm-up goes on until this much time has passed
    double eval_seconds = 0.0;    // of evaluation passes after the steps (0: none)
    TrainConfig train;
    bool ceiling = true;  // also the FMA peak
    bool json = false;
    BlasCoreOption blas_core;
    GemmRequest gemm;  // --gemm, --precision, --no-fallback
};

po::options_description bench_options() {
    po::options_description desc("mlptrain bench options");
    desc.add_options()
        ("layers", po::value<std::string>()->default_value("784,1024,1024,10"), "all layer sizes, input to output")
        ("batch-size", po::value<std::string>()->default_value("256"), "rows per step")
        ("threads", po::value<std::string>(), "worker threads (default: CPUs in the affinity mask)")
        ("shards", po::value<std::string>(), "shards per batch (default: from the batch size)")
        ("steps", po::value<std::string>(), "timed steps (default: as many as fit in --seconds)")
        ("seconds", po::value<std::string>()->default_value("3"), "time budget of the timed steps when --steps is not given")
        ("warmup", po::value<std::string>()->default_value("10"), "untimed steps first (0: no warm-up at all)")
        ("warmup-seconds", po::value<std::string>()->default_value("1"),
         "and go on with them until this many seconds have passed (an idle CPU takes most of a second to reach its full clock)")
        ("activation", po::value<std::string>()->default_value("relu"), "hidden activation")
        ("eval-seconds", po::value<std::string>()->default_value("0.25"),
         "then time evaluation (forward passes in chunks of a shard's rows on every thread) for this long (0: skip)")
        ("no-ceiling", po::bool_switch(), "skip the GEMM ceiling, FMA peak and cross-core round trip measurements (always skipped under MPI)")
        ("allreduce", po::value<std::string>()->default_value("tree"), "across MPI ranks: tree or mpi")
        ("weight-stores", po::value<std::string>()->default_value("auto"),
         "how the update writes the weights several threads read: auto, streaming or plain (the same bits)")
        ("shard-teams", po::value<std::string>()->default_value("true"),
         "with more threads than shards, teams of threads share each shard where that keeps the bits: true or false")
        ("json", po::bool_switch(), "print one JSON object instead of text")
        ("gemm", po::value<std::string>(), "GEMM library: openblas or onednn (default: openblas; onednn with --precision bf16)")
        ("precision", po::value<std::string>()->default_value("fp32"),
         "GEMM inputs: fp32 or bf16 (a network too small to gain from bf16 runs fp32, with a note)")
        ("no-fallback", po::bool_switch(), "run --precision bf16 even where it is slower than fp32 (to measure that)")
        ("help,h", "show this help");
    add_blas_core_option(desc);
    return desc;
}

// Parses the flags; returns false (after printing the help) for --help.
bool parse_bench_args(const std::vector<std::string>& args, BenchOptions& o) {
    const po::options_description desc = bench_options();
    const po::variables_map vm = parse_command_line(args, desc, "bench");
    if (vm.count("help")) {
        std::cout << "usage: mlptrain bench [options]\n\n" << desc;
        return false;
    }
    auto text = [&](const char* name) { return vm[name].as<std::string>(); };
    o.sizes = parse_layer_sizes(text("layers"), "layers");
    if (o.sizes.size() < 2)
        throw Error(describe("--layers", "at least an input and an output size, e.g. 784,1024,10", quote(text("layers"))));
    o.activation = parse_activation(text("activation"), "activation");
    o.batch = parse_integer(text("batch-size"), "batch_size");
    o.warmup = parse_integer(text("warmup"), "warmup");
    o.seconds = parse_real(text("seconds"), "seconds");
    o.warmup_seconds = parse_real(text("warmup-seconds"), "warmup_seconds");
    o.eval_seconds = parse_real(text("eval-seconds"), "eval_seconds");
    o.steps = vm.count("steps") ? parse_integer(text("steps"), "steps") : 0;
    if (o.batch < 1 || o.batch > (1 << 24))
        throw Error(describe("--batch-size", "an integer from 1 to 16777216", text("batch-size")));
    if (o.warmup < 0) throw Error(describe("--warmup", "a non-negative integer", std::to_string(o.warmup)));
    if (vm.count("steps") && o.steps < 1) throw Error(describe("--steps", "a positive integer", std::to_string(o.steps)));
    if (o.seconds <= 0) throw Error(describe("--seconds", "a positive number", text("seconds")));
    if (!(o.warmup_seconds >= 0 && o.warmup_seconds <= 3600))
        throw Error(describe("--warmup-seconds", "a number of seconds from 0 to 3600", text("warmup-seconds")));
    if (!(o.eval_seconds >= 0 && o.eval_seconds <= 3600))
        throw Error(describe("--eval-seconds", "a number of seconds from 0 to 3600", text("eval-seconds")));
    // The step of SGD with momentum: what a benchmark of the engine measures.
    o.train.batch_size = o.batch;
    o.train.schedule.lr = 0.001f;
    o.train.optimizer.momentum = 0.9f;
    o.train.seed = 1;
    if (vm.count("threads")) o.train.threads = parse_threads(text("threads"), "threads");
    if (vm.count("shards")) o.train.shards = parse_integer(text("shards"), "shards");
    if (vm.count("shards") && (o.train.shards < 1 || o.train.shards > o.batch))
        throw Error(describe("--shards", "an integer from 1 to --batch-size", text("shards")));
    if (text("allreduce") == "mpi") o.train.allreduce = AllreduceKind::mpi;
    else if (text("allreduce") != "tree") throw Error(describe("--allreduce", "tree or mpi", quote(text("allreduce"))));
    o.ceiling = !vm["no-ceiling"].as<bool>();
    o.json = vm["json"].as<bool>();
    o.blas_core = blas_core_option(vm);
    RunConfig gemm;  // the settings table's conversions, so that errors read as train's
    if (vm.count("gemm")) apply_setting(gemm, "gemm", text("gemm"));
    apply_setting(gemm, "weight-stores", text("weight-stores"));
    o.train.weight_stores = gemm.weight_stores;
    apply_setting(gemm, "shard-teams", text("shard-teams"));
    o.train.shard_teams = gemm.shard_teams;
    apply_setting(gemm, "precision", text("precision"));
    o.gemm = GemmRequest{gemm.gemm, gemm.precision, !vm["no-fallback"].as<bool>()};
    return true;
}

struct BenchResult {
    std::int64_t warmup_steps = 0;
    double warmup_seconds = 0.0;
    std::int64_t steps = 0;
    double seconds = 0.0;  // of the timed steps (the ceiling windows between them left out)
    double allreduce_share = 0.0;
    StepPhases phases;     // of the timed steps, summed over the windows
    double ceiling = 0.0;  // samples/s of the step's GEMMs alone (median of the windows); 0 when not measured
    std::int64_t ceiling_rows = 0;
    int ceiling_team = 1;  // with teams: the callers are teams of this many members over shards of ceiling_rows
    bool gemm_calls_timed = false;  // step_phases' gemm_calls were measured (time_steps)
    // Per window: the steps' samples/s ÷ the ceiling measured just before them.
    std::vector<double> window_efficiency;
    std::vector<double> window_ceiling;  // samples/s
    double efficiency = 0.0;  // their median; 0 when no ceiling was measured
    // The same against the lock-step ceiling (GemmCeiling), and each window's caller balance.
    std::vector<double> window_lockstep_efficiency, window_lockstep_ceiling, window_balance;
    double lockstep_ceiling = 0.0, lockstep_efficiency = 0.0, balance = 0.0;  // medians
    FmaPeak peak;             // gflops 0 when not measured
    // Per window, the cross-core round trip measured before its ceiling (core_latency.hpp),
    // and their median: where the host had put the vCPUs. 0 / empty when not measured.
    std::vector<double> window_round_trip_ns;
    double round_trip_ns = 0.0;
    // The timed steps' weight stores (Trainer::weight_stores): how many wrote the weights
    // with streaming stores and with plain ones, and with auto the tuner's probes, switches
    // and the wins that the next probe did not repeat.
    WeightStoreCounts stores;
    // Evaluation after the steps (Trainer::evaluate over the benchmark's rows): samples/s,
    // 0 when not measured.
    double eval_samples_per_s = 0.0;
    std::int64_t eval_rows = 0;
};

// Windows of timed steps with a ceiling: each window's steps are set beside the ceiling
// measured just before them.
constexpr int ceiling_windows = 3;

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n == 0 ? 0.0 : n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// The weight stores of the `steps` timed steps: with auto, what the tuner counted since
// `before`; else all of one kind.
WeightStoreCounts timed_weight_stores(const Trainer& trainer, const WeightStoreCounts& before, std::int64_t steps) {
    WeightStoreCounts counts;
    switch (trainer.weight_stores()) {
        case WeightStores::automatic: counts = trainer.weight_store_tuner().counts() - before; break;
        case WeightStores::streaming: counts.streaming_steps = steps; break;
        case WeightStores::plain: counts.plain_steps = steps; break;
    }
    return counts;
}

// The figures reported from the windows' lists: their medians.
void take_window_medians(BenchResult& r) {
    r.ceiling = median(r.window_ceiling);
    r.efficiency = median(r.window_efficiency);
    r.lockstep_ceiling = median(r.window_lockstep_ceiling);
    r.lockstep_efficiency = median(r.window_lockstep_efficiency);
    r.balance = median(r.window_balance);
    r.round_trip_ns = median(r.window_round_trip_ns);
}

// The rows of each ceiling caller's GEMMs. With at least as many shards as threads every
// thread runs whole shards, so the callers run a shard's GEMMs (batch / shards rows; a
// thread running several shards in turn runs that shape several times). With fewer shards
// the batch spread over every thread (batch / threads rows): what the machine could do,
// against which the step's idle threads count as lost.
std::int64_t ceiling_rows_per_caller(std::int64_t batch, std::int64_t shards, int threads) {
    return std::max<std::int64_t>(1, batch / std::max<std::int64_t>(shards, threads));
}

// The ceiling's callers, with their rows in r.ceiling_rows: with teams sharing the shards
// (more threads than shards), each team's members over a whole shard (r.ceiling_team the
// team); else every thread over ceiling_rows_per_caller rows.
int ceiling_callers(const BenchOptions& o, const Trainer& trainer, const Communicator& comm, BenchResult& r) {
    const std::int64_t shards = trainer.shards() / comm.size();
    if (const ShardTeamPlan* team = trainer.batch_team_plan()) {
        r.ceiling_rows = team->rows;
        r.ceiling_team = team->members;
        return static_cast<int>(shards) * team->members;
    }
    r.ceiling_rows = ceiling_rows_per_caller(o.batch / comm.size(), shards, trainer.threads());
    r.ceiling_team = 1;
    return trainer.threads();
}

// Whether to time the step's own GEMM calls beside the ceiling: where a shard's GEMMs are
// 40 MFLOP or more (about 200 µs here), the two clock reads per call (~50 ns a call, 3 calls
// a layer) take at most 0.2 % of its passes; on smaller networks they would show in the
// figure measured.
bool gemm_calls_worth_timing(const BenchOptions& o, const Trainer& trainer) {
    const double shard_gemm_flop = 6.0 * static_cast<double>(trainer.model().layout().parameter_count()) *
                                   static_cast<double>(o.batch) / static_cast<double>(trainer.shards());
    return shard_gemm_flop >= 4e7;
}

// Runs `once` until it has run at least `min_runs` times and `seconds` have passed; returns
// the runs. Ranks must run the same number: rank 0's clock decides, by broadcast.
template <typename Once>
std::int64_t repeat_for(std::int64_t min_runs, double seconds, Communicator& comm, const Once& once) {
    const auto start = Clock::now();
    std::int64_t runs = 0;
    for (float go_on = 1.0f; go_on > 0.0f;) {
        once();
        ++runs;
        go_on = runs < min_runs || seconds_since(start) < seconds ? 1.0f : 0.0f;
        comm.broadcast(&go_on, 1, 0);
    }
    return runs;
}

// Evaluation passes over all of `rows` (chunks of a shard's rows, every worker thread a
// lane; across ranks each its share of the chunks) for `seconds`, after one untimed pass:
// samples/s into r.
void time_evaluation(double seconds, Trainer& trainer, Communicator& comm, const Dataset& data,
                     const std::vector<std::int64_t>& rows, BenchResult& r) {
    trainer.time_gemm_calls(false);  // the shards' lanes would pay for clock reads, the others not
    trainer.prepare_evaluation(static_cast<std::int64_t>(rows.size()));
    trainer.evaluate(data, rows);
    const auto start = Clock::now();
    const std::int64_t passes = repeat_for(1, seconds, comm, [&] { trainer.evaluate(data, rows); });
    r.eval_rows = static_cast<std::int64_t>(rows.size());
    r.eval_samples_per_s = static_cast<double>(passes * r.eval_rows) / seconds_since(start);
}

// Warm-up, then timed steps over synthetic rows. With the ceiling on: three rounds of a
// ceiling window (0.6 s) and a window of timed steps (a third of the steps or seconds; two
// untimed steps first, so that the workers are awake and the caches hold the step's data
// again). A shared machine speeds up and slows down between windows; each window's ratio
// sees both sides at nearly the same moment, and the efficiency is the median of the three
// (the ceiling reported, the median of theirs). Before each ceiling, the cross-core round
// trip (core_latency.hpp) records where the host had put the vCPUs. Under MPI no ceiling is
// measured and one window runs, its length decided by rank 0's clock.
BenchResult time_steps(const BenchOptions& o, Trainer& trainer, Communicator& comm) {
    const std::int64_t rows = std::max<std::int64_t>(o.batch * 8, 1024);
    const Dataset data = synthetic_dataset(rows, o.sizes.front(), o.sizes.back(), 7);
    std::vector<std::int64_t> order(static_cast<std::size_t>(rows));
    for (std::int64_t i = 0; i < rows; ++i) order[static_cast<std::size_t>(i)] = i;
    std::int64_t position = 0;
    auto one_step = [&] {
        if (position + o.batch > rows) position = 0;
        trainer.train_step(data, order.data() + position, o.batch);
        position += o.batch;
    };
    auto steps_for = [&](std::int64_t min_steps, double seconds) {
        return repeat_for(min_steps, seconds, comm, one_step);
    };
    BenchResult r;
    const bool ceiling_on = o.ceiling && comm.size() == 1;
    const ShardTeamPlan* team = trainer.batch_team_plan();
    const int callers = ceiling_callers(o, trainer, comm, r);
    r.gemm_calls_timed = ceiling_on && gemm_calls_worth_timing(o, trainer);
    trainer.time_gemm_calls(r.gemm_calls_timed);
    const GemmSettings gemm = trainer.config().gemm;
    const int windows = ceiling_on ? static_cast<int>(std::min<std::int64_t>(ceiling_windows, o.steps > 0 ? o.steps : ceiling_windows)) : 1;
    std::vector<double>& ceilings = r.window_ceiling;
    // The warm-up: `warmup` steps, and more until `warmup_seconds` have passed. On this
    // project's VM the first 0.6 s ceiling window of a process measured 156,000-216,000
    // samples/s where the next two measured 245,000-275,000 (784-256-128-10, 2 threads), and
    // 255,000-260,000 after one second of GEMMs first: the CPUs come up to their clock under
    // load.
    const auto warmup_start = Clock::now();
    if (o.warmup > 0) r.warmup_steps = steps_for(o.warmup, o.warmup_seconds);
    r.warmup_seconds = seconds_since(warmup_start);
    const double allreduce_before = trainer.allreduce_seconds();
    const WeightStoreCounts stores_before = trainer.weight_store_tuner().counts();
    for (int w = 0; w < windows; ++w) {
        GemmCeiling ceiling;
        if (ceiling_on) {
            if (const double ns = measure_core_round_trip_ns(trainer.threads(), affinity_cpus()); ns > 0)
                r.window_round_trip_ns.push_back(ns);
            ceiling = gemm_ceiling(o.sizes, r.ceiling_rows, callers, 0.6, gemm, team);
            ceilings.push_back(ceiling.samples_per_s);
            r.window_lockstep_ceiling.push_back(ceiling.lockstep_samples_per_s);
            r.window_balance.push_back(ceiling.balance);
            for (int i = 0; i < 2; ++i) one_step();
        }
        trainer.reset_step_phases();
        std::int64_t steps = 0;
        const auto start = Clock::now();
        if (o.steps > 0) {
            const std::int64_t n = o.steps * (w + 1) / windows - o.steps * w / windows;
            for (; steps < n; ++steps) one_step();
        } else {
            steps = steps_for(3, o.seconds / windows);
        }
        const double seconds = seconds_since(start);
        r.phases += trainer.step_phases();
        r.steps += steps;
        r.seconds += seconds;
        const double samples_per_s = static_cast<double>(steps * o.batch) / seconds;
        if (ceiling.samples_per_s > 0) r.window_efficiency.push_back(samples_per_s / ceiling.samples_per_s);
        if (ceiling.lockstep_samples_per_s > 0)
            r.window_lockstep_efficiency.push_back(samples_per_s / ceiling.lockstep_samples_per_s);
    }
    r.allreduce_share = (trainer.allreduce_seconds() - allreduce_before) / r.seconds;
    take_window_medians(r);
    r.stores = timed_weight_stores(trainer, stores_before, r.steps);
    if (ceiling_on) r.peak = measure_fma_peak(trainer.threads(), 0.5);
    if (o.eval_seconds > 0) time_evaluation(o.eval_seconds, trainer, comm, data, order, r);
    return r;
}

// The figures derived from a result. GFLOP/s count 6 × parameters per sample, for the step
// and for the ceiling alike (which runs only the step's own GEMM calls: no dX for the first
// layer), so that efficiency = step samples/s ÷ GEMM-only samples/s (per window, the median
// taken; see time_steps).
struct BenchFigures {
    double samples_per_s, params, gflops, ceiling_gflops, efficiency, peak_fraction;
    BenchFigures(const BenchOptions& o, const Trainer& trainer, const BenchResult& r)
        : samples_per_s(static_cast<double>(r.steps * o.batch) / r.seconds),
          params(static_cast<double>(trainer.model().layout().parameter_count())),
          gflops(6.0 * params * samples_per_s / 1e9),
          ceiling_gflops(6.0 * params * r.ceiling / 1e9),
          efficiency(r.efficiency),
          peak_fraction(r.peak.gflops > 0 ? gflops / r.peak.gflops : 0.0) {}
};

// Microseconds per step of each phase (Trainer::step_phases); "other" is the rest of the
// timed loop's wall time (the benchmark's own bookkeeping, and under MPI the broadcast).
// Where the GEMM calls were timed (time_steps), also their time: per thread (all workers'
// summed ÷ threads), the busiest worker's, and what the same calls take at the ceiling's
// rate (batch ÷ ceiling samples/s: the batch spread over the T callers at the rate they reach
// together), with their ratio.
struct PhasesPerStep {
    double passes, busiest_worker, idlest_worker, reduce, update, other;
    double gemm_calls = 0.0, busiest_worker_gemm_calls = 0.0, gemm_calls_at_ceiling = 0.0, gemm_calls_ratio = 0.0;
    PhasesPerStep(const BenchResult& r, std::int64_t batch, int threads) {
        const StepPhases& p = r.phases;
        const double us = 1e6 / static_cast<double>(std::max<std::int64_t>(p.steps, 1));
        passes = p.passes * us, busiest_worker = p.busiest_worker * us, idlest_worker = p.idlest_worker * us;
        reduce = p.reduce * us, update = p.update * us;
        other = (r.seconds - p.passes - p.reduce - p.update) * us;
        if (!r.gemm_calls_timed || r.ceiling <= 0) return;
        gemm_calls = p.gemm_calls * us / threads, busiest_worker_gemm_calls = p.busiest_worker_gemm_calls * us;
        gemm_calls_at_ceiling = static_cast<double>(batch) / r.ceiling * 1e6;
        gemm_calls_ratio = gemm_calls / gemm_calls_at_ceiling;
    }
    nlohmann::json json() const {
        nlohmann::json j = {{"passes", passes}, {"passes_busiest_worker", busiest_worker},
                            {"passes_least_busy_worker", idlest_worker}, {"reduce", reduce}, {"update", update},
                            {"other", other}};
        if (gemm_calls > 0)
            j.update({{"gemm_calls", gemm_calls}, {"gemm_calls_busiest_worker", busiest_worker_gemm_calls},
                      {"gemm_calls_at_ceiling", gemm_calls_at_ceiling}, {"gemm_calls_ratio", gemm_calls_ratio}});
        return j;
    }
};

nlohmann::json bench_json(const BenchOptions& o, const Trainer& trainer, const BenchResult& r, int ranks,
                          const BlasSelection& blas, const std::vector<std::string>& notes) {
    const BenchFigures f(o, trainer, r);
    std::vector<std::string> rendered;
    for (const std::string& note : notes) rendered.push_back(cli_message(Error(note)));
    return {{"layers", o.sizes}, {"batch_size", o.batch}, {"threads", trainer.threads()},
            {"shards", trainer.shards()}, {"shard_team", trainer.shard_team()},
            {"shard_team_check_ms", trainer.team_check_seconds() * 1e3},
            {"parameters", static_cast<std::int64_t>(f.params)},
            {"warmup_steps", r.warmup_steps}, {"warmup_seconds", r.warmup_seconds},
            {"steps", r.steps}, {"seconds", r.seconds}, {"samples_per_s", f.samples_per_s},
            {"steps_per_s", static_cast<double>(r.steps) / r.seconds},
            {"us_per_step", r.seconds / static_cast<double>(r.steps) * 1e6},
            {"step_phases_us", PhasesPerStep(r, o.batch, trainer.threads()).json()},
            {"gflops", f.gflops},
            {"ceiling_gflops", f.ceiling_gflops}, {"ceiling_samples_per_s", r.ceiling},
            {"ceiling_rows_per_caller", r.ceiling_rows}, {"ceiling_team", r.ceiling_team},
            {"efficiency", f.efficiency}, {"efficiency_windows", r.window_efficiency},
            {"ceiling_windows_samples_per_s", r.window_ceiling},
            {"lockstep_ceiling_samples_per_s", r.lockstep_ceiling},
            {"lockstep_efficiency", r.lockstep_efficiency},
            {"lockstep_efficiency_windows", r.window_lockstep_efficiency},
            {"ceiling_caller_balance", r.balance}, {"ceiling_caller_balance_windows", r.window_balance},
            {"peak_gflops", r.peak.gflops}, {"peak_fraction", f.peak_fraction},
            {"peak_isa", r.peak.isa}, {"core_round_trip_ns", r.round_trip_ns},
            {"core_round_trip_ns_windows", r.window_round_trip_ns}, {"ranks", ranks},
            {"allreduce_share", r.allreduce_share},
            {"allreduce", o.train.allreduce == AllreduceKind::tree ? "tree" : "mpi"},
            {"weight_stores", weight_stores_name(trainer.weight_stores())},
            {"weight_stores_streaming_steps", r.stores.streaming_steps},
            {"weight_stores_plain_steps", r.stores.plain_steps}, {"weight_stores_probes", r.stores.probes},
            {"weight_stores_switches", r.stores.switches},
            {"weight_stores_unrepeated_wins", r.stores.unrepeated_wins},
            {"eval_samples_per_s", r.eval_samples_per_s}, {"eval_rows", r.eval_rows},
            {"eval_lanes", trainer.evaluation_lanes()}, {"eval_chunk_rows", trainer.shard_rows()},
            {"blas", blas_description()}, {"blas_core", blas.core},
            {"blas_core_reason", blas_core_text(blas.reason)}, {"blas_core_note", blas_core_text(blas.note)},
            {"blas_openblas_choice", blas.openblas_choice}, {"blas_self_test_ms", blas.self_test_ms},
            {"blas_self_test_cpu_ms", blas.self_test_cpu_ms},
            {"blas_selection_ms", blas.total_ms}, {"gemm", gemm_backend_name(trainer.config().gemm.backend)},
            {"precision", gemm_precision_name(trainer.config().gemm.precision)},
            {"gemm_requested", o.gemm.backend ? gemm_backend_name(*o.gemm.backend) : ""},
            {"precision_requested", gemm_precision_name(o.gemm.precision)},
            {"gemm_library", describe_gemm(trainer.config().gemm)}, {"gemm_notes", rendered},
            {"environment", bench_environment(blas)}};
}

// "0.866, 0.850, 0.904": the windows' figures for the text output.
std::string listed(const std::vector<double>& values, int digits) {
    std::string out;
    for (double v : values) out += (out.empty() ? "" : ", ") + format_fixed(v, digits);
    return out;
}

// "weight stores: auto, streaming in 24 and plain in 7221 of the timed steps (3 probes, 1 switches,
// 0 wins not repeated)".
std::string weight_stores_line(const Trainer& trainer, const BenchResult& r) {
    const std::string line = "weight stores: " + weight_stores_name(trainer.weight_stores());
    switch (trainer.weight_stores()) {
        case WeightStores::automatic:
            return line + ", streaming in " + std::to_string(r.stores.streaming_steps) + " and plain in " +
                   std::to_string(r.stores.plain_steps) + " of the timed steps (" + std::to_string(r.stores.probes) +
                   " probes, " + std::to_string(r.stores.switches) + " switches, " +
                   std::to_string(r.stores.unrepeated_wins) + " wins not repeated)";
        case WeightStores::streaming: return line;
        case WeightStores::plain:
            return line + (trainer.config().weight_stores == WeightStores::plain ? "" : " (one thread reads the weights)");
    }
    return line;
}

void print_bench_text(const BenchOptions& o, const Trainer& trainer, const BenchResult& r, int ranks,
                      const BlasSelection& blas, const std::vector<std::string>& notes) {
    const BenchFigures f(o, trainer, r);
    const std::string team =
        trainer.shard_team() > 1 ? " (a team of " + std::to_string(trainer.shard_team()) + " threads each)" : "";
    std::printf("network %s, batch %lld, %d rank(s) x %d thread(s), %lld shard(s)%s; BLAS %s\n",
                trainer.model().spec().describe().c_str(), static_cast<long long>(o.batch), ranks, trainer.threads(),
                static_cast<long long>(trainer.shards()), team.c_str(), blas_description().c_str());
    std::printf("%s", blas_core_lines(blas).c_str());
    if (trainer.config().gemm != GemmSettings{})
        std::printf("gemm: %s\n", describe_gemm(trainer.config().gemm).c_str());
    for (const std::string& note : notes) std::printf("%s\n", cli_message(Error(note)).c_str());
    for (const std::string& notice : trainer.notices()) std::printf("%s\n", cli_message(Error(notice)).c_str());
    std::printf("%lld steps in %.3f s (after %lld warm-up steps in %.2f s): %.0f samples/s, %.1f steps/s, %.1f us/step\n",
                static_cast<long long>(r.steps), r.seconds, static_cast<long long>(r.warmup_steps), r.warmup_seconds,
                f.samples_per_s,
                static_cast<double>(r.steps) / r.seconds, r.seconds / static_cast<double>(r.steps) * 1e6);
    std::printf("achieved %.2f GFLOP/s (6 x %.0f parameters x samples/s)\n", f.gflops, f.params);
    const PhasesPerStep phases(r, o.batch, trainer.threads());
    std::printf("per step: shard passes %.1f us (busiest thread %.1f, least busy %.1f), reduce and check %.1f us, "
                "update %.1f us, other %.1f us\n",
                phases.passes, phases.busiest_worker, phases.idlest_worker, phases.reduce, phases.update, phases.other);
    if (ranks > 1) std::printf("allreduce: %.1f%% of the time\n", 100.0 * r.allreduce_share);
    std::printf("%s\n", weight_stores_line(trainer, r).c_str());
    if (r.ceiling > 0) {
        const std::string callers =
            r.ceiling_team > 1 ? "teams of " + std::to_string(r.ceiling_team) + " concurrent callers over " +
                                     std::to_string(r.ceiling_rows) + "-row shards, the step's GEMM blocks"
                               : std::to_string(trainer.threads()) + " concurrent callers x " +
                                     std::to_string(r.ceiling_rows) + " rows, the step's GEMMs";
        std::printf("GEMM ceiling %.2f GFLOP/s, %.0f samples/s (%s); "
                    "efficiency %.3f (median of %zu windows, each beside its own ceiling: %s)\n",
                    f.ceiling_gflops, r.ceiling, callers.c_str(), f.efficiency, r.window_efficiency.size(),
                    listed(r.window_efficiency, 3).c_str());
        if (phases.gemm_calls > 0)
            std::printf("GEMM calls in the passes %.1f us a step per thread (busiest thread %.1f of its %.1f); at the "
                        "ceiling's rate %.1f us: %.3fx, the rest of the passes is element-wise work and waiting\n",
                        phases.gemm_calls, phases.busiest_worker_gemm_calls, phases.busiest_worker,
                        phases.gemm_calls_at_ceiling, phases.gemm_calls_ratio);
        if (r.lockstep_ceiling > 0 && trainer.threads() > 1)
            std::printf("in lock step %.0f samples/s (the slowest caller's rate x %d; it ran at %.2f of the fastest, "
                        "windows: %s): efficiency %.3f against what a step that waits for its slowest thread can reach\n",
                        r.lockstep_ceiling, trainer.threads(), r.balance, listed(r.window_balance, 2).c_str(),
                        r.lockstep_efficiency);
    }
    if (r.peak.gflops > 0)
        std::printf("FMA peak %.2f GFLOP/s (%s, %d threads); peak fraction %.3f\n", r.peak.gflops, r.peak.isa,
                    r.peak.threads, f.peak_fraction);
    if (r.eval_samples_per_s > 0)
        std::printf("evaluation %.0f samples/s (forward passes over %lld rows, chunks of %lld rows on %d lane(s))\n",
                    r.eval_samples_per_s, static_cast<long long>(r.eval_rows),
                    static_cast<long long>(trainer.shard_rows()), trainer.evaluation_lanes());
    if (r.round_trip_ns > 0)
        std::printf("cross-core round trip %.0f ns (a cache line between two worker CPUs and back, median of %zu "
                    "windows: %s); what crosses cores in a step, the reduction most, moves at this speed\n",
                    r.round_trip_ns, r.window_round_trip_ns.size(), listed(r.window_round_trip_ns, 0).c_str());
}

int bench(const BenchOptions& o, Communicator& comm) {
    // Before the trainer's workers exist and before any GEMM: the core may be switched.
    const BlasSelection& blas = process_blas_core(o.blas_core, &comm);
    ModelSpec spec;
    spec.sizes = o.sizes;
    spec.hidden_activation = o.activation;
    spec.loss = Loss::softmax_cross_entropy;
    const Model model(spec);
    std::vector<std::string> notes;
    TrainConfig train = o.train;
    const std::int64_t shards = train.shards > 0 ? train.shards : default_shards(train.batch_size);
    train.gemm = select_gemm(o.gemm, spec, (train.batch_size + shards - 1) / shards, notes);
    Trainer trainer(model, train, 0, &comm);
    const BenchResult result = time_steps(o, trainer, comm);
    if (comm.rank() != 0) return 0;
    if (o.json) std::cout << bench_json(o, trainer, result, comm.size(), blas, notes).dump() << "\n";
    else print_bench_text(o, trainer, result, comm.size(), blas, notes);
    return 0;
}

}  // namespace

int run_bench(const std::vector<std::string>& args) {
    BenchOptions o;
    if (!parse_bench_args(args, o)) return 0;
    // Under mpirun each rank trains its block of the shards; rank 0 reports.
    const std::unique_ptr<Communicator> comm = make_communicator(nullptr, nullptr);
    // Several tasks that MPI does not join would each time their own run (see check_launch).
    const std::string launch_problem = check_launch(comm->size());
    if (!launch_problem.empty()) throw Error(launch_problem);
    if (comm->rank() != 0) std::cout.setstate(std::ios::badbit);
    try {
        return bench(o, *comm);
    } catch (const Error& e) {
        if (comm->size() == 1) throw;  // main prints it
        // Other ranks may be waiting in a collective: print, then end the whole job.
        std::cerr << "mlptrain: error: rank " << comm->rank() << ": " << cli_message(e) << "\n";
        std::cerr.flush();
        comm->abort(e.exit_status());
    }
    return 1;  // not reached: abort ends the process
}

}  // namespace mlptrain::cli
