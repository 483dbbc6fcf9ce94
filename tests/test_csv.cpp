// Tests for the CSV loader: the bundled datasets, label selection and ordering, regression
// targets, line endings, RFC 4180 quoting, streaming input (pipes, memory, read-block
// boundaries), and every rejection with its file, line, column and found text, escaped.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "mlptrain/data/csv.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/data/input.hpp"
#include "test_support.hpp"

using test_support::contains;

using mlptrain::CsvOptions;
using mlptrain::Dataset;
using mlptrain::load_csv;

namespace {

// The message of the Error that loading `path` throws ("" when it loads).
std::string load_error(const std::string& path, const CsvOptions& options = {}) {
    try {
        load_csv(path, options);
    } catch (const mlptrain::Error& e) {
        return e.what();
    }
    return "";
}

// Writes `contents` as `name` in `dir` and returns the loader's error message for it.
std::string error_for(const test_support::TempDir& dir, const std::string& name,
                      const std::string& contents, const CsvOptions& options = {}) {
    return load_error(dir.write_file(name, contents), options);
}


}  // namespace

// iris.csv loads as 150 rows × 4 features with classes sorted setosa < versicolor < virginica.
TEST_CASE("csv: iris loads with sorted string classes") {
    const std::string path = test_support::data_path("iris.csv");
    const Dataset data = load_csv(path, {});
    CHECK(data.source == path);
    CHECK(data.rows == 150);
    CHECK(data.features == 4);
    REQUIRE(data.x.size() == 600);
    CHECK(data.x_u8.empty());
    CHECK(data.feature_names ==
          std::vector<std::string>{"sepal_length", "sepal_width", "petal_length", "petal_width"});
    CHECK(data.class_names == std::vector<std::string>{"setosa", "versicolor", "virginica"});
    CHECK(data.is_classification());
    CHECK(data.y.empty());
    REQUIRE(data.labels.size() == 150);
    int counts[3] = {0, 0, 0};
    for (const auto label : data.labels) counts[label]++;
    CHECK(counts[0] == 50);
    CHECK(counts[1] == 50);
    CHECK(counts[2] == 50);
    // First row: 5.1,3.5,1.4,0.2,setosa; last row: 5.9,3.0,5.1,1.8,virginica.
    CHECK(data.x[0] == 5.1f);
    CHECK(data.x[1] == 3.5f);
    CHECK(data.x[2] == 1.4f);
    CHECK(data.x[3] == 0.2f);
    CHECK(data.labels[0] == 0);
    CHECK(data.x[596] == 5.9f);
    CHECK(data.x[599] == 1.8f);
    CHECK(data.labels[149] == 2);
}

// digits.csv loads as 1797 × 64 with the ten digit classes in numeric order.
TEST_CASE("csv: digits loads with numeric classes") {
    const Dataset data = load_csv(test_support::data_path("digits.csv"), {});
    CHECK(data.rows == 1797);
    CHECK(data.features == 64);
    CHECK(data.x.size() == 1797u * 64u);
    REQUIRE(data.class_names.size() == 10);
    for (int d = 0; d < 10; ++d) CHECK(data.class_names[d] == std::to_string(d));
    CHECK(data.feature_names.front() == "pixel_0_0");
    CHECK(data.feature_names.back() == "pixel_7_7");
    // Row 1: 0,0,5,13,9,1,... digit 0; row 2: ... digit 1.
    CHECK(data.x[2] == 5.0f);
    CHECK(data.x[3] == 13.0f);
    CHECK(data.labels[0] == 0);
    CHECK(data.labels[1] == 1);
    const auto outside = std::count_if(data.x.begin(), data.x.end(),
                                       [](float v) { return !(v >= 0.0f && v <= 16.0f); });
    CHECK(outside == 0);
}

// Numeric labels sort by value ("2" before "10"), non-numeric ones by text.
TEST_CASE("csv: class order is numeric when every label is a number") {
    test_support::TempDir dir;
    const Dataset numeric =
        load_csv(dir.write_file("n.csv", "a,label\n1,10\n2,2\n3,1\n4,2\n5,-3.5\n"), {});
    CHECK(numeric.class_names == std::vector<std::string>{"-3.5", "1", "2", "10"});
    CHECK(numeric.labels == std::vector<std::int32_t>{3, 2, 1, 2, 0});

    const Dataset mixed = load_csv(dir.write_file("m.csv", "a,label\n1,10\n2,2\n3,a\n"), {});
    CHECK(mixed.class_names == std::vector<std::string>{"10", "2", "a"});
    CHECK(mixed.labels == std::vector<std::int32_t>{0, 1, 2});
}

