// Checkpoints that never lose work, through the real binary: resuming from a mid-epoch or
// an epoch-end checkpoint (at other thread counts) finishes with the same weights and the
// same per-epoch loss lines as an uninterrupted run; a signal checkpoints and stops; a
// resumed run refuses a changed configuration; a numeric blow-up writes nothing non-finite.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "mlptrain/storage/checkpoint.hpp"
#include "test_support.hpp"

using test_support::fingerprint_of;

using test_support::run_cli;
using test_support::TempDir;

namespace {

const std::string base_args = "train --data '" + test_support::data_path("digits.csv") +
                              "' --layers 32 --epochs 3 --batch-size 64 --shards 4 --nesterov "
                              "--dropout 0.1 --seed 3";


// The loss part of each epoch line ("epoch N/M  train_loss …  val_acc …"), keyed by epoch.
std::map<int, std::string> loss_lines(const std::string& out) {
    std::map<int, std::string> lines;
    std::istringstream in(out);
    std::string line;
    const std::regex epoch("^epoch (\\d+)/\\d+  (train_loss .* val_acc [0-9.]+)");
    std::smatch m;
    while (std::getline(in, line))
        if (std::regex_search(line, m, epoch)) lines[std::stoi(m[1])] = m[2];
    return lines;
}

std::string step_file(const std::string& dir, int step) {
    char name[64];
    std::snprintf(name, sizeof name, "/step-%012d.safetensors", step);
    return dir + name;
}

}  // namespace

// Resuming mid-epoch and at an epoch end, at other thread counts, reproduces the
// uninterrupted run bit for bit, loss lines included.
TEST_CASE("resume from mid-epoch and epoch-end checkpoints gives identical weights") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    // digits: 1258 training rows → 20 steps per epoch; checkpoints every 5 steps.
    const auto straight = run_cli(base_args + " --threads 2 --checkpoint-dir '" + ckpt +
                                  "' --checkpoint-every 5 --keep-checkpoints 100");
    REQUIRE(straight.exit_status == 0);
    const std::string expected = fingerprint_of(straight.out);
    const auto expected_lines = loss_lines(straight.out);
    REQUIRE(expected_lines.size() == 3);
    REQUIRE(std::filesystem::exists(step_file(ckpt, 15)));
    REQUIRE(std::filesystem::exists(step_file(ckpt, 20)));

    for (const auto& [step, threads] : std::vector<std::pair<int, int>>{{15, 1}, {20, 3}, {35, 4}}) {
        INFO("resume from step " << step << " with " << threads << " threads");
        const auto resumed = run_cli("train --resume '" + step_file(ckpt, step) + "' --threads " +
                                     std::to_string(threads));
        REQUIRE(resumed.exit_status == 0);
        CHECK(resumed.out.find("resumed from") != std::string::npos);
        CHECK(fingerprint_of(resumed.out) == expected);
        for (const auto& [epoch, text] : loss_lines(resumed.out)) CHECK(text == expected_lines.at(epoch));
    }
}

// --resume DIR follows `latest`; the final checkpoint of a finished run resumes to the
// same weights without training further.
TEST_CASE("resume from a directory uses the latest checkpoint") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const auto straight = run_cli(base_args + " --checkpoint-dir '" + ckpt + "'");
    REQUIRE(straight.exit_status == 0);
    std::ifstream latest(ckpt + "/latest");
    std::string name;
    std::getline(latest, name);
    CHECK(name == "step-000000000060.safetensors");
    const auto resumed = run_cli("train --resume '" + ckpt + "'");
    REQUIRE(resumed.exit_status == 0);
    CHECK(fingerprint_of(resumed.out) == fingerprint_of(straight.out));
    // keep-checkpoints defaults to 3: epoch ends 20, 40, 60.
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(ckpt))
        files += entry.path().extension() == ".safetensors";
    CHECK(files == 3);
}

