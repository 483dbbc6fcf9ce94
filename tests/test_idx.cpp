// Tests for the IDX loader: raw and gzip files give the same uint8 dataset, pixels gather
// scaled to [0, 1], every header/size/gzip rejection names the file and what was found, and
// (when the dataset package is installed) Fashion-MNIST loads with its known shapes.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mlptrain/data/dataset.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/data/idx.hpp"
#include "mlptrain/data/input.hpp"
#include "mlptrain/core/matrix.hpp"
#include "test_support.hpp"

using mlptrain::Dataset;
using mlptrain::load_idx;
using test_support::contains;
using test_support::TempDir;

namespace {

// An IDX file: magic 0x00 0x00, `type`, the dimension count, big-endian sizes, then `payload`.
std::string idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                      const std::string& payload) {
    std::string bytes = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
    for (const std::uint32_t d : dims) {
        bytes += static_cast<char>(d >> 24);
        bytes += static_cast<char>(d >> 16);
        bytes += static_cast<char>(d >> 8);
        bytes += static_cast<char>(d);
    }
    return bytes + payload;
}

// n pixels from a fixed linear congruential sequence, so gzip has real work to do.
std::string noisy_pixels(std::size_t n) {
    std::string pixels(n, '\0');
    std::uint32_t state = 12345;
    for (auto& p : pixels) {
        state = state * 1664525u + 1013904223u;
        p = static_cast<char>(state >> 24);
    }
    return pixels;
}

std::string images_file(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
    return idx_bytes(0x08, {n, rows, cols}, noisy_pixels(std::size_t{n} * rows * cols));
}

std::string labels_file(const std::string& labels) {
    return idx_bytes(0x08, {static_cast<std::uint32_t>(labels.size())}, labels);
}

