// CSV loader (see csv.hpp): reads the input once, front to back, in 1 MiB blocks, and cuts it
// into records with an RFC 4180 state machine (quoted fields may hold commas, line breaks and
// "" for a quote; CR, LF and CRLF all end a line). Only the record being parsed is held as
// text; the floats go into 64 MiB blocks joined at the end. Every rejection names the input,
// the 1-based line where the record starts (the header is line 1) and the column.
#include "mlptrain/data/csv.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"
#include "mlptrain/data/input.hpp"

namespace mlptrain {
namespace {

constexpr std::size_t read_block = std::size_t{1} << 20;
// A record longer than this is refused before it can exhaust memory: in practice it is an
// unterminated quote swallowing the rest of the file.
constexpr std::size_t max_record_bytes = std::size_t{64} << 20;
// The widest input layer a model can have (parse_layer_sizes' limit), plus the label.
constexpr std::size_t max_columns = (std::size_t{1} << 20) + 1;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Cuts an input into records of fields. Fields are unquoted, unescaped and trimmed of
// blanks (spaces, tabs) at both ends, also inside quotes, as the loader always did.
class RecordReader {
public:
    // A small input gets a buffer of its size: a 1 MiB allocation per load would dominate
    // loading small files (and fuzzing).
    explicit RecordReader(Input& in)
        : in_(in),
          buffer_(in.known_size() && in.size() < read_block
                      ? std::max<std::size_t>(4096, static_cast<std::size_t>(in.size()) + 1)
                      : read_block) {}

    // Reads the next record; false at the end of the input. `fields` gets views into this
    // reader, valid until the next call; at most max_fields() of them are kept, the rest
    // only counted in field_count().
    bool next(std::vector<std::string_view>& fields);
    std::int64_t line() const { return record_line_; }    // where the record starts
    std::size_t field_count() const { return field_count_; }
    // An empty line, or one of blanks only: one empty field that was not quoted.
    bool blank() const { return field_count_ == 1 && !quoted_ && fields_empty_; }
    void set_max_fields(std::size_t n) { max_fields_ = n; }

private:
    // Where the RFC 4180 state machine is inside a record.
    enum class State { field_start, unquoted, quoted, quote_in_quoted, after_quote };

    bool fill();
    void start_record();
    bool next_plain_line(std::vector<std::string_view>& fields);
    bool parse_record();
    bool skip_lf_of_crlf();
    void step();
    void at_field_start(char c);
    void scan_unquoted();
    void scan_quoted();
    void after_quote_in_quoted(char c);
    void after_closing_quote(char c);
    void after_separator(char c);
    void end_field(std::size_t begin, bool quoted);
    void check_record_size() const;
    bool end_of_input();
    [[noreturn]] void fail(std::int64_t line, const std::string& found, const std::string& hint) const;

    Input& in_;
    std::vector<char> buffer_;
    std::size_t pos_ = 0, end_ = 0;
    bool eof_ = false, started_ = false;
    bool after_cr_ = false;  // the last byte was a CR: a LF right after it ends no line
    std::int64_t line_ = 1;  // the line of the next byte
    std::int64_t record_line_ = 0;

    std::string text_;  // the record's field texts, back to back
    std::vector<std::pair<std::size_t, std::size_t>> bounds_;  // [begin, end) in text_
    std::size_t field_count_ = 0;
    std::size_t max_fields_ = max_columns;
    bool quoted_ = false;        // some field of the record was quoted
    bool fields_empty_ = true;   // every field of the record is empty

