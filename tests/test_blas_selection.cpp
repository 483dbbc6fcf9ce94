// The BLAS core selection on this machine's real OpenBLAS: the run-time switch really
// changes the kernels, the sgemm self-test passes on every core this CPU runs and fails
// when a result is corrupted, "OpenBLAS chose a generic core" is simulated through the test
// seam in-process and end to end, a user's OPENBLAS_CORETYPE is respected with a note, a
// corrupted core is refused, MPI ranks agree on one core, and bench --json reports the
// core, the FMA peak and the environment. The cases that need a CPU wider than SSE say so
// and pass trivially elsewhere.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <optional>
#include <utility>
#include <string>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/blas_self_test.hpp"
#include "mlptrain/core/core_latency.hpp"
#include "mlptrain/run/blas_selection.hpp"
#include "test_support.hpp"

using namespace mlptrain;
using test_support::CommandResult;
using test_support::contains;
using test_support::data_path;
using test_support::q;
using test_support::run_cli;

namespace {

const std::string best = best_blas_core(detect_cpu_features()).name;

bool wider_than_sse() {
    if (best == "Prescott") MESSAGE("skipped: this CPU's best core is Prescott, nothing to switch to");
    return best != "Prescott";
}

// Each in-process case starts from OpenBLAS's own detection, without the seams, and gives the
// process back its OPENBLAS_CORETYPE and core afterwards.
class CleanEnvironment {
public:
    CleanEnvironment() {
        if (const char* v = std::getenv("OPENBLAS_CORETYPE")) saved_ = v;
        reset();
    }
    ~CleanEnvironment() {
        reset();
        if (saved_) setenv("OPENBLAS_CORETYPE", saved_->c_str(), 1);
        switch_blas_core(saved_.value_or(""));
    }

private:
    static void reset() {
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv("MLPTRAIN_TEST_OPENBLAS_CHOSE");
        unsetenv("MLPTRAIN_TEST_BLAS_CORRUPT");
        switch_blas_core("");
    }
    std::optional<std::string> saved_;
};

// `ENV mlptrain bench FLAGS --json`, which must succeed, parsed.
nlohmann::json bench_with(const std::string& flags, const std::string& env = "") {
    const CommandResult r =
        test_support::run_shell(env + " '" + test_support::binary_path() + "' bench " + flags + " --json");
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    return nlohmann::json::parse(r.out);
}

// `env mlptrain bench --json` on a tiny network; the limits (1-2 s) only when asked for.
nlohmann::json bench_json(const std::string& env, bool limits = false) {
    return bench_with(std::string("--layers 20,16,4 --batch-size 8 --steps 2 --warmup 0") +
                          (limits ? "" : " --no-ceiling"),
                      env);
}

const std::string iris = "train --data " + q(data_path("iris.csv")) + " --epochs 2";

}  // namespace

// Debian's 0.3.21 pthread build exports the switch's entry points, and the switch takes.
TEST_CASE("the run-time switch is available and changes the core") {
    CleanEnvironment clean;
    REQUIRE(blas_can_switch_core());
    CHECK(switch_blas_core("Prescott") == "Prescott");
    CHECK(contains(blas_description(), "core Prescott"));
    if (cpu_runs_core(detect_cpu_features(), *find_blas_core("Haswell"))) CHECK(switch_blas_core("Haswell") == "Haswell");
    CHECK(std::getenv("OPENBLAS_CORETYPE") == nullptr);  // the environment is left as it was
}

// Every core this CPU can execute computes the engine's sgemm forms within the bound, and
// one corrupted element is caught on each.
TEST_CASE("the self-test passes on every core this CPU runs and fails when corrupted") {
    CleanEnvironment clean;
    const CpuFeatures cpu = detect_cpu_features();
    int tested = 0;
    for (const BlasCore& core : blas_cores()) {
        if (!cpu_runs_core(cpu, core)) continue;
        const std::string now = switch_blas_core(core.name);
        if (now != core.name) continue;  // a core this OpenBLAS does not have (SapphireRapids in 0.3.21)
        CAPTURE(now);
        const BlasSelfTestResult r = run_blas_self_test();
        CHECK_MESSAGE(r.passed, r.failure);
        CHECK(r.calls == 84);
        CHECK(r.worst_ratio < 0.5);  // real rounding errors sit well inside the bound
        const BlasSelfTestResult corrupted = run_blas_self_test(true);
        CHECK_FALSE(corrupted.passed);
        CHECK(contains(corrupted.failure, "expected"));
        ++tested;
    }
    CHECK(tested >= 1);
}

