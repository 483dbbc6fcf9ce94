// Past one machine, on localhost: `mpirun -np 1|2|4` gives bitwise the weights of one
// process with the same shards; wrong launches and dead ranks end the job with a message
// within seconds; a run resumes on a different number of ranks. Skipped, with a message,
// when mlptrain was built without MPI.
#include <doctest/doctest.h>

#include <chrono>
#include <regex>
#include <string>

#include "test_support.hpp"

using test_support::CommandResult;
using test_support::TempDir;
using test_support::fingerprint_of;

namespace {

const std::string mpiexec = MLPTRAIN_MPIEXEC;

bool have_mpi() {
    if (mpiexec.empty()) MESSAGE("skipped: mlptrain was built without MPI (scripts/setup.sh --with mpi)");
    return !mpiexec.empty();
}

// Runs `mpirun -np N mlptrain ARGS` (root allowed, oversubscribed) and captures output.
CommandResult run_mpi(int ranks, const std::string& args) {
    // run_cli prefixes the binary; run mpirun through sh instead.
    return test_support::run_shell("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 '" + mpiexec +
                                   "' --oversubscribe -np " + std::to_string(ranks) + " '" +
                                   test_support::binary_path() + "' " + args);
}


double seconds_of(const std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

const std::string digits = "--data '" + test_support::data_path("digits.csv") + "'";
const std::string run_args = "train " + digits +
                             " --layers 48 --epochs 2 --batch-size 64 --shards 4 --nesterov --dropout 0.1 --seed 9 --quiet";

}  // namespace

// 1, 2 and 4 ranks, with 1 or 2 threads each, train bitwise the single-process weights.
TEST_CASE("MPI ranks give bitwise the weights of one process") {
    if (!have_mpi()) return;
    const auto single = test_support::run_cli(run_args);
    REQUIRE(single.exit_status == 0);
    const std::string expected = fingerprint_of(single.out);
    for (int ranks : {1, 2, 4})
        for (int threads : {1, 2}) {
            const auto r = run_mpi(ranks, run_args + " --threads " + std::to_string(threads));
            INFO("ranks " << ranks << ", threads " << threads << "\n" << r.out << r.err);
            CHECK(r.exit_status == 0);
            CHECK(fingerprint_of(r.out) == expected);
            // Only rank 0 prints: one fingerprint line.
            CHECK(r.out.find("weights fingerprint") == r.out.rfind("weights fingerprint"));
        }
}

#ifdef MLPTRAIN_WITH_ONEDNN
// The same on oneDNN, and in bf16 where the CPU has it (every rank rounds the same weights).
TEST_CASE("MPI ranks on oneDNN, fp32 and bf16, give bitwise the weights of one process") {
    if (!have_mpi()) return;
    const std::string wide = "train " + digits + " --layers 256,128 --epochs 1 --batch-size 128 --shards 4 --seed 9 --quiet";
    for (const char* precision : {"fp32", "bf16"}) {
        const std::string args = wide + " --gemm onednn --precision " + precision;
        const auto single = test_support::run_cli(args);
        if (single.exit_status == 2 && single.err.find("AVX512_BF16") != std::string::npos) {
            MESSAGE("bf16 skipped: " << single.err);
            continue;
        }
        REQUIRE(single.exit_status == 0);
        for (int ranks : {2, 4}) {
            const auto r = run_mpi(ranks, args + " --threads 1");
            INFO(precision << ", ranks " << ranks << "\n" << r.out << r.err);
            CHECK(r.exit_status == 0);
            CHECK(fingerprint_of(r.out) == fingerprint_of(single.out));
        }
    }
}
#endif

// More threads than a rank's shards: teams of threads share each shard (engine/shard_team.hpp)
// where the kernels split exactly, and the weights are still one process's on one thread.
// OpenBLAS's AVX-512 kernels (--blas-core SkylakeX, where the CPU runs them) split these
// layers exactly; elsewhere the threads idle, with the same weights.
TEST_CASE("teams of threads on MPI ranks give bitwise the weights of one process") {
    if (!have_mpi()) return;
    std::string args = "train " + digits + " --layers 1024,512 --epochs 1 --batch-size 256 --shards 2 --seed 9";
    const auto probe = test_support::run_cli(args + " --blas-core SkylakeX --threads 1 --quiet");
    if (probe.exit_status == 0) args += " --blas-core SkylakeX";
    const auto single = test_support::run_cli(args + " --threads 1 --quiet");
    REQUIRE(single.exit_status == 0);
    for (int ranks : {1, 2}) {
        const auto r = run_mpi(ranks, args + " --threads 4");
        INFO("ranks " << ranks << "\n" << r.out << r.err);
        CHECK(r.exit_status == 0);
        CHECK(fingerprint_of(r.out) == fingerprint_of(single.out));
        if (probe.exit_status == 0) CHECK(r.out.find("a team of") != std::string::npos);
    }
}

// --allreduce mpi (MPI_Allreduce) agrees with the tree within rounding.
TEST_CASE("--allreduce mpi trains to the same test loss within a tolerance") {
    if (!have_mpi()) return;
    const auto tree = run_mpi(2, run_args);
    const auto mpi = run_mpi(2, run_args + " --allreduce mpi");
    REQUIRE(tree.exit_status == 0);
    REQUIRE(mpi.exit_status == 0);
    std::smatch a, b;
    const std::regex loss("test: loss ([0-9.]+)");
    REQUIRE(std::regex_search(tree.out, a, loss));
    REQUIRE(std::regex_search(mpi.out, b, loss));
    CHECK(std::stod(a[1]) == doctest::Approx(std::stod(b[1])).epsilon(0.01));
}

// A shard count that ranks cannot split bit-exactly is refused at once, by name.
TEST_CASE("a shard count not divisible by the ranks ends the job with a message") {
    if (!have_mpi()) return;
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_mpi(2, "train " + digits + " --shards 3 --epochs 1 --quiet");
    CHECK(r.exit_status != 0);
    CHECK(r.err.find("--shards 3 over 2 ranks") != std::string::npos);
    CHECK(seconds_of(start) < 30);
}

// bench's time-based warm-up across ranks: rank 0's clock decides, every rank runs the same
// number of warm-up steps (a rank that ran one more would wait in a collective for ever).
TEST_CASE("bench warms up across ranks for rank 0's seconds") {
    if (!have_mpi()) return;
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_mpi(2, "bench --layers 20,16,4 --batch-size 8 --shards 2 --threads 1 --steps 2 --warmup 2 "
                              "--warmup-seconds 0.2 --json");
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex(R"("warmup_seconds":([0-9.eE+-]+))")));
    CHECK(std::stod(m[1].str()) >= 0.2);
    REQUIRE(std::regex_search(r.out, m, std::regex(R"("warmup_steps":([0-9]+))")));
    CHECK(std::stoll(m[1].str()) >= 2);
    CHECK(r.out.find("\"ranks\":2") != std::string::npos);
    CHECK(seconds_of(start) < 60);
}