    // The state machine's place in the record being parsed (parse_record).
    State state_ = State::field_start;
    std::size_t field_begin_ = 0;  // where the current field's text starts in text_
    std::int64_t quote_line_ = 0;  // where the open quoted field started
    bool any_ = false;             // the record has a byte (or a line break) of its own
    bool line_end_ = false;        // the record ended at a line break
};

bool RecordReader::fill() {
    while (!eof_) {
        end_ = in_.read(buffer_.data(), buffer_.size());
        pos_ = 0;
        if (end_ == 0) eof_ = true;
        if (!started_ && end_ > 0) {
            started_ = true;
            if (end_ >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;  // BOM
        }
        if (pos_ < end_) return true;
    }
    return false;
}

void RecordReader::end_field(std::size_t field_begin, bool quoted) {
    std::size_t begin = field_begin, end = text_.size();
    while (begin < end && is_blank(text_[begin])) ++begin;
    while (end > begin && is_blank(text_[end - 1])) --end;
    ++field_count_;
    quoted_ |= quoted;
    fields_empty_ &= begin == end;
    if (bounds_.size() < max_fields_)
        bounds_.emplace_back(begin, end);
    else
        text_.resize(field_begin);  // counted only: a ragged row is refused by its count
}

// The common case, without copying: a whole line in the buffer, ended by LF or CRLF, with
// no quote and no other CR in it. Its fields are views into the buffer. Anything else is
// left to the state machine in next().
bool RecordReader::next_plain_line(std::vector<std::string_view>& fields) {
    if (after_cr_ || pos_ == end_) return false;
    const char* begin = buffer_.data() + pos_;
    const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', end_ - pos_));
    if (newline == nullptr) return false;
    const char* line_end = newline > begin && newline[-1] == '\r' ? newline - 1 : newline;
    const auto length = static_cast<std::size_t>(line_end - begin);
    if (std::memchr(begin, '"', length) != nullptr || std::memchr(begin, '\r', length) != nullptr)
        return false;
    record_line_ = line_++;
    pos_ = static_cast<std::size_t>(newline + 1 - buffer_.data());
    for (const char* p = begin;;) {
        const auto* comma = static_cast<const char*>(std::memchr(p, ',', line_end - p));
        const char* field_end = comma != nullptr ? comma : line_end;
        const char* b = p;
        const char* e = field_end;
        while (b < e && is_blank(*b)) ++b;
        while (e > b && is_blank(e[-1])) --e;
        ++field_count_;
        fields_empty_ &= b == e;
        if (fields.size() < max_fields_) fields.emplace_back(b, static_cast<std::size_t>(e - b));
        if (comma == nullptr) return true;
        p = comma + 1;
    }
}

void RecordReader::fail(std::int64_t line, const std::string& found, const std::string& hint) const {
    throw Error(describe(in_.name() + ", line " + std::to_string(line), "comma-separated fields",
                         found, hint));
}

void RecordReader::start_record() {
    text_.clear();
    bounds_.clear();
    field_count_ = 0;
    quoted_ = false;
    fields_empty_ = true;
    state_ = State::field_start;
    field_begin_ = 0;
    quote_line_ = 0;
    any_ = false;
    line_end_ = false;
}

bool RecordReader::next(std::vector<std::string_view>& fields) {
    fields.clear();
    start_record();
    if (pos_ == end_) fill();
    if (next_plain_line(fields)) return true;
    if (!parse_record()) return false;
    for (const auto& [begin, end] : bounds_)
        fields.emplace_back(text_.data() + begin, end - begin);
    return true;
}

// The general case: the state machine, byte by byte (runs of plain text in one piece), across
// blocks, copying the record into text_. False at the end of the input.
bool RecordReader::parse_record() {
    record_line_ = line_;
    while (!line_end_) {
        if (pos_ == end_ && !fill()) return end_of_input();
        if (skip_lf_of_crlf()) continue;
        if (!any_) {
            any_ = true;
            record_line_ = line_;
        }
        step();
        check_record_size();
    }
    return true;
}

// The LF of a CRLF ends no line of its own: the line was counted at the CR, which may have
// been the last byte of the previous block (or of the previous record).
bool RecordReader::skip_lf_of_crlf() {
    if (!after_cr_) return false;
    after_cr_ = false;
    if (buffer_[pos_] != '\n') return false;
    ++pos_;
    if (state_ == State::quoted) text_ += '\n';
    return true;
}

void RecordReader::step() {
    const char c = buffer_[pos_];
    switch (state_) {
        case State::field_start: return at_field_start(c);
        case State::unquoted: return scan_unquoted();
        case State::quoted: return scan_quoted();
        case State::quote_in_quoted: return after_quote_in_quoted(c);
        case State::after_quote: return after_closing_quote(c);
    }
}

// Blanks before a field are skipped; a quote opens a quoted field, anything else a plain one.
void RecordReader::at_field_start(char c) {
    if (is_blank(c)) {
        ++pos_;
        return;
    }
    field_begin_ = text_.size();
    if (c == '"') {
        state_ = State::quoted;
        quote_line_ = line_;
        ++pos_;
        return;
    }
    state_ = State::unquoted;
    scan_unquoted();
}

// The run up to the next comma or line break is copied in one piece; a quote inside an
// unquoted field is kept as text (lenient, as the loader always was).
void RecordReader::scan_unquoted() {
    const char* data = buffer_.data();
    std::size_t i = pos_;
    while (i < end_ && data[i] != ',' && data[i] != '\n' && data[i] != '\r') ++i;
    text_.append(data + pos_, i - pos_);
    pos_ = i;
    if (i == end_) return;  // the field goes on in the next block
    ++pos_;
    end_field(field_begin_, false);
    after_separator(data[i]);
}

// Inside quotes, commas and line breaks are text; a quote either closes the field or, doubled,
// stands for one quote (decided by the next byte, which may be in the next block).
void RecordReader::scan_quoted() {
    const char* data = buffer_.data();
    std::size_t i = pos_;
    while (i < end_ && data[i] != '"' && data[i] != '\n' && data[i] != '\r') ++i;
    text_.append(data + pos_, i - pos_);
    pos_ = i;
    if (i == end_) return;
    ++pos_;
    if (data[i] == '"') {
        state_ = State::quote_in_quoted;
        return;
    }
    text_ += data[i];  // a line break inside the field is part of it, and still a new line
    ++line_;
    after_cr_ = data[i] == '\r';
}

void RecordReader::after_quote_in_quoted(char c) {
    if (c == '"') {  // "" stands for one quote
        text_ += '"';
        ++pos_;
        state_ = State::quoted;
        return;
    }
    state_ = State::after_quote;
    after_closing_quote(c);
}

// After a closing quote only blanks may come before the comma or line break.
void RecordReader::after_closing_quote(char c) {
    ++pos_;
    if (is_blank(c)) return;
    if (c != ',' && c != '\n' && c != '\r')
        fail(line_, "text after a closing double quote",
             "a quote inside a quoted field is written as two quotes (\"\")");
    end_field(field_begin_, true);
    after_separator(c);
}

// After a field's end: a comma starts the next field; CR or LF ends the record and the line.
void RecordReader::after_separator(char c) {
    if (c == ',') {
        state_ = State::field_start;
        field_begin_ = text_.size();
        return;
    }
    ++line_;
    after_cr_ = c == '\r';
    line_end_ = true;
}

// A runaway record (in practice an unterminated quote in a big file) is refused before it
// exhausts memory, naming the line where it, or its open quote, started.
void RecordReader::check_record_size() const {
    if (text_.size() <= max_record_bytes) return;
    fail(record_line_, "a record of more than " + std::to_string(max_record_bytes >> 20) + " MiB",
         state_ == State::quoted
             ? "the double quote opened at line " + std::to_string(quote_line_) + " is never closed"
             : "check the line endings");
}

// The input ended inside a record (a last line without a line break) or before one.
bool RecordReader::end_of_input() {
    if (state_ == State::quoted)
        fail(quote_line_, "an unterminated double quote (the field runs to the end of the file)",
             "close the quoted field; a quote inside one is written as two quotes (\"\")");
    if (!any_) return false;
    end_field(field_begin_, state_ != State::field_start && state_ != State::unquoted);
    return true;
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
std::string list_names(const std::vector<std::string>& names) {
    constexpr std::size_t head = 8, tail = 2;
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names.size() > head + tail && i == head) {
            out += ", ... (" + std::to_string(names.size() - head - tail) + " more)";
            i = names.size() - tail;
        }
        if (!out.empty()) out += ", ";
        out += printable(names[i], 40);
    }
    return out;
}

struct Parser {
    std::string path;
    std::vector<std::string> header;