// "OpenBLAS chose a generic core", in-process: the seam really runs Prescott first.
TEST_CASE("select_blas_core switches away from a simulated generic choice") {
    CleanEnvironment clean;
    setenv("MLPTRAIN_TEST_OPENBLAS_CHOSE", "Prescott", 1);
    const BlasSelection s = select_blas_core(BlasCoreOption{});
    CHECK(s.openblas_choice == "Prescott");
    CHECK(s.core == best);
    CHECK(blas_core_name() == best);
    CHECK(s.switched == (best != "Prescott"));
    CHECK(s.self_test_calls == 84);
    CHECK(std::getenv("OPENBLAS_CORETYPE") == nullptr);
    if (best != "Prescott") CHECK(contains(s.reason, "OpenBLAS chose Prescott (SSE)"));
}

// A switched-to core that fails the self-test is refused; when nothing else is left, start-up fails.
TEST_CASE("select_blas_core refuses a core that fails the self-test") {
    CleanEnvironment clean;
    if (!wider_than_sse()) return;
    setenv("MLPTRAIN_TEST_OPENBLAS_CHOSE", "Prescott", 1);
    setenv("MLPTRAIN_TEST_BLAS_CORRUPT", best.c_str(), 1);
    const BlasSelection s = select_blas_core(BlasCoreOption{});
    CHECK(s.core == "Prescott");
    CHECK_FALSE(s.switched);
    CHECK(contains(s.note, "refused OpenBLAS core " + best));
    setenv("MLPTRAIN_TEST_BLAS_CORRUPT", "Prescott", 1);
    CHECK_THROWS_AS(select_blas_core(parse_blas_core_option("keep")), NumericError);
}

// End to end through the seam: the binary runs the best core and says why.
TEST_CASE("bench --json: a simulated generic choice runs the best core, with the reason") {
    const nlohmann::json j = bench_json("MLPTRAIN_TEST_OPENBLAS_CHOSE=Prescott");
    CHECK(j["blas_core"] == best);
    CHECK(j["blas_openblas_choice"] == "Prescott");
    if (best != "Prescott")
        CHECK(contains(j["blas_core_reason"].get<std::string>(), "OpenBLAS chose Prescott (SSE) on a CPU with"));
    CHECK(j["blas_self_test_ms"].get<double>() > 0.0);
}

// End to end: a core that computes wrong results is refused with a note, and when it is the
// only candidate the run stops with exit status 3 and one message.
TEST_CASE("cli: a corrupted core is refused") {
    if (!wider_than_sse()) return;
    const nlohmann::json j = bench_json("MLPTRAIN_TEST_OPENBLAS_CHOSE=Prescott MLPTRAIN_TEST_BLAS_CORRUPT=" + best);
    CHECK(j["blas_core"] == "Prescott");
    CHECK(contains(j["blas_core_note"].get<std::string>(), "refused OpenBLAS core " + best));
    // With keep, the binary runs what OpenBLAS chose from the same environment as this process.
    const std::string running = blas_core_name();
    const CommandResult failed = test_support::run_shell("MLPTRAIN_TEST_BLAS_CORRUPT=" + running + " '" +
                                                         test_support::binary_path() + "' " + iris + " --blas-core keep");
    INFO("stderr: ", failed.err);
    CHECK(failed.exit_status == 3);
    CHECK(contains(failed.err, "failed the sgemm self-test"));
    CHECK_FALSE(contains(failed.out, "weights fingerprint"));
}

// OPENBLAS_CORETYPE set by the user is respected: the run says so, notes that the core is
// narrower than the CPU allows, and trains.
TEST_CASE("cli: OPENBLAS_CORETYPE=Prescott prints the note and still trains") {
    const CommandResult r = test_support::run_shell("OPENBLAS_CORETYPE=Prescott '" + test_support::binary_path() + "' " + iris);
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    CHECK(contains(r.out, "blas core: Prescott: OPENBLAS_CORETYPE=Prescott, set in the environment"));
    if (best != "Prescott") CHECK(contains(r.out, "note: running OpenBLAS Prescott (SSE) kernels on a CPU with"));
    CHECK(test_support::fingerprint_of(r.out).size() == 16);
}

