// The in-memory dataset: features and targets, the train/validation/test split, feature
// standardization, and the gather of a batch's rows into a matrix. Loaders (csv.hpp,
// idx.hpp) only parse and validate; everything they produce is a Dataset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/core/matrix.hpp"

namespace mlptrain {

struct Dataset {
    std::string source;                      // file name(s), for messages
    std::int64_t rows = 0;                   // samples
    std::int64_t features = 0;               // columns of x
    std::vector<std::string> feature_names;  // `features` names (header or generated)

    // Features, rows × features row-major. Exactly one of the two is filled: float data
    // (CSV), or uint8 pixels (IDX) that gather_features scales by u8_scale.
    std::vector<float> x;
    std::vector<std::uint8_t> x_u8;
    float u8_scale = 1.0f / 255.0f;

    // Classification: a class index per row into class_names (sorted, see csv.hpp).
    std::vector<std::int32_t> labels;
    std::vector<std::string> class_names;
    // Regression: rows × outputs targets (mse).
    std::vector<float> y;
    std::int64_t outputs = 0;

    bool is_classification() const { return !class_names.empty(); }
    std::int64_t num_classes() const { return static_cast<std::int64_t>(class_names.size()); }
};

// Per-feature affine map x' = (x - mean) * inv_std, fitted on the training rows only and
// stored with the model so that evaluation applies the same map.
struct Standardization {
    std::vector<float> mean;
    std::vector<float> inv_std;  // 1/std; 1 for constant features (std 0)
    bool empty() const { return mean.empty(); }
};

// Mean and standard deviation of each feature over `rows` (computed in double).
Standardization fit_standardization(const Dataset& data, const std::vector<std::int64_t>& rows);
// Applies `s` to every row of the float features in place (uint8 data is left unchanged).
void apply_standardization(Dataset& data, const Standardization& s);

// The same for regression targets (y): fitted on the training rows, so that a target with a
// mean of 150 and a deviation of 77 trains at the default learning rate like any other.
Standardization fit_target_standardization(const Dataset& data, const std::vector<std::int64_t>& rows);
void apply_target_standardization(Dataset& data, const Standardization& s);
// values (rows × s.mean.size(), row-major) back to original units: v / inv_std + mean.
void undo_standardization(float* values, std::int64_t rows, const Standardization& s);

// FNV-1a 64 of the dataset's size and contents (features, labels and class names, targets)
// as 16 hex digits: what identifies data whatever path it was read from.
std::string dataset_hash(const Dataset& data);

// Keeps only the first `n` rows (for quick runs on a subset); no-op if n ≥ rows.
void keep_first_rows(Dataset& data, std::int64_t n);
// Keeps only `rows` (indices into data), in their order: e.g. one part of a split.
void keep_rows(Dataset& data, const std::vector<std::int64_t>& rows);

// Renumbers the class labels of `data` to index `names` (the classes of the training data or
// of a model), matched by name. Throws Error naming data.source and the first class that
// `names` lacks: "expected <expected>, found class '<name>' (hint: <hint>)".
void remap_classes(Dataset& data, const std::vector<std::string>& names, const std::string& expected,
                   const std::string& hint);

// Appends the rows of `extra` (same kind of features, same columns) after those of `data`;
// returns the new rows' indices. Throws Error when the two do not fit together.
std::vector<std::int64_t> append_rows(Dataset& data, const Dataset& extra);

struct Split {
    std::vector<std::int64_t> train, validation, test;  // row indices, each ascending
};

// Seeded split. Classification: stratified (each class contributes round(fraction × count)
// of its rows to validation and test, at least one row to train). Regression: a seeded
// permutation cut by the fractions. Throws Error if a part the fractions ask for is empty.
Split split_dataset(const Dataset& data, double validation_fraction, double test_fraction,
                    std::uint64_t seed);

// X(i, :) = features of row rows[i] for i < n (scaled to [0,1] for uint8 data).
// X (n, features); overwrites.
void gather_features(Matrix X, const Dataset& data, const std::int64_t* rows, std::int64_t n);
// labels[i] = data.labels[rows[i]] for i < n.
void gather_labels(std::int32_t* labels, const Dataset& data, const std::int64_t* rows,
                   std::int64_t n);
// T(i, :) = regression targets of row rows[i]. T (n, outputs); overwrites.
void gather_targets(Matrix T, const Dataset& data, const std::int64_t* rows, std::int64_t n);

}  // namespace mlptrain