// The label column can be chosen by header name or 0-based index; the rest are features.
TEST_CASE("csv: label column by name and by index") {
    test_support::TempDir dir;
    const std::string path = dir.write_file("l.csv", "kind,f1,f2\nb,1,2\na,3,4\nb,5,6\n");
    CsvOptions by_name;
    by_name.label = "kind";
    CsvOptions by_index;
    by_index.label = "0";
    for (const CsvOptions& options : {by_name, by_index}) {
        const Dataset data = load_csv(path, options);
        CHECK(data.features == 2);
        CHECK(data.feature_names == std::vector<std::string>{"f1", "f2"});
        CHECK(data.x == std::vector<float>{1, 2, 3, 4, 5, 6});
        CHECK(data.class_names == std::vector<std::string>{"a", "b"});
        CHECK(data.labels == std::vector<std::int32_t>{1, 0, 1});
    }
    // A middle column: the features keep their order around it.
    CsvOptions middle;
    middle.label = "1";
    const Dataset data = load_csv(dir.write_file("m.csv", "f1,kind,f2\n1,x,2\n3,y,4\n"), middle);
    CHECK(data.feature_names == std::vector<std::string>{"f1", "f2"});
    CHECK(data.x == std::vector<float>{1, 2, 3, 4});
}

// Regression: the label column is a numeric target, y is rows × 1, there are no classes.
TEST_CASE("csv: regression targets") {
    test_support::TempDir dir;
    CsvOptions options;
    options.regression = true;
    const Dataset data =
        load_csv(dir.write_file("r.csv", "x1,x2,target\n1,2,0.5\n3,4,-1.25\n5,6,1e3\n"), options);
    CHECK(data.rows == 3);
    CHECK(data.features == 2);
    CHECK(data.outputs == 1);
    CHECK(data.y == std::vector<float>{0.5f, -1.25f, 1000.0f});
    CHECK(data.class_names.empty());
    CHECK(data.labels.empty());
    CHECK_FALSE(data.is_classification());

    const std::string bad = error_for(dir, "rbad.csv", "x1,target\n1,2\n2,high\n", options);
    CHECK(contains(bad, "rbad.csv, line 3, column 2 'target'"));
    CHECK(contains(bad, "'high'"));
    const std::string nan = error_for(dir, "rnan.csv", "x1,target\n1,nan\n2,3\n", options);
    CHECK(contains(nan, "rnan.csv, line 2, column 2 'target'"));
    CHECK(contains(nan, "finite"));
}

// CRLF line endings, a BOM, spaces around fields, quoted fields and trailing blank lines load.
TEST_CASE("csv: line endings, spaces, quotes and trailing blank lines") {
    test_support::TempDir dir;
    const char* variants[] = {
        "a,b,c\r\n1,2,x\r\n3,4,y\r\n5,6,x\r\n",
        "a,b,c\n1,2,x\n3,4,y\n5,6,x",
        "a,b,c\n1,2,x\n3,4,y\n5,6,x\n\n  \n\r\n",
        "\xEF\xBB\xBF"
        "a,b,c\n 1 , 2,x \n3,\t4 ,y\n+5,6,x\n",
        "\"a\",\"b\",\"c\"\n\"1\",2,\"x\"\n3,\" 4\",y\n5,6,\"x\"\r\n",
    };
    int i = 0;
    for (const char* text : variants) {
        CAPTURE(i);
        const Dataset data = load_csv(dir.write_file("v" + std::to_string(i++) + ".csv", text), {});
        CHECK(data.rows == 3);
        CHECK(data.feature_names == std::vector<std::string>{"a", "b"});
        CHECK(data.x == std::vector<float>{1, 2, 3, 4, 5, 6});
        CHECK(data.class_names == std::vector<std::string>{"x", "y"});
        CHECK(data.labels == std::vector<std::int32_t>{0, 1, 0});
    }
    // A quoted field may hold a comma.
    const Dataset data = load_csv(dir.write_file("q.csv", "a,name\n1,\"x, y\"\n2,z\n"), {});
    CHECK(data.class_names == std::vector<std::string>{"x, y", "z"});
}

// A missing file names the path and the system's reason.
TEST_CASE("csv: missing file") {
    const std::string message = load_error("/nonexistent-dir/no-such.csv");
    CHECK(contains(message, "/nonexistent-dir/no-such.csv"));
    CHECK(contains(message, "No such file or directory"));
    test_support::TempDir dir;
    CHECK(contains(load_error(dir.path()), "Is a directory"));
}

