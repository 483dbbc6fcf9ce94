// CSV loader (see csv.hpp): reads the whole file at once and parses it in place with
// string_views, so a field costs a scan and one std::from_chars, never an allocation.
// Every rejection names the file, the 1-based line (the header is line 1) and column.
#include "mlptrain/data/csv.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {
namespace {

std::string read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        throw Error("cannot open '" + path + "': " + std::strerror(err) +
                    " (hint: check the path and its permissions)");
    }
    std::string buffer;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) buffer.reserve(st.st_size);
    char chunk[1 << 16];
    for (;;) {
        const ssize_t got = ::read(fd, chunk, sizeof chunk);
        if (got > 0) {
            buffer.append(chunk, static_cast<std::size_t>(got));
        } else if (got == 0) {
            break;
        } else if (errno != EINTR) {
            const int err = errno;
            ::close(fd);
            throw Error("cannot read '" + path + "': " + std::strerror(err) +
                        " (hint: the path must name a readable CSV file)");
        }
    }
    ::close(fd);
    return buffer;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// Splits one line into trimmed fields (`fields` is reused so that no line allocates).
// A field may be wrapped in double quotes, which are stripped (and the text inside trimmed);
// a quoted field may hold commas, but not quotes. Returns an empty string on success, else what
// went wrong.
const char* split_line(std::string_view line, std::vector<std::string_view>& fields) {
    fields.clear();
    std::size_t pos = 0;
    for (;;) {
        while (pos < line.size() && is_blank(line[pos])) ++pos;
        if (pos < line.size() && line[pos] == '"') {
            const std::size_t close = line.find('"', pos + 1);
            if (close == std::string_view::npos) return "an unterminated double quote";
            fields.push_back(trim(line.substr(pos + 1, close - pos - 1)));
            pos = close + 1;
            while (pos < line.size() && is_blank(line[pos])) ++pos;
            if (pos == line.size()) return "";
            if (line[pos] != ',') return "text after a closing double quote";
            ++pos;
        } else {
            const std::size_t comma = line.find(',', pos);
            if (comma == std::string_view::npos) {
                fields.push_back(trim(line.substr(pos)));
                return "";
            }
            fields.push_back(trim(line.substr(pos, comma - pos)));
            pos = comma + 1;
        }
    }
}

enum class NumberStatus { ok, empty, not_a_number, not_finite, too_large };

// Parses the whole of `text` (already trimmed) as a float. A leading '+' is accepted, as
// strtof would; "nan"/"inf" parse but are reported as not finite.
NumberStatus parse_float(std::string_view text, float& value) {
    if (text.empty()) return NumberStatus::empty;
    // Fast path for short unsigned integers (pixels, counts): below 10^7 < 2^24 every
    // value is exact in float, so this gives the same result as from_chars.
    if (text.size() <= 7) {
        std::uint32_t n = 0;
        std::size_t i = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
            n = n * 10 + static_cast<std::uint32_t>(text[i] - '0');
        if (i == text.size()) {
            value = static_cast<float>(n);
            return NumberStatus::ok;
        }
    }
    const char* first = text.data();
    const char* last = first + text.size();
    if (*first == '+' && text.size() > 1 && first[1] != '-' && first[1] != '+') ++first;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ptr != last || ec == std::errc::invalid_argument) return NumberStatus::not_a_number;
    if (ec == std::errc::result_out_of_range) {
        // Overflow is an error; underflow rounds to a subnormal or zero, as strtof does.
        const double d = std::strtod(std::string(first, last).c_str(), nullptr);
        if (!(std::fabs(d) < 3.4028235677973366e38)) return NumberStatus::too_large;
        value = static_cast<float>(d);
        return NumberStatus::ok;
    }
    if (!std::isfinite(value)) return NumberStatus::not_finite;
    return NumberStatus::ok;
}

// A label is numeric when all of it is a finite number.
bool parse_label_number(std::string_view text, double& value) {
    if (text.empty()) return false;
    const char* first = text.data();
    const char* last = first + text.size();
    if (*first == '+' && text.size() > 1 && first[1] != '-' && first[1] != '+') ++first;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    return ptr == last && ec == std::errc() && std::isfinite(value);
}

