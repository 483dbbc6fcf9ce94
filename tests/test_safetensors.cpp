// Tests for the safetensors writer and reader: exact round trips, CRC-32C, the on-disk layout,
// atomic replacement (including a writer SIGKILLed mid-write), and that every truncation,
// flipped bit and edited header is rejected with a message naming the file, never a crash.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/storage/safetensors.hpp"
#include "test_support.hpp"

using test_support::contains;

using mlptrain::crc32c;
using mlptrain::read_safetensors;
using mlptrain::SafetensorsFile;
using mlptrain::TensorView;
using mlptrain::write_safetensors;
using nlohmann::json;
using test_support::TempDir;

namespace {

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::uint64_t header_size_of(const std::string& bytes) {
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
    return n;
}

std::string hex32(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(value));
    return text;
}

// A small file: three tensors (24, 12 and 12 bytes of data) and one metadata entry.
const std::vector<float> w1_values = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 8.0f};
const std::vector<float> b1_values = {0.25f, 0.5f, -1.0f};
const std::vector<float> w2_values = {4.0f, 5.0f, 6.0f};

std::string write_sample(const TempDir& dir, const std::string& name) {
    const std::string path = dir.path() + "/" + name;
    write_safetensors(path,
                      {{"W1", {2, 3}, w1_values.data()},
                       {"b1", {3}, b1_values.data()},
                       {"W2", {1, 3}, w2_values.data()}},
                      {{"run", "sample"}});
    return path;
}

bool same_file(const SafetensorsFile& a, const SafetensorsFile& b) {
    if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
    for (const auto& [name, t] : a.tensors) {
        const auto it = b.tensors.find(name);
        if (it == b.tensors.end() || it->second.shape != t.shape ||
            it->second.data.size() != t.data.size())
            return false;
        if (std::memcmp(t.data.data(), it->second.data.data(), t.data.size() * sizeof(float)))
            return false;
    }
    return true;
}

// A file's header as JSON and its data area.
struct Parts {
    json header;
    std::string data;
};

Parts split(const std::string& bytes) {
    const std::uint64_t n = header_size_of(bytes);
    return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

// Header text (padded to 8-byte alignment) and data, as a file's bytes.
std::string assemble_raw(std::string text, const std::string& data) {
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((text.size() >> (8 * i)) & 0xFF);
    return bytes + text + data;
}

// `reseal` recomputes the header checksum, as a deliberate (not accidental) edit would.
std::string assemble(json header, const std::string& data, bool reseal) {
    if (reseal) {
        header["__metadata__"].erase("header_checksum");
        const std::string canonical = header.dump();
        header["__metadata__"]["header_checksum"] =
            hex32(crc32c(canonical.data(), canonical.size()));
    }
    return assemble_raw(header.dump(), data);
}

// Reads `path` and returns the Error's message; "" when it read without error. Any other
// exception type fails the test: nlohmann or std errors must not leak to the caller.
std::string read_error(const std::string& path) {
    try {
        read_safetensors(path);
    } catch (const mlptrain::Error& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL("non-mlptrain exception: " << e.what());
    }
    return "";
}

// Writes `bytes` to a fresh file in `dir`, reads it and removes it; returns the Error's
// message ("" when it read) and the file's path. A fresh name each time: ext4 flushes a file
// truncated and rewritten in place on close, which made thousands of cases take seconds.
std::pair<std::string, std::string> read_error_of(const TempDir& dir, const std::string& bytes,
                                                  SafetensorsFile* result = nullptr) {
    static int counter = 0;
    const std::string path =
        dir.write_file("case-" + std::to_string(counter++) + ".safetensors", bytes);
    std::string message = read_error(path);
    if (message.empty() && result != nullptr) *result = read_safetensors(path);
    std::filesystem::remove(path);
    return {message, path};
}


}  // namespace