    std::string where(std::int64_t line) const { return path + ", line " + std::to_string(line); }
    // Column numbers in messages are 1-based, like line numbers and spreadsheet columns.
    std::string where(std::int64_t line, std::size_t column) const {
        return where(line) + ", column " + std::to_string(column + 1) + " " +
               quote(header[column]);
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

    // An empty `label` means the last column (the CLI refuses an empty --label).
    std::size_t resolve_label(const std::string& label) const {
        if (label.empty()) return header.size() - 1;
        std::size_t found = header.size();
        for (std::size_t c = 0; c < header.size(); ++c) {
            if (header[c] != label) continue;
            if (found != header.size())
                throw Error(describe(where(1), "one column named " + quote(label),
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
                                 "a 0-based index below " + std::to_string(header.size()),
                                 quote(label), "available columns: " + list_names(header)));
        }
        throw Error(describe(path + ": label column", "a header name or a 0-based index",
                             quote(label), "available columns: " + list_names(header)));
    }
};

// Class names sorted numerically when every label is a number ("2" < "10"), else
// lexicographically; `labels` is remapped from first-seen ids to sorted indices.
std::vector<std::string> sort_classes(const std::deque<std::string>& seen,
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
        names[r] = seen[order[r]];
    }
    for (auto& label : labels) label = rank[label];
    return names;
}

// Rows of floats in blocks of 64 MiB, joined into one vector at the end. The row count is
// not known in advance (a pipe has no size), and a growing vector holds up to three times
// its size while it reallocates; the join holds the data plus one block. Full blocks are
// above glibc's largest mmap threshold (32 MiB), so each one freed goes back to the system.
class RowBlocks {
public:
    explicit RowBlocks(std::size_t row_floats)
        : row_floats_(row_floats),
          block_floats_(std::max<std::size_t>(1, block_bytes / sizeof(float) / row_floats) *
                        row_floats) {}