// "a, b, c" (or the first and last few of a long header), for the unknown-label hint.
std::string list_names(const std::vector<std::string_view>& names) {
    constexpr std::size_t head = 8, tail = 2;
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names.size() > head + tail && i == head) {
            out += ", ... (" + std::to_string(names.size() - head - tail) + " more)";
            i = names.size() - tail;
        }
        if (!out.empty()) out += ", ";
        out += std::string(names[i]);
    }
    return out;
}

struct Parser {
    const std::string& path;
    std::vector<std::string_view> header;

    std::string where(std::int64_t line) const { return path + ", line " + std::to_string(line); }
    // Column numbers in messages are 1-based, like line numbers and spreadsheet columns.
    std::string where(std::int64_t line, std::size_t column) const {
        return where(line) + ", column " + std::to_string(column + 1) + " '" +
               std::string(header[column]) + "'";
    }

    [[noreturn]] void fail_number(NumberStatus status, std::int64_t line, std::size_t column,
                                  std::string_view text, bool is_label) const {
        const std::string expected = is_label ? "a numeric regression target" : "a number";
        switch (status) {
            case NumberStatus::empty:
                throw Error(describe(where(line, column), expected, "an empty field",
                                     "fill in or remove rows with missing values"));
            case NumberStatus::not_finite:
                throw Error(describe(where(line, column), "a finite number", quote(text),
                                     "NaN and Inf are not allowed; fill in or remove rows with "
                                     "missing values"));
            case NumberStatus::too_large:
                throw Error(describe(where(line, column), "a number within float range",
                                     quote(text), "rescale this column"));
            default:
                throw Error(describe(
                    where(line, column), expected, quote(text),
                    is_label ? "regression needs numeric targets; leave regression off for "
                               "class labels"
                             : "every column except the label column must be numeric; if this "
                               "column holds the labels, select it as the label column"));
        }
    }

    std::size_t resolve_label(const std::string& label) const {
        if (label.empty()) return header.size() - 1;
        std::size_t found = header.size();
        for (std::size_t c = 0; c < header.size(); ++c) {
            if (header[c] != label) continue;
            if (found != header.size())
                throw Error(describe(where(1), "one column named '" + label + "'",
                                     "columns " + std::to_string(found + 1) + " and " +
                                         std::to_string(c + 1) + " with that name",
                                     "rename one of them, or select the label by 0-based index"));
            found = c;
        }
        if (found != header.size()) return found;
        // Not a name: a 0-based index when it is all digits.
        std::size_t index = 0;
        const auto [ptr, ec] = std::from_chars(label.data(), label.data() + label.size(), index);
        if (ec == std::errc() && ptr == label.data() + label.size()) {
            if (index < header.size()) return index;
            throw Error(describe(path + ": label column",
                                 "a 0-based index below " + std::to_string(header.size()), label,
                                 "available columns: " + list_names(header)));
        }
        throw Error(describe(path + ": label column", "a header name or a 0-based index",
                             quote(label), "available columns: " + list_names(header)));
    }
};

// Class names sorted numerically when every label is a number ("2" < "10"), else
// lexicographically; `labels` is remapped from first-seen ids to sorted indices.
std::vector<std::string> sort_classes(const std::vector<std::string_view>& seen,
                                      std::vector<std::int32_t>& labels) {
    std::vector<double> values(seen.size());
    bool numeric = true;
    for (std::size_t i = 0; i < seen.size() && numeric; ++i)
        numeric = parse_label_number(seen[i], values[i]);
    std::vector<std::int32_t> order(seen.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int32_t>(i);
    std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
        // Ties in value ("1" and "1.0") fall back to the text, so the order is total.
        if (numeric && values[a] != values[b]) return values[a] < values[b];
        return seen[a] < seen[b];
    });
    std::vector<std::int32_t> rank(seen.size());
    std::vector<std::string> names(seen.size());
    for (std::size_t r = 0; r < order.size(); ++r) {
        rank[order[r]] = static_cast<std::int32_t>(r);
        names[r] = std::string(seen[order[r]]);
    }
    for (auto& label : labels) label = rank[label];
    return names;
}

}  // namespace