// CRC-32C matches the standard check value and slice-by-8 agrees with a bitwise reference.
TEST_CASE("crc32c: known answer, incremental use, all lengths and alignments") {
    CHECK(crc32c("123456789", 9) == 0xE3069283u);
    CHECK(crc32c("", 0) == 0u);
    std::vector<unsigned char> bytes(300);
    for (std::size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<unsigned char>(i * 131 + 7);
    auto reference = [](const unsigned char* p, std::size_t n) {
        std::uint32_t crc = 0xFFFFFFFFu;
        for (std::size_t i = 0; i < n; ++i) {
            crc ^= p[i];
            for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
        }
        return ~crc;
    };
    for (std::size_t start = 0; start < 9; ++start)
        for (std::size_t n = 0; n + start <= 100; ++n)
            REQUIRE(crc32c(bytes.data() + start, n) == reference(bytes.data() + start, n));
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut)
        REQUIRE(crc32c(bytes.data() + cut, bytes.size() - cut, crc32c(bytes.data(), cut)) ==
                crc32c(bytes.data(), bytes.size()));
}

// Names, shapes (scalar and empty included), float bits (NaN payload, -0, inf, subnormal) and
// metadata come back exactly; the writer adds format_version and both checksums.
TEST_CASE("round trip preserves names, shapes, values bitwise and metadata") {
    TempDir dir;
    const std::string path = dir.path() + "/round.safetensors";
    std::vector<float> special = {0.0f,
                                  -0.0f,
                                  std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::denorm_min(),
                                  std::numeric_limits<float>::max(),
                                  1.0f / 3.0f,
                                  -7.5f};
    const std::uint32_t nan_bits = 0x7FC01234u;
    float nan;
    std::memcpy(&nan, &nan_bits, 4);
    special.push_back(nan);
    special.push_back(123.0f);
    std::vector<float> big(4096);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = std::sin(static_cast<float>(i));
    const float scalar = 42.0f;
    const std::map<std::string, std::string> metadata = {
        {"model", "{\"layers\":[784,128,10]}"},
        {"note", "unicode \xC3\xA9\xE2\x9C\x93, quote \", backslash \\, tab \t, ctrl \x01"},
        {"empty", ""},
        {"checksums", "caller value, replaced"}};
    write_safetensors(path,
                      {{"special", {2, 5}, special.data()},
                       {"layer.0.weight", {64, 64}, big.data()},
                       {"scalar", {}, &scalar},
                       {"empty", {0, 7}, nullptr}},
                      metadata);

    const SafetensorsFile f = read_safetensors(path);
    REQUIRE(f.tensors.size() == 4);
    CHECK(f.tensors.at("special").shape == std::vector<std::int64_t>{2, 5});
    CHECK(std::memcmp(f.tensors.at("special").data.data(), special.data(), special.size() * 4) ==
          0);
    CHECK(f.tensors.at("layer.0.weight").shape == std::vector<std::int64_t>{64, 64});
    CHECK(std::memcmp(f.tensors.at("layer.0.weight").data.data(), big.data(), big.size() * 4) == 0);
    CHECK(f.tensors.at("scalar").shape.empty());
    CHECK(f.tensors.at("scalar").data == std::vector<float>{42.0f});
    CHECK(f.tensors.at("empty").shape == std::vector<std::int64_t>{0, 7});
    CHECK(f.tensors.at("empty").data.empty());
    for (const auto& [key, value] : metadata)
        if (key != "checksums") CHECK(f.metadata.at(key) == value);
    CHECK(f.metadata.at("format_version") == "1");
    CHECK(f.metadata.at("header_checksum").size() == 8);
    const json sums = json::parse(f.metadata.at("checksums"));
    CHECK(sums.at("layer.0.weight") == hex32(crc32c(big.data(), big.size() * 4)));
    CHECK(sums.at("empty") == "00000000");
    CHECK(f.metadata.size() == metadata.size() + 2);
}