    // Room for one more row; its values are written by the caller.
    float* add_row() {
        if (blocks_.empty() || blocks_.back().size() == block_floats_) {
            blocks_.emplace_back();
            // The first block grows as rows come (a small file stays small); once it is
            // full the data is large, and later blocks are allocated whole.
            if (blocks_.size() > 1) blocks_.back().reserve(block_floats_);
        }
        std::vector<float>& block = blocks_.back();
        block.resize(block.size() + row_floats_);
        return block.data() + block.size() - row_floats_;
    }

    std::vector<float> join() {
        std::size_t total = 0;
        for (const auto& block : blocks_) total += block.size();
        std::vector<float> all;
        all.reserve(total);  // pages are touched only as the blocks are copied in
        for (auto& block : blocks_) {
            all.insert(all.end(), block.begin(), block.end());
            std::vector<float>().swap(block);
        }
        blocks_.clear();
        return all;
    }

private:
    static constexpr std::size_t block_bytes = std::size_t{64} << 20;
    std::size_t row_floats_;
    std::size_t block_floats_;
    std::deque<std::vector<float>> blocks_;
};

// Class labels: each distinct label text gets an id in order of first appearance. The map's
// keys view the strings in `seen`, which a deque never moves (no allocation per row).
struct ClassIds {
    std::unordered_map<std::string_view, std::int32_t> ids;
    std::deque<std::string> seen;

    std::int32_t id_of(std::string_view label) {
        auto it = ids.find(label);
        if (it == ids.end()) {
            const std::string& name = seen.emplace_back(label);
            it = ids.emplace(name, static_cast<std::int32_t>(ids.size())).first;
        }
        return it->second;
    }
};

// One load: the header, then the rows one by one into a Dataset.
class CsvLoader {
public:
    CsvLoader(Input& in, const CsvOptions& options)
        : options_(options), reader_(in), parser_{in.name(), {}} {}

    void read_header();
    void read_rows();
    Dataset finish();

private:
    void fail_empty() const;
    void add_row(std::int64_t line);
    void add_label(std::int64_t line, std::string_view label);

