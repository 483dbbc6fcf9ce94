// End-to-end tests of the mlptrain binary: every bad input is rejected with one clear message,
// exit status 2 and no output; --help, --version and --config work; the weights fingerprint
// is a function of the seed alone, not of --threads.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "test_support.hpp"

using test_support::CommandResult;
using test_support::data_path;
using test_support::run_cli;
using test_support::TempDir;
using test_support::contains;
using test_support::q;

namespace {


std::vector<std::string> epoch_lines(const std::string& out) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < out.size()) {
        std::size_t end = out.find('\n', start);
        if (end == std::string::npos) end = out.size();
        const std::string line = out.substr(start, end - start);
        if (line.rfind("epoch ", 0) == 0) lines.push_back(line);
        start = end + 1;
    }
    return lines;
}

// Runs `mlptrain <args> --metrics-out FILE` and checks the rejection contract: exit status 2,
// exactly one line on stderr starting "mlptrain: error:" that holds every one of `mentions`,
// no training output on stdout, and no metrics file left behind.
void expect_rejected(const std::string& args, const std::vector<std::string>& mentions) {
    const TempDir dir;
    const std::string metrics = dir.path() + "/metrics.jsonl";
    const CommandResult r = run_cli(args + " --metrics-out " + q(metrics));
    INFO("args: ", args);
    INFO("stderr: ", r.err);
    INFO("stdout: ", r.out);
    CHECK(r.exit_status == 2);
    CHECK(r.err.rfind("mlptrain: error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK((!r.err.empty() && r.err.back() == '\n'));
    for (const std::string& m : mentions) {
        INFO("expected the message to mention: ", m);
        CHECK(contains(r.err, m));
    }
    CHECK(epoch_lines(r.out).empty());
    CHECK_FALSE(contains(r.out, "weights fingerprint"));
    CHECK_FALSE(contains(r.out, "test: "));
    CHECK_FALSE(std::filesystem::exists(metrics));
}

// A CSV `contents` written to a fresh directory, then `mlptrain train --data` on it rejected.
void expect_csv_rejected(const std::string& contents, std::vector<std::string> mentions) {
    const TempDir dir;
    const std::string path = dir.write_file("bad.csv", contents);
    mentions.push_back(path);
    expect_rejected("train --data " + q(path), mentions);
}

// The 16 hex digits after "weights fingerprint: "; requires a successful run that printed them.
std::string fingerprint_of(const CommandResult& r) {
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    static const std::regex pattern("(^|\n)weights fingerprint: ([0-9a-f]{16})\n");
    std::smatch match;
    REQUIRE(std::regex_search(r.out, match, pattern));
    return match[2].str();
}

const std::string iris = "train --data " + q(data_path("iris.csv"));

}  // namespace

// A data file that does not exist is rejected, naming the path and the reason.
TEST_CASE("cli: missing data file") {
    const TempDir dir;
    const std::string path = dir.path() + "/does_not_exist.csv";
    expect_rejected("train --data " + q(path), {path, "No such file"});
}

// A data file without read permission is rejected, naming the path (skipped when root can read it).
TEST_CASE("cli: unreadable data file") {
    const TempDir dir;
    const std::string path = dir.write_file("locked.csv", "a,b,y\n1,2,0\n3,4,1\n");
    std::filesystem::permissions(path, std::filesystem::perms::none);
    if (std::ifstream(path).is_open()) {
        MESSAGE("skipped: this user can read a mode-000 file (running as root)");
        return;
    }
    expect_rejected("train --data " + q(path), {path, "Permission denied"});
}

// An empty CSV is rejected, naming the file and saying it is empty.
TEST_CASE("cli: empty data file") {
    expect_csv_rejected("", {"expected", "empty file"});
}

// A CSV with a header but no rows is rejected, saying data rows were expected.
TEST_CASE("cli: header-only data file") {
    expect_csv_rejected("a,b,y\n", {"expected", "data rows", "header only"});
}

// A row with too few fields is rejected with its line and both field counts.
TEST_CASE("cli: ragged row") {
    expect_csv_rejected("a,b,y\n1,2,0\n3,4,1\n5,6\n",
                        {"line 4", "expected 3 fields", "found 2"});
}

// A non-numeric feature is rejected with its line, column and text.
TEST_CASE("cli: non-numeric field") {
    expect_csv_rejected("a,b,y\n1,2,0\n3,abc,1\n",
                        {"line 3", "column 2", "expected a number", "'abc'"});
}

// A NaN feature is rejected with its line, column and text.
TEST_CASE("cli: NaN field") {
    expect_csv_rejected("a,b,y\n1,2,0\n3,4,1\nNaN,5,0\n",
                        {"line 4", "column 1", "expected a finite number", "'NaN'"});
}

// An infinite feature is rejected with its line, column and text.
TEST_CASE("cli: Inf field") {
    expect_csv_rejected("a,b,y\n1,2,0\n3,-inf,1\n",
                        {"line 3", "column 2", "expected a finite number", "'-inf'"});
}

// An unknown --label is rejected, naming the file, the label and the available columns.
TEST_CASE("cli: unknown label column") {
    expect_rejected(iris + " --label nope",
                    {data_path("iris.csv"), "label", "'nope'", "expected", "species"});
}

// A classification dataset with a single class is rejected, naming the file, class and column.
TEST_CASE("cli: single-class dataset") {
    expect_csv_rejected("a,b,y\n1,2,yes\n3,4,yes\n5,6,yes\n",
                        {"one class", "'yes'", "'y'", "at least 2"});
}

// --batch-size 0 is rejected, naming the flag and the value.
TEST_CASE("cli: --batch-size 0") {
    expect_rejected(iris + " --batch-size 0", {"--batch-size", "expected a positive integer", "found 0"});
}

// --layers 0 is rejected, naming the flag and the zero width.
TEST_CASE("cli: --layers 0") {
    expect_rejected(iris + " --layers 0", {"--layers", "expected", "found 0"});
}

// --layers 8,x is rejected, naming the flag and the bad entry.
TEST_CASE("cli: --layers 8,x") {
    expect_rejected(iris + " --layers 8,x", {"--layers", "expected", "'x'"});
}

// A negative --lr is rejected, naming the flag and the value.
TEST_CASE("cli: --lr -1") {
    expect_rejected(iris + " --lr -1", {"--lr", "expected a positive number", "-1"});
}

// An unknown --activation is rejected, listing the valid ones.
TEST_CASE("cli: --activation foo") {
    expect_rejected(iris + " --activation foo", {"--activation", "'foo'", "expected", "relu", "tanh"});
}

// An unknown --loss is rejected, listing the valid ones.
TEST_CASE("cli: --loss foo") {
    expect_rejected(iris + " --loss foo", {"--loss", "'foo'", "expected", "cross_entropy", "mse"});
}

// An unknown option is rejected, naming it and pointing at --help.
TEST_CASE("cli: unknown option") {
    expect_rejected(iris + " --foo", {"'--foo'", "--help"});
}

// A non-integer --epochs is rejected, naming the flag and the text.
TEST_CASE("cli: --epochs abc") {
    expect_rejected(iris + " --epochs abc", {"--epochs", "expected an integer", "'abc'"});
}

// --loss bce on a 3-class dataset is rejected, saying 2 classes were expected and 3 found.
TEST_CASE("cli: --loss bce on 3 classes") {
    expect_rejected(iris + " --loss bce", {"--loss bce", "2 classes", "3 classes"});
}

// An unknown command is rejected, naming it and the valid commands.
TEST_CASE("cli: unknown command") {
    expect_rejected("frobnicate", {"'frobnicate'", "train"});
}

// `train --help` exits 0 and lists every train flag.
TEST_CASE("cli: train --help lists every flag") {
    const CommandResult r = run_cli("train --help");
    CHECK(r.exit_status == 0);
    CHECK(r.err.empty());
    for (const char* flag :
         {"--data", "--train-data", "--test-data", "--label", "--validation-fraction",
          "--test-fraction", "--no-standardize", "--layers", "--activation", "--loss", "--dropout",
          "--init", "--epochs", "--batch-size", "--lr", "--lr-reference-batch", "--optimizer",
          "--momentum", "--nesterov", "--weight-decay", "--l2", "--beta1", "--beta2",
          "--schedule", "--warmup-steps", "--lr-step-epochs", "--lr-gamma", "--min-lr",
          "--clip-norm", "--patience", "--threads", "--shards", "--seed", "--blas-core", "--quiet",
          "--verbose", "--metrics-out", "--config", "--help"}) {
        INFO("flag: ", flag);
        CHECK(contains(r.out, std::string(flag) + " "));
    }
}

// `mlptrain --version` prints exactly "mlptrain 0.1.0".
TEST_CASE("cli: --version") {
    const CommandResult r = run_cli("--version");
    CHECK(r.exit_status == 0);
    CHECK(r.out == "mlptrain 0.1.0\n");
    CHECK(r.err.empty());
}

// A --config file's key = value lines are honored, and a flag on the command line overrides
// the file wherever it stands.
TEST_CASE("cli: --config file, overridden by flags") {
    const TempDir dir;
    const std::string config = dir.write_file("run.cfg", "# a comment\nepochs = 3\nseed = 5\n");

    const CommandResult from_file = run_cli(iris + " --config " + q(config));
    const std::vector<std::string> lines = epoch_lines(from_file.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines.back().rfind("epoch 3/3 ", 0) == 0);
    // The file's seed was used too: same weights as the same settings given as flags.
    CHECK(fingerprint_of(from_file) == fingerprint_of(run_cli(iris + " --epochs 3 --seed 5")));

    for (const std::string& args : {iris + " --config " + q(config) + " --epochs 2",
                                    iris + " --epochs 2 --config " + q(config)}) {
        INFO("args: ", args);
        const CommandResult r = run_cli(args);
        const std::vector<std::string> overridden = epoch_lines(r.out);
        REQUIRE(overridden.size() == 2);
        CHECK(overridden.back().rfind("epoch 2/2 ", 0) == 0);
        CHECK(fingerprint_of(r) == fingerprint_of(run_cli(iris + " --epochs 2 --seed 5")));
    }
}

// Every successful run ends with "weights fingerprint: " and 16 hex digits, also with --quiet.
TEST_CASE("cli: successful runs print the weights fingerprint") {
    for (const std::string& args :
         {iris + " --epochs 2", iris + " --epochs 2 --quiet",
          "train --data " + q(data_path("breast_cancer.csv")) + " --epochs 1 --loss bce"}) {
        INFO("args: ", args);
        const CommandResult r = run_cli(args);
        CHECK(fingerprint_of(r).size() == 16);
        CHECK(r.err.empty());
    }
}

// The same seed gives the same weights; a different seed gives different weights.
TEST_CASE("cli: fingerprint depends on the seed and only on it") {
    const std::string a = fingerprint_of(run_cli(iris + " --epochs 5 --seed 7"));
    const std::string b = fingerprint_of(run_cli(iris + " --epochs 5 --seed 7"));
    const std::string c = fingerprint_of(run_cli(iris + " --epochs 5 --seed 8"));
    CHECK(a == b);
    CHECK(a != c);
}

// The weights do not depend on --threads, for the default shard count and for --shards 4.
TEST_CASE("cli: fingerprint does not depend on --threads") {
    const std::string digits = "train --data " + q(data_path("digits.csv")) + " --epochs 3";
    const std::string one = fingerprint_of(run_cli(digits + " --threads 1"));
    CHECK(fingerprint_of(run_cli(digits + " --threads 2")) == one);

    const std::string sharded = fingerprint_of(run_cli(digits + " --shards 4 --threads 1"));
    CHECK(fingerprint_of(run_cli(digits + " --shards 4 --threads 2")) == sharded);
    CHECK(fingerprint_of(run_cli(digits + " --shards 4 --threads 3")) == sharded);
    CHECK(fingerprint_of(run_cli(digits + " --shards 4 --threads 4")) == sharded);
}

// One of several tasks that MPI does not join (srun --mpi=none -n 2, where the cluster's
// MpiDefault is none) would train alone into the same files as the others: train and bench
// refuse at once with exit 2 and a message naming the fix, and write nothing. With the
// documented opt-out the task trains. (tests/slurm/ checks the same under a real srun.)
TEST_CASE("cli: a task of several that MPI does not join is refused") {
    const TempDir dir;
    const std::string ckpt = dir.path() + "/ckpt", metrics = dir.path() + "/metrics.jsonl";
    const std::string task = "SLURM_STEP_NUM_TASKS=2 SLURM_PROCID=1 " + q(test_support::binary_path()) + " ";
    for (const std::string& args :
         {iris + " --epochs 2 --checkpoint-dir " + q(ckpt) + " --metrics-out " + q(metrics),
          std::string("bench --layers 4,8,3 --batch-size 8 --steps 1 --warmup 0 --no-ceiling")}) {
        const CommandResult r = test_support::run_shell(task + args);
        INFO("args: ", args);
        INFO("stderr: ", r.err);
        CHECK(r.exit_status == 2);
        CHECK(r.err.rfind("mlptrain: error: started as task 1 of 2 (SLURM_STEP_NUM_TASKS=2)", 0) == 0);
        CHECK(contains(r.err, "srun --mpi=pmix"));
        CHECK(contains(r.err, "MLPTRAIN_INDEPENDENT_TASKS=1"));
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(r.out.empty());
    }
    CHECK_FALSE(std::filesystem::exists(ckpt));
    CHECK_FALSE(std::filesystem::exists(metrics));
    const CommandResult independent = test_support::run_shell("MLPTRAIN_INDEPENDENT_TASKS=1 " + task + iris + " --epochs 2");
    CHECK(fingerprint_of(independent).size() == 16);
}

// --metrics-out writes one JSON object per epoch with the documented fields, and
// scripts/plot_metrics.py turns it into a PNG (when python3-matplotlib is installed).
TEST_CASE("metrics log and its plot") {
    TempDir dir;
    const std::string log = dir.path() + "/metrics.jsonl";
    const auto r = run_cli("train --data " + q(data_path("digits.csv")) + " --epochs 3 --quiet --metrics-out " + q(log));
    REQUIRE(r.exit_status == 0);
    std::ifstream in(log);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        ++lines;
        for (const char* key : {"\"epoch\":", "\"step\":", "\"train_loss\":", "\"val_loss\":", "\"val_accuracy\":",
                                "\"lr\":", "\"samples_per_s\":", "\"median_step_ms\":", "\"seconds\":"})
            CHECK(contains(line, key));
        CHECK(contains(line, "\"epoch\":" + std::to_string(lines)));
    }
    CHECK(lines == 3);
    if (std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") != 0) {
        MESSAGE("plot skipped: python3-matplotlib is not installed (scripts/setup.sh --with plots)");
        return;
    }
    const std::string png = dir.path() + "/curves.png";
    const auto plot = test_support::run_shell("/usr/bin/python3 " + q(std::string(MLPTRAIN_SOURCE_DIR) + "/scripts/plot_metrics.py") +
                                              " " + q(log) + " -o " + q(png));
    INFO(plot.err);
    CHECK(plot.exit_status == 0);
    std::ifstream image(png, std::ios::binary);
    char magic[4] = {};
    image.read(magic, 4);
    CHECK(std::string(magic + 1, 3) == "PNG");
}

