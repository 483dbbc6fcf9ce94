// --gemm and --precision through the real binary: what cannot run is refused with exit
// status 2 and one message naming the flag and what is missing; a network too small to gain
// from bf16 runs fp32 with a note; and, where oneDNN and bf16 dot products are present, a
// bf16 run keeps the contracts: the same weights at any --threads, exact resume, resuming
// in another precision only when asked, its GEMMs recorded in the checkpoint and used again
// by evaluate, and bench reporting both what was asked and what ran.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/storage/checkpoint.hpp"
#include "bf16_here.hpp"
#include "test_support.hpp"

using mlptrain::test::bf16_runs_here;
using test_support::CommandResult;
using test_support::contains;
using test_support::data_path;
using test_support::fingerprint_of;
using test_support::q;
using test_support::run_cli;
using test_support::run_shell;
using test_support::TempDir;

namespace {

// digits with two 256-wide layers, batch 64 (2 shards of 32 rows): GEMMs large enough that
// bf16 is used, not the small-network fallback.
const std::string digits = "train --data " + q(data_path("digits.csv")) + " --layers 256,256 --batch-size 64 --epochs 2";

// test_line serves the test cases of a build with oneDNN only.

void expect_refused(const CommandResult& r, const std::vector<std::string>& mentions) {
    INFO("stderr: " << r.err << "\nstdout: " << r.out);
    CHECK(r.exit_status == 2);
    CHECK(r.err.rfind("mlptrain: error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    for (const std::string& m : mentions) CHECK(contains(r.err, m));
    CHECK_FALSE(contains(r.out, "weights fingerprint"));
}

// The "test: loss … accuracy …" line of train, or evaluate's two lines in that form.
[[maybe_unused]] std::string test_line(const std::string& out) {
    static const std::regex line("(^|\n)(test: loss [0-9.]+  accuracy [0-9.]+)");
    std::smatch m;
    return std::regex_search(out, m, line) ? m[2].str() : "none in: " + out;
}

}  // namespace

TEST_CASE("bad --gemm and --precision values, and bf16 on OpenBLAS, are refused by name") {
    expect_refused(run_cli(digits + " --gemm mkl"), {"--gemm", "openblas or onednn", "mkl"});
    expect_refused(run_cli(digits + " --precision fp16"), {"--precision", "fp32 or bf16", "fp16"});
    expect_refused(run_cli(digits + " --precision bf16 --gemm openblas"), {"--gemm", "--precision bf16", "openblas"});
    expect_refused(run_cli("bench --layers 64,256,10 --precision bf16 --gemm openblas --steps 1"),
                   {"--gemm", "openblas"});
}

#ifdef MLPTRAIN_WITH_ONEDNN
// A CPU without bf16 dot products (simulated): exit 2, the message names --precision and
// what the CPU lacks, and nothing is written. (A build without oneDNN refuses bf16 before
// it looks at the CPU: the test case for that build below.)
TEST_CASE("--precision bf16 on a CPU without bf16 dot products is refused before anything is written") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const CommandResult r = run_shell("MLPTRAIN_TEST_NO_BF16=1 " + q(test_support::binary_path()) + " " + digits +
                                      " --precision bf16 --checkpoint-dir " + q(ckpt));
    expect_refused(r, {"--precision", "AVX512_BF16 or AMX-BF16", "--precision fp32"});
    CHECK_FALSE(std::filesystem::exists(ckpt));
    const CommandResult bench = run_shell("MLPTRAIN_TEST_NO_BF16=1 " + q(test_support::binary_path()) +
                                          " bench --layers 64,256,10 --precision bf16 --steps 1");
    expect_refused(bench, {"--precision", "AVX512_BF16"});
}
#endif

// 4-16-3 with batch 16: oneDNN's cost per call outweighs anything bf16 saves, so bf16 runs
// fp32 OpenBLAS — the same weights as an fp32 run — and says so.
TEST_CASE("a network too small for bf16 runs fp32 with a note") {
    const std::string iris = "train --data " + q(data_path("iris.csv")) + " --layers 16 --epochs 5";
    const CommandResult fp32 = run_cli(iris);
    const CommandResult bf16 = run_cli(iris + " --precision bf16");
    INFO(bf16.out << bf16.err);
    CHECK(bf16.exit_status == 0);
    CHECK(contains(bf16.out, "note: --precision bf16 would be slower than fp32 for 4-16-3"));
    CHECK(contains(bf16.out, "running fp32"));
    CHECK(fingerprint_of(bf16.out) == fingerprint_of(fp32.out));
    const CommandResult bench = run_cli("bench --layers 4,16,3 --batch-size 16 --precision bf16 --steps 5 --json");
    REQUIRE(bench.exit_status == 0);
    const auto j = nlohmann::json::parse(bench.out);
    CHECK(j.at("precision") == "fp32");
    CHECK(j.at("precision_requested") == "bf16");
    CHECK(j.at("gemm") == "openblas");
    REQUIRE(j.at("gemm_notes").size() == 1);
    CHECK(contains(j.at("gemm_notes")[0].get<std::string>(), "--precision bf16 would be slower"));
}

// --no-fallback runs the same small network in bf16: oneDNN with bf16 inputs, no note, other
// weights than fp32's; the setting is saved, so a resumed run keeps it. With fp32 it changes
// nothing.
TEST_CASE("--no-fallback runs bf16 on a network too small to gain from it, and a resumed run keeps it") {
    const std::string iris = "train --data " + q(data_path("iris.csv")) + " --layers 16 --epochs 5";
    const CommandResult fp32 = run_cli(iris);
    CHECK(fingerprint_of(run_cli(iris + " --no-fallback").out) == fingerprint_of(fp32.out));
    if (!bf16_runs_here()) {
        MESSAGE("skipped: no bf16 dot products or no oneDNN here");
        return;
    }
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const CommandResult bf16 = run_cli(iris + " --precision bf16 --no-fallback --checkpoint-every 20 "
                                              "--keep-checkpoints 0 --checkpoint-dir " + q(ckpt));
    INFO(bf16.out << bf16.err);
    REQUIRE(bf16.exit_status == 0);
    CHECK(contains(bf16.out, "bf16 inputs, fp32 accumulation"));
    CHECK_FALSE(contains(bf16.out, "would be slower"));
    CHECK(fingerprint_of(bf16.out) != fingerprint_of(fp32.out));
    const std::string mid = ckpt + "/step-000000000020.safetensors";
    const mlptrain::LoadedCheckpoint saved = mlptrain::load_checkpoint(mid);
    CHECK(saved.info.gemm == mlptrain::GemmSettings{mlptrain::GemmBackend::onednn, mlptrain::GemmPrecision::bf16});
    CHECK(contains(saved.info.config, "no-fallback = true\n"));
    CHECK(fingerprint_of(run_cli("train --resume " + q(mid)).out) == fingerprint_of(bf16.out));
}

#ifndef MLPTRAIN_WITH_ONEDNN
TEST_CASE("a build without oneDNN says what to install") {
    expect_refused(run_cli(digits + " --gemm onednn"), {"--gemm", "apt-get install libdnnl-dev"});
    expect_refused(run_cli(digits + " --precision bf16"), {"--precision", "apt-get install libdnnl-dev"});
}
#else
TEST_CASE("--gemm onednn trains, with the same weights at any --threads, and resumes exactly") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const CommandResult one = run_cli(digits + " --gemm onednn --threads 1 --checkpoint-every 7 --keep-checkpoints 0 "
                                               "--checkpoint-dir " + q(ckpt));
    const CommandResult two = run_cli(digits + " --gemm onednn --threads 2");
    INFO(one.out << one.err);
    CHECK(contains(one.out, "gemm: oneDNN 2."));
    CHECK(fingerprint_of(one.out) == fingerprint_of(two.out));
    CHECK(fingerprint_of(one.out) != fingerprint_of(run_cli(digits).out));  // other sums, other bits
    const std::string mid = ckpt + "/step-000000000014.safetensors";
    CHECK(mlptrain::load_checkpoint(mid).info.gemm == mlptrain::GemmSettings{mlptrain::GemmBackend::onednn});
    // --gemm is an execution setting: the resumed run names it again (else it would run OpenBLAS).
    CHECK(fingerprint_of(run_cli("train --resume " + q(mid) + " --gemm onednn --threads 2").out) ==
          fingerprint_of(one.out));
}

