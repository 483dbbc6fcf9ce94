// `mlptrain evaluate` and `mlptrain predict` through the real binary, on models trained by
// `mlptrain train --checkpoint-dir`: metrics and confusion matrix, a predictions CSV with
// valid class names and probabilities, data without a label column, regression and bce
// models, hidden-layer activations, evaluation of the run's own test rows, and the
// rejections (wrong feature count, unknown class, missing model or output directory) with
// exit status 2 and no file left behind.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mlptrain/storage/checkpoint.hpp"
#include "test_support.hpp"

using test_support::CommandResult;
using test_support::data_path;
using test_support::run_cli;
using test_support::TempDir;
using test_support::contains;
using test_support::q;

namespace {


std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(text);
    while (std::getline(in, part, sep)) parts.push_back(part);
    return parts;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::vector<std::vector<std::string>> rows;
    for (const std::string& line : split(buffer.str(), '\n')) rows.push_back(split(line, ','));
    return rows;
}

std::size_t line_count(const std::string& path) {
    std::ifstream in(path);
    std::size_t lines = 0;
    std::string line;
    while (std::getline(in, line)) ++lines;
    return lines;
}

// Trains `args` with --checkpoint-dir into `dir`, requiring success.
void train_into(const std::string& dir, const std::string& args) {
    const CommandResult r = run_cli("train " + args + " --checkpoint-dir " + q(dir) + " --quiet");
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
}

// One iris model shared by the tests (trained once, removed at exit).
const std::string& iris_model() {
    static const TempDir dir;
    static const std::string model = dir.path() + "/iris";
    static const bool trained = (train_into(model, "--data " + q(data_path("iris.csv")) + " --epochs 30"), true);
    (void)trained;
    return model;
}

// The rejection contract: exit status 2 and one "mlptrain: error:" line naming `mentions`.
void expect_rejected(const CommandResult& r, const std::vector<std::string>& mentions) {
    INFO("stderr: ", r.err);
    INFO("stdout: ", r.out);
    CHECK(r.exit_status == 2);
    CHECK(r.err.rfind("mlptrain: error: ", 0) == 0);
    for (const std::string& m : mentions) {
        INFO("expected the message to mention: ", m);
        CHECK(contains(r.err, m));
    }
}

// Nothing in `dir` at all (no output, no temporary file).
bool is_empty_dir(const std::string& dir) {
    return std::filesystem::is_empty(dir);
}

}  // namespace

// evaluate on the training file reports a high accuracy and a confusion matrix headed by the
// class names, whose counts add up to the rows.
TEST_CASE("evaluate prints loss, accuracy and a confusion matrix with class names") {
    const CommandResult r = run_cli("evaluate --model " + q(iris_model()) + " --data " + q(data_path("iris.csv")));
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex("accuracy ([0-9.]+)")));
    CHECK(std::stod(m[1]) >= 0.9);
    CHECK(std::regex_search(r.out, std::regex("loss \\(cross_entropy\\) [0-9.]+")));
    REQUIRE(std::regex_search(r.out, m, std::regex("\\n +setosa +versicolor +virginica +recall\\n")));
    std::int64_t total = 0;
    for (const std::string name : {"setosa", "versicolor", "virginica"}) {
        std::smatch row;
        REQUIRE(std::regex_search(r.out, row, std::regex("\\n  " + name + " +(\\d+) +(\\d+) +(\\d+) +([0-9.]+)\\n")));
        total += std::stoll(row[1]) + std::stoll(row[2]) + std::stoll(row[3]);
    }
    CHECK(total == 150);
}