// Layout: LE uint64 header length, JSON starting with '{' padded with spaces so data starts
// 8-aligned, __metadata__ first, tensors contiguous in the given order, raw LE float32 bytes.
TEST_CASE("header layout: length prefix, 8-byte alignment, order and raw data") {
    TempDir dir;
    const std::string path = write_sample(dir, "layout.safetensors");
    const std::string bytes = read_bytes(path);
    const std::uint64_t n = header_size_of(bytes);
    REQUIRE(n + 8 <= bytes.size());
    CHECK((8 + n) % 8 == 0);
    CHECK(bytes.size() == 8 + n + 4 * (6 + 3 + 3));
    const std::string text = bytes.substr(8, n);
    CHECK(text.front() == '{');
    const std::size_t close = text.find_last_of('}');
    CHECK(close + 8 > n);  // at most 7 bytes of padding
    CHECK(text.find_first_not_of(' ', close + 1) == std::string::npos);
    CHECK(text.find("\"__metadata__\"") == 1);
    CHECK(text.find("\"W1\"") < text.find("\"b1\""));
    CHECK(text.find("\"b1\"") < text.find("\"W2\""));
    const json header = json::parse(text);
    CHECK(header.at("W1").at("data_offsets") == json::array({0, 24}));
    CHECK(header.at("b1").at("data_offsets") == json::array({24, 36}));
    CHECK(header.at("W2").at("data_offsets") == json::array({36, 48}));
    CHECK(header.at("b1").at("dtype") == "F32");
    CHECK(header.at("W1").at("shape") == json::array({2, 3}));
    const std::string data = bytes.substr(8 + n);
    CHECK(std::memcmp(data.data(), w1_values.data(), 24) == 0);
    CHECK(std::memcmp(data.data() + 24, b1_values.data(), 12) == 0);
    CHECK(std::memcmp(data.data() + 36, w2_values.data(), 12) == 0);
    // 1.5f is 0x3FC00000: little-endian puts the low byte first.
    CHECK(static_cast<unsigned char>(data[0]) == 0x00);
    CHECK(static_cast<unsigned char>(data[3]) == 0x3F);
}

// Writing over an existing file replaces it completely and leaves no temporary file.
TEST_CASE("atomic write replaces an existing file and leaves no temporary files") {
    TempDir dir;
    const std::string path = dir.path() + "/ckpt.safetensors";
    const std::vector<float> big(10000, 1.0f);
    write_safetensors(path, {{"a", {10000}, big.data()}}, {{"version", "1"}});
    const float small = 2.0f;
    write_safetensors(path, {{"b", {1}, &small}}, {{"version", "2"}});
    CHECK(list_dir(dir.path()) == std::vector<std::string>{"ckpt.safetensors"});
    const SafetensorsFile f = read_safetensors(path);
    CHECK(f.metadata.at("version") == "2");
    REQUIRE(f.tensors.size() == 1);
    CHECK(f.tensors.at("b").data == std::vector<float>{2.0f});

    // A relative path (no directory part) works too.
    const std::string cwd = std::filesystem::current_path().string();
    std::filesystem::current_path(dir.path());
    write_safetensors("relative.safetensors", {{"b", {1}, &small}}, {});
    std::filesystem::current_path(cwd);
    CHECK(read_safetensors(dir.path() + "/relative.safetensors").tensors.at("b").data[0] == 2.0f);
    CHECK(list_dir(dir.path()) ==
          std::vector<std::string>{"ckpt.safetensors", "relative.safetensors"});
}

// Files get the mode a plain open would give (0666 minus the umask), not mkstemp's 0600.
TEST_CASE("written files get the usual permissions") {
    TempDir dir;
    const mode_t old_mask = ::umask(022);
    const std::string path = write_sample(dir, "mode.safetensors");
    ::umask(old_mask);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);
}