Dataset load_csv(const std::string& path, const CsvOptions& options) {
    const std::string text = read_file(path);
    std::string_view rest(text);
    if (rest.size() >= 3 && rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // BOM
    // Blank lines at the end are dropped; any other blank line is an error below.
    while (!rest.empty() && (is_blank(rest.back()) || rest.back() == '\r' || rest.back() == '\n'))
        rest.remove_suffix(1);
    if (rest.empty())
        throw Error(describe(path, "a header row and data rows", "an empty file",
                             "the first line must name the columns"));

    // Cuts the next line off `rest`, without its line ending.
    auto next_line = [&rest]() {
        const std::size_t end = rest.find('\n');
        std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return line;
    };

    Parser parser{path, {}};
    std::vector<std::string_view> fields;
    if (const char* problem = split_line(next_line(), parser.header); *problem)
        throw Error(describe(parser.where(1), "a header of comma-separated column names", problem,
                             "quoted fields may not contain quotes"));
    const std::size_t columns = parser.header.size();
    if (rest.empty())
        throw Error(describe(path, "data rows after the header", "a header only",
                             "add at least one row of data"));
    if (columns < 2 && !options.no_label)
        throw Error(describe(parser.where(1), "at least 2 columns (features and a label)",
                             "1 column '" + std::string(parser.header[0]) + "'",
                             "separate fields with commas"));
    // Without a label column, label_col is one past the last column and matches none.
    const std::size_t label_col = options.no_label ? columns : parser.resolve_label(options.label);

    Dataset data;
    data.source = path;
    data.features = static_cast<std::int64_t>(options.no_label ? columns : columns - 1);
    for (std::size_t c = 0; c < columns; ++c)
        if (c != label_col) data.feature_names.emplace_back(parser.header[c]);

    const auto expected_rows =
        static_cast<std::size_t>(std::count(rest.begin(), rest.end(), '\n') + 1);
    data.x.reserve(expected_rows * static_cast<std::size_t>(data.features));
    if (options.regression && !options.no_label)
        data.y.reserve(expected_rows);
    else if (!options.no_label)
        data.labels.reserve(expected_rows);

    // Classification: each distinct label text gets an id in order of first appearance;
    // the views point into `text`, which outlives them.
    std::unordered_map<std::string_view, std::int32_t> class_ids;
    std::vector<std::string_view> seen_classes;

    std::int64_t line_number = 1;
    while (!rest.empty()) {
        ++line_number;
        const std::string_view line = next_line();
        if (const char* problem = split_line(line, fields); *problem)
            throw Error(describe(parser.where(line_number), "comma-separated fields", problem,
                                 "quoted fields may not contain quotes"));
        if (fields.size() != columns) {
            const bool blank = fields.size() == 1 && fields[0].empty();
            throw Error(
                describe(parser.where(line_number), std::to_string(columns) + " fields",
                         blank ? std::string("a blank line") : std::to_string(fields.size()),
                         blank ? "remove blank lines between rows"
                               : "every row needs one value per header column"));
        }
        for (std::size_t c = 0; c < columns; ++c) {
            if (c == label_col) continue;
            float value = 0.0f;
            const NumberStatus status = parse_float(fields[c], value);
            if (status != NumberStatus::ok)
                parser.fail_number(status, line_number, c, fields[c], false);
            data.x.push_back(value);
        }
        if (options.no_label) {
            ++data.rows;
            continue;
        }
        const std::string_view label = fields[label_col];
        if (options.regression) {
            float value = 0.0f;
            const NumberStatus status = parse_float(label, value);
            if (status != NumberStatus::ok)
                parser.fail_number(status, line_number, label_col, label, true);
            data.y.push_back(value);
        } else {
            if (label.empty())
                throw Error(describe(parser.where(line_number, label_col), "a class label",
                                     "an empty field", "fill in or remove unlabeled rows"));
            const auto [it, inserted] =
                class_ids.try_emplace(label, static_cast<std::int32_t>(seen_classes.size()));
            if (inserted) seen_classes.push_back(label);
            data.labels.push_back(it->second);
        }
        ++data.rows;
    }

    if (options.no_label) return data;  // features only: no targets, no classes
    if (options.regression) {
        data.outputs = 1;
    } else {
        if (seen_classes.size() < 2)
            throw Error(path + ": only one class " + quote(seen_classes[0]) + " in label column '" +
                        std::string(parser.header[label_col]) + "' (" + std::to_string(data.rows) +
                        " rows); classification needs at least 2 (hint: check the label "
                        "column, or use regression for a numeric target)");
        data.class_names = sort_classes(seen_classes, data.labels);
    }
    return data;
}

}  // namespace mlptrain