// predict writes one row per data row: a known class name, then probabilities that sum to
// 1 and whose largest belongs to that class.
TEST_CASE("predict writes class names and probabilities for every row") {
    const TempDir dir;
    const std::string out = dir.path() + "/pred.csv";
    const CommandResult r = run_cli("predict --model " + q(iris_model()) + " --data " + q(data_path("iris.csv")) +
                                    " --output " + q(out));
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    CHECK(line_count(out) == 151);
    const auto rows = read_csv(out);
    REQUIRE(rows.size() == 151);
    CHECK(rows[0] == std::vector<std::string>{"prediction", "p_setosa", "p_versicolor", "p_virginica"});
    const std::vector<std::string> names{"setosa", "versicolor", "virginica"};
    for (std::size_t i = 1; i < rows.size(); ++i) {
        REQUIRE(rows[i].size() == 4);
        double sum = 0, best = -1;
        std::size_t argmax = 0;
        for (std::size_t j = 0; j < 3; ++j) {
            const double p = std::stod(rows[i][j + 1]);
            CHECK(p >= 0.0);
            sum += p;
            if (p > best) best = p, argmax = j;
        }
        CHECK(std::fabs(sum - 1.0) < 1e-4);
        CHECK(rows[i][0] == names[argmax]);
    }
    // Only the finished file, no temporary file beside it.
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
    CHECK(files == 1);
}

// A CSV with only the feature columns (no label column) gives the same predictions.
TEST_CASE("predict accepts data without the label column") {
    const TempDir dir;
    std::ifstream in(data_path("iris.csv"));
    std::string line, features;
    while (std::getline(in, line)) features += line.substr(0, line.rfind(',')) + "\n";
    const std::string data = dir.write_file("features.csv", features);
    const std::string with = dir.path() + "/with.csv", without = dir.path() + "/without.csv";
    const CommandResult a = run_cli("predict --model " + q(iris_model()) + " --data " + q(data_path("iris.csv")) +
                                    " --output " + q(with));
    const CommandResult b = run_cli("predict --model " + q(iris_model()) + " --data " + q(data) + " --output " + q(without));
    INFO("stderr: ", b.err);
    REQUIRE(a.exit_status == 0);
    REQUIRE(b.exit_status == 0);
    CHECK(line_count(without) == 151);
    CHECK(read_csv(with) == read_csv(without));
}

// Data with another number of features is rejected, naming the file and both counts, and
// predict leaves no output (nor temporary file) behind.
TEST_CASE("wrong feature count is rejected with the file and the counts") {
    const std::string wine = data_path("wine.csv");
    expect_rejected(run_cli("evaluate --model " + q(iris_model()) + " --data " + q(wine)),
                    {"wine.csv", "expected 4 feature columns", "found 13"});
    const TempDir dir;
    expect_rejected(run_cli("predict --model " + q(iris_model()) + " --data " + q(wine) + " --output " +
                            q(dir.path() + "/pred.csv")),
                    {"wine.csv", "expected 4 feature columns", "found 13"});
    CHECK(is_empty_dir(dir.path()));
}

// evaluate rejects a label the model has never seen, naming the file and the label.
TEST_CASE("evaluate rejects an unknown class label") {
    const TempDir dir;
    std::ifstream in(data_path("iris.csv"));
    std::stringstream text;
    text << in.rdbuf();
    const std::string data = dir.write_file("odd.csv", std::regex_replace(text.str(), std::regex("virginica"), "virginia"));
    expect_rejected(run_cli("evaluate --model " + q(iris_model()) + " --data " + q(data)),
                    {"odd.csv", "virginia"});
}

// A --model that does not exist is rejected with the flag named.
TEST_CASE("a missing model is rejected") {
    const TempDir dir;
    expect_rejected(run_cli("evaluate --model " + q(dir.path() + "/none.safetensors") + " --data " +
                            q(data_path("iris.csv"))),
                    {"--model", "none.safetensors"});
    expect_rejected(run_cli("predict --model " + q(dir.path() + "/none") + " --data " + q(data_path("iris.csv")) +
                            " --output " + q(dir.path() + "/pred.csv")),
                    {"--model"});
    CHECK(is_empty_dir(dir.path()));
}

// An --output in a directory that does not exist is rejected and nothing is written.
TEST_CASE("predict rejects an output directory that does not exist") {
    const TempDir dir;
    expect_rejected(run_cli("predict --model " + q(iris_model()) + " --data " + q(data_path("iris.csv")) +
                            " --output " + q(dir.path() + "/missing/pred.csv")),
                    {"--output", "missing/pred.csv"});
    CHECK(is_empty_dir(dir.path()));
}

