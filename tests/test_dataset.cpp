// Tests for dataset operations: standardization fitted on training rows, the seeded
// stratified split, keeping chosen rows, and gathering rows (float and scaled uint8) into
// batch matrices.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mlptrain/data/csv.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/core/error.hpp"
#include "test_support.hpp"

using mlptrain::Dataset;
using mlptrain::Split;

namespace {

Dataset load_iris() { return mlptrain::load_csv(test_support::data_path("iris.csv"), {}); }

// A classification dataset with `per_class[c]` rows of class c and one feature = row index.
Dataset make_classes(const std::vector<int>& per_class) {
    Dataset data;
    data.source = "synthetic";
    data.features = 1;
    data.feature_names = {"f"};
    for (std::size_t c = 0; c < per_class.size(); ++c) {
        data.class_names.push_back("c" + std::to_string(c));
        for (int i = 0; i < per_class[c]; ++i) {
            data.x.push_back(static_cast<float>(data.rows++));
            data.labels.push_back(static_cast<std::int32_t>(c));
        }
    }
    return data;
}

Dataset make_regression(std::int64_t rows) {
    Dataset data;
    data.source = "synthetic";
    data.features = 1;
    data.feature_names = {"f"};
    data.outputs = 1;
    data.rows = rows;
    for (std::int64_t r = 0; r < rows; ++r) {
        data.x.push_back(static_cast<float>(r));
        data.y.push_back(static_cast<float>(2 * r));
    }
    return data;
}

std::string split_error(const Dataset& data, double validation, double test) {
    try {
        mlptrain::split_dataset(data, validation, test, 1);
    } catch (const mlptrain::Error& e) {
        return e.what();
    }
    return "";
}

// Checks that the three parts are ascending, disjoint and together cover 0..rows-1.
void check_partition(const Split& split, std::int64_t rows) {
    CHECK(std::is_sorted(split.train.begin(), split.train.end()));
    CHECK(std::is_sorted(split.validation.begin(), split.validation.end()));
    CHECK(std::is_sorted(split.test.begin(), split.test.end()));
    std::vector<std::int64_t> all = split.train;
    all.insert(all.end(), split.validation.begin(), split.validation.end());
    all.insert(all.end(), split.test.begin(), split.test.end());
    std::sort(all.begin(), all.end());
    REQUIRE(static_cast<std::int64_t>(all.size()) == rows);
    for (std::int64_t r = 0; r < rows; ++r) CHECK(all[r] == r);
}

std::vector<int> class_counts(const Dataset& data, const std::vector<std::int64_t>& rows) {
    std::vector<int> counts(data.class_names.size(), 0);
    for (const auto r : rows) counts[data.labels[r]]++;
    return counts;
}

}  // namespace

// After fitting on the training rows and applying, each feature has mean 0 and std 1 there.
TEST_CASE("dataset: standardization gives zero mean and unit std on train rows") {
    Dataset data = load_iris();
    const Split split = mlptrain::split_dataset(data, 0.2, 0.2, 7);
    const mlptrain::Standardization s = mlptrain::fit_standardization(data, split.train);
    REQUIRE(s.mean.size() == 4);
    REQUIRE(s.inv_std.size() == 4);
    mlptrain::apply_standardization(data, s);
    for (std::int64_t c = 0; c < data.features; ++c) {
        double sum = 0.0, squares = 0.0;
        for (const auto r : split.train) sum += data.x[r * data.features + c];
        const double mean = sum / static_cast<double>(split.train.size());
        for (const auto r : split.train) {
            const double d = data.x[r * data.features + c] - mean;
            squares += d * d;
        }
        const double std_dev = std::sqrt(squares / static_cast<double>(split.train.size()));
        CAPTURE(c);
        CHECK(std::fabs(mean) < 1e-5);
        CHECK(std::fabs(std_dev - 1.0) < 1e-5);
    }
}

// The fitted mean and 1/std match a direct computation (population std, in double).
TEST_CASE("dataset: standardization values") {
    Dataset data = make_classes({2, 2});
    data.x = {1.0f, 2.0f, 3.0f, 10.0f};
    const mlptrain::Standardization s = mlptrain::fit_standardization(data, {0, 1, 2});
    CHECK(s.mean[0] == doctest::Approx(2.0));
    CHECK(s.inv_std[0] == doctest::Approx(1.0 / std::sqrt(2.0 / 3.0)));
}