// --keep-checkpoints 0 keeps every checkpoint (every 5 steps and every epoch end); a
// negative count is refused by name.
TEST_CASE("--keep-checkpoints 0 keeps every checkpoint") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const std::string args = "train --data '" + test_support::data_path("iris.csv") +
                             "' --epochs 4 --batch-size 16 --checkpoint-every 5 --quiet";
    REQUIRE(run_cli(args + " --keep-checkpoints 0 --checkpoint-dir '" + ckpt + "'").exit_status == 0);
    // 105 training rows make 7 steps per epoch: every 5th step plus the epoch ends 7, 14, 21, 28.
    CHECK(mlptrain::checkpoint_steps(ckpt) == std::vector<std::int64_t>{5, 7, 10, 14, 15, 20, 21, 25, 28});
    const auto bad = run_cli(args + " --keep-checkpoints -1 --checkpoint-dir '" + dir.path() + "/other'");
    CHECK(bad.exit_status == 2);
    CHECK(bad.err.find("--keep-checkpoints: expected an integer from 0 (keep every one) to 1000000") != std::string::npos);
}

// A result-defining flag that differs from the saved configuration is refused by name.
TEST_CASE("resume refuses a changed configuration") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    REQUIRE(run_cli(base_args + " --checkpoint-dir '" + ckpt + "'").exit_status == 0);
    const auto changed = run_cli("train --resume '" + ckpt + "' --lr 0.5");
    CHECK(changed.exit_status == 2);
    CHECK(changed.err.find("--lr") != std::string::npos);
    CHECK(changed.err.find("resumed run keeps its configuration") != std::string::npos);
    const auto same = run_cli("train --resume '" + ckpt + "' --seed 3 --threads 1");
    CHECK(same.exit_status == 0);
}

// `resume = FILE` in a --config file resumes exactly as the flag does (the file is read
// before the checkpoint's saved configuration is applied under it), and a changed setting
// in the file is refused at its line.
TEST_CASE("a config file's resume line works like --resume") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const auto straight = run_cli(base_args + " --checkpoint-dir '" + ckpt + "' --checkpoint-every 5 --keep-checkpoints 100");
    REQUIRE(straight.exit_status == 0);
    const std::string cfg = dir.write_file("resume.cfg", "# continue the digits run\nresume = " + step_file(ckpt, 25) + "\n");
    const auto resumed = run_cli("train --config '" + cfg + "'");
    INFO(resumed.err);
    REQUIRE(resumed.exit_status == 0);
    CHECK(resumed.out.find("resumed from " + step_file(ckpt, 25) + " at step 25") != std::string::npos);
    CHECK(fingerprint_of(resumed.out) == fingerprint_of(straight.out));
    const std::string changed = dir.write_file("changed.cfg", "resume = " + step_file(ckpt, 25) + "\nlr = 0.5\n");
    const auto refused = run_cli("train --config '" + changed + "'");
    CHECK(refused.exit_status == 2);
    CHECK(refused.err.find(changed + ", line 2, key 'lr': expected 'lr = ") != std::string::npos);
}

// SIGTERM makes a running job checkpoint at the next step and exit 143; resuming then
// finishes with the weights of an uninterrupted run.
TEST_CASE("SIGTERM checkpoints, and the resumed run matches the uninterrupted one") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const std::string args = "train --data '" + test_support::data_path("digits.csv") +
                             "' --layers 256,256 --epochs 40 --batch-size 32 --seed 4 --threads 2";
    const auto straight = run_cli(args + " --quiet");
    REQUIRE(straight.exit_status == 0);

    const std::string out_path = dir.path() + "/out";
    const std::string command = "exec '" + test_support::binary_path() + "' " + args +
                                " --checkpoint-dir '" + ckpt + "' >'" + out_path + "' 2>&1";
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Signal once training is under way (the first epoch line is out), however slow the
    // machine; give up waiting after 60 s.
    for (int waited = 0; waited < 6000; ++waited) {
        std::ifstream progress(out_path);
        const std::string text((std::istreambuf_iterator<char>(progress)), std::istreambuf_iterator<char>());
        if (text.find("epoch 1/") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(child, SIGTERM);
    int status = 0;
    waitpid(child, &status, 0);
    std::ifstream out_file(out_path);
    const std::string out((std::istreambuf_iterator<char>(out_file)), std::istreambuf_iterator<char>());
    INFO(out);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 143);
    CHECK(out.find("stopped by signal 15") != std::string::npos);
    const auto resumed = run_cli("train --resume '" + ckpt + "' --quiet --threads 1");
    REQUIRE(resumed.exit_status == 0);
    CHECK(fingerprint_of(resumed.out) == fingerprint_of(straight.out));
}