// --help succeeds; an unknown flag or a missing required flag is a usage error.
TEST_CASE("evaluate and predict flags") {
    for (const std::string command : {"evaluate", "predict"}) {
        const CommandResult help = run_cli(command + " --help");
        CHECK(help.exit_status == 0);
        CHECK(contains(help.out, "--model"));
        expect_rejected(run_cli(command + " --model x --data y --bogus"), {"--bogus"});
        expect_rejected(run_cli(command + " --data " + q(data_path("iris.csv"))), {"--model"});
    }
    expect_rejected(run_cli("predict --model " + q(iris_model()) + " --data " + q(data_path("iris.csv"))), {"--output"});
    const CommandResult usage = run_cli("--help");
    CHECK(contains(usage.out, "evaluate"));
    CHECK(contains(usage.out, "predict"));
}

// A regression model (y = x1 + 2·x2, loss mse) predicts values close to the targets, and
// evaluate reports its mse and rmse.
TEST_CASE("regression model predicts numeric values") {
    const TempDir dir;
    std::string csv = "x1,x2,y\n";
    for (int i = 0; i < 20; ++i)
        for (int j = 0; j < 10; ++j) {
            const double x1 = -1.0 + 0.1 * i, x2 = -1.0 + 0.2 * j;
            csv += std::to_string(x1) + "," + std::to_string(x2) + "," + std::to_string(x1 + 2 * x2) + "\n";
        }
    const std::string data = dir.write_file("linear.csv", csv);
    const std::string model = dir.path() + "/model";
    train_into(model, "--data " + q(data) + " --loss mse --epochs 100");

    const CommandResult e = run_cli("evaluate --model " + q(model) + " --data " + q(data));
    INFO("stderr: ", e.err);
    REQUIRE(e.exit_status == 0);
    std::smatch m;
    REQUIRE(std::regex_search(e.out, m, std::regex("rmse ([0-9.]+)")));
    CHECK(std::stod(m[1]) < 0.1);

    const std::string out = dir.path() + "/pred.csv";
    const CommandResult p = run_cli("predict --model " + q(model) + " --data " + q(data) + " --output " + q(out));
    REQUIRE(p.exit_status == 0);
    const auto pred = read_csv(out), truth = read_csv(data);
    REQUIRE(pred.size() == 201);
    CHECK(pred[0] == std::vector<std::string>{"prediction"});
    double abs_error = 0;
    for (std::size_t i = 1; i < pred.size(); ++i) {
        REQUIRE(pred[i].size() == 1);
        abs_error += std::fabs(std::stod(pred[i][0]) - std::stod(truth[i][2]));
    }
    CHECK(abs_error / 200 < 0.1);
}

// A bce model's single sigmoid output becomes two probability columns, one per class.
TEST_CASE("bce model gives two probability columns") {
    const TempDir dir;
    const std::string model = dir.path() + "/model";
    const std::string data = data_path("breast_cancer.csv");
    train_into(model, "--data " + q(data) + " --loss bce --epochs 10");
    const std::string out = dir.path() + "/pred.csv";
    const CommandResult r = run_cli("predict --model " + q(model) + " --data " + q(data) + " --output " + q(out));
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    const auto rows = read_csv(out);
    REQUIRE(rows.size() == 570);
    CHECK(rows[0] == std::vector<std::string>{"prediction", "p_benign", "p_malignant"});
    for (std::size_t i = 1; i < rows.size(); ++i) {
        REQUIRE(rows[i].size() == 3);
        const double p0 = std::stod(rows[i][1]), p1 = std::stod(rows[i][2]);
        CHECK(std::fabs(p0 + p1 - 1.0) < 1e-4);
        CHECK(rows[i][0] == (p1 > 0.5 ? "malignant" : "benign"));
    }
}