// A bad value in a --config file is reported at its file, line and key, not as a flag the
// user never typed.
TEST_CASE("config file values that fail validation name the file and line") {
    TempDir dir;
    const std::string cfg = dir.write_file("run.cfg", "epochs = 3\nbatch-size = 0\n");
    const auto r = run_cli("train --data " + q(data_path("iris.csv")) + " --config " + q(cfg));
    CHECK(r.exit_status == 2);
    CHECK(contains(r.err, cfg + ", line 2, key 'batch-size': expected a positive integer"));
    CHECK(r.out.empty());
}

// Issue 11, defect 3: --metrics-out naming the data (or the --config file) is refused before
// anything is written; the data is intact.
TEST_CASE("cli: --metrics-out over an input is refused") {
    const TempDir dir;
    const std::string data = dir.write_file("data.csv", "a,b,y\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n9,1,x\n2,3,y\n4,5,x\n6,7,y\n8,9,x\n1,3,y\n");
    const auto size = std::filesystem::file_size(data);
    const CommandResult r = run_cli("train --data " + q(data) + " --metrics-out " + q(data) + " --epochs 1");
    CHECK(r.exit_status == 2);
    CHECK(contains(r.err, "--metrics-out"));
    CHECK(contains(r.err, "the same file as --data"));
    CHECK(std::filesystem::file_size(data) == size);
    const std::string cfg = dir.write_file("run.cfg", "epochs = 1\n");
    const CommandResult c = run_cli(iris + " --config " + q(cfg) + " --metrics-out " + q(cfg));
    CHECK(c.exit_status == 2);
    CHECK(contains(c.err, "the same file as --config"));
}

