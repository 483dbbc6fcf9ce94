// CSV loading: a header row, numeric feature columns, one label column (or none, for
// data to predict on).
// Parses and validates only; the result is a Dataset (dataset.hpp).
#pragma once

#include <string>

#include "mlptrain/data/dataset.hpp"

namespace mlptrain {

struct CsvOptions {
    // Label column: a header name, or a 0-based index; empty means the last column.
    std::string label;
    // true: the label column holds numeric regression targets (loss mse).
    // false: it holds class labels, strings or numbers, mapped to indices in sorted order
    // (numerically when every label is a number, else lexicographically).
    bool regression = false;
    // true: there is no label column (data to predict on): every column is a feature,
    // labels and class names stay empty, and `label` and `regression` are ignored.
    bool no_label = false;
};

// Loads `path`. Throws Error naming the file, line and column for: a missing or unreadable
// file, an empty file or one with a header only, a ragged row, a non-numeric, NaN or Inf
// feature (or regression target), an unknown label column, a single-class dataset.
Dataset load_csv(const std::string& path, const CsvOptions& options);

}  // namespace mlptrain