// Issue 11, defect 2: a model whose weights are finite but huge gives NaN/Inf outputs;
// evaluate and predict say so (exit 3, the rows, the first layer) and predict writes nothing.
TEST_CASE("non-finite outputs are exit 3, and predict writes nothing") {
    const TempDir dir;
    mlptrain::LoadedCheckpoint c = mlptrain::load_newest_checkpoint(iris_model(), "--model");
    mlptrain::AlignedBuffer& params = c.buffers.at("params");
    for (std::int64_t i = 0; i < params.size(); ++i) params.data()[i] *= 1e30f;  // finite, huge
    const std::string huge = dir.path() + "/huge.safetensors";
    mlptrain::save_checkpoint(huge, c.snapshot(), c.info);
    const std::string iris = q(data_path("iris.csv"));

    const CommandResult e = run_cli("evaluate --model " + q(huge) + " --data " + iris);
    INFO("evaluate: ", e.err);
    CHECK(e.exit_status == 3);
    CHECK(contains(e.err, "not finite"));
    CHECK(contains(e.err, "of 150 rows, first row "));
    CHECK(contains(e.err, "layers."));
    CHECK_FALSE(contains(e.out, "accuracy"));

    const std::string out = dir.path() + "/out/pred.csv";
    std::filesystem::create_directory(dir.path() + "/out");
    const CommandResult p = run_cli("predict --model " + q(huge) + " --data " + iris + " --output " + q(out));
    INFO("predict: ", p.err);
    CHECK(p.exit_status == 3);
    CHECK(contains(p.err, "not finite"));
    CHECK(is_empty_dir(dir.path() + "/out"));
}

// Issue 11, defect 3: an output that is an input (the data, the model) is refused with exit 2
// before anything is written; the input is intact.
TEST_CASE("predict refuses an output that is one of its inputs") {
    const TempDir dir;
    const std::string mine = dir.write_file("mine.csv", [] {
        std::ifstream in(data_path("iris.csv"));
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }());
    const auto size = std::filesystem::file_size(mine);
    expect_rejected(run_cli("predict --model " + q(iris_model()) + " --data " + q(mine) + " --output " + q(mine)),
                    {"--output", "the same file as --data"});
    // The same file through another spelling of its path.
    expect_rejected(run_cli("predict --model " + q(iris_model()) + " --data " + q(mine) + " --output " +
                            q(dir.path() + "/./mine.csv")),
                    {"--output", "the same file as --data"});
    CHECK(std::filesystem::file_size(mine) == size);
    const std::string model = iris_model() + "/latest";
    expect_rejected(run_cli("predict --model " + q(iris_model()) + " --data " + q(mine) + " --output " + q(model)),
                    {"--output", "the same file as --model"});
    CHECK(std::filesystem::file_size(mine) == size);
}

// Issue 11, defect 5: results that cannot be written to standard output are a failure with a
// message, not exit 0.
TEST_CASE("evaluate to a full disk fails") {
    const CommandResult r = test_support::run_shell("'" + test_support::binary_path() + "' evaluate --model " +
                                                    q(iris_model()) + " --data " + q(data_path("iris.csv")) + " > /dev/full");
    CHECK(r.exit_status == 2);
    CHECK(contains(r.err, "cannot write to standard output"));
}