// A batch script forwards Slurm's SIGUSR1 whenever it comes, also before training starts,
// while mlptrain still reads its settings and data: the run must take it (not die of it,
// status 138, with nothing saved), stop at its first step boundary with a checkpoint, exit
// 75, and resume to the uninterrupted weights. The --config file is a FIFO that the shell
// holds open but writes only after the signal, so the signal lands for certain while
// mlptrain waits in reading it. (With the handlers installed only when training starts, as
// before, this run died of the signal.) The wait checks that the process is mlptrain
// already: between fork and exec the shell's child still holds the FIFO as fd 3, and a
// signal then killed the child before mlptrain ran (seen once under TSan). Never hangs: if
// mlptrain ends early, the wait ends.
TEST_CASE("SIGUSR1 before training starts checkpoints at the first step") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt", fifo = dir.path() + "/run.cfg";
    const std::string data = test_support::data_path("iris.csv");
    const std::string args = " --epochs 20 --seed 5 --threads 1";
    const auto straight = run_cli("train --data '" + data + "'" + args + " --quiet");
    REQUIRE(straight.exit_status == 0);
    const auto stopped = test_support::run_shell(
        "mkfifo '" + fifo + "' && exec 3<>'" + fifo + "' && { '" + test_support::binary_path() + "' train --config '" +
        fifo + "'" + args + " --checkpoint-dir '" + ckpt + "' 3>&- & pid=$!; " +
        "bin=$(readlink -f '" + test_support::binary_path() + "'); " +
        "until { [ \"$(readlink /proc/$pid/exe 2>/dev/null)\" = \"$bin\" ] && ls -l /proc/$pid/fd 2>/dev/null | "
        "grep -q run.cfg; } || ! kill -0 $pid 2>/dev/null; do sleep 0.01; done; " +
        "kill -USR1 $pid; echo 'data = " + data + "' >&3; exec 3>&-; wait $pid; }");
    INFO(stopped.out, stopped.err);
    CHECK(stopped.exit_status == 75);
    CHECK(stopped.out.find("stopped by signal 10 at step 1 ") != std::string::npos);
    const auto resumed = run_cli("train --resume '" + ckpt + "' --quiet");
    REQUIRE(resumed.exit_status == 0);
    CHECK(fingerprint_of(resumed.out) == fingerprint_of(straight.out));
}

// A NaN blow-up stops with exit status 3 naming the step and a layer, and every
// checkpoint left behind holds finite numbers only.
TEST_CASE("numeric failure exits 3 and never checkpoints non-finite weights") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const auto run = run_cli("train --data '" + test_support::data_path("digits.csv") +
                             "' --lr 1e8 --momentum 0 --weight-decay 0 --epochs 5 --checkpoint-dir '" + ckpt +
                             "' --checkpoint-every 1 --keep-checkpoints 1000");
    CHECK(run.exit_status == 3);
    CHECK(run.err.find("step ") != std::string::npos);
    CHECK((run.err.find("layers.") != std::string::npos || run.err.find("loss") != std::string::npos));
    int checked = 0;
    for (const auto& entry : std::filesystem::directory_iterator(ckpt)) {
        if (entry.path().extension() != ".safetensors") continue;
        const auto c = mlptrain::load_checkpoint(entry.path().string());
        for (const auto& [name, tensor] : c.file.tensors)
            for (float v : tensor.data) REQUIRE(std::isfinite(v));
        ++checked;
    }
    MESSAGE("checkpoints checked finite: " << checked);
}

