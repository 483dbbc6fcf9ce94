// Accuracy floors of the default settings on the bundled datasets, through the real binary
// (`mlptrain train --data FILE --seed S`, nothing else), and a regression run that learns a
// linear target. These hold the defaults in src/config.cpp to what they promise. Where the
// CPU and build run bf16, the same floors hold with bf16 GEMM inputs (`--precision bf16
// --no-fallback`: these networks are too small for bf16 to pay, so without the flag they would
// run fp32).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "bf16_here.hpp"
#include "test_support.hpp"

using test_support::CommandResult;
using test_support::data_path;
using test_support::run_cli;

namespace {

struct TestResult {
    double loss = -1.0;
    double accuracy = -1.0;  // stays -1 for regression, which prints no accuracy
    long rows = 0;
};

// Parses "test: loss L  accuracy A  (N rows)" (accuracy absent for regression) from a
// successful run.
TestResult parse_test_line(const CommandResult& r) {
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    static const std::regex pattern(
        R"((^|\n)test: loss ([0-9.]+)(  accuracy ([0-9.]+))?  \(([0-9]+) rows\)\n)");
    std::smatch match;
    REQUIRE(std::regex_search(r.out, match, pattern));
    TestResult result;
    result.loss = std::stod(match[2].str());
    if (match[4].matched) result.accuracy = std::stod(match[4].str());
    result.rows = std::stol(match[5].str());
    return result;
}

// The precisions every floor is checked in: fp32, and bf16 where the CPU and build run it.
std::vector<std::string> precision_args() {
    std::vector<std::string> args{""};
    if (mlptrain::test::bf16_runs_here())
        args.push_back(" --precision bf16 --no-fallback");
    else
        MESSAGE("bf16 floors skipped: no bf16 dot products or no oneDNN here");
    return args;
}

// Test accuracy of `mlptrain train` with default settings (and `extra` arguments) on a
// bundled dataset.
double default_accuracy(const std::string& file, int seed, const std::string& extra) {
    const CommandResult r =
        run_cli("train --data '" + data_path(file) + "' --seed " + std::to_string(seed) + extra);
    const TestResult t = parse_test_line(r);
    if (!extra.empty()) CHECK(test_support::contains(r.out, "bf16 inputs, fp32 accumulation"));  // no fallback
    REQUIRE(t.rows > 0);
    REQUIRE(t.accuracy >= 0.0);
    REQUIRE(t.accuracy <= 1.0);
    return t.accuracy;
}

// The mean over seeds 1, 2, 3 of the default test accuracy, each seed's printed.
double mean_accuracy(const std::string& file, const std::string& extra) {
    double sum = 0.0;
    for (int seed = 1; seed <= 3; ++seed) {
        const double accuracy = default_accuracy(file, seed, extra);
        MESSAGE(file << extra << " seed " << seed << ": test accuracy " << accuracy);
        sum += accuracy;
    }
    MESSAGE(file << extra << " mean test accuracy " << sum / 3.0);
    return sum / 3.0;
}

}  // namespace

// With default settings, iris reaches ≥ 0.93 test accuracy for each of seeds 1, 2 and 3.
TEST_CASE("accuracy: iris, every seed") {
    for (const std::string& extra : precision_args()) {
        CAPTURE(extra);
        for (int seed = 1; seed <= 3; ++seed) {
            const double accuracy = default_accuracy("iris.csv", seed, extra);
            MESSAGE("iris.csv" << extra << " seed " << seed << ": test accuracy " << accuracy);
            CHECK(accuracy >= 0.93);
        }
    }
}

// With default settings, wine's mean test accuracy over seeds 1–3 is ≥ 0.94.
TEST_CASE("accuracy: wine, mean over seeds") {
    for (const std::string& extra : precision_args()) CHECK(mean_accuracy("wine.csv", extra) >= 0.94);
}

// With default settings, breast_cancer's mean test accuracy over seeds 1–3 is ≥ 0.95.
TEST_CASE("accuracy: breast_cancer, mean over seeds") {
    for (const std::string& extra : precision_args()) CHECK(mean_accuracy("breast_cancer.csv", extra) >= 0.95);
}