    const CsvOptions& options_;
    RecordReader reader_;
    Parser parser_;
    std::vector<std::string_view> fields_;
    std::size_t columns_ = 0;
    std::size_t label_col_ = 0;  // one past the last column when there is no label
    Dataset data_;
    std::unique_ptr<RowBlocks> x_;
    ClassIds classes_;
};

void CsvLoader::fail_empty() const {
    throw Error(describe(parser_.path, "a header row and data rows", "an empty file",
                         "the first line must name the columns"));
}

// The header is the first line: column names. An input of blank lines only is empty.
void CsvLoader::read_header() {
    bool any = reader_.next(fields_);
    if (any && reader_.blank()) {
        while ((any = reader_.next(fields_)) && reader_.blank()) {}
        if (!any) fail_empty();
        throw Error(describe(parser_.where(1), "a header of column names", "a blank line",
                             "the first line must name the columns"));
    }
    if (!any) fail_empty();
    if (reader_.field_count() > max_columns)
        throw Error(describe(parser_.where(1), "at most " + std::to_string(max_columns) + " columns",
                             std::to_string(reader_.field_count()), "is this a CSV file?"));
    parser_.header.assign(fields_.begin(), fields_.end());
    columns_ = parser_.header.size();
    reader_.set_max_fields(columns_);
    if (columns_ < 2 && !options_.no_label)
        throw Error(describe(parser_.where(1), "at least 2 columns (features and a label)",
                             "1 column " + quote(parser_.header[0]), "separate fields with commas"));
    label_col_ = options_.no_label ? columns_ : parser_.resolve_label(options_.label);

    data_.source = parser_.path;
    data_.features = static_cast<std::int64_t>(options_.no_label ? columns_ : columns_ - 1);
    for (std::size_t c = 0; c < columns_; ++c)
        if (c != label_col_) data_.feature_names.push_back(parser_.header[c]);
    x_ = std::make_unique<RowBlocks>(static_cast<std::size_t>(data_.features));
}

// A blank line is an error only when a row follows it: blank lines at the end are dropped.
void CsvLoader::read_rows() {
    std::int64_t first_blank_line = 0;
    while (reader_.next(fields_)) {
        const std::int64_t line = reader_.line();
        if (reader_.blank()) {
            if (first_blank_line == 0) first_blank_line = line;
            continue;
        }
        if (first_blank_line != 0)
            throw Error(describe(parser_.where(first_blank_line), std::to_string(columns_) + " fields",
                                 "a blank line", "remove blank lines between rows"));
        if (reader_.field_count() != columns_)
            throw Error(describe(parser_.where(line), std::to_string(columns_) + " fields",
                                 std::to_string(reader_.field_count()),
                                 "every row needs one value per header column"));
        add_row(line);
    }
}

void CsvLoader::add_row(std::int64_t line) {
    float* row = x_->add_row();
    for (std::size_t c = 0; c < columns_; ++c) {
        if (c == label_col_) continue;
        const NumberStatus status = parse_float(fields_[c], *row++);
        if (status != NumberStatus::ok) parser_.fail_number(status, line, c, fields_[c], false);
    }
    ++data_.rows;
    if (!options_.no_label) add_label(line, fields_[label_col_]);
}

void CsvLoader::add_label(std::int64_t line, std::string_view label) {
    if (options_.regression) {
        float value = 0.0f;
        const NumberStatus status = parse_float(label, value);
        if (status != NumberStatus::ok) parser_.fail_number(status, line, label_col_, label, true);
        data_.y.push_back(value);
        return;
    }
    if (label.empty())
        throw Error(describe(parser_.where(line, label_col_), "a class label", "an empty field",
                             "fill in or remove unlabeled rows"));
    data_.labels.push_back(classes_.id_of(label));
}

// The rows joined; classes sorted (numerically when all are numbers) and at least two.
Dataset CsvLoader::finish() {
    if (data_.rows == 0)
        throw Error(describe(parser_.path, "data rows after the header", "a header only",
                             "add at least one row of data"));
    data_.x = x_->join();
    if (options_.no_label) return std::move(data_);  // features only: no targets, no classes
    if (options_.regression) {
        data_.outputs = 1;
        return std::move(data_);
    }
    if (classes_.seen.size() < 2)
        throw Error(parser_.path + ": only one class " + quote(classes_.seen[0]) + " in label column " +
                    quote(parser_.header[label_col_]) + " (" + std::to_string(data_.rows) +
                    " rows); classification needs at least 2 (hint: check the label column, or "
                    "use regression for a numeric target)");
    data_.class_names = sort_classes(classes_.seen, data_.labels);
    return std::move(data_);
}

}  // namespace

Dataset load_csv(const std::string& path, const CsvOptions& options) {
    Input in = Input::open(path);
    return load_csv(in, options);
}

Dataset load_csv(Input& in, const CsvOptions& options) {
    CsvLoader loader(in, options);
    loader.read_header();
    loader.read_rows();
    return loader.finish();
}

}  // namespace mlptrain