// A constant feature gets inv_std 1 and its value subtracted, so it becomes exactly 0.
TEST_CASE("dataset: constant feature") {
    Dataset data;
    data.features = 2;
    data.rows = 3;
    data.x = {0.1f, 1.0f, 0.1f, 2.0f, 0.1f, 4.0f};
    data.class_names = {"a", "b"};
    data.labels = {0, 1, 0};
    const mlptrain::Standardization s = mlptrain::fit_standardization(data, {0, 1, 2});
    CHECK(s.inv_std[0] == 1.0f);
    CHECK(s.mean[0] == 0.1f);
    CHECK(s.inv_std[1] != 1.0f);
    mlptrain::apply_standardization(data, s);
    CHECK(data.x[0] == 0.0f);
    CHECK(data.x[2] == 0.0f);
    CHECK(data.x[4] == 0.0f);
    for (const float v : data.x) CHECK(std::isfinite(v));
}

// Applying a standardization leaves uint8 data untouched (it is scaled when gathered).
TEST_CASE("dataset: standardization leaves uint8 data unchanged") {
    Dataset data;
    data.features = 2;
    data.rows = 2;
    data.x_u8 = {0, 255, 10, 20};
    const mlptrain::Standardization s = mlptrain::fit_standardization(data, {0, 1});
    CHECK(s.mean[0] == doctest::Approx(5.0 / 255.0));
    mlptrain::apply_standardization(data, s);
    CHECK(data.x_u8 == std::vector<std::uint8_t>{0, 255, 10, 20});
    CHECK(data.x.empty());
}

// The iris split is stratified: 10/10/30 rows of each class, disjoint, covering all rows.
TEST_CASE("dataset: stratified split of iris") {
    const Dataset data = load_iris();
    const Split split = mlptrain::split_dataset(data, 0.2, 0.2, 42);
    check_partition(split, data.rows);
    CHECK(class_counts(data, split.train) == std::vector<int>{30, 30, 30});
    CHECK(class_counts(data, split.validation) == std::vector<int>{10, 10, 10});
    CHECK(class_counts(data, split.test) == std::vector<int>{10, 10, 10});
}

// Each class contributes round(fraction × count) rows and always keeps a training row.
TEST_CASE("dataset: per-class rounding keeps a training row") {
    const Dataset data = make_classes({1, 2, 7, 100});
    const Split split = mlptrain::split_dataset(data, 0.25, 0.25, 3);
    check_partition(split, data.rows);
    // count 1: round(0.25) = 0 each; 2: round(0.5) = 1 each, test trimmed so one row
    // trains; 7: round(1.75) = 2 each; 100: 25 each.
    CHECK(class_counts(data, split.validation) == std::vector<int>{0, 1, 2, 25});
    CHECK(class_counts(data, split.test) == std::vector<int>{0, 0, 2, 25});
    CHECK(class_counts(data, split.train) == std::vector<int>{1, 1, 3, 50});
}

// The split is a pure function of the seed: same seed same split, other seed other split.
TEST_CASE("dataset: split is reproducible per seed") {
    const Dataset data = load_iris();
    const Split a = mlptrain::split_dataset(data, 0.2, 0.1, 5);
    const Split b = mlptrain::split_dataset(data, 0.2, 0.1, 5);
    const Split c = mlptrain::split_dataset(data, 0.2, 0.1, 6);
    CHECK(a.train == b.train);
    CHECK(a.validation == b.validation);
    CHECK(a.test == b.test);
    CHECK(a.validation != c.validation);
    CHECK(a.test != c.test);
    // Without validation/test every row trains.
    const Split none = mlptrain::split_dataset(data, 0.0, 0.0, 5);
    CHECK(none.train.size() == 150);
    CHECK(none.validation.empty());
    CHECK(none.test.empty());
}

// A regression dataset is cut by the fractions from one seeded permutation.
TEST_CASE("dataset: regression split") {
    const Dataset data = make_regression(100);
    const Split a = mlptrain::split_dataset(data, 0.1, 0.2, 9);
    check_partition(a, 100);
    CHECK(a.validation.size() == 10);
    CHECK(a.test.size() == 20);
    CHECK(a.train.size() == 70);
    CHECK(mlptrain::split_dataset(data, 0.1, 0.2, 9).test == a.test);
    CHECK(mlptrain::split_dataset(data, 0.1, 0.2, 10).test != a.test);
    // The parts are not just the first or last rows.
    CHECK(a.test.back() - a.test.front() > 20);
}