// With default settings, digits' mean test accuracy over seeds 1–3 is ≥ 0.95.
TEST_CASE("accuracy: digits, mean over seeds") {
    for (const std::string& extra : precision_args()) CHECK(mean_accuracy("digits.csv", extra) >= 0.95);
}

// --loss mse learns y = 2·x1 − x2: the test MSE ends far below var(y), the loss of predicting
// the mean.
TEST_CASE("accuracy: regression on a linear target") {
    const test_support::TempDir dir;
    // Raw mt19937 outputs are specified by the standard, so the file is the same everywhere.
    std::mt19937 bits(20240607);
    auto uniform = [&bits]() { return static_cast<double>(bits() >> 8) / 16777216.0 * 2.0 - 1.0; };
    std::string csv = "x1,x2,y\n";
    double sum = 0.0, sum_sq = 0.0;
    const int rows = 200;
    for (int i = 0; i < rows; ++i) {
        const double x1 = uniform(), x2 = uniform();
        char line[96];
        std::snprintf(line, sizeof line, "%.6f,%.6f,%.6f\n", x1, x2, 2.0 * x1 - x2);
        csv += line;
        // Statistics of y as written, so the rounding of the file does not matter.
        double y = 0.0;
        std::sscanf(std::strrchr(line, ',') + 1, "%lf", &y);
        sum += y;
        sum_sq += y * y;
    }
    const double mean = sum / rows;
    const double variance = sum_sq / rows - mean * mean;
    const std::string path = dir.write_file("linear.csv", csv);

    const CommandResult r = run_cli("train --data '" + path + "' --loss mse --seed 1 --quiet");
    const TestResult t = parse_test_line(r);
    MESSAGE("linear target: var(y) " << variance << ", test MSE " << t.loss << " over " << t.rows
                                     << " rows");
    CHECK(t.rows == 40);
    CHECK(t.accuracy < 0.0);  // no accuracy for a numeric target
    CHECK(t.loss >= 0.0);
    CHECK(t.loss < 0.05 * variance);
}

// Issue 11, defect 10: a regression target far from unit scale (mean ~150, sd ~77, like the
// diabetes data) trains with the default settings: the targets are standardized, and the test
// RMSE and R² are reported in the original units, R² well above predicting the mean.
TEST_CASE("accuracy: regression with defaults on a diabetes-like target") {
    const test_support::TempDir dir;
    std::mt19937 bits(77);
    auto normal = [&bits]() {  // Box-Muller from raw mt19937 words (specified by the standard)
        const double u1 = (static_cast<double>(bits()) + 1.0) / 4294967297.0, u2 = static_cast<double>(bits()) / 4294967296.0;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    };
    std::string csv = "age,bmi,bp,s1,s2,target\n";
    for (int i = 0; i < 442; ++i) {
        double x[5];
        for (double& v : x) v = normal();
        const double y = 152.0 + 30.0 * x[0] + 45.0 * x[1] - 20.0 * x[2] + 15.0 * x[3] * x[4] + 35.0 * normal();
        char line[160];
        std::snprintf(line, sizeof line, "%.4f,%.4f,%.4f,%.4f,%.4f,%.1f\n", x[0], x[1], x[2], x[3], x[4], y);
        csv += line;
    }
    const std::string path = dir.write_file("diabetes-like.csv", csv);
    const CommandResult r = run_cli("train --data '" + path + "' --loss mse");
    const TestResult t = parse_test_line(r);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex("test: rmse ([0-9.]+)  r2 ([-0-9.]+)  \\(predicting the mean: rmse ([0-9.]+)\\)")));
    const double rmse = std::stod(m[1]), r2 = std::stod(m[2]), mean_rmse = std::stod(m[3]);
    MESSAGE("diabetes-like: test mse " << t.loss << ", rmse " << rmse << ", r2 " << r2 << ", mean predictor rmse " << mean_rmse);
    CHECK(std::isfinite(t.loss));
    CHECK(rmse == doctest::Approx(std::sqrt(t.loss)).epsilon(1e-3));
    CHECK(mean_rmse > 50.0);  // original units, not standardized ones
    CHECK(rmse < 0.8 * mean_rmse);
    CHECK(r2 > 0.4);
}