// predict --activations L writes hidden layer L's post-activation values: equal to
// relu(W·x' + b) computed here with plain loops from the checkpoint's tensors (x' the
// standardized features), for both hidden layers of the iris model (64, 32 ReLU units).
TEST_CASE("predict --activations writes the hidden layers' activations") {
    const TempDir dir;
    const mlptrain::LoadedCheckpoint c = mlptrain::load_newest_checkpoint(iris_model(), "model");
    auto tensor = [&](const std::string& name) { return c.file.tensors.at(name).data; };
    const std::vector<float> mean = tensor("standardization.mean"), inv_std = tensor("standardization.inv_std");
    // h (out) = relu(W (out, in) · x (in) + b (out)), in double.
    auto layer = [&](int l, const std::vector<double>& x) {
        const std::vector<float> W = tensor("layers." + std::to_string(l) + ".weight");
        const std::vector<float> b = tensor("layers." + std::to_string(l) + ".bias");
        std::vector<double> h(b.size());
        for (std::size_t o = 0; o < h.size(); ++o) {
            double z = b[o];
            for (std::size_t i = 0; i < x.size(); ++i) z += double(W[o * x.size() + i]) * x[i];
            h[o] = std::max(z, 0.0);
        }
        return h;
    };
    const auto data = read_csv(data_path("iris.csv"));
    const std::string predict = "predict --model " + q(iris_model()) + " --data " + q(data_path("iris.csv"));
    for (int L : {1, 2}) {
        const std::string out = dir.path() + "/h" + std::to_string(L) + ".csv";
        const CommandResult r = run_cli(predict + " --output " + q(out) + " --activations " + std::to_string(L));
        INFO("stderr: ", r.err);
        REQUIRE(r.exit_status == 0);
        const auto rows = read_csv(out);
        const std::size_t units = L == 1 ? 64 : 32;
        REQUIRE(rows.size() == 151);
        CHECK(rows[0].front() == "h" + std::to_string(L) + "_0");
        CHECK(rows[0].back() == "h" + std::to_string(L) + "_" + std::to_string(units - 1));
        double worst = 0;
        for (std::size_t row = 1; row < rows.size(); ++row) {
            std::vector<double> x(4);
            for (std::size_t i = 0; i < 4; ++i) x[i] = (std::stod(data[row][i]) - mean[i]) * inv_std[i];
            std::vector<double> h = layer(0, x);
            if (L == 2) h = layer(1, h);
            REQUIRE(rows[row].size() == units);
            for (std::size_t j = 0; j < units; ++j)
                worst = std::max(worst, std::fabs(std::stod(rows[row][j]) - h[j]) / (1.0 + std::fabs(h[j])));
        }
        CAPTURE(L);
        CHECK(worst < 1e-5);  // 6 significant digits of text, float arithmetic
    }
    expect_rejected(run_cli(predict + " --output " + q(dir.path() + "/h3.csv") + " --activations 3"),
                    {"--activations", "(1 to 2)", "4-64-32-3"});
    expect_rejected(run_cli(predict + " --output " + q(dir.path() + "/h0.csv") + " --activations 0"), {"--activations"});
    CHECK(!std::filesystem::exists(dir.path() + "/h3.csv"));
    CHECK(!std::filesystem::exists(dir.path() + "/h0.csv"));
}

// train's "test: loss L  accuracy A  (N rows)" line.
struct TestLine {
    double loss = 0;
    std::string accuracy, rows;
};
TestLine trained_test_line(const CommandResult& train) {
    INFO("train stdout: ", train.out, "\nstderr: ", train.err);
    REQUIRE(train.exit_status == 0);
    std::smatch m;
    REQUIRE(std::regex_search(train.out, m, std::regex("test: loss ([0-9.]+)  accuracy ([0-9.]+)  \\((\\d+) rows\\)")));
    return {std::stod(m[1]), m[2], m[3]};
}