// --blas-core NAME: an unknown name or a core this CPU cannot execute is refused before any GEMM.
TEST_CASE("cli: --blas-core refuses names and cores this CPU cannot run") {
    const CommandResult unknown = run_cli(iris + " --blas-core Zen4");
    CHECK(unknown.exit_status == 2);
    CHECK(contains(unknown.err, "--blas-core: expected auto, keep or an OpenBLAS core name"));
    if (detect_cpu_features().amd3dnow) return;  // an AMD K8..K10 runs Opteron's kernels
    const CommandResult opteron = run_cli(iris + " --blas-core Opteron");
    CHECK(opteron.exit_status == 2);
    CHECK(contains(opteron.err, "--blas-core: expected a core this CPU can run"));
    CHECK(run_cli("bench --blas-core Opteron --steps 1").exit_status == 2);
}

// bench --json carries the core, the FMA peak next to the GEMM ceiling, and the environment record.
TEST_CASE("bench --json reports the core, the FMA peak and the environment") {
    const nlohmann::json j = bench_json("", true);
    for (const char* key : {"blas_core", "blas_core_reason", "blas_self_test_ms", "peak_gflops", "peak_fraction",
                            "ceiling_gflops", "environment"})
        CHECK_MESSAGE(j.contains(key), key);
    CHECK(j["blas_core"] == blas_core_name());
    CHECK(j["peak_gflops"].get<double>() > 0.0);
    CHECK(j["peak_fraction"].get<double>() > 0.0);
    CHECK(j["peak_fraction"].get<double>() < 1.5);  // a step cannot beat the silicon (margin for a noisy peak)
    // Two steps: two windows, each with its own ceiling; the efficiency is their median (mean of two).
    const std::vector<double> windows = j["efficiency_windows"].get<std::vector<double>>();
    REQUIRE(windows.size() == 2);
    CHECK(j["ceiling_windows_samples_per_s"].size() == 2);
    CHECK(windows[0] > 0.0);
    CHECK(windows[1] > 0.0);
    CHECK(j["efficiency"].get<double>() == doctest::Approx(0.5 * (windows[0] + windows[1])));
    // In lock step (every caller waiting for the slowest) the GEMMs reach at most the ceiling,
    // so the step's efficiency against it is at least the plain one, window by window.
    const std::vector<double> lockstep = j["lockstep_efficiency_windows"].get<std::vector<double>>();
    const std::vector<double> balance = j["ceiling_caller_balance_windows"].get<std::vector<double>>();
    REQUIRE(lockstep.size() == 2);
    REQUIRE(balance.size() == 2);
    for (int w = 0; w < 2; ++w) {
        CHECK(balance[w] > 0.0);
        CHECK(balance[w] <= 1.0);
        CHECK(lockstep[w] >= windows[w] * (1.0 - 1e-12));
    }
    CHECK(j["lockstep_ceiling_samples_per_s"].get<double>() <= j["ceiling_samples_per_s"].get<double>() * (1.0 + 1e-12));
    // Beside each window's ceiling, the cross-core round trip, where two workers can exchange data.
    const std::vector<double> trips = j["core_round_trip_ns_windows"].get<std::vector<double>>();
    if (j["threads"].get<int>() >= 2 && mlptrain::affinity_cpus().size() >= 2) {
        REQUIRE(trips.size() == 2);
        CHECK(trips[0] > 0.0);
        CHECK(j["core_round_trip_ns"].get<double>() == doctest::Approx(0.5 * (trips[0] + trips[1])));
    } else {
        CHECK(trips.empty());
        CHECK(j["core_round_trip_ns"].get<double>() == 0.0);
    }
    const nlohmann::json& e = j["environment"];
    for (const char* key : {"mlptrain_version", "git_commit", "compiler", "compiler_flags", "cpu_model", "logical_cpus",
                            "isa_flags", "openblas_version", "tbb_version", "blas_core", "env", "date"})
        CHECK_MESSAGE(e.contains(key), key);
    CHECK(e["mlptrain_version"] == "0.1.0");
    CHECK(contains(e["compiler_flags"].get<std::string>(), "-ffp-contract=off"));
    CHECK(e["openblas_version"].get<std::string>().rfind("0.", 0) == 0);
    if (const char* coretype = std::getenv("OPENBLAS_CORETYPE")) CHECK(e["env"]["OPENBLAS_CORETYPE"] == coretype);
}

// One worker thread exchanges nothing with another core: no round trip is measured.
TEST_CASE("bench on one thread reports no cross-core round trip") {
    const nlohmann::json j = bench_with("--layers 20,16,4 --batch-size 8 --steps 2 --warmup 0 --threads 1");
    CHECK(j["core_round_trip_ns"].get<double>() == 0.0);
    CHECK(j["core_round_trip_ns_windows"].empty());
    CHECK(j["efficiency_windows"].size() == 2);  // the ceiling itself still ran
    // One caller is its own slowest: lock step changes nothing.
    CHECK(j["ceiling_caller_balance"].get<double>() == 1.0);
    CHECK(j["lockstep_efficiency"].get<double>() == doctest::Approx(j["efficiency"].get<double>()));
}