// Empty and header-only files are rejected.
TEST_CASE("csv: empty file and header only") {
    test_support::TempDir dir;
    const std::string empty = error_for(dir, "empty.csv", "");
    CHECK(contains(empty, "empty.csv"));
    CHECK(contains(empty, "empty file"));
    CHECK(contains(error_for(dir, "blank.csv", "\n \r\n\n"), "empty file"));
    const std::string header = error_for(dir, "header.csv", "a,b,label\r\n\r\n");
    CHECK(contains(header, "header.csv"));
    CHECK(contains(header, "header only"));
    CHECK(contains(error_for(dir, "one.csv", "label\nx\ny\n"), "at least 2 columns"));
}

// A row with the wrong number of fields names the line and both counts.
TEST_CASE("csv: ragged row") {
    test_support::TempDir dir;
    const std::string short_row =
        error_for(dir, "x.csv", "a,b,c,d,label\n1,2,3,4,p\n1,2,3,4,q\n1,2,3,q\n");
    CHECK(contains(short_row, "x.csv, line 4: expected 5 fields, found 4"));
    const std::string long_row = error_for(dir, "y.csv", "a,b\n1,p\n2,q,\n");
    CHECK(contains(long_row, "y.csv, line 3: expected 2 fields, found 3"));
    const std::string blank = error_for(dir, "z.csv", "a,b\n1,p\n\n2,q\n");
    CHECK(contains(blank, "z.csv, line 3"));
    CHECK(contains(blank, "blank line"));
    const std::string quote = error_for(dir, "w.csv", "a,b\n\"1,p\n2,q\n");
    CHECK(contains(quote, "w.csv, line 2"));
    CHECK(contains(quote, "unterminated"));
}

// A non-numeric feature names file, line, column number and name, and the text found.
TEST_CASE("csv: non-numeric feature") {
    test_support::TempDir dir;
    const std::string message =
        error_for(dir, "bad.csv", "width,height,label\n1,2,a\n3,4,b\n5,tall,a\n");
    CHECK(contains(message, "bad.csv, line 4, column 2 'height'"));
    CHECK(contains(message, "expected a number"));
    CHECK(contains(message, "'tall'"));
    CHECK(message.find('\n') == std::string::npos);
    // Trailing garbage after a number is not a number either.
    CHECK(contains(error_for(dir, "bad2.csv", "w,label\n1.5x,a\n2,b\n"), "'1.5x'"));
    // An empty field.
    const std::string empty = error_for(dir, "bad3.csv", "w,h,label\n1,2,a\n3,,b\n");
    CHECK(contains(empty, "bad3.csv, line 3, column 2 'h'"));
    CHECK(contains(empty, "empty field"));
    // Out of float range.
    CHECK(contains(error_for(dir, "bad4.csv", "w,label\n1e300,a\n2,b\n"), "'1e300'"));
}

// NaN and Inf features are rejected with file, line, column and the text found.
TEST_CASE("csv: NaN and Inf features") {
    test_support::TempDir dir;
    for (const char* text : {"nan", "NaN", "inf", "-Infinity"}) {
        CAPTURE(text);
        const std::string message =
            error_for(dir, "nan.csv", std::string("w,h,label\n1,2,a\n3,4,b\n5,") + text + ",a\n");
        CHECK(contains(message, "nan.csv, line 4, column 2 'h'"));
        CHECK(contains(message, "finite"));
        CHECK(contains(message, std::string("'") + text + "'"));
    }
}

// An unknown label column lists the available columns.
TEST_CASE("csv: unknown label column") {
    test_support::TempDir dir;
    const std::string path = dir.write_file("u.csv", "alpha,beta,gamma\n1,2,a\n3,4,b\n");
    CsvOptions options;
    options.label = "species";
    const std::string by_name = load_error(path, options);
    CHECK(contains(by_name, "u.csv"));
    CHECK(contains(by_name, "'species'"));
    CHECK(contains(by_name, "alpha, beta, gamma"));
    options.label = "3";
    const std::string by_index = load_error(path, options);
    CHECK(contains(by_index, "below 3"));
    CHECK(contains(by_index, "alpha, beta, gamma"));
}