// A corrupted checkpoint (a flipped byte, a truncation) is refused with exit status 2 and
// a message naming the file; never a crash.
TEST_CASE("resume from a corrupted checkpoint is a clear error") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    REQUIRE(run_cli("train --data '" + test_support::data_path("digits.csv") +
                    "' --layers 32 --epochs 1 --batch-size 64 --checkpoint-dir '" + ckpt + "'")
                .exit_status == 0);
    const std::string file = step_file(ckpt, 20);
    std::string bytes;
    {
        std::ifstream in(file, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    REQUIRE(bytes.size() > 1000);
    for (const std::size_t at : {std::size_t{3}, std::size_t{100}, bytes.size() / 2, bytes.size() - 5}) {
        std::string flipped = bytes;
        flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
        const std::string path = dir.write_file("flipped.safetensors", flipped);
        const auto r = run_cli("train --resume '" + path + "'");
        INFO("byte " << at << ": " << r.err);
        CHECK(r.exit_status == 2);
        CHECK(r.err.find("flipped.safetensors") != std::string::npos);
    }
    const std::string path = dir.write_file("short.safetensors", bytes.substr(0, bytes.size() - 100));
    const auto r = run_cli("train --resume '" + path + "'");
    CHECK(r.exit_status == 2);
    CHECK(r.err.find("short.safetensors") != std::string::npos);
}

// kill -9 at many moments of a run that checkpoints every 2 steps: the directory always
// resumes (through `latest`) and finishes with the weights of the uninterrupted run.
TEST_CASE("SIGKILL at any moment leaves a checkpoint that resumes to the same weights") {
    const std::string args = "train --data '" + test_support::data_path("digits.csv") +
                             "' --layers 256,128 --epochs 4 --batch-size 32 --seed 6 --threads 2 --quiet";
    const auto started = std::chrono::steady_clock::now();
    const auto straight = run_cli(args);
    const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    REQUIRE(straight.exit_status == 0);
    const std::string expected = fingerprint_of(straight.out);
    int killed_mid_run = 0, resumed = 0;
#if defined(__SANITIZE_THREAD__)
    // Under ThreadSanitizer (scripts/sanitizers.sh tsan, in CI) each run is several times
    // slower: 4 kill points keep that stage within CI's budget; other builds try all 12.
    constexpr int points = 4;
#else
    constexpr int points = 12;
#endif
    for (int point = 0; point < points; ++point) {
        TempDir dir;
        const std::string ckpt = dir.path() + "/ckpt";
        const std::string command = "exec '" + test_support::binary_path() + "' " + args + " --checkpoint-dir '" +
                                    ckpt + "' --checkpoint-every 2 >/dev/null 2>&1";
        const pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        // Once the first checkpoint exists, kill after a delay that differs at each point,
        // spread over the run (checkpointing every 2 steps makes it longer than run_ms).
        for (int waited = 0; waited < 3000 && !std::filesystem::exists(ckpt + "/latest"); ++waited)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(run_ms * point / points));
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        if (WIFSIGNALED(status)) ++killed_mid_run;
        if (!std::filesystem::exists(ckpt + "/latest")) continue;  // killed before the first checkpoint
        const auto r = run_cli("train --resume '" + ckpt + "' --quiet");
        INFO("kill point " << point << ": " << r.err);
        CHECK(r.exit_status == 0);
        CHECK(fingerprint_of(r.out) == expected);
        ++resumed;
    }
    MESSAGE("of " << points << " SIGKILLs, " << killed_mid_run << " landed mid-run; " << resumed
                  << " directories resumed to the uninterrupted weights");
    CHECK(killed_mid_run >= points / 2);
    CHECK(resumed >= points / 2);
}