// The ceiling's callers run the step's own shard shape where every thread runs whole shards,
// and the batch spread over all threads where there are fewer shards than threads.
TEST_CASE("bench's ceiling runs a shard's rows, or the batch over every thread") {
    auto rows = [](const std::string& flags) {
        return bench_with("--layers 20,16,4 --batch-size 64 --steps 1 --warmup 0 " + flags)["ceiling_rows_per_caller"]
            .get<std::int64_t>();
    };
    CHECK(rows("--threads 1") == 32);              // 2 shards of 32 (the default), one after the other
    CHECK(rows("--threads 1 --shards 4") == 16);
    CHECK(rows("--threads 2 --shards 2") == 32);
    CHECK(rows("--threads 2 --shards 8") == 8);
    CHECK(rows("--threads 2 --shards 1") == 32);  // one shard of 64, the batch over 2 threads
}

// With a team of threads per shard (engine/shard_team.hpp), the ceiling's callers run the
// team members' GEMM blocks of a whole shard: one shard of 128 rows, a team of 2, on the
// AVX-512 kernels (which split exactly); with teams off, the batch over both threads.
TEST_CASE("bench's ceiling runs a team's blocks when teams share the shards") {
    if (!cpu_runs_core(detect_cpu_features(), *find_blas_core("SkylakeX"))) {
        MESSAGE("skipped: this CPU cannot run OpenBLAS's AVX-512 kernels");
        return;
    }
    const std::string flags =
        "--layers 256,512,256,4 --batch-size 128 --shards 1 --threads 2 --steps 2 --warmup 0 --blas-core SkylakeX";
    const nlohmann::json team = bench_with(flags);
    CHECK(team["shard_team"] == 2);
    CHECK(team["ceiling_team"] == 2);
    CHECK(team["ceiling_rows_per_caller"] == 128);
    CHECK(team["ceiling_samples_per_s"].get<double>() > 0);
    CHECK(team["shard_team_check_ms"].get<double>() > 0);
    const nlohmann::json off = bench_with(flags + " --shard-teams false");
    CHECK(off["shard_team"] == 1);
    CHECK(off["ceiling_team"] == 1);
    CHECK(off["ceiling_rows_per_caller"] == 64);
    CHECK(off["shard_team_check_ms"] == 0.0);  // teams off: nothing checked
}

// The warm-up runs its --warmup steps and goes on until --warmup-seconds have passed (the
// bound is the loop's own condition, not a timing target); --warmup 0 runs none.
TEST_CASE("bench warms up for its steps and its seconds") {
    auto warmup = [](const std::string& flags) {
        const nlohmann::json j = bench_with("--layers 20,16,4 --batch-size 8 --steps 1 --no-ceiling " + flags);
        return std::make_pair(j["warmup_steps"].get<std::int64_t>(), j["warmup_seconds"].get<double>());
    };
    CHECK(warmup("--warmup 0").first == 0);
    CHECK(warmup("--warmup 3 --warmup-seconds 0").first == 3);
    const auto [steps, seconds] = warmup("--warmup 1 --warmup-seconds 0.2");
    CHECK(steps > 1);  // a step of this network takes microseconds
    CHECK(seconds >= 0.2);
    const CommandResult bad = run_cli("bench --warmup-seconds -1");
    CHECK(bad.exit_status == 2);
    CHECK(contains(bad.err, "--warmup-seconds: expected a number of seconds from 0 to 3600, found -1"));
}

// After the steps, bench times evaluation over its rows (1,024 here: 8 batches, at least
// 1,024) in chunks of a shard's rows, one lane per worker thread even beyond the shards;
// --eval-seconds 0 skips it.
TEST_CASE("bench times evaluation on every thread") {
    const std::string flags = "--layers 20,16,4 --batch-size 64 --shards 2 --steps 1 --warmup 0 --no-ceiling ";
    const nlohmann::json j = bench_with(flags + "--threads 3 --eval-seconds 0.05");
    CHECK(j["eval_lanes"] == 3);
    CHECK(j["eval_chunk_rows"] == 32);
    CHECK(j["eval_rows"] == 1024);
    CHECK(j["eval_samples_per_s"].get<double>() > 0);
    CHECK(bench_with(flags + "--threads 1")["eval_lanes"] == 2);  // the shards' own workspaces
    const nlohmann::json none = bench_with(flags + "--eval-seconds 0");
    CHECK(none["eval_samples_per_s"] == 0.0);
    CHECK(none["eval_rows"] == 0);
    const CommandResult bad = run_cli("bench --eval-seconds x");
    CHECK(bad.exit_status == 2);
    CHECK(contains(bad.err, "--eval-seconds"));
}