// I/O failures throw Error naming the path and the system's reason, and leave nothing behind.
TEST_CASE("write failures throw naming the path and leave no temporary file") {
    TempDir dir;
    SUBCASE("missing directory") {
        const std::string path = dir.path() + "/no/such/dir/ckpt.safetensors";
        std::string message;
        try {
            write_sample(dir, "no/such/dir/ckpt.safetensors");
        } catch (const mlptrain::Error& e) {
            message = e.what();
        }
        CHECK(contains(message, path));
        CHECK(contains(message, std::strerror(ENOENT)));
        CHECK(contains(message, "hint"));
        CHECK(list_dir(dir.path()).empty());
    }
    SUBCASE("target is a directory") {
        std::filesystem::create_directory(dir.path() + "/ckpt.safetensors");
        std::string message;
        try {
            write_sample(dir, "ckpt.safetensors");
        } catch (const mlptrain::Error& e) {
            message = e.what();
        }
        CHECK(contains(message, dir.path() + "/ckpt.safetensors"));
        CHECK(contains(message, "rename"));
        CHECK(list_dir(dir.path()) == std::vector<std::string>{"ckpt.safetensors"});
    }
    SUBCASE("write fails midway (file size limit); the old file survives") {
        const std::string path = write_sample(dir, "ckpt.safetensors");
        const std::string before = read_bytes(path);
        // RLIMIT_FSIZE is per process, so the failing write runs in a child.
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::signal(SIGXFSZ, SIG_IGN);  // make write(2) fail with EFBIG instead of killing us
            const rlimit limit = {4096, 4096};
            ::setrlimit(RLIMIT_FSIZE, &limit);
            const std::vector<float> big(100000, 3.0f);
            try {
                write_safetensors(path, {{"big", {100000}, big.data()}}, {});
            } catch (const mlptrain::Error& e) {
                const std::string message = e.what();
                ::_exit(contains(message, path) && contains(message, std::strerror(EFBIG)) ? 0 : 2);
            }
            ::_exit(1);
        }
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);  // 1: no error thrown, 2: message lacks path or reason
        CHECK(list_dir(dir.path()) == std::vector<std::string>{"ckpt.safetensors"});
        CHECK(read_bytes(path) == before);
    }
}

// Every proper prefix of a valid file is rejected with an Error naming the file.
TEST_CASE("truncation at every byte position is rejected") {
    TempDir dir;
    const std::string good = read_bytes(write_sample(dir, "good.safetensors"));
    for (std::size_t len = 0; len < good.size(); ++len) {
        CAPTURE(len);
        const auto [message, path] = read_error_of(dir, good.substr(0, len));
        REQUIRE(contains(message, path));
    }
    MESSAGE("truncated at all " << good.size() << " prefix lengths");
}

// Any single flipped bit is rejected, except that one landing in the header's space padding
// would have to read back identical data (with compact JSON, none do).
TEST_CASE("a single flipped bit anywhere is rejected") {
    TempDir dir;
    const std::string good_path = write_sample(dir, "good.safetensors");
    const SafetensorsFile good = read_safetensors(good_path);
    const std::string bytes = read_bytes(good_path);
    const std::uint64_t n = header_size_of(bytes);
    const std::size_t padding_begin = 8 + bytes.substr(8, n).find_last_of('}') + 1;
    int accepted = 0;
    for (std::size_t pos = 0; pos < bytes.size(); ++pos) {
        for (int bit = 0; bit < 8; ++bit) {
            CAPTURE(pos);
            CAPTURE(bit);
            std::string flipped = bytes;
            flipped[pos] = static_cast<char>(flipped[pos] ^ (1 << bit));
            SafetensorsFile read;
            const auto [message, path] = read_error_of(dir, flipped, &read);
            if (message.empty()) {
                ++accepted;
                REQUIRE(pos >= padding_begin);
                REQUIRE(pos < 8 + n);
                REQUIRE(same_file(read, good));
            } else {
                REQUIRE(contains(message, path));
            }
        }
    }
    // A space flips to '\0', '!', '"', '$', '(', '0', '`' or 0xA0, none of them JSON whitespace,
    // and the reader rejects NUL bytes, so in fact no flip gets through.
    CHECK(accepted == 0);
    MESSAGE(bytes.size() * 8 << " bit flips at all " << bytes.size() << " byte positions, "
                             << accepted << " accepted");
}