// A training checkpoint reads without mlptrain: tests/safetensors_reader.py (json, struct
// and NumPy, as in the README) lists every tensor and verifies every checksum.
TEST_CASE("a training checkpoint reads with NumPy alone") {
    if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: python3-numpy is not installed");
        return;
    }
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    REQUIRE(run_cli("train --data '" + test_support::data_path("iris.csv") + "' --epochs 2 --nesterov --checkpoint-dir '" +
                    ckpt + "' --quiet")
                .exit_status == 0);
    const auto r = test_support::run_shell("/usr/bin/python3 '" + std::string(MLPTRAIN_SOURCE_DIR) +
                                           "/tests/safetensors_reader.py' '" + step_file(ckpt, 14) + "' --verify");
    INFO(r.out << r.err);
    CHECK(r.exit_status == 0);
    for (const char* name : {"layers.0.weight", "layers.2.bias", "optimizer.momentum.layers.1.weight",
                             "standardization.mean"})
        CHECK(r.out.find(name) != std::string::npos);
}

// Issue 11, defect 8: a newest checkpoint that does not load is renamed *.corrupt (never
// deleted) with a one-line warning, and the run resumes from the one before it and finishes
// with the weights of the uninterrupted run.
TEST_CASE("resume moves a corrupt newest checkpoint aside and finishes") {
    TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt";
    const auto straight = run_cli(base_args + " --checkpoint-dir '" + ckpt + "'");
    REQUIRE(straight.exit_status == 0);
    // Keep step 40 and a damaged step 60 (as if the disk corrupted it after the run).
    std::filesystem::remove(step_file(ckpt, 20));
    std::filesystem::resize_file(step_file(ckpt, 60), 100);
    const auto resumed = run_cli("train --resume '" + ckpt + "'");
    INFO(resumed.err);
    REQUIRE(resumed.exit_status == 0);
    CHECK(fingerprint_of(resumed.out) == fingerprint_of(straight.out));
    CHECK(resumed.err.find("warning: " + step_file(ckpt, 60) + " does not load") != std::string::npos);
    CHECK(std::count(resumed.err.begin(), resumed.err.end(), '\n') == 1);
    CHECK(std::filesystem::exists(step_file(ckpt, 60) + ".corrupt"));
    CHECK(std::filesystem::file_size(step_file(ckpt, 60) + ".corrupt") == 100);
    CHECK(std::filesystem::exists(step_file(ckpt, 60)));  // written again by the resumed run
}

// Issue 11, defect 9: a run started in one directory with a relative --data path resumes from
// another directory, with or without the data named again by another path; other content
// under the run's data path is refused.
TEST_CASE("resume finds the data by content, from any directory") {
    TempDir dir;
    std::filesystem::create_directories(dir.path() + "/work");
    std::filesystem::copy_file(test_support::data_path("digits.csv"), dir.path() + "/work/digits.csv");
    const std::string args = "' train --data digits.csv --layers 32 --epochs 3 --batch-size 64 --seed 3 --checkpoint-dir ck";
    const auto straight = test_support::run_shell("cd '" + dir.path() + "/work' && '" + test_support::binary_path() + args);
    REQUIRE(straight.exit_status == 0);
    std::filesystem::remove(step_file(dir.path() + "/work/ck", 60));
    const auto elsewhere = run_cli("train --resume '" + dir.path() + "/work/ck'");
    INFO(elsewhere.err);
    REQUIRE(elsewhere.exit_status == 0);
    CHECK(fingerprint_of(elsewhere.out) == fingerprint_of(straight.out));
    std::filesystem::remove(step_file(dir.path() + "/work/ck", 60));
    const auto named = run_cli("train --resume '" + dir.path() + "/work/ck' --data '" + dir.path() + "/work/../work/digits.csv'");
    INFO(named.err);
    CHECK(named.exit_status == 0);
    CHECK(fingerprint_of(named.out) == fingerprint_of(straight.out));
    std::filesystem::remove(step_file(dir.path() + "/work/ck", 60));
    const auto other = run_cli("train --resume '" + dir.path() + "/work/ck' --data '" + test_support::data_path("iris.csv") + "'");
    CHECK(other.exit_status == 2);
    CHECK(other.err.find("content hash") != std::string::npos);
}