// Issue 11, defect 4: --config naming a directory is refused; a `config = FILE` line in a
// config file (includes are not supported) is refused at its line.
TEST_CASE("cli: --config directory and config lines are refused") {
    const TempDir dir;
    expect_rejected(iris + " --config " + q(dir.path()), {"--config", "a directory"});
    const std::string other = dir.write_file("other.cfg", "epochs = 3\n");
    const std::string main_cfg = dir.write_file("main.cfg", "# settings\nconfig = " + other + "\n");
    expect_rejected(iris + " --config " + q(main_cfg), {main_cfg + ", line 2", "'config'"});
}

// Issue 11, defect 5: results lost on a full standard output are exit 2 with a message.
TEST_CASE("cli: train to a full disk fails") {
    const CommandResult r = test_support::run_shell("'" + test_support::binary_path() + "' " + iris + " --epochs 2 > /dev/full");
    CHECK(r.exit_status == 2);
    CHECK(contains(r.err, "cannot write to standard output"));
}

// Issue 11, defect 6: bytes of a data file that are not printable are escaped in a message
// (a NUL no longer cuts it, an escape sequence never reaches the terminal) and it keeps its hint.
TEST_CASE("cli: raw bytes in messages are escaped") {
    const TempDir dir;
    const std::string nul = dir.write_file("nul.csv", std::string("a,b,label\n1,2,x\n3,4\0zz,y\n5,6,x\n", 31));
    const CommandResult r = run_cli("train --data " + q(nul) + " --epochs 1");
    CHECK(r.exit_status == 2);
    CHECK(contains(r.err, "'4\\x00zz'"));
    CHECK(contains(r.err, "(hint: "));
    const std::string esc = dir.write_file("esc.csv", "a,b,label\n1,2,x\n3,\x1b[31mRED\x1b[0m,y\n5,6,x\n");
    const CommandResult e = run_cli("train --data " + q(esc) + " --epochs 1");
    CHECK(e.exit_status == 2);
    CHECK(e.err.find('\x1b') == std::string::npos);
    CHECK(contains(e.err, "\\x1B[31mRED"));
}

