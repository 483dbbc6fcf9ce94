// CSV loading: a header row, numeric feature columns, one label column (or none, for
// data to predict on). RFC 4180 quoting; LF, CRLF or CR line endings; read once, streaming.
// Parses and validates only; the result is a Dataset (dataset.hpp).
#pragma once

#include <string>

#include "mlptrain/data/dataset.hpp"

namespace mlptrain {

class Input;

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
// file (or a directory), an empty file or one with a header only, a ragged row, a blank line
// between rows, an unterminated quote or text after a closing quote, a non-numeric, NaN or
// Inf feature (or regression target), an unknown label column, a single-class dataset.
// Fields are trimmed of spaces and tabs, also inside quotes. The file is read once, so a
// named pipe, /dev/stdin or <(cmd) works; only one record is held as text at a time.
Dataset load_csv(const std::string& path, const CsvOptions& options);
// The same from an Input already opened (its name() names it in messages), e.g. after a
// caller sniffed its first bytes, or bytes in memory.
Dataset load_csv(Input& in, const CsvOptions& options);

}  // namespace mlptrain
