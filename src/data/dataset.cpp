// Dataset operations (see dataset.hpp): standardization, the seeded stratified split, and
// the gather of a batch's rows. The split draws from RngPurpose::split only, so it is a
// pure function of (data, fractions, seed).
#include "mlptrain/data/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <utility>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/metrics.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/core/simd.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {
namespace {

// Feature (row, col) as gather_features returns it: float data as stored, uint8 scaled.
double feature_value(const Dataset& data, std::int64_t row, std::int64_t col) {
    const std::size_t i = static_cast<std::size_t>(row * data.features + col);
    if (!data.x.empty()) return data.x[i];
    return static_cast<double>(data.x_u8[i] * data.u8_scale);
}

void check_rows(const Dataset& data, const std::int64_t* rows, std::int64_t n) {
    MLPTRAIN_ASSERT(n >= 0 && (n == 0 || rows != nullptr), "gather: bad row list");
    for (std::int64_t i = 0; i < n; ++i)
        MLPTRAIN_ASSERT(rows[i] >= 0 && rows[i] < data.rows,
                        "gather: row index " + std::to_string(rows[i]) + " outside [0, " +
                            std::to_string(data.rows) + ")");
}

// How many of `count` rows go to validation and test: round(fraction × count) each, then
// trimmed (the larger part first, test on ties) until at least one row is left to train.
void part_sizes(std::int64_t count, double validation_fraction, double test_fraction,
                std::int64_t& n_validation, std::int64_t& n_test) {
    n_validation = static_cast<std::int64_t>(std::llround(validation_fraction * count));
    n_test = static_cast<std::int64_t>(std::llround(test_fraction * count));
    while (count > 0 && n_validation + n_test > count - 1) {
        if (n_test >= n_validation)
            --n_test;
        else
            --n_validation;
    }
}

// Permuted rows: the first n_validation to validation, the next n_test to test, the rest
// to train.
void deal_rows(const std::vector<std::int64_t>& permuted, std::int64_t n_validation,
               std::int64_t n_test, Split& split) {
    const auto begin = permuted.begin();
    split.validation.insert(split.validation.end(), begin, begin + n_validation);
    split.test.insert(split.test.end(), begin + n_validation, begin + n_validation + n_test);
    split.train.insert(split.train.end(), begin + n_validation + n_test, permuted.end());
}

void check_part(const std::vector<std::int64_t>& part, double fraction, const char* name,
                const Dataset& data) {
    if (fraction <= 0.0 || !part.empty()) return;
    const std::string rule = data.is_classification()
                                 ? "round(fraction x rows of each class) is 0, or each class "
                                   "needs its rows for training"
                                 : "round(fraction x rows) is 0";
    throw Error(describe(
        data.source + ": " + name + " fraction " + format_number(fraction),
        "at least one " + std::string(name) + " row", "0 of " + std::to_string(data.rows) + " rows",
        rule + "; use a larger " + name + " fraction, or 0 to disable the " + name + " set"));
}

// Mean and inverse standard deviation of each of `columns` columns of value(row, col) over
// `rows`. Two passes in double: the mean, then the squared deviations from it (no
// cancellation from E[x²] − E[x]²).
template <typename Value>
Standardization fit_columns(const std::vector<std::int64_t>& rows, std::int64_t columns, const Value& value) {
    const double n = static_cast<double>(rows.size());
    Standardization s;
    s.mean.assign(columns, 0.0f);
    s.inv_std.assign(columns, 1.0f);
    for (std::int64_t c = 0; c < columns; ++c) {
        double sum = 0.0, lo = value(rows[0], c), hi = lo;
        for (const std::int64_t r : rows) {
            const double v = value(r, c);
            sum += v;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        if (lo == hi) {
            // Constant: subtract the exact value so the column becomes exactly 0; a computed
            // std would be rounding noise, and 1/noise would blow it up.
            s.mean[c] = static_cast<float>(lo);
            continue;
        }
        const double mean = sum / n;
        double squares = 0.0;
        for (const std::int64_t r : rows) {
            const double d = value(r, c) - mean;
            squares += d * d;
        }
        const double std_dev = std::sqrt(squares / n);  // population std, as StandardScaler
        s.mean[c] = static_cast<float>(mean);
        s.inv_std[c] = std_dev > 0.0 ? static_cast<float>(1.0 / std_dev) : 1.0f;
    }
    return s;
}

// x' = (x − mean)·inv_std over `rows` rows of s.mean.size() columns, in place.
void standardize_rows(float* values, std::int64_t rows, const Standardization& s) {
    const auto columns = static_cast<std::int64_t>(s.mean.size());
    for (std::int64_t r = 0; r < rows; ++r) {
        float* x = values + r * columns;
        for (std::int64_t c = 0; c < columns; ++c) x[c] = (x[c] - s.mean[c]) * s.inv_std[c];
    }
}

}  // namespace

Standardization fit_standardization(const Dataset& data, const std::vector<std::int64_t>& rows) {
    MLPTRAIN_ASSERT(!rows.empty(), "fit_standardization needs at least one row");
    check_rows(data, rows.data(), static_cast<std::int64_t>(rows.size()));
    return fit_columns(rows, data.features, [&](std::int64_t r, std::int64_t c) { return feature_value(data, r, c); });
}

Standardization fit_target_standardization(const Dataset& data, const std::vector<std::int64_t>& rows) {
    MLPTRAIN_ASSERT(!rows.empty(), "fit_target_standardization needs at least one row");
    check_rows(data, rows.data(), static_cast<std::int64_t>(rows.size()));
    MLPTRAIN_ASSERT(static_cast<std::int64_t>(data.y.size()) == data.rows * data.outputs, "dataset has no targets");
    return fit_columns(rows, data.outputs, [&](std::int64_t r, std::int64_t c) {
        return static_cast<double>(data.y[static_cast<std::size_t>(r * data.outputs + c)]);
    });
}

void apply_target_standardization(Dataset& data, const Standardization& s) {
    MLPTRAIN_ASSERT(static_cast<std::int64_t>(s.mean.size()) == data.outputs &&
                        static_cast<std::int64_t>(data.y.size()) == data.rows * data.outputs,
                    "target standardization does not fit the targets");
    standardize_rows(data.y.data(), data.rows, s);
}

void undo_standardization(float* values, std::int64_t rows, const Standardization& s) {
    const auto columns = static_cast<std::int64_t>(s.mean.size());
    for (std::int64_t r = 0; r < rows; ++r) {
        float* v = values + r * columns;
        for (std::int64_t c = 0; c < columns; ++c) v[c] = v[c] / s.inv_std[c] + s.mean[c];
    }
}

void apply_standardization(Dataset& data, const Standardization& s) {
    if (data.x.empty()) return;  // uint8 data keeps its bytes; it is scaled when gathered
    const std::int64_t features = data.features;
    MLPTRAIN_ASSERT(static_cast<std::int64_t>(s.mean.size()) == features &&
                        static_cast<std::int64_t>(s.inv_std.size()) == features,
                    "standardization has " + std::to_string(s.mean.size()) +
                        " features, data has " + std::to_string(features));
    MLPTRAIN_ASSERT(static_cast<std::int64_t>(data.x.size()) == data.rows * features,
                    "dataset x has the wrong size");
    standardize_rows(data.x.data(), data.rows, s);
}

Split split_dataset(const Dataset& data, double validation_fraction, double test_fraction,
                    std::uint64_t seed) {
    const bool valid = std::isfinite(validation_fraction) && std::isfinite(test_fraction) &&
                       validation_fraction >= 0.0 && test_fraction >= 0.0 &&
                       validation_fraction + test_fraction < 1.0;
    if (!valid)
        throw Error(describe("split fractions",
                             "validation and test fractions >= 0 with a sum below 1",
                             "validation " + format_number(validation_fraction) + " and test " +
                                 format_number(test_fraction),
                             "for example 0.1 and 0.1; use 0 to disable a part"));
    if (data.rows <= 0) throw Error(describe(data.source, "at least one row", "an empty dataset"));

    Split split;
    if (data.is_classification()) {
        MLPTRAIN_ASSERT(static_cast<std::int64_t>(data.labels.size()) == data.rows,
                        "labels do not match rows");
        // Stratified: each class is permuted on its own stream (stream = class index),
        // so one class's split does not depend on how many rows the others have.
        std::vector<std::vector<std::int64_t>> by_class(data.class_names.size());
        for (std::int64_t r = 0; r < data.rows; ++r) {
            const std::int32_t label = data.labels[r];
            MLPTRAIN_ASSERT(label >= 0 && label < data.num_classes(), "label out of range");
            by_class[label].push_back(r);
        }
        for (std::size_t c = 0; c < by_class.size(); ++c) {
            std::vector<std::int64_t>& rows = by_class[c];
            shuffle_indices(rows, seed, RngPurpose::split, static_cast<std::uint32_t>(c));
            std::int64_t n_validation = 0, n_test = 0;
            part_sizes(static_cast<std::int64_t>(rows.size()), validation_fraction, test_fraction,
                       n_validation, n_test);
            deal_rows(rows, n_validation, n_test, split);
        }
    } else {
        std::vector<std::int64_t> rows(static_cast<std::size_t>(data.rows));
        for (std::int64_t r = 0; r < data.rows; ++r) rows[r] = r;
        shuffle_indices(rows, seed, RngPurpose::split, 0);
        std::int64_t n_validation = 0, n_test = 0;
        part_sizes(data.rows, validation_fraction, test_fraction, n_validation, n_test);
        deal_rows(rows, n_validation, n_test, split);
    }
    std::sort(split.train.begin(), split.train.end());
    std::sort(split.validation.begin(), split.validation.end());
    std::sort(split.test.begin(), split.test.end());
    check_part(split.validation, validation_fraction, "validation", data);
    check_part(split.test, test_fraction, "test", data);
    return split;
}

// A gather's destination holds at least n rows of exactly `cols` columns.
static void check_destination(Matrix M, std::int64_t n, std::int64_t cols, const char* what) {
    MLPTRAIN_ASSERT(M.rows >= n && M.cols == cols && M.ld >= M.cols,
                    std::string(what) + " is " + std::to_string(M.rows) + "x" + std::to_string(M.cols) +
                        ", need " + std::to_string(n) + "x" + std::to_string(cols));
}

// dst[c] = src[c]·scale: one uint8 image row to floats, at the machine's vector width.
MLPTRAIN_VECTOR_CLONES
static void scale_bytes(float* dst, const std::uint8_t* src, std::int64_t n, float scale) {
    for (std::int64_t c = 0; c < n; ++c) dst[c] = static_cast<float>(src[c]) * scale;
}

void gather_features(Matrix X, const Dataset& data, const std::int64_t* rows, std::int64_t n) {
    // X (n, features)
    const std::int64_t features = data.features;
    check_destination(X, n, features, "gather_features: X");
    check_rows(data, rows, n);
    const auto size = static_cast<std::size_t>(data.rows * features);
    if (!data.x.empty()) {
        MLPTRAIN_ASSERT(data.x.size() == size, "dataset x has the wrong size");
        for (std::int64_t i = 0; i < n; ++i)
            std::memcpy(X.row(i), data.x.data() + rows[i] * features,
                        static_cast<std::size_t>(features) * sizeof(float));
    } else {
        MLPTRAIN_ASSERT(data.x_u8.size() == size, "dataset x_u8 has the wrong size");
        for (std::int64_t i = 0; i < n; ++i)
            scale_bytes(X.row(i), data.x_u8.data() + rows[i] * features, features, data.u8_scale);
    }
}

void gather_labels(std::int32_t* labels, const Dataset& data, const std::int64_t* rows,
                   std::int64_t n) {
    MLPTRAIN_ASSERT(static_cast<std::int64_t>(data.labels.size()) == data.rows,
                    "gather_labels: dataset has no class labels");
    check_rows(data, rows, n);
    for (std::int64_t i = 0; i < n; ++i) labels[i] = data.labels[rows[i]];
}

void gather_targets(Matrix T, const Dataset& data, const std::int64_t* rows, std::int64_t n) {
    // T (n, outputs)
    const std::int64_t outputs = data.outputs;
    check_destination(T, n, outputs, "gather_targets: T");
    MLPTRAIN_ASSERT(static_cast<std::int64_t>(data.y.size()) == data.rows * outputs,
                    "gather_targets: dataset has no regression targets");
    check_rows(data, rows, n);
    for (std::int64_t i = 0; i < n; ++i)
        std::memcpy(T.row(i), data.y.data() + rows[i] * outputs,
                    static_cast<std::size_t>(outputs) * sizeof(float));
}

void keep_first_rows(Dataset& data, std::int64_t n) {
    MLPTRAIN_ASSERT(n >= 0, "keep_first_rows: negative count");
    if (n >= data.rows) return;
    const auto rows = static_cast<std::size_t>(n);
    if (!data.x.empty()) data.x.resize(rows * static_cast<std::size_t>(data.features));
    if (!data.x_u8.empty()) data.x_u8.resize(rows * static_cast<std::size_t>(data.features));
    if (!data.labels.empty()) data.labels.resize(rows);
    if (!data.y.empty()) data.y.resize(rows * static_cast<std::size_t>(data.outputs));
    data.rows = n;
}

void keep_rows(Dataset& data, const std::vector<std::int64_t>& rows) {
    // Row r's block of `width` values in `values`, for each kept row in order.
    auto select = [&](auto& values, std::int64_t width) {
        if (values.empty()) return;
        std::remove_reference_t<decltype(values)> kept;
        kept.reserve(rows.size() * static_cast<std::size_t>(width));
        for (const std::int64_t r : rows) {
            MLPTRAIN_ASSERT(r >= 0 && r < data.rows, "keep_rows: row out of range");
            kept.insert(kept.end(), values.begin() + r * width, values.begin() + (r + 1) * width);
        }
        values = std::move(kept);
    };
    select(data.x, data.features);
    select(data.x_u8, data.features);
    select(data.labels, 1);
    select(data.y, data.outputs);
    data.rows = static_cast<std::int64_t>(rows.size());
}

void remap_classes(Dataset& data, const std::vector<std::string>& names, const std::string& expected,
                   const std::string& hint) {
    std::map<std::string, std::int32_t> index;
    for (std::size_t i = 0; i < names.size(); ++i) index[names[i]] = static_cast<std::int32_t>(i);
    std::vector<std::int32_t> remap;
    for (const std::string& name : data.class_names) {
        const auto it = index.find(name);
        if (it == index.end()) throw Error(describe(data.source, expected, "class " + quote(name), hint));
        remap.push_back(it->second);
    }
    for (std::int32_t& label : data.labels) label = remap[static_cast<std::size_t>(label)];
    data.class_names = names;
}

std::vector<std::int64_t> append_rows(Dataset& data, const Dataset& extra) {
    if (extra.x_u8.empty() != data.x_u8.empty())
        throw Error(describe(extra.source, std::string("the same kind of file as ") + data.source +
                                               (data.x_u8.empty() ? " (CSV)" : " (IDX images)"),
                             extra.x_u8.empty() ? "a CSV file" : "IDX images",
                             "give " + field_ref("train_data") + " and " + field_ref("test_data") + " in one format"));
    if (extra.features != data.features)
        throw Error(describe(extra.source, std::to_string(data.features) + " feature columns like " + data.source,
                             std::to_string(extra.features)));
    std::vector<std::int64_t> rows;
    for (std::int64_t r = 0; r < extra.rows; ++r) rows.push_back(data.rows + r);
    data.x.insert(data.x.end(), extra.x.begin(), extra.x.end());
    data.x_u8.insert(data.x_u8.end(), extra.x_u8.begin(), extra.x_u8.end());
    data.labels.insert(data.labels.end(), extra.labels.begin(), extra.labels.end());
    data.y.insert(data.y.end(), extra.y.begin(), extra.y.end());
    data.rows += extra.rows;
    data.source += " + " + extra.source;
    return rows;
}

std::string dataset_hash(const Dataset& d) {
    std::uint64_t hash = fingerprint64(reinterpret_cast<const unsigned char*>(&d.rows), sizeof d.rows);
    auto mix = [&hash](const void* bytes, std::size_t size) {
        // Chained: each part's hash feeds the next, so parts cannot trade bytes.
        hash ^= fingerprint64(static_cast<const unsigned char*>(bytes), static_cast<std::int64_t>(size));
        hash *= 0x100000001b3ull;
    };
    mix(&d.features, sizeof d.features);
    mix(d.x.data(), d.x.size() * sizeof(float));
    mix(d.x_u8.data(), d.x_u8.size());
    mix(d.labels.data(), d.labels.size() * sizeof(std::int32_t));
    for (const std::string& name : d.class_names) mix(name.data(), name.size() + 1);
    mix(d.y.data(), d.y.size() * sizeof(float));
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    return text;
}

}  // namespace mlptrain