// Each kind of damaged or edited header gets an Error naming the file and the field at fault.
TEST_CASE("edited headers are rejected with a message naming the field") {
    TempDir dir;
    const std::string good = read_bytes(write_sample(dir, "good.safetensors"));
    const Parts parts = split(good);
    const std::uint64_t n = header_size_of(good);

    struct Case {
        const char* what;
        std::string bytes;
        std::vector<std::string> expected;  // substrings of the message
    };
    std::vector<Case> cases;
    auto edit = [&](const char* what, bool reseal, auto change, std::vector<std::string> expected) {
        json header = parts.header;
        change(header);
        cases.push_back({what, assemble(header, parts.data, reseal), std::move(expected)});
    };

    edit("shape with another element count", true,
         [](json& h) {
             h["W1"]["shape"] = {3, 3};
         },
         {"'W1' data_offsets", "shape [3, 3]", "36 bytes", "24 bytes"});
    edit("shape with the same element count", false,
         [](json& h) {
             h["W1"]["shape"] = {3, 2};
         },
         {"header checksum"});
    edit("negative dimension", true,
         [](json& h) {
             h["W1"]["shape"] = {-2, -3};
         },
         {"'W1' shape", "non-negative integer", "-2"});
    edit("float dimension", true,
         [](json& h) {
             h["W1"]["shape"] = {2.0, 3};
         },
         {"'W1' shape", "2.0"});
    edit("dimension beyond int64", true,
         [](json& h) {
             h["W1"]["shape"] = {std::numeric_limits<std::uint64_t>::max(), 0};
         },
         {"'W1' shape", "18446744073709551615"});
    edit("element count overflowing uint64", true,
         [](json& h) {
             h["W1"]["shape"] = {1ull << 32, 1ull << 32, 1ull << 32};
         },
         {"'W1' shape", "elements"});
    edit("shape not an array", true, [](json& h) { h["W1"]["shape"] = "2x3"; },
         {"'W1' shape", "'2x3'"});
    edit("shape missing", true, [](json& h) { h["W1"].erase("shape"); }, {"'W1' shape"});
    edit("dtype F16", true, [](json& h) { h["b1"]["dtype"] = "F16"; },
         {"'b1' dtype", "\"F32\"", "'F16'"});
    edit("dtype missing", true, [](json& h) { h["b1"].erase("dtype"); }, {"'b1' dtype"});
    edit("unknown field", true, [](json& h) { h["b1"]["extra"] = 1; }, {"'b1'", "'extra'"});
    edit("tensor not an object", true, [](json& h) { h["b1"] = 7; }, {"'b1'", "an object"});
    edit("overlapping offsets", true,
         [](json& h) {
             h["W2"]["data_offsets"] = {24, 36};
         },
         {"data_offsets", "overlapping"});
    edit("offsets beyond the file", true,
         [](json& h) {
             h["W2"]["data_offsets"] = {1000, 1012};
         },
         {"'W2' data_offsets", "<= 48", "[1000, 1012]"});
    edit("offsets reversed", true,
         [](json& h) {
             h["b1"]["data_offsets"] = {36, 24};
         },
         {"'b1' data_offsets", "[36, 24]"});
    edit("offsets not integers", true,
         [](json& h) {
             h["b1"]["data_offsets"] = {24.0, 36};
         },
         {"'b1' data_offsets", "integer"});
    edit("offsets negative", true,
         [](json& h) {
             h["b1"]["data_offsets"] = {-24, 36};
         },
         {"'b1' data_offsets", "-24"});
    edit("three offsets", true,
         [](json& h) {
             h["b1"]["data_offsets"] = {24, 30, 36};
         },
         {"'b1' data_offsets", "[begin, end]"});
    {
        json header = parts.header;  // 4 more bytes of data, left unused between W1 and b1
        header["b1"]["data_offsets"] = {28, 40};
        header["W2"]["data_offsets"] = {40, 52};
        cases.push_back({"offsets leave a gap",
                         assemble(header, parts.data + "pad!", true),
                         {"'b1' data_offsets", "gap after tensor 'W1'"}});
    }
    edit("tensor dropped from the header", true, [](json& h) { h.erase("W2"); },
         {"data area", "48 bytes", "36 bytes"});
    edit("empty tensor name", true, [](json& h) { h[""] = h["b1"]; }, {"tensor name"});
    edit("__metadata__ value not a string", true, [](json& h) { h["__metadata__"]["run"] = 5; },
         {"__metadata__ 'run'", "a string", "found 5"});
    {
        // Spliced in as text: dumping 100000 levels with nlohmann would recurse that deep.
        json header = parts.header;
        header["__metadata__"]["run"] = "@deep@";
        std::string text = header.dump();
        text.replace(text.find("\"@deep@\""), 8,
                     std::string(100000, '[') + std::string(100000, ']'));
        cases.push_back({"__metadata__ value nested 100000 deep",
                         assemble_raw(text, parts.data),
                         {"__metadata__ 'run'", "an array"}});
    }
    edit("__metadata__ not an object", false, [](json& h) { h["__metadata__"] = "x"; },
         {"__metadata__", "an object"});
    edit("__metadata__ missing", false, [](json& h) { h.erase("__metadata__"); }, {"__metadata__"});
    edit("metadata value changed", false, [](json& h) { h["__metadata__"]["run"] = "samplf"; },
         {"header checksum"});
    edit("header checksum missing", false,
         [](json& h) { h["__metadata__"].erase("header_checksum"); }, {"'header_checksum'"});
    edit("header checksum malformed", false,
         [](json& h) { h["__metadata__"]["header_checksum"] = "XYZ"; },
         {"'header_checksum'", "hex"});
    edit("format_version changed", true, [](json& h) { h["__metadata__"]["format_version"] = "2"; },
         {"'format_version'", "'2'"});
    edit("checksums missing", true, [](json& h) { h["__metadata__"].erase("checksums"); },
         {"'checksums'"});
    edit("checksums not JSON", true, [](json& h) { h["__metadata__"]["checksums"] = "{oops"; },
         {"'checksums'", "JSON"});
    edit("checksum entry missing", true,
         [](json& h) {
             json sums = json::parse(h["__metadata__"]["checksums"].get<std::string>());
             sums.erase("b1");
             h["__metadata__"]["checksums"] = sums.dump();
         },
         {"'checksums'", "'b1'"});
    edit("checksum entry for a missing tensor", true,
         [](json& h) {
             json sums = json::parse(h["__metadata__"]["checksums"].get<std::string>());
             sums["ghost"] = "00000000";
             h["__metadata__"]["checksums"] = sums.dump();
         },
         {"'checksums'", "'ghost'"});
    edit("checksum entry malformed", true,
         [](json& h) {
             json sums = json::parse(h["__metadata__"]["checksums"].get<std::string>());
             sums["b1"] = 17;
             h["__metadata__"]["checksums"] = sums.dump();
         },
         {"'checksums' for tensor 'b1'", "hex"});
    edit("checksum mismatch (resealed header)", true,
         [](json& h) {
             json sums = json::parse(h["__metadata__"]["checksums"].get<std::string>());
             sums["b1"] = "01234567";
             h["__metadata__"]["checksums"] = sums.dump();
         },
         {"'b1' checksum", "01234567"});
    edit("tensors' offsets swapped (resealed header)", true,
         [](json& h) {
             h["b1"]["data_offsets"] = {36, 48};
             h["W2"]["data_offsets"] = {24, 36};
         },
         {"checksum"});

    std::string data_flip = good;
    data_flip[8 + n + 30] ^= 0x01;  // inside b1
    cases.push_back({"data byte flipped", data_flip, {"'b1' checksum"}});
    std::string nul_padding = good;
    REQUIRE(nul_padding[8 + n - 1] == ' ');
    nul_padding[8 + n - 1] = '\0';  // nlohmann alone would stop there and accept the header
    cases.push_back({"NUL byte in the header padding", nul_padding, {"header", "NUL byte"}});
    cases.push_back({"trailing bytes",
                     good + std::string(4, '\0'),
                     {"data area", "4 after the last tensor", "trailing"}});
    cases.push_back({"empty file", "", {"header length", "8 bytes"}});
    std::string longer = good;
    const std::uint64_t past_end = good.size() - 8 + 1;  // one byte more than the file holds
    for (int i = 0; i < 8; ++i) longer[i] = static_cast<char>((past_end >> (8 * i)) & 0xFF);
    cases.push_back({"header length past the end of the file",
                     longer,
                     {"header length", std::to_string(past_end)}});
    std::string too_long = good;
    too_long.replace(0, 8, std::string(8, '\xFF'));
    cases.push_back({"header length 2^64-1", too_long, {"header length", "18446744073709551615"}});
    std::string huge = std::string(8, '\0') + std::string(200, ' ');
    huge[3] = 0x10;  // 268 MB: over the 100 MB limit
    cases.push_back({"header length over the limit",
                     huge,
                     {"header length", "at most 200 bytes", "268435456"}});
    cases.push_back(
        {"header not JSON", assemble_raw("{\"W1\": oops}", parts.data), {"header", "valid JSON"}});
    cases.push_back(
        {"header not an object", assemble_raw("[1, 2]", ""), {"header", "a JSON object"}});
    cases.push_back({"header with invalid UTF-8",
                     assemble_raw("{\"\xFF\": 1}", ""),
                     {"header", "valid JSON", "\\xFF"}});

    for (const Case& c : cases) {
        INFO(c.what);
        const auto [message, path] = read_error_of(dir, c.bytes);
        CAPTURE(message);
        CHECK(contains(message, path));
        // Bytes from the file appear escaped: a hostile header cannot garble the terminal.
        CHECK(std::all_of(message.begin(), message.end(),
                          [](unsigned char ch) { return ch >= 0x20 && ch < 0x7F; }));
        for (const std::string& part : c.expected) CHECK(contains(message, part));
    }
    // The reference, unedited and reassembled, still reads: the edits alone cause the errors.
    CHECK(read_error_of(dir, assemble(parts.header, parts.data, false)).first.empty());
}