// Beside the ceiling, bench times the step's own GEMM calls where a shard's GEMMs are big
// enough (≥ 40 MFLOP) for two clock reads a call not to show, and not on a tiny network.
TEST_CASE("bench --json times the step's GEMM calls beside the ceiling") {
    const nlohmann::json tiny = bench_json("", true);
    CHECK_FALSE(tiny["step_phases_us"].contains("gemm_calls"));
    const nlohmann::json j = bench_with("--layers 784,256,128,10 --batch-size 64 --threads 2 --steps 3 --warmup 0");
    const nlohmann::json& p = j["step_phases_us"];
    for (const char* key : {"gemm_calls", "gemm_calls_busiest_worker", "gemm_calls_at_ceiling", "gemm_calls_ratio"})
        REQUIRE_MESSAGE(p.contains(key), key);
    CHECK(p["gemm_calls"].get<double>() > 0.0);
    CHECK(p["gemm_calls_busiest_worker"].get<double>() <= p["passes_busiest_worker"].get<double>());
    // What the calls take at the ceiling's rate: the batch at the ceiling's samples/s.
    CHECK(p["gemm_calls_at_ceiling"].get<double>() ==
          doctest::Approx(64.0 / j["ceiling_samples_per_s"].get<double>() * 1e6));
    CHECK(p["gemm_calls_ratio"].get<double>() ==
          doctest::Approx(p["gemm_calls"].get<double>() / p["gemm_calls_at_ceiling"].get<double>()));
    const nlohmann::json none =
        bench_with("--layers 784,256,128,10 --batch-size 64 --threads 2 --steps 1 --warmup 0 --no-ceiling");
    CHECK_FALSE(none["step_phases_us"].contains("gemm_calls"));
}

// bench --json says where a step's time went: the phases, per step, add up to the step.
TEST_CASE("bench --json reports the step's phases") {
    const nlohmann::json j = bench_json("");
    REQUIRE(j.contains("step_phases_us"));
    const nlohmann::json& p = j["step_phases_us"];
    double sum = 0.0;
    for (const char* key : {"passes", "reduce", "update", "other"}) {
        REQUIRE_MESSAGE(p.contains(key), key);
        CHECK_MESSAGE(p[key].get<double>() >= 0.0, key);
        sum += p[key].get<double>();
    }
    CHECK(p["passes"].get<double>() > 0.0);
    CHECK(sum == doctest::Approx(j["us_per_step"].get<double>()).epsilon(1e-6));
    CHECK(p["passes_busiest_worker"].get<double>() <= p["passes"].get<double>());
    CHECK(p["passes_least_busy_worker"].get<double>() <= p["passes_busiest_worker"].get<double>());
}

// MPI ranks that decide on different cores (here: rank 0 is told OpenBLAS chose Prescott,
// rank 1 keeps the environment's core) agree on one, rank 0's, because cores differ in
// their bits and the ranks' gradients must sum as one process's would.
TEST_CASE("MPI ranks agree on one core") {
    const std::string mpiexec = MLPTRAIN_MPIEXEC;
    const std::string running = blas_core_name();
    if (mpiexec.empty() || running == "Prescott") {
        MESSAGE("skipped: no MPI, or this process already runs Prescott");
        return;
    }
    const std::string bench = "'" + test_support::binary_path() +
                              "' bench --layers 20,16,4 --batch-size 8 --shards 2 --steps 2 --warmup 0 --json --blas-core keep";
    // An MPMD launch: the seam's variable reaches rank 0 only.
    const CommandResult r = test_support::run_shell(
        "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 '" + mpiexec +
        "' --oversubscribe -np 1 env MLPTRAIN_TEST_OPENBLAS_CHOSE=Prescott " + bench + " : -np 1 " + bench);
    INFO("stderr: ", r.err);
    INFO("stdout: ", r.out);
    REQUIRE(r.exit_status == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["ranks"] == 2);
    CHECK(j["blas_core"] == "Prescott");
    CHECK(contains(j["blas_core_reason"].get<std::string>(), "the ranks decided on different cores"));
}