// evaluate --split test finds the run's test rows again (its data file, seed and fractions
// from the checkpoint) and reports the test result train printed: the same rows, accuracy
// and loss, for a file split three ways and for a separate --test-data file.
TEST_CASE("evaluate --split test repeats the run's test result") {
    const TempDir dir;
    const std::string wine = dir.path() + "/wine";
    const TestLine trained = trained_test_line(
        run_cli("train --data " + q(data_path("wine.csv")) + " --epochs 5 --seed 4 --checkpoint-dir " + q(wine)));
    auto evaluated = [&](const std::string& model, const std::string& part) {
        const CommandResult e = run_cli("evaluate --model " + q(model) + " --split " + part);
        INFO("stderr: ", e.err);
        REQUIRE(e.exit_status == 0);
        return e.out;
    };
    auto check_same = [](const std::string& out, const TestLine& t) {
        INFO("evaluate: ", out);
        CHECK(contains(out, "accuracy " + t.accuracy + " ("));
        CHECK(contains(out, " of " + t.rows + " rows)\n"));
        std::smatch m;
        REQUIRE(std::regex_search(out, m, std::regex("loss \\(cross_entropy\\) ([0-9.]+)\n")));
        CHECK(std::fabs(std::stod(m[1]) - t.loss) <= 0.00005 + 1e-9);  // train rounds to 4 places
    };
    check_same(evaluated(wine, "test"), trained);
    CHECK(contains(evaluated(wine, "test"), "data: the test rows of "));
    // The three parts together are the run's 178 rows.
    std::int64_t total = 0;
    for (const char* part : {"train", "validation", "test"}) {
        std::smatch m;
        const std::string out = evaluated(wine, part);
        REQUIRE(std::regex_search(out, m, std::regex("of (\\d+) rows\\)")));
        total += std::stoll(m[1]);
    }
    CHECK(total == 178);

    // A separate test file (its rows follow the training file's): every second row of iris.
    std::string first, second;
    const auto rows = read_csv(data_path("iris.csv"));
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string line;
        for (const std::string& f : rows[r]) line += (line.empty() ? "" : ",") + f;
        if (r == 0 || r % 2) first += line + "\n";
        if (r == 0 || r % 2 == 0) second += line + "\n";
    }
    const std::string iris = dir.path() + "/iris";
    const TestLine separate = trained_test_line(
        run_cli("train --train-data " + q(dir.write_file("a.csv", first)) + " --test-data " +
                q(dir.write_file("b.csv", second)) + " --epochs 5 --checkpoint-dir " + q(iris)));
    CHECK(separate.rows == "75");
    check_same(evaluated(iris, "test"), separate);

    const std::string split = "evaluate --model " + q(wine) + " --split ";
    expect_rejected(run_cli(split + "tests"), {"--split", "train, validation or test", "tests"});
    expect_rejected(run_cli(split + "test --data " + q(data_path("wine.csv"))), {"--split test", "--data"});
    const std::string none = dir.path() + "/none";
    REQUIRE(run_cli("train --data " + q(data_path("wine.csv")) + " --epochs 1 --test-fraction 0 --quiet --checkpoint-dir " +
                    q(none)).exit_status == 0);
    expect_rejected(run_cli("evaluate --model " + q(none) + " --split test"), {"test rows", "--test-fraction"});
}

// Issue 11, defect 1 for evaluate and predict: their --data is read once too, so /dev/stdin
// fed by a pipe and a named pipe give exactly the file's report and predictions (before: a
// named pipe hung, /dev/stdin was "an empty file"); a directory is the usual one-line error.
TEST_CASE("evaluate and predict read --data from a pipe like the file") {
    const TempDir dir;
    const std::string bin = "timeout 60 " + q(test_support::binary_path());
    const std::string csv = q(data_path("iris.csv"));
    const std::string model = " --model " + q(iris_model());
    const CommandResult file = run_cli("evaluate" + model + " --data " + csv);
    REQUIRE(file.exit_status == 0);
    const CommandResult piped = test_support::run_shell("cat " + csv + " | " + bin + " evaluate" + model +
                                                        " --data /dev/stdin");
    INFO("stderr: ", piped.err);
    CHECK(piped.exit_status == 0);
    // The same rows and results (the lines before name the source and time the BLAS self-test).
    CHECK(contains(piped.out, "data: /dev/stdin: 150 rows, 4 features"));
    const auto results = [](const std::string& out) { return out.substr(std::min(out.find("loss ("), out.size())); };
    CHECK(results(piped.out) == results(file.out));
    CHECK_FALSE(results(file.out).empty());

    const std::string from_file = dir.path() + "/file.csv", from_fifo = dir.path() + "/fifo-out.csv";
    REQUIRE(run_cli("predict" + model + " --data " + csv + " --output " + q(from_file)).exit_status == 0);
    const std::string fifo = dir.path() + "/fifo.csv";
    const CommandResult named = test_support::run_shell("mkfifo " + q(fifo) + " && { cat " + csv + " > " + q(fifo) +
                                                        " & } && " + bin + " predict" + model + " --data " + q(fifo) +
                                                        " --output " + q(from_fifo));
    INFO("stderr: ", named.err);
    CHECK(named.exit_status == 0);
    CHECK(read_csv(from_fifo) == read_csv(from_file));

    expect_rejected(run_cli("evaluate" + model + " --data " + q(dir.path())), {"cannot read", "Is a directory"});
}