// Metadata that cannot be written as JSON (invalid UTF-8) is refused with an Error before any
// file is created.
TEST_CASE("metadata that is not valid UTF-8 is refused before anything is written") {
    TempDir dir;
    const std::string path = dir.path() + "/bad.safetensors";
    const float x = 1.0f;
    std::string message;
    try {
        write_safetensors(path, {{"x", {1}, &x}}, {{"note", "bad \xFF byte"}});
    } catch (const mlptrain::Error& e) {
        message = e.what();
    }
    CHECK(contains(message, path));
    CHECK(contains(message, "UTF-8"));
    CHECK(list_dir(dir.path()).empty());
}

// Paths that do not exist or are not regular files (a directory, a FIFO) give an Error.
TEST_CASE("missing files and directories are rejected") {
    TempDir dir;
    const std::string missing = dir.path() + "/none.safetensors";
    CHECK(contains(read_error(missing), missing));
    CHECK(contains(read_error(missing), std::strerror(ENOENT)));
    CHECK(contains(read_error(dir.path()), "regular file"));
    const std::string fifo = dir.path() + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(contains(read_error(fifo), "regular file"));  // and does not block waiting for a writer
}

// SIGKILL at any moment of a write leaves a readable file holding one complete version.
TEST_CASE("a writer killed at any moment leaves the old or the new complete file") {
    TempDir dir;
    const std::string path = dir.path() + "/kill.safetensors";
    const std::string temp_prefix = "kill.safetensors.tmp-";
    constexpr std::int64_t rows = 512, cols = 1024;  // 2 MB
    std::vector<float> values(rows * cols);
    auto write_version = [&](std::int64_t version) {
        std::fill(values.begin(), values.end(), static_cast<float>(version));
        const float step = static_cast<float>(version);
        write_safetensors(path, {{"weights", {rows, cols}, values.data()}, {"step", {1}, &step}},
                          {{"version", std::to_string(version)}});
    };
    // Kill delays spread over 0 to about three writes' time (capped at 50 ms), so the kills land
    // before, during and after writes in fast (Release) and slow (sanitizer) builds alike.
    const auto start = std::chrono::steady_clock::now();
    write_version(0);
    const double write_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    const int max_delay_us = static_cast<int>(std::clamp(3.0 * write_us, 5000.0, 50000.0));

    constexpr int kills = 50;
    std::int64_t last = 0;
    int advanced = 0, temps_left = 0;
    for (int k = 0; k < kills; ++k) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            try {
                for (std::int64_t v = last + 1;; ++v) write_version(v);
            } catch (...) {
            }
            ::_exit(3);
        }
        ::usleep(static_cast<useconds_t>((k * 7919) % max_delay_us));  // 0 to max, spread
        ::kill(pid, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        REQUIRE(WIFSIGNALED(status));  // the child never stops by itself
        CAPTURE(k);
        const SafetensorsFile f = read_safetensors(path);
        const std::int64_t version = std::stoll(f.metadata.at("version"));
        CHECK(version >= last);
        const mlptrain::Tensor& w = f.tensors.at("weights");
        CHECK(w.shape == std::vector<std::int64_t>{rows, cols});
        const float expected = static_cast<float>(version);
        CHECK(std::all_of(w.data.begin(), w.data.end(), [&](float x) { return x == expected; }));
        CHECK(f.tensors.at("step").data == std::vector<float>{expected});
        if (version > last) ++advanced;
        last = version;
        // A killed writer cannot remove its temporary file; nothing else may be there.
        for (const std::string& name : list_dir(dir.path())) {
            if (name == "kill.safetensors") continue;
            CHECK(name.rfind(temp_prefix, 0) == 0);
            std::filesystem::remove(dir.path() + "/" + name);
            ++temps_left;
        }
    }
    MESSAGE(kills << " kill points (delays 0-" << max_delay_us / 1000 << " ms, one write "
                  << static_cast<int>(write_us / 1000) << " ms): the file advanced " << advanced
                  << " times to version " << last << "; " << temps_left
                  << " kills landed mid-write (temporary file left)");
}