// Writes `contents` gzip-compressed as dir/name with zlib's own writer.
std::string write_gzip(const TempDir& dir, const std::string& name, const std::string& contents) {
    const std::string path = dir.path() + "/" + name;
    gzFile out = gzopen(path.c_str(), "wb9");
    REQUIRE(out != nullptr);
    REQUIRE(gzwrite(out, contents.data(), static_cast<unsigned>(contents.size())) ==
            static_cast<int>(contents.size()));
    REQUIRE(gzclose(out) == Z_OK);
    return path;
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// The message of the Error that loading throws ("" when it loads).
std::string load_error(const std::string& images, const std::string& labels) {
    try {
        load_idx(images, labels);
    } catch (const mlptrain::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

// A raw 3-dimensional file loads as uint8 rows × (rows·cols) with labels and "0".."max" classes.
TEST_CASE("idx: raw images and labels load with shapes, pixels and classes") {
    TempDir dir;
    const std::string content = images_file(4, 3, 2);
    const std::string images = dir.write_file("train-images-idx3-ubyte", content);
    const std::string labels = dir.write_file("train-labels-idx1-ubyte", labels_file({0, 3, 1, 3}));
    const Dataset data = load_idx(images, labels);
    CHECK(data.source == images);
    CHECK(data.rows == 4);
    CHECK(data.features == 6);
    CHECK(data.x.empty());
    CHECK(data.u8_scale == 1.0f / 255.0f);
    REQUIRE(data.x_u8.size() == 24);
    const std::string pixels = content.substr(4 + 3 * 4);
    for (std::size_t i = 0; i < pixels.size(); ++i)
        CHECK(data.x_u8[i] == static_cast<std::uint8_t>(pixels[i]));
    CHECK(data.labels == std::vector<std::int32_t>{0, 3, 1, 3});
    CHECK(data.class_names == std::vector<std::string>{"0", "1", "2", "3"});
    CHECK(data.is_classification());
    REQUIRE(data.feature_names.size() == 6);
    CHECK(data.feature_names.front() == "pixel_0");
    CHECK(data.feature_names.back() == "pixel_5");
    CHECK(data.y.empty());
}

// gzip-compressed files give exactly the dataset their raw contents give.
TEST_CASE("idx: gzip and raw files load identically") {
    TempDir dir;
    const std::string images = images_file(50, 5, 7);
    std::string labels;
    for (int i = 0; i < 50; ++i) labels += static_cast<char>(i % 10);
    const Dataset raw =
        load_idx(dir.write_file("i", images), dir.write_file("l", labels_file(labels)));
    const Dataset gz =
        load_idx(write_gzip(dir, "i.gz", images), write_gzip(dir, "l.gz", labels_file(labels)));
    CHECK(gz.rows == 50);
    CHECK(gz.features == 35);
    CHECK(gz.x_u8 == raw.x_u8);
    CHECK(gz.labels == raw.labels);
    CHECK(gz.class_names.size() == 10);
    CHECK(gz.class_names == raw.class_names);
    CHECK(gz.feature_names == raw.feature_names);
}

// A 2-dimensional images file (N × features) has the second dimension as its feature count.
TEST_CASE("idx: two-dimensional images are N x features") {
    TempDir dir;
    const Dataset data = load_idx(dir.write_file("i", idx_bytes(0x08, {3, 5}, noisy_pixels(15))),
                                  dir.write_file("l", labels_file({1, 0, 1})));
    CHECK(data.rows == 3);
    CHECK(data.features == 5);
    CHECK(data.x_u8.size() == 15);
    CHECK(data.class_names == std::vector<std::string>{"0", "1"});
}

// Gathered pixels are value·u8_scale: 0 → 0 and 255 → 1 exactly, every value within 1 ulp of v/255.
TEST_CASE("idx: gather_features scales pixels to [0, 1]") {
    TempDir dir;
    std::string pixels;
    for (int v = 0; v < 256; ++v) pixels += static_cast<char>(v);
    const Dataset data = load_idx(dir.write_file("i", idx_bytes(0x08, {2, 16, 8}, pixels)),
                                  dir.write_file("l", labels_file({0, 1})));
    std::vector<float> storage(2 * 128, -1.0f);
    const std::int64_t rows[2] = {1, 0};  // reversed, so row selection is checked too
    mlptrain::gather_features(mlptrain::Matrix{storage.data(), 2, 128, 128}, data, rows, 2);
    for (int v = 0; v < 256; ++v) {
        const int at = v < 128 ? 128 + v : v - 128;
        const float got = storage[static_cast<std::size_t>(at)];
        CHECK(got == static_cast<float>(v) * data.u8_scale);
        CHECK(std::fabs(static_cast<double>(got) - v / 255.0) <=
              std::nextafter(1.0f, 2.0f) - 1.0f);  // ≤ 1 ulp at 1.0
        CHECK(got >= 0.0f);
        CHECK(got <= 1.0f);
    }
    CHECK(storage[128] == 0.0f);
    CHECK(storage[127] == 1.0f);
}

// A payload shorter than the dimensions' product is reported with both byte counts.
TEST_CASE("idx: truncated images are rejected with expected and found sizes") {
    TempDir dir;
    const std::string labels = dir.write_file("l", labels_file({0, 1, 0, 1}));
    std::string content = images_file(4, 10, 10);
    content.pop_back();
    const std::string raw = dir.write_file("raw", content);
    const std::string message = load_error(raw, labels);
    CHECK(contains(message, raw + ": expected 400 bytes of pixel data"));
    CHECK(contains(message, "found 399 (the file is truncated)"));
    // The same through gzip.
    const std::string gz = write_gzip(dir, "gz.gz", content);
    CHECK(contains(load_error(gz, labels), gz + ": expected 400 bytes of pixel data"));
    CHECK(contains(load_error(gz, labels), "found 399 (the file is truncated)"));
    // A header cut inside the dimensions.
    const std::string header = dir.write_file("header", content.substr(0, 9));
    CHECK(contains(load_error(header, labels),
                   header + ": expected 12 bytes of dimension sizes, found 5"));
}

// A header whose sizes claim far more than the file could hold is truncated, not allocated.
TEST_CASE("idx: a header claiming a huge payload is reported as truncated") {
    TempDir dir;
    const std::string labels = dir.write_file("l", labels_file({0, 1}));
    const std::string raw = dir.write_file("raw", idx_bytes(0x08, {4000000, 4000, 4000}, "abc"));
    CHECK(contains(load_error(raw, labels), "expected 64000000000000 bytes of pixel data"));
    CHECK(contains(load_error(raw, labels), "found 3 (the file is truncated)"));
    const std::string gz = write_gzip(dir, "gz.gz", idx_bytes(0x08, {4000000, 4000, 4000}, "abc"));
    CHECK(contains(load_error(gz, labels), "found 3 (the file is truncated)"));
}

// Bytes after the payload are an error, in the images file and in the labels file.
TEST_CASE("idx: trailing bytes are rejected") {
    TempDir dir;
    const std::string labels = dir.write_file("l", labels_file({0, 1}));
    const std::string images = dir.write_file("i", images_file(2, 2, 2) + "xyz");
    const std::string message = load_error(images, labels);
    CHECK(contains(message, images + ": expected 8 bytes of pixel data"));
    CHECK(contains(message, "found 11 (3 trailing bytes"));
    const std::string good = dir.write_file("good", images_file(2, 2, 2));
    const std::string long_labels = dir.write_file("ll", labels_file({0, 1}) + "!");
    CHECK(contains(load_error(good, long_labels),
                   long_labels + ": expected 2 bytes of label data for 2, found 3 (1 trailing"));
}

// A file that does not start with 0x00 0x00 is named as not IDX, with the bytes found.
TEST_CASE("idx: wrong magic number is rejected") {
    TempDir dir;
    const std::string labels = dir.write_file("l", labels_file({0}));
    const std::string csv = dir.write_file("data.csv", "a,b,label\n1,2,x\n");
    const std::string message = load_error(csv, labels);
    CHECK(contains(
        message, csv + ": expected the IDX magic number 0x00 0x00 at the start, found 0x61 0x2C"));
    CHECK(contains(message, "not an IDX file"));
    const std::string gz = write_gzip(dir, "data.csv.gz", "a,b,label\n1,2,x\n");
    CHECK(contains(load_error(gz, labels), "found 0x61 0x2C"));
}

// An element type other than uint8 is named, and so are bad dimension counts.
TEST_CASE("idx: wrong element type and dimensions are rejected") {
    TempDir dir;
    const std::string labels = dir.write_file("l", labels_file({0, 1}));
    const std::string floats = dir.write_file("f", idx_bytes(0x0D, {2, 2}, std::string(16, '\0')));
    const std::string message = load_error(floats, labels);
    CHECK(contains(
        message,
        floats + ": expected IDX element type 0x08 (unsigned byte), found type 0x0D (float32)"));
    CHECK(contains(message, "uint8"));
    const std::string zero_dims = dir.write_file("z", idx_bytes(0x08, {}, ""));
    CHECK(contains(load_error(zero_dims, labels),
                   "expected 1 to 4 dimensions in the IDX header, found 0"));
    const std::string five_dims = dir.write_file("five", idx_bytes(0x08, {1, 1, 1, 1, 1}, "x"));
    CHECK(contains(load_error(five_dims, labels), "found 5"));
    // Labels passed as images, and images passed as labels.
    const std::string as_images = load_error(labels, labels);
    CHECK(contains(as_images, labels + ": expected images with 3 dimensions"));
    CHECK(contains(as_images, "found 1 dimension (2)"));
    const std::string images = dir.write_file("i", images_file(2, 2, 2));
    CHECK(contains(load_error(images, images),
                   "expected labels with 1 dimension (count), found 3 dimensions (2 x 2 x 2)"));
    const std::string no_images = dir.write_file("none", idx_bytes(0x08, {0, 28, 28}, ""));
    CHECK(contains(load_error(no_images, labels), "expected at least one image, found 0"));
}

// Dimensions whose product overflows 64 bits are reported, not wrapped around.
TEST_CASE("idx: dimension product overflow is rejected") {
    TempDir dir;
    const std::string labels = dir.write_file("l", labels_file({0}));
    const std::string huge =
        dir.write_file("huge", idx_bytes(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, "x"));
    const std::string message = load_error(huge, labels);
    CHECK(contains(message, huge + ": expected dimensions whose product fits in 63 bits, found "
                                   "4294967295 x 4294967295 x 4294967295"));
}

// Label and image counts must agree; the message gives both and the images file.
TEST_CASE("idx: label count mismatch is rejected") {
    TempDir dir;
    const std::string images = dir.write_file("i", images_file(4, 2, 2));
    const std::string labels = dir.write_file("l", labels_file({0, 1, 2}));
    CHECK(contains(load_error(images, labels),
                   labels + ": expected 4 labels to match the images in " + images + ", found 3"));
}

// A corrupted or cut-off gzip stream is a clear error naming the file, never a crash.
TEST_CASE("idx: corrupt and truncated gzip streams are rejected") {
    TempDir dir;
    const std::string labels = dir.write_file("l", labels_file({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    const std::string good = write_gzip(dir, "good.gz", images_file(10, 28, 28));
    CHECK(load_error(good, labels).empty());
    const std::string compressed = read_bytes(good);
    REQUIRE(compressed.size() > 1000);

    std::string flipped = compressed;
    for (std::size_t i = flipped.size() / 2; i < flipped.size() / 2 + 8; ++i) flipped[i] ^= 0x5A;
    const std::string corrupt = dir.write_file("corrupt.gz", flipped);
    const std::string corrupt_message = load_error(corrupt, labels);
    CHECK(contains(corrupt_message, corrupt + ": expected a valid gzip stream, found '"));
    CHECK(contains(corrupt_message, "corrupt"));

    const std::string cut = dir.write_file("cut.gz", compressed.substr(0, compressed.size() / 2));
    const std::string cut_message = load_error(cut, labels);
    CHECK(contains(cut_message, cut + ": expected a valid gzip stream"));
    CHECK(contains(cut_message, "truncated"));

    // A bad checksum alone (last 8 bytes: CRC-32 and length) is caught too.
    std::string bad_crc = compressed;
    bad_crc[bad_crc.size() - 8] ^= 0x01;
    const std::string crc = dir.write_file("crc.gz", bad_crc);
    CHECK(contains(load_error(crc, labels), crc + ": expected a valid gzip stream"));
}

// Empty and missing files are reported by name.
TEST_CASE("idx: empty and missing files are rejected") {
    TempDir dir;
    const std::string labels = dir.write_file("l", labels_file({0}));
    const std::string empty = dir.write_file("empty", "");
    CHECK(contains(load_error(empty, labels), empty + ": expected an IDX header"));
    CHECK(contains(load_error(empty, labels), "found an empty file"));
    const std::string empty_gz = write_gzip(dir, "empty.gz", "");
    CHECK(contains(load_error(empty_gz, labels), "found an empty file"));
    const std::string missing = dir.path() + "/missing-images-idx3-ubyte.gz";
    CHECK(contains(load_error(missing, labels), "cannot open '" + missing + "'"));
    const std::string images = dir.write_file("i", images_file(1, 2, 2));
    CHECK(contains(load_error(images, missing), "cannot open '" + missing + "'"));
}

// is_idx_file recognizes raw and gzip IDX files (any element type) and nothing else.
TEST_CASE("idx: is_idx_file detects IDX content") {
    TempDir dir;
    CHECK(mlptrain::is_idx_file(dir.write_file("raw", images_file(2, 2, 2))));
    CHECK(mlptrain::is_idx_file(write_gzip(dir, "gz.gz", images_file(2, 2, 2))));
    CHECK(mlptrain::is_idx_file(dir.write_file("labels", labels_file({1}))));
    CHECK(mlptrain::is_idx_file(
        dir.write_file("floats", idx_bytes(0x0D, {1}, std::string(4, '\0')))));
    CHECK_FALSE(mlptrain::is_idx_file(dir.write_file("data.csv", "a,b\n1,2\n")));
    CHECK_FALSE(mlptrain::is_idx_file(write_gzip(dir, "data.csv.gz", "a,b\n1,2\n")));
    CHECK_FALSE(mlptrain::is_idx_file(dir.write_file("empty", "")));
    CHECK_FALSE(mlptrain::is_idx_file(dir.write_file("short", std::string(3, '\0'))));
    CHECK_FALSE(mlptrain::is_idx_file(dir.write_file("zeros", std::string(8, '\0'))));
    CHECK_FALSE(mlptrain::is_idx_file(dir.path() + "/missing"));
    CHECK_FALSE(mlptrain::is_idx_file(dir.path()));
}

// The labels path follows the images path by the MNIST naming; other names give "".
TEST_CASE("idx: idx_labels_path_for maps images names to labels names") {
    using mlptrain::idx_labels_path_for;
    CHECK(idx_labels_path_for("/d/train-images-idx3-ubyte.gz") == "/d/train-labels-idx1-ubyte.gz");
    CHECK(idx_labels_path_for("t10k-images-idx3-ubyte") == "t10k-labels-idx1-ubyte");
    CHECK(idx_labels_path_for("data/train-images.idx3-ubyte") == "data/train-labels.idx1-ubyte");
    CHECK(idx_labels_path_for("x/emb-images-idx2-ubyte.gz") == "x/emb-labels-idx1-ubyte.gz");
    CHECK(idx_labels_path_for("/images-idx3/data.gz").empty());
    CHECK(idx_labels_path_for("iris.csv").empty());
    CHECK(idx_labels_path_for("").empty());
}

// Fashion-MNIST (Debian package dataset-fashion-mnist) loads as 60000/10000 × 784, 10 classes.
TEST_CASE("idx: Fashion-MNIST loads when installed") {
    const std::string dir = "/usr/share/datasets/fashion-mnist/";
    struct stat st {};
    if (::stat((dir + "train-images-idx3-ubyte.gz").c_str(), &st) != 0) {
        MESSAGE("skipped: " << dir << " not installed (apt-get install dataset-fashion-mnist)");
        return;
    }
    const auto start = std::chrono::steady_clock::now();
    const std::string train_images = dir + "train-images-idx3-ubyte.gz";
    const Dataset train = load_idx(train_images, mlptrain::idx_labels_path_for(train_images));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("Fashion-MNIST train loaded in " << seconds << " s");
    CHECK(train.rows == 60000);
    CHECK(train.features == 784);
    CHECK(train.x_u8.size() == 60000u * 784u);
    CHECK(train.class_names.size() == 10);
    std::vector<int> counts(10, 0);
    for (const auto label : train.labels) counts[static_cast<std::size_t>(label)]++;
    for (const int count : counts) CHECK(count == 6000);  // Fashion-MNIST is balanced

    const std::string test_images = dir + "t10k-images-idx3-ubyte.gz";
    const Dataset test = load_idx(test_images, mlptrain::idx_labels_path_for(test_images));
    CHECK(test.rows == 10000);
    CHECK(test.features == 784);
    CHECK(test.class_names.size() == 10);
    CHECK(mlptrain::is_idx_file(test_images));
}

// Issue 11, defect 1: the IDX reader reads the Input it is given, once, front to back, and
// inflates gzip itself instead of reopening the path: a named pipe (gzip or raw) and bytes in
// memory load exactly like the file. Before, a pipe's bytes were consumed by the format sniff
// and the loader opened the path again.
TEST_CASE("idx: named pipes and memory input load like files, raw and gzip") {
    TempDir dir;
    const std::string content = images_file(5, 4, 3);
    const std::string label_bytes = labels_file({0, 1, 2, 1, 0});
    const std::string labels = dir.write_file("l", label_bytes);
    const Dataset expected = load_idx(dir.write_file("i", content), labels);
    const std::string gz = read_bytes(write_gzip(dir, "i.gz", content));
    for (const std::string& bytes : {content, gz}) {
        const std::string fifo = dir.path() + "/fifo";
        std::filesystem::remove(fifo);
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << bytes; });
        mlptrain::Input images_in = mlptrain::Input::open(fifo);
        const bool sniffed = mlptrain::is_idx_input(images_in);  // peeks: nothing is lost
        mlptrain::Input labels_in = mlptrain::Input::open(labels);
        const Dataset piped = load_idx(images_in, labels_in);
        writer.join();
        CHECK(sniffed);
        CHECK(piped.x_u8 == expected.x_u8);
        CHECK(piped.labels == expected.labels);
        mlptrain::Input memory = mlptrain::Input::memory(bytes, "memory");
        mlptrain::Input memory_labels = mlptrain::Input::memory(label_bytes, "labels");
        CHECK(load_idx(memory, memory_labels).x_u8 == expected.x_u8);
    }
}

// Two gzip members back to back (`cat a.gz b.gz`) are one stream, as gunzip reads them; bytes
// after the last member that are not another member are ignored, as zlib's gzread did.
TEST_CASE("idx: concatenated gzip members read as one stream") {
    TempDir dir;
    const std::string content = images_file(3, 2, 2);
    const std::string labels = dir.write_file("l", labels_file({0, 1, 2}));
    const std::string first = read_bytes(write_gzip(dir, "a.gz", content.substr(0, 9)));
    const std::string second = read_bytes(write_gzip(dir, "b.gz", content.substr(9)));
    const Dataset joined = load_idx(dir.write_file("ab.gz", first + second), labels);
    CHECK(joined.x_u8 == load_idx(dir.write_file("raw", content), labels).x_u8);
    CHECK(load_error(dir.write_file("tail.gz", first + second + "zz"), labels).empty());
    // A second member cut short is a truncated file.
    CHECK(contains(load_error(dir.write_file("cut.gz", first + second.substr(0, 12)), labels), "truncated"));
}