// Issue 11, defect 7: every config-file error names the file and the line: an unknown key, a
// key given twice, a line without '='.
TEST_CASE("cli: config file errors name the line") {
    const TempDir dir;
    const std::string unknown = dir.write_file("u.cfg", "epochs = 1\nbogus = 3\n");
    expect_rejected(iris + " --config " + q(unknown), {unknown + ", line 2", "'bogus'"});
    const std::string twice = dir.write_file("t.cfg", "epochs = 1\n\nepochs = 2\n");
    expect_rejected(iris + " --config " + q(twice), {twice + ", line 3", "'epochs'"});
    const std::string bare = dir.write_file("b.cfg", "epochs = 1\nquiet\n");
    expect_rejected(iris + " --config " + q(bare), {bare + ", line 2", "'key = value'"});
}

// Issue 11, defect 12: text that Boost would expand (%value%, %canonical_option%) in a config
// file, or an option name, is a one-line error at once, never a hang.
TEST_CASE("cli: placeholders in a config file or an option do not hang") {
    const TempDir dir;
    const std::string value = dir.write_file("v.cfg", "nesterov = %value%\n");
    const std::string key = dir.write_file("k.cfg", "%canonical_option% = 1\n");
    for (const std::string& cfg : {value, key}) {
        const CommandResult r = test_support::run_shell("timeout 20 '" + test_support::binary_path() + "' " + iris +
                                                        " --config " + q(cfg) + " --metrics-out " + q(dir.path() + "/m"));
        CHECK(r.exit_status == 2);
        CHECK(contains(r.err, cfg + ", line 1"));
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    const CommandResult o = test_support::run_shell("timeout 20 '" + test_support::binary_path() + "' " + iris +
                                                    " --%canonical_option% 1");
    CHECK(o.exit_status == 2);
    CHECK(contains(o.err, "unknown option"));
}

// Issue 11, defect 13: --max-rows 0 and an empty --label are refused; a network too large for
// memory names --layers and the size it needs; an integer too large says so.
TEST_CASE("cli: small refusals") {
    expect_rejected(iris + " --max-rows 0", {"--max-rows", "a positive number of rows", "omit --max-rows"});
    expect_rejected(iris + " --label ''", {"--label", "an empty name"});
    expect_rejected(iris + " --layers 100000,100000", {"--layers 100000,100000", "parameters", "GB"});
    expect_rejected(iris + " --epochs 99999999999999999999", {"--epochs", "too large"});
}

// Issue 11, defect 1: --data is read once, from the start, so whatever can be read once
// trains exactly like the file itself: /dev/stdin fed by a pipe, a process substitution
// (bash's <(cmd), a /dev/fd path) and a named pipe with a writer. Before: a named pipe hung
// (it was opened twice: the format sniff consumed the writer) and /dev/stdin and <(cmd) were
// "an empty file". `timeout` turns a hang into a failure.
TEST_CASE("cli: --data from /dev/stdin, <(cmd) and a named pipe trains like the file") {
    const TempDir dir;
    const std::string args = " --epochs 2 --quiet";
    const std::string expected = fingerprint_of(run_cli(iris + args));
    const std::string bin = "timeout 60 " + q(test_support::binary_path()) + " train --data ";
    const std::string csv = q(data_path("iris.csv"));
    const CommandResult piped = test_support::run_shell("cat " + csv + " | " + bin + "/dev/stdin" + args);
    CHECK(fingerprint_of(piped) == expected);
    const CommandResult substituted =
        test_support::run_shell("bash -c " + q(bin + "<(cat " + csv + ")" + args));
    CHECK(fingerprint_of(substituted) == expected);
    const std::string fifo = dir.path() + "/fifo.csv";
    const CommandResult named = test_support::run_shell("mkfifo " + q(fifo) + " && { cat " + csv + " > " + q(fifo) +
                                                        " & } && " + bin + q(fifo) + args);
    CHECK(fingerprint_of(named) == expected);
}

// The same for IDX images and labels, raw and gzip-compressed (the IDX reader inflates what
// it is given instead of reopening the path): both files from pipes train like the files.
TEST_CASE("cli: IDX data and labels, raw and gzip, from pipes train like the files") {
    const TempDir dir;
    std::string images = {'\0', '\0', '\x08', '\x03', '\0', '\0', '\0', '\x0C', '\0', '\0', '\0', '\x02',
                          '\0', '\0', '\0', '\x02'};
    std::string labels = {'\0', '\0', '\x08', '\x01', '\0', '\0', '\0', '\x0C'};
    for (int i = 0; i < 12; ++i) {
        labels += static_cast<char>(i % 3);
        for (int p = 0; p < 4; ++p) images += static_cast<char>((i % 3) * 60 + p * 20 + i);
    }
    const std::string img = dir.write_file("train-images-idx3-ubyte", images);
    const std::string lab = dir.write_file("train-labels-idx1-ubyte", labels);
    const std::string args = " --epochs 2 --quiet --validation-fraction 0 --test-fraction 0";
    const std::string expected = fingerprint_of(run_cli("train --data " + q(img) + args));
    const std::string bin = "timeout 60 " + q(test_support::binary_path()) + " train --data ";
    const CommandResult raw = test_support::run_shell("cat " + q(img) + " | " + bin + "/dev/stdin --train-labels " +
                                                      q(lab) + args);
    CHECK(fingerprint_of(raw) == expected);
    const CommandResult gz = test_support::run_shell(
        "gzip -c " + q(img) + " | " + bin + "/dev/stdin --train-labels " + q(lab) + args);
    CHECK(fingerprint_of(gz) == expected);
    const CommandResult both = test_support::run_shell(
        "bash -c " + q(bin + "<(gzip -c " + q(img) + ") --train-labels <(gzip -c " + q(lab) + ")" + args));
    CHECK(fingerprint_of(both) == expected);
    const std::string fifo = dir.path() + "/fifo-images-idx3-ubyte.gz";
    const CommandResult named = test_support::run_shell("mkfifo " + q(fifo) + " && { gzip -c " + q(img) + " > " +
                                                        q(fifo) + " & } && " + bin + q(fifo) + " --train-labels " +
                                                        q(lab) + args);
    CHECK(fingerprint_of(named) == expected);
}

// What cannot be read as data gets the usual one-line error and exit 2: a directory (it
// opens, but read(2) fails), and an endless device (/dev/zero: no line ends, so the record
// limit stops it instead of reading forever).
TEST_CASE("cli: a directory or an endless device as --data is a one-line error") {
    const TempDir dir;
    expect_rejected("train --data " + q(dir.path()), {"cannot read '" + dir.path() + "'", "Is a directory"});
    expect_rejected("train --data /dev/zero", {"/dev/zero, line 1", "a record of more than 64 MiB"});
}

// CR-only line endings and RFC 4180 quoting train (before: "a header only" and "text after a
// closing double quote").
TEST_CASE("cli: CR-only and RFC 4180 CSV files train") {
    const TempDir dir;
    const std::string cr = dir.write_file("cr.csv", "a,b,label\r1,2,x\r3,4,\"y \"\"q\"\"\"\r5,6,x\r7,8,\"y \"\"q\"\"\"\r"
                                                    "1,3,x\r3,5,\"y \"\"q\"\"\"\r5,7,x\r7,9,\"y \"\"q\"\"\"\r");
    const CommandResult r = run_cli("train --data " + q(cr) + " --epochs 1 --validation-fraction 0 --test-fraction 0");
    INFO("stderr: ", r.err);
    CHECK(r.exit_status == 0);
    CHECK(contains(r.out, "8 rows"));
    CHECK(contains(r.out, "y \"q\""));
}