// Invalid fractions and parts that come out empty throw Error with a hint.
TEST_CASE("dataset: impossible fractions") {
    const Dataset iris = load_iris();
    CHECK(split_error(iris, -0.1, 0.1).find("fractions") != std::string::npos);
    CHECK(split_error(iris, 0.5, 0.5).find("sum below 1") != std::string::npos);
    CHECK(split_error(iris, 0.7, 0.6) != "");
    CHECK(split_error(iris, std::nan(""), 0.1) != "");
    CHECK(split_error(iris, 0.1, 0.1) == "");

    const std::string tiny = split_error(iris, 0.0, 0.001);
    CHECK(tiny.find("test fraction 0.001") != std::string::npos);
    CHECK(tiny.find("0 to disable") != std::string::npos);
    const std::string val = split_error(make_regression(10), 0.01, 0.0);
    CHECK(val.find("validation fraction 0.01") != std::string::npos);
    // Every class has a single row, which it keeps for training.
    CHECK(split_error(make_classes({1, 1, 1}), 0.3, 0.0).find("validation") != std::string::npos);
}

// gather_features copies float rows and scales uint8 pixels by u8_scale, honoring ld.
TEST_CASE("dataset: gather features, labels and targets") {
    Dataset bytes;
    bytes.features = 3;
    bytes.rows = 2;
    bytes.x_u8 = {0, 255, 128, 1, 2, 3};
    std::vector<float> buffer(2 * 4, -7.0f);
    const mlptrain::Matrix X{buffer.data(), 2, 3, 4};
    const std::int64_t rows[] = {1, 0};
    mlptrain::gather_features(X, bytes, rows, 2);
    const float scale = bytes.u8_scale;
    CHECK(X(0, 0) == 1.0f * scale);
    CHECK(X(0, 2) == 3.0f * scale);
    CHECK(X(1, 0) == 0.0f);
    CHECK(X(1, 1) == doctest::Approx(1.0));
    CHECK(X(1, 2) == 128.0f * scale);
    CHECK(X(1, 2) == doctest::Approx(128.0 / 255.0));
    CHECK(buffer[3] == -7.0f);  // padding between rows is left alone

    const Dataset data = make_classes({2, 3});
    const std::int64_t picks[] = {4, 0, 2};
    std::vector<float> out(3);
    mlptrain::gather_features(mlptrain::make_matrix(out.data(), 3, 1), data, picks, 3);
    CHECK(out == std::vector<float>{4, 0, 2});
    std::int32_t labels[3] = {-1, -1, -1};
    mlptrain::gather_labels(labels, data, picks, 3);
    CHECK(labels[0] == 1);
    CHECK(labels[1] == 0);
    CHECK(labels[2] == 1);

    const Dataset reg = make_regression(5);
    std::vector<float> targets(3);
    mlptrain::gather_targets(mlptrain::make_matrix(targets.data(), 3, 1), reg, picks, 3);
    CHECK(targets == std::vector<float>{8, 0, 4});
}

// keep_rows keeps the named rows in their order: features, labels and targets together.
TEST_CASE("dataset: keep_rows") {
    Dataset data = make_classes({2, 3});
    mlptrain::keep_rows(data, {4, 0, 2});
    CHECK(data.rows == 3);
    CHECK(data.x == std::vector<float>{4, 0, 2});
    CHECK(data.labels == std::vector<std::int32_t>{1, 0, 1});
    CHECK(data.class_names.size() == 2);

    Dataset reg = make_regression(5);
    mlptrain::keep_rows(reg, {3, 1});
    CHECK(reg.x == std::vector<float>{3, 1});
    CHECK(reg.y == std::vector<float>{6, 2});

    Dataset bytes;
    bytes.features = 2;
    bytes.rows = 3;
    bytes.x_u8 = {1, 2, 3, 4, 5, 6};
    bytes.labels = {0, 1, 2};
    mlptrain::keep_rows(bytes, {2});
    CHECK(bytes.x_u8 == std::vector<std::uint8_t>{5, 6});
    CHECK(bytes.labels == std::vector<std::int32_t>{2});
    CHECK(bytes.x.empty());
}