// A dataset with a single class is rejected, naming the class.
TEST_CASE("csv: single class") {
    test_support::TempDir dir;
    const std::string message = error_for(dir, "one.csv", "a,label\n1,x\n2,x\n3,x\n");
    CHECK(contains(message, "one.csv"));
    CHECK(contains(message, "only one class 'x'"));
    CHECK(contains(message, "at least 2"));
    // An empty class label is rejected too.
    const std::string empty = error_for(dir, "nolabel.csv", "a,label\n1,x\n2,\n");
    CHECK(contains(empty, "nolabel.csv, line 3, column 2 'label'"));
}

// CR-only line endings (old Mac spreadsheets) load like LF and CRLF, and a mix of the three.
TEST_CASE("csv: CR-only and mixed line endings") {
    test_support::TempDir dir;
    const Dataset cr = load_csv(dir.write_file("cr.csv", "a,b,c\r1,2,x\r3,4,y\r5,6,x\r"), {});
    CHECK(cr.rows == 3);
    CHECK(cr.x == std::vector<float>{1, 2, 3, 4, 5, 6});
    CHECK(cr.labels == std::vector<std::int32_t>{0, 1, 0});
    const Dataset mixed = load_csv(dir.write_file("mix.csv", "a,b,c\r\n1,2,x\r3,4,y\n5,6,x\r\r\n\n"), {});
    CHECK(mixed.rows == 3);
    CHECK(mixed.x == std::vector<float>{1, 2, 3, 4, 5, 6});
    // Line numbers count CR, LF and CRLF as one line break each.
    const std::string message = error_for(dir, "crbad.csv", "a,b,c\r1,2,x\r\n3,q,y\r5,6,x\r");
    CHECK(contains(message, "crbad.csv, line 3, column 2 'b'"));
    const Dataset iris = load_csv(test_support::data_path("iris.csv"), {});
    std::string text;
    {
        std::ifstream in(test_support::data_path("iris.csv"), std::ios::binary);
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::replace(text.begin(), text.end(), '\n', '\r');
    const Dataset iris_cr = load_csv(dir.write_file("iris-cr.csv", text), {});
    CHECK(iris_cr.rows == 150);
    CHECK(iris_cr.x == iris.x);
    CHECK(iris_cr.labels == iris.labels);
}

// RFC 4180: "" inside a quoted field is one quote, and a quoted field may span lines; the
// lines after it keep their numbers.
TEST_CASE("csv: RFC 4180 quoting") {
    test_support::TempDir dir;
    const Dataset q = load_csv(
        dir.write_file("q.csv", "a,\"the \"\"label\"\"\"\n1,\"say \"\"hi\"\"\"\n2,\"two\nlines\"\n"
                                "3,\"say \"\"hi\"\"\"\n4,\"a, b\r\nc\"\n"),
        {});
    CHECK(q.rows == 4);
    CHECK(q.feature_names == std::vector<std::string>{"a"});
    CHECK(q.class_names == std::vector<std::string>{"a, b\r\nc", "say \"hi\"", "two\nlines"});
    CHECK(q.labels == std::vector<std::int32_t>{1, 2, 1, 0});
    // A bad value after a two-line record is reported at its own line (5), not record 4.
    const std::string message =
        error_for(dir, "qbad.csv", "a,b\n1,\"x\ny\"\n2,z\nbad,z\n");
    CHECK(contains(message, "qbad.csv, line 5, column 1 'a'"));
    // An empty quoted field is a field, not a blank line.
    const std::string empty = error_for(dir, "qempty.csv", "a,b\n1,x\n\"\",y\n");
    CHECK(contains(empty, "qempty.csv, line 3, column 1 'a'"));
    CHECK(contains(empty, "empty field"));
}

// An unterminated quote is reported at the line where it opens; text after a closing quote
// is refused at its line.
TEST_CASE("csv: quote errors name the line") {
    test_support::TempDir dir;
    const std::string open = error_for(dir, "open.csv", "a,b\n1,x\n2,\"y\n3,z\n4,w\n");
    CHECK(contains(open, "open.csv, line 3"));
    CHECK(contains(open, "unterminated double quote"));
    const std::string after = error_for(dir, "after.csv", "a,b\n1,x\n2,\"y\"z\n");
    CHECK(contains(after, "after.csv, line 3"));
    CHECK(contains(after, "text after a closing double quote"));
    // Blanks after the closing quote are allowed.
    CHECK(load_csv(dir.write_file("ok.csv", "a,b\n1,\"x\"  \n2,y\n"), {}).rows == 2);
}

// Bytes from the file are escaped in messages: a NUL no longer cuts the message before its
// hint, and terminal escape sequences are shown, not executed.
TEST_CASE("csv: messages escape control bytes and cut long fields") {
    test_support::TempDir dir;
    const std::string nul =
        error_for(dir, "nul.csv", std::string("a,b,label\n1,2,x\n3,4\0zz,y\n", 25));
    CHECK(contains(nul, "nul.csv, line 3, column 2 'b'"));
    CHECK(contains(nul, "'4\\x00zz'"));
    CHECK(contains(nul, "(hint: every column except the label column must be numeric"));
    CHECK(nul.find('\0') == std::string::npos);
    const std::string esc = error_for(dir, "esc.csv", "a,b,label\n1,2,x\n3,\x1b[31mRED\x1b[0m,y\n");
    CHECK(contains(esc, "'\\x1B[31mRED\\x1B[0m'"));
    CHECK(esc.find('\x1b') == std::string::npos);
    const std::string header = error_for(dir, "hdr.csv", "a,\x1b]0;t\x07,label\n1,q,x\n2,3,y\n");
    CHECK(contains(header, "column 2 '\\x1B]0;t\\x07'"));
    const std::string longer = error_for(dir, "long.csv", "a,label\n" + std::string(5000, 'z') + ",x\n");
    CHECK(contains(longer, "'" + std::string(40, 'z') + "...'"));
    CHECK(longer.size() < 400);
    CsvOptions options;
    options.label = "\x1b[2J";
    const std::string label = error_for(dir, "label.csv", "a,b\n1,x\n2,y\n", options);
    CHECK(contains(label, "'\\x1B[2J'"));
}

// The input is read once, front to back: a named pipe loads (it cannot be opened twice),
// and so do bytes in memory, with the same result as the file.
TEST_CASE("csv: named pipes and memory input load like files") {
    test_support::TempDir dir;
    const std::string text = "a,b,c\n1,2,x\n3,4,y\n5,6,x\n";
    const std::string fifo = dir.path() + "/fifo.csv";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::thread writer([&] {
        std::ofstream out(fifo, std::ios::binary);
        out << text;
    });
    const Dataset piped = load_csv(fifo, {});
    writer.join();
    CHECK(piped.rows == 3);
    CHECK(piped.x == std::vector<float>{1, 2, 3, 4, 5, 6});
    mlptrain::Input memory = mlptrain::Input::memory(text, "memory.csv");
    const Dataset from_memory = load_csv(memory, {});
    CHECK(from_memory.source == "memory.csv");
    CHECK(from_memory.x == piped.x);
    CHECK(from_memory.labels == piped.labels);
}

// Records are cut the same wherever the 1 MiB read blocks split the input: inside a field,
// between CR and LF, inside a "" pair, or inside a quoted line break; and a plain line (the
// copy-free path) cut by the boundary reads like the others.
TEST_CASE("csv: read-block boundaries change nothing") {
    test_support::TempDir dir;
    // Row lengths 13 and 8; as many header lengths put the boundary at each of their bytes.
    const struct {
        std::string row;
        std::vector<std::string> classes;
    } cases[] = {{"1,\"x\"\"\r\ny\"\r\n", {"x\"\r\ny", "z"}}, {"12, y \r\n", {"y", "z"}}};
    for (const auto& c : cases) {
        for (std::size_t pad = 0; pad < c.row.size(); ++pad) {
            CAPTURE(c.row);
            CAPTURE(pad);
            std::string text = "a" + std::string(pad, ' ') + ",b\r\n";
            const std::size_t rows = ((std::size_t{1} << 20) - text.size()) / c.row.size() + 3;
            text.reserve(text.size() + rows * c.row.size() + 16);
            for (std::size_t r = 0; r < rows; ++r) text += c.row;
            text += "3,z\r\n";
            const Dataset data = load_csv(dir.write_file("b.csv", text), {});
            CHECK(data.rows == static_cast<std::int64_t>(rows) + 1);
            CHECK(data.class_names == c.classes);
        }
    }
}

// A record of more than 64 MiB (in practice an unterminated quote) is refused without
// holding the rest of the input.
TEST_CASE("csv: a runaway record is refused") {
    std::string text = "a,b\n1,\"x\n";
    text.append((std::size_t{65} << 20), 'y');
    mlptrain::Input in = mlptrain::Input::memory(text, "runaway.csv");
    std::string message;
    try {
        load_csv(in, {});
    } catch (const mlptrain::Error& e) {
        message = e.what();
    }
    CHECK(contains(message, "runaway.csv, line 2"));
    CHECK(contains(message, "more than 64 MiB"));
    CHECK(contains(message, "opened at line 2"));
}