// Ranks launched with different configurations abort naming the rank, not hang.
TEST_CASE("a configuration mismatch between ranks aborts with the rank named") {
    if (!have_mpi()) return;
    const std::string base = "train " + digits + " --shards 4 --epochs 1 --quiet";
    const auto start = std::chrono::steady_clock::now();
    const auto r = test_support::run_shell(
        "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 '" + mpiexec + "' --oversubscribe -np 1 '" +
        test_support::binary_path() + "' " + base + " : -np 1 '" + test_support::binary_path() + "' " + base +
        " --lr 0.02");
    CHECK(r.exit_status != 0);
    CHECK(r.err.find("configuration of rank 1") != std::string::npos);
    CHECK(seconds_of(start) < 30);
}

// A rank killed mid-training ends the whole job with a non-zero status within seconds.
TEST_CASE("a dead rank ends the job instead of hanging") {
    if (!have_mpi()) return;
    const std::string base = "train " + digits + " --shards 4 --epochs 100000 --quiet";
    const auto start = std::chrono::steady_clock::now();
    const auto r = test_support::run_shell(
        "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 '" + mpiexec + "' --oversubscribe -np 1 '" +
        test_support::binary_path() + "' " + base + " : -np 1 timeout -s KILL 2 '" + test_support::binary_path() +
        "' " + base);
    const double elapsed = seconds_of(start);
    INFO(r.err);
    CHECK(r.exit_status != 0);
    CHECK(elapsed < 30);
}

// A checkpoint written by 2 ranks resumes on 4 ranks and on one process to the weights of
// the uninterrupted run (the shard plan is global).
TEST_CASE("resume with a different number of ranks") {
    if (!have_mpi()) return;
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const auto full = run_mpi(2, run_args + " --checkpoint-dir '" + ckpt + "' --checkpoint-every 7 --keep-checkpoints 50");
    REQUIRE(full.exit_status == 0);
    const std::string expected = fingerprint_of(full.out);
    const std::string mid = ckpt + "/step-000000000014.safetensors";  // mid-epoch 1 (20 steps/epoch)
    const auto on_four = run_mpi(4, "train --resume '" + mid + "' --quiet");
    INFO(on_four.out << on_four.err);
    CHECK(on_four.exit_status == 0);
    CHECK(fingerprint_of(on_four.out) == expected);
    const auto single = test_support::run_cli("train --resume '" + mid + "' --quiet");
    CHECK(fingerprint_of(single.out) == expected);
}