TEST_CASE("bf16: the same weights at any --threads, exact resume, the precision kept") {
    if (!bf16_runs_here()) {
        MESSAGE("skipped: no bf16 dot products here");
        return;
    }
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    // 1258 training rows: 20 steps per epoch, the last one partial; checkpoints every 7.
    const CommandResult straight =
        run_cli(digits + " --precision bf16 --threads 2 --checkpoint-every 7 --keep-checkpoints 0 --checkpoint-dir " + q(ckpt));
    INFO(straight.out << straight.err);
    REQUIRE(straight.exit_status == 0);
    CHECK(contains(straight.out, "bf16 inputs, fp32 accumulation"));
    const std::string expected = fingerprint_of(straight.out);
    CHECK(fingerprint_of(run_cli(digits + " --precision bf16 --threads 1").out) == expected);
    CHECK(fingerprint_of(run_cli(digits + " --precision bf16 --threads 3").out) == expected);
    CHECK(fingerprint_of(run_cli(digits).out) != expected);

    const std::string mid = ckpt + "/step-000000000014.safetensors";
    const mlptrain::LoadedCheckpoint saved = mlptrain::load_checkpoint(mid);
    CHECK(saved.info.gemm == mlptrain::GemmSettings{mlptrain::GemmBackend::onednn, mlptrain::GemmPrecision::bf16});
    CHECK(contains(saved.info.gemm_library, "oneDNN"));
    CHECK(contains(saved.info.config, "precision = bf16\n"));
    const CommandResult resumed = run_cli("train --resume " + q(mid) + " --threads 1");
    CHECK(fingerprint_of(resumed.out) == expected);

    // Another precision only when asked for; the weights then go on in fp32.
    const CommandResult refused = run_cli("train --resume " + q(mid) + " --precision fp32");
    expect_refused(refused, {"--precision", "bf16 as saved in", "--allow-precision-change"});
    const CommandResult changed = run_cli("train --resume " + q(mid) + " --precision fp32 --allow-precision-change");
    INFO(changed.err);
    CHECK(changed.exit_status == 0);
    CHECK_FALSE(contains(changed.out, "gemm: "));
    CHECK(fingerprint_of(changed.out) != expected);

    // evaluate runs the model's own GEMMs, so --split test repeats train's test result.
    const CommandResult evaluated = run_cli("evaluate --model " + q(ckpt) + " --split test");
    INFO(evaluated.out << evaluated.err);
    CHECK(contains(evaluated.out, "gemm: oneDNN"));
    const std::regex eval_lines("loss \\(cross_entropy\\) ([0-9.]+)\naccuracy ([0-9.]+)");
    std::smatch m;
    REQUIRE(std::regex_search(evaluated.out, m, eval_lines));
    char loss[32];
    std::snprintf(loss, sizeof loss, "%.4f", std::stod(m[1].str()));  // train prints 4 decimals
    CHECK(test_line(straight.out) == "test: loss " + std::string(loss) + "  accuracy " + m[2].str());
}

TEST_CASE("bench --json records what was asked and what ran") {
    const CommandResult r = run_cli("bench --layers 64,256,256,10 --batch-size 64 --gemm onednn --steps 3 --json");
    INFO(r.err);
    REQUIRE(r.exit_status == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("gemm") == "onednn");
    CHECK(j.at("gemm_requested") == "onednn");
    CHECK(j.at("precision") == "fp32");
    CHECK(contains(j.at("gemm_library").get<std::string>(), "oneDNN"));
    CHECK(contains(j.at("environment").at("onednn").get<std::string>(), "oneDNN"));
    CHECK(j.at("ceiling_samples_per_s").get<double>() > 0);
    if (!bf16_runs_here()) return;
    const auto b = nlohmann::json::parse(run_cli("bench --layers 64,256,256,10 --batch-size 64 --precision bf16 "
                                                 "--steps 3 --json").out);
    CHECK(b.at("gemm") == "onednn");
    CHECK(b.at("gemm_requested") == "");
    CHECK(b.at("precision") == "bf16");
    CHECK(b.at("gemm_notes").empty());
}
#endif