// An independent reader (Python: json + struct + NumPy, no mlptrain code) sees the same
// tensors and verifies both kinds of checksum.
TEST_CASE("files are readable by a plain Python/NumPy safetensors reader") {
    if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: /usr/bin/python3 with numpy is not available");
        return;
    }
    TempDir dir;
    const std::string path = dir.path() + "/py.safetensors";
    const std::vector<float> w = {1.0f, 2.0f, 3.5f, -4.0f, 5.0f, 6.0f};
    const float scalar = -2.5f;
    write_safetensors(path,
                      {{"W1", {2, 3}, w.data()},
                       {"scalar", {}, &scalar},
                       {"empty", {0}, nullptr},
                       {"b1", {3}, w.data() + 3}},
                      {{"note", "caf\xC3\xA9 \xE2\x9C\x93 \"q\" \\ / \t\x01\x7F"}, {"b", "2"}});
    const std::string script = std::string(MLPTRAIN_SOURCE_DIR) + "/tests/safetensors_reader.py";
    auto run = [&](const std::string& file, const std::string& flags) {
        const std::string command =
            "/usr/bin/python3 '" + script + "' '" + file + "' " + flags + " 2>&1";
        std::string out;
        FILE* pipe = ::popen(command.c_str(), "r");
        REQUIRE(pipe != nullptr);
        char buffer[4096];
        std::size_t got;
        while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, got);
        const int status = ::pclose(pipe);
        return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
    };
    const std::string listing =
        "W1 (2, 3) 13.5\n"
        "scalar () -2.5\n"
        "empty (0,) 0.0\n"
        "b1 (3,) 7.0\n";
    const auto plain = run(path, "");
    CHECK(plain.first == 0);
    CHECK(plain.second == listing);
    const auto verified = run(path, "--verify");
    CHECK(verified.first == 0);
    CHECK(verified.second == listing + "verified 4 tensor checksums and the header checksum\n");

    // The Python checks catch what ours catch: a flipped data bit, an edited metadata value.
    std::string bytes = read_bytes(path);
    bytes.back() ^= 0x01;
    const auto data_flip = run(dir.write_file("flip.safetensors", bytes), "--verify");
    CHECK(data_flip.first != 0);
    CHECK(contains(data_flip.second, "b1: checksum"));
    bytes = read_bytes(path);
    bytes[bytes.find("\"b\":\"2\"") + 5] = '3';
    const auto meta_edit = run(dir.write_file("meta.safetensors", bytes), "--verify");
    CHECK(meta_edit.first != 0);
    CHECK(contains(meta_edit.second, "header: checksum"));
}
