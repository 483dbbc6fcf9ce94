// safetensors writer and strict reader (see safetensors.hpp). The writer goes through
// AtomicFile (temporary file, fsync, rename), so a crash leaves either the old file or the new
// one; the reader checks every length, offset, shape and checksum before it trusts or allocates anything.
#include "mlptrain/storage/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"
#include "mlptrain/storage/atomic_file.hpp"

// Tensors go to disk as the bytes of the float array: that is little-endian IEEE float32 only
// on a little-endian host with IEEE floats.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little-endian");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559,
              "safetensors I/O assumes IEEE-754 float32");

namespace mlptrain {
namespace {

using json = nlohmann::json;

// The safetensors reference implementation refuses headers over 100 MB; so do we, before
// allocating anything for one.
constexpr std::uint64_t max_header_bytes = 100'000'000;
// The header is padded with spaces so that the data (and every float in it) starts 8-aligned.
constexpr std::size_t data_alignment = 8;
constexpr const char* format_version = "1";
constexpr const char* metadata_key = "__metadata__";
constexpr const char* checksums_key = "checksums";
constexpr const char* version_key = "format_version";
// CRC-32C of the header re-serialized canonically (compact, keys sorted, this key left out):
// the tensor checksums cover the data, this one covers the shapes, offsets and metadata.
constexpr const char* header_checksum_key = "header_checksum";
constexpr std::size_t max_write = std::size_t{1} << 30;  // one write(2) call at most

constexpr const char* hint_corrupt =
    "the file is truncated, corrupted or was not written by mlptrain; use an earlier checkpoint";

// ---- CRC-32C, slice-by-8 ----------------------------------------------------------------

// table[0] is the classic byte-at-a-time table for the reflected Castagnoli polynomial;
// table[k][b] advances the CRC of byte b by k more zero bytes, so 8 bytes fold in one step.
struct Crc32cTables {
    std::uint32_t table[8][256];
};

constexpr Crc32cTables make_crc32c_tables() {
    Crc32cTables t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t crc = b;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        t.table[0][b] = crc;
    }
    for (int k = 1; k < 8; ++k)
        for (int b = 0; b < 256; ++b) {
            const std::uint32_t prev = t.table[k - 1][b];
            t.table[k][b] = (prev >> 8) ^ t.table[0][prev & 0xFF];
        }
    return t;
}

constexpr Crc32cTables crc32c_tables = make_crc32c_tables();

std::string hex32(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(value));
    return text;
}

// Parses exactly 8 lowercase hex digits, the form hex32 writes.
bool parse_hex32(const std::string& text, std::uint32_t& value) {
    if (text.size() != 8) return false;
    value = 0;
    for (const char c : text) {
        const bool decimal = c >= '0' && c <= '9';
        if (!decimal && !(c >= 'a' && c <= 'f')) return false;
        value = (value << 4) | static_cast<unsigned>(decimal ? c - '0' : c - 'a' + 10);
    }
    return true;
}

// ---- messages -------------------------------------------------------------------------

// Text from the file, for a message (core/text.hpp escapes control bytes and cuts).
std::string quote(const std::string& text) { return mlptrain::quote(text, 80); }

// A JSON value from the file, for a message: scalars as written (cut), containers by kind.
// Never dumps a container: a hostile header may nest arbitrarily deep.
std::string show(const json& value) {
    if (value.is_object()) return "an object";
    if (value.is_array()) return "an array of " + std::to_string(value.size());
    if (value.is_string()) return "the string " + quote(value.get_ref<const std::string&>());
    std::string text = value.dump();
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    return text;
}

// "'path': what"
std::string at(const std::string& path, const std::string& what) {
    return "'" + path + "': " + what;
}

std::string tensor_at(const std::string& path, const std::string& name, const char* field) {
    return at(path, "tensor " + quote(name) + " " + field);
}

[[noreturn]] void fail_io(const std::string& action, const std::string& path, int err,
                          const std::string& hint) {
    throw Error("cannot " + action + " '" + path + "': " + std::strerror(err) + " (hint: " + hint +
                ")");
}

// Element count of a shape the caller built (programmer errors assert).
std::uint64_t checked_count(const TensorView& t) {
    std::uint64_t count = 1;
    for (const std::int64_t d : t.shape) {
        MLPTRAIN_ASSERT(d >= 0, "tensor '" + t.name + "' has a negative dimension");
        const auto dim = static_cast<std::uint64_t>(d);
        MLPTRAIN_ASSERT(dim == 0 || count <= std::numeric_limits<std::uint64_t>::max() / 4 / dim,
                        "tensor '" + t.name + "' has too many elements");
        count *= dim;
    }
    return count;
}

// ---- strict read ------------------------------------------------------------------------

class InputFile {
public:
    explicit InputFile(const std::string& path) : path_(path) {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected just below.
        // (Regular files ignore the flag.)
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd_ < 0) {
            const int err = errno;
            fail_io("open", path, err, "check the path and its permissions");
        }
        struct stat st {};
        const int stat_status = ::fstat(fd_, &st);
        const int err = errno;
        if (stat_status != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd_);  // a throwing constructor runs no destructor
            if (stat_status != 0) fail_io("stat", path, err, "check the path and its permissions");
            throw Error(describe(at(path, "file type"), "a regular file", "something else",
                                 "pass the path of a .safetensors checkpoint"));
        }
        size_ = static_cast<std::uint64_t>(st.st_size);
    }
    ~InputFile() { ::close(fd_); }
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    std::uint64_t size() const { return size_; }

    // Reads exactly `size` bytes at `offset`; the caller has checked the range against size().
    void read(std::uint64_t offset, void* data, std::size_t size) {
        auto* p = static_cast<char*>(data);
        while (size > 0) {
            const ssize_t n =
                ::pread(fd_, p, std::min(size, max_write), static_cast<off_t>(offset));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                const int err = errno;
                fail_io("read", path_, err, "check the disk");
            }
            if (n == 0)
                throw Error(describe(at(path_, "contents"), std::to_string(size_) + " bytes",
                                     "fewer",
                                     "the file shrank while being read; is another "
                                     "process writing it?"));
            p += n;
            offset += static_cast<std::uint64_t>(n);
            size -= static_cast<std::size_t>(n);
        }
    }

private:
    std::string path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

// Where a tensor's bytes lie in the data area, once its header entry has been checked.
struct TensorEntry {
    std::string name;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

// The parse error without nlohmann's "[json.exception.parse_error.101] " tag, cut short:
// its "last read" excerpt can be as long as the header.
std::string parse_message(const json::exception& e) {
    std::string text = e.what();
    const std::size_t tag_end = text.find("] ");
    if (text.rfind("[json.exception.", 0) == 0 && tag_end != std::string::npos)
        text.erase(0, tag_end + 2);
    return printable(text, 200);
}

std::vector<std::int64_t> read_shape(const std::string& path, const std::string& name,
                                     const json& entry, std::uint64_t max_elements,
                                     std::uint64_t& count) {
    const std::string where = tensor_at(path, name, "shape");
    const auto it = entry.find("shape");
    if (it == entry.end()) throw Error(describe(where, "a \"shape\" field", "none", hint_corrupt));
    if (!it->is_array())
        throw Error(describe(where, "an array of dimensions", show(*it), hint_corrupt));
    std::vector<std::int64_t> shape;
    bool empty = false;
    for (const json& d : *it) {
        // Integers only; nlohmann keeps negative ones as number_integer.
        const bool ok = d.is_number_unsigned() &&
                        d.get<std::uint64_t>() <=
                            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (!ok)
            throw Error(describe(where, "non-negative integer dimensions", show(d), hint_corrupt));
        shape.push_back(d.get<std::int64_t>());
        if (shape.back() == 0) empty = true;
    }
    // The element count is bounded by what the data area can hold, which also rules out
    // overflow; a zero dimension makes the others irrelevant.
    count = 0;
    if (!empty) {
        count = 1;
        for (const std::int64_t d : shape) {
            const auto dim = static_cast<std::uint64_t>(d);
            if (count > max_elements / dim)
                throw Error(describe(where,
                                     "at most " + std::to_string(max_elements) +
                                         " elements (what the file's data area holds)",
                                     "more", hint_corrupt));
            count *= dim;
        }
    }
    return shape;
}

TensorEntry read_entry(const std::string& path, const std::string& name, const json& entry,
                       std::uint64_t data_size) {
    if (name.empty())
        throw Error(
            describe(at(path, "tensor name"), "a non-empty name", "an empty one", hint_corrupt));
    if (!entry.is_object())
        throw Error(
            describe(at(path, "tensor " + quote(name)), "an object", show(entry), hint_corrupt));
    for (const auto& field : entry.items()) {
        const std::string& key = field.key();
        if (key != "dtype" && key != "shape" && key != "data_offsets")
            throw Error(describe(at(path, "tensor " + quote(name)),
                                 "only the fields dtype, shape and data_offsets",
                                 "a field " + quote(key), hint_corrupt));
    }
    const auto dtype = entry.find("dtype");
    if (dtype == entry.end())
        throw Error(describe(tensor_at(path, name, "dtype"), "\"F32\"", "none", hint_corrupt));
    if (!dtype->is_string() || dtype->get_ref<const std::string&>() != "F32")
        throw Error(describe(tensor_at(path, name, "dtype"), "\"F32\"", show(*dtype),
                             "mlptrain reads float32 tensors only; convert the file first"));

    TensorEntry t;
    t.name = name;
    std::uint64_t count = 0;
    t.shape = read_shape(path, name, entry, data_size / sizeof(float), count);

    const std::string where = tensor_at(path, name, "data_offsets");
    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end())
        throw Error(describe(where, "a \"data_offsets\" field", "none", hint_corrupt));
    if (!offsets->is_array() || offsets->size() != 2)
        throw Error(describe(where, "[begin, end]", show(*offsets), hint_corrupt));
    for (const json& o : *offsets)
        if (!o.is_number_unsigned())
            throw Error(describe(where, "non-negative integer offsets", show(o), hint_corrupt));
    t.begin = (*offsets)[0].get<std::uint64_t>();
    t.end = (*offsets)[1].get<std::uint64_t>();
    if (t.begin > t.end || t.end > data_size)
        throw Error(describe(
            where,
            "0 <= begin <= end <= " + std::to_string(data_size) + " (the size of the data area)",
            "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]", hint_corrupt));
    // count <= data_size / 4, so count * 4 cannot overflow.
    if (t.end - t.begin != count * sizeof(float)) {
        std::string dims;
        for (const std::int64_t d : t.shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
        throw Error(describe(where,
                             std::to_string(count * sizeof(float)) + " bytes (shape [" + dims +
                                 "] holds " + std::to_string(count) + " float32 elements)",
                             std::to_string(t.end - t.begin) + " bytes", hint_corrupt));
    }
    return t;
}

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) {
    const auto& t = crc32c_tables.table;
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    while (size >= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);  // little-endian: the first byte is the low one
        word ^= crc;
        crc = t[7][word & 0xFF] ^ t[6][(word >> 8) & 0xFF] ^ t[5][(word >> 16) & 0xFF] ^
              t[4][(word >> 24) & 0xFF] ^ t[3][(word >> 32) & 0xFF] ^ t[2][(word >> 40) & 0xFF] ^
              t[1][(word >> 48) & 0xFF] ^ t[0][word >> 56];
        p += 8;
        size -= 8;
    }
    while (size-- > 0) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       std::map<std::string, std::string> metadata) {
    // The header as `json` (keys sorted) is the canonical form the header checksum covers.
    json header = json::object();
    json checksums = json::object();
    std::vector<std::uint64_t> bytes;
    std::uint64_t offset = 0;
    for (const TensorView& t : tensors) {
        MLPTRAIN_ASSERT(!t.name.empty() && t.name != metadata_key,
                        "tensor name '" + t.name + "' is empty or reserved");
        MLPTRAIN_ASSERT(!header.contains(t.name), "duplicate tensor name '" + t.name + "'");
        const std::uint64_t count = checked_count(t);
        MLPTRAIN_ASSERT(count == 0 || t.data != nullptr, "tensor '" + t.name + "' has no data");
        bytes.push_back(count * sizeof(float));
        header[t.name] = {{"dtype", "F32"},
                          {"shape", t.shape},
                          {"data_offsets", json::array({offset, offset + bytes.back()})}};
        checksums[t.name] = hex32(crc32c(t.data, bytes.back()));
        offset += bytes.back();
    }
    // Reserved keys are ours: values the caller passed (say, copied from a file read earlier)
    // are replaced.
    metadata[version_key] = format_version;
    metadata[checksums_key] = checksums.dump();
    metadata.erase(header_checksum_key);
    header[metadata_key] = metadata;
    std::string canonical;
    try {
        canonical = header.dump();
    } catch (const json::exception& e) {
        // Only invalid UTF-8 in a name or a metadata value can make dump throw.
        throw Error(describe(at(path, "header"), "tensor names and metadata in valid UTF-8",
                             parse_message(e), "fix the metadata passed to the writer"));
    }
    header[metadata_key][header_checksum_key] = hex32(crc32c(canonical.data(), canonical.size()));

    // What goes to disk: __metadata__ first, then the tensors in data order, for human readers.
    nlohmann::ordered_json ordered = nlohmann::ordered_json::object();
    ordered[metadata_key] = header[metadata_key];
    for (const TensorView& t : tensors) ordered[t.name] = header[t.name];
    std::string text = ordered.dump();
    text.append((data_alignment - (8 + text.size()) % data_alignment) % data_alignment, ' ');
    if (text.size() > max_header_bytes)
        throw Error(describe(at(path, "header"),
                             "at most " + std::to_string(max_header_bytes) + " bytes",
                             std::to_string(text.size()),
                             "the metadata is too large for readers to accept; store less"));

    std::string prefix(8, '\0');
    const std::uint64_t header_size = text.size();
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((header_size >> (8 * i)) & 0xFF);

    AtomicFile file(path);
    file.write(prefix.data(), prefix.size());
    file.write(text.data(), text.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) file.write(tensors[i].data, bytes[i]);
    file.commit();
}

namespace {

// The 8-byte little-endian header length, checked against the file and the 100 MB limit.
std::uint64_t read_header_size(InputFile& file, const std::string& path) {
    const std::uint64_t file_size = file.size();
    if (file_size < 8)
        throw Error(describe(at(path, "header length"), "8 bytes",
                             "a file of " + std::to_string(file_size) + " bytes", hint_corrupt));
    unsigned char prefix[8];
    file.read(0, prefix, sizeof prefix);
    std::uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | prefix[i];
    if (header_size > max_header_bytes || header_size > file_size - 8) {
        const std::string expected =
            file_size - 8 < max_header_bytes
                ? std::to_string(file_size - 8) + " bytes (what follows the length in this " +
                      std::to_string(file_size) + "-byte file)"
                : std::to_string(max_header_bytes) + " bytes (the safetensors limit)";
        throw Error(describe(at(path, "header length"), "at most " + expected,
                             std::to_string(header_size), hint_corrupt));
    }
    return header_size;
}

// The header: a JSON object.
json read_header(InputFile& file, const std::string& path, std::uint64_t header_size) {
    std::string text(header_size, '\0');
    file.read(8, text.data(), text.size());
    // nlohmann stops at a NUL byte as if the input ended there; JSON allows none outside
    // strings (and inside only escaped), so one in the header means damage, not padding.
    const std::size_t nul = text.find('\0');
    if (nul != std::string::npos)
        throw Error(describe(at(path, "header"), "JSON text",
                             "a NUL byte at offset " + std::to_string(8 + nul), hint_corrupt));
    json header;
    try {
        header = json::parse(text);
    } catch (const json::exception& e) {
        throw Error(describe(at(path, "header"), "valid JSON", parse_message(e), hint_corrupt));
    }
    if (!header.is_object())
        throw Error(describe(at(path, "header"), "a JSON object", show(header), hint_corrupt));
    return header;
}

// What __metadata__ says about the file itself.
struct FileChecks {
    json checksums;              // tensor name → CRC-32C as 8 hex digits
    std::uint32_t header_crc = 0;
};

// __metadata__: string → string, with our format version and both kinds of checksum.
FileChecks read_metadata(const std::string& path, const json& header, std::map<std::string, std::string>& metadata) {
    const auto meta = header.find(metadata_key);
    if (meta == header.end())
        throw Error(describe(at(path, "header"), "a __metadata__ object", "none", hint_corrupt));
    if (!meta->is_object())
        throw Error(describe(at(path, "__metadata__"), "an object", show(*meta), hint_corrupt));
    for (const auto& item : meta->items()) {
        if (!item.value().is_string())
            throw Error(describe(at(path, "__metadata__ " + quote(item.key())), "a string",
                                 show(item.value()), hint_corrupt));
        metadata[item.key()] = item.value().get<std::string>();
    }
    auto required = [&](const char* key) -> const std::string& {
        const auto it = metadata.find(key);
        if (it == metadata.end())
            throw Error(describe(at(path, std::string("__metadata__ '") + key + "'"),
                                 "the entry mlptrain writes", "none", hint_corrupt));
        return it->second;
    };
    const std::string& version = required(version_key);
    if (version != format_version)
        throw Error(describe(at(path, "__metadata__ 'format_version'"),
                             "\"" + std::string(format_version) + "\"", quote(version),
                             "the file was written by another version of mlptrain"));
    FileChecks checks;
    try {
        checks.checksums = json::parse(required(checksums_key));
    } catch (const json::exception& e) {
        throw Error(describe(at(path, "__metadata__ 'checksums'"), "a JSON object",
                             parse_message(e), hint_corrupt));
    }
    if (!checks.checksums.is_object())
        throw Error(describe(at(path, "__metadata__ 'checksums'"), "a JSON object", show(checks.checksums),
                             hint_corrupt));
    if (!parse_hex32(required(header_checksum_key), checks.header_crc))
        throw Error(describe(at(path, "__metadata__ 'header_checksum'"), "8 lowercase hex digits",
                             quote(metadata[header_checksum_key]), hint_corrupt));
    return checks;
}

// The tensors' entries, their byte ranges checked: sorted, they must tile the data area.
std::vector<TensorEntry> read_entries(const std::string& path, const json& header, std::uint64_t data_size) {
    std::vector<TensorEntry> entries;
    for (const auto& item : header.items()) {
        if (item.key() == metadata_key) continue;
        entries.push_back(read_entry(path, item.key(), item.value(), data_size));
    }
    std::vector<const TensorEntry*> by_offset;
    for (const TensorEntry& t : entries) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    std::uint64_t expected_begin = 0;
    const TensorEntry* previous = nullptr;
    for (const TensorEntry* t : by_offset) {
        if (t->begin != expected_begin) {
            const std::string found =
                "begin " + std::to_string(t->begin) +
                (t->begin < expected_begin ? ", overlapping " : ", a gap after ") +
                (previous ? "tensor " + quote(previous->name) : std::string("the start"));
            throw Error(describe(
                tensor_at(path, t->name, "data_offsets"),
                "begin " + std::to_string(expected_begin) + " (tensors stored contiguously)", found,
                hint_corrupt));
        }
        expected_begin = t->end;
        previous = t;
    }
    if (expected_begin != data_size)
        throw Error(describe(
            at(path, "data area"), std::to_string(expected_begin) + " bytes (the tensors' total)",
            std::to_string(data_size) + " bytes (" + std::to_string(data_size - expected_begin) +
                " after the last tensor)",
            "the file has trailing bytes, or its header lost a tensor; " +
                std::string(hint_corrupt)));
    return entries;
}

// Each tensor's CRC-32C from __metadata__ 'checksums', which must list exactly the tensors.
std::vector<std::uint32_t> expected_checksums(const std::string& path, const json& header, const json& checksums,
                                              const std::vector<TensorEntry>& entries) {
    std::vector<std::uint32_t> expected_crc(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::string& name = entries[i].name;
        const auto it = checksums.find(name);
        if (it == checksums.end())
            throw Error(describe(at(path, "__metadata__ 'checksums'"),
                                 "an entry for tensor " + quote(name), "none", hint_corrupt));
        if (!it->is_string() || !parse_hex32(it->get_ref<const std::string&>(), expected_crc[i]))
            throw Error(describe(at(path, "__metadata__ 'checksums' for tensor " + quote(name)),
                                 "8 lowercase hex digits", show(*it), hint_corrupt));
    }
    if (checksums.size() != entries.size()) {
        for (const auto& item : checksums.items())
            if (!header.contains(item.key()) || item.key() == metadata_key)
                throw Error(describe(
                    at(path, "__metadata__ 'checksums'"), "entries for the file's tensors only",
                    "one for " + quote(item.key()) + ", which is not in the file", hint_corrupt));
    }
    return expected_crc;
}

// Everything checked so far could still have been altered consistently (a shape with the
// same element count, a metadata value); the header checksum covers all of it.
void verify_header_checksum(const std::string& path, json header, std::uint32_t header_crc) {
    header[metadata_key].erase(header_checksum_key);
    const std::string canonical = header.dump();
    const std::uint32_t actual_header_crc = crc32c(canonical.data(), canonical.size());
    if (actual_header_crc != header_crc)
        throw Error(describe(at(path, "header checksum"), hex32(header_crc),
                             hex32(actual_header_crc),
                             "the header (shapes, offsets or metadata) was modified or corrupted; "
                             "use an earlier checkpoint"));
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
    InputFile file(path);
    const std::uint64_t header_size = read_header_size(file, path);
    const std::uint64_t data_start = 8 + header_size;
    const std::uint64_t data_size = file.size() - data_start;
    const json header = read_header(file, path, header_size);

    SafetensorsFile result;
    const FileChecks checks = read_metadata(path, header, result.metadata);
    std::vector<TensorEntry> entries = read_entries(path, header, data_size);
    const std::vector<std::uint32_t> expected_crc = expected_checksums(path, header, checks.checksums, entries);
    verify_header_checksum(path, header, checks.header_crc);

    // Allocations are bounded by the file size: every range was checked against it above.
    for (std::size_t i = 0; i < entries.size(); ++i) {
        TensorEntry& entry = entries[i];
        Tensor tensor;
        tensor.shape = std::move(entry.shape);
        tensor.data.resize((entry.end - entry.begin) / sizeof(float));
        file.read(data_start + entry.begin, tensor.data.data(), entry.end - entry.begin);
        const std::uint32_t actual = crc32c(tensor.data.data(), entry.end - entry.begin);
        if (actual != expected_crc[i])
            throw Error(describe(tensor_at(path, entry.name, "checksum"), hex32(expected_crc[i]),
                                 hex32(actual),
                                 "the tensor's data was corrupted; use an earlier checkpoint"));
        result.tensors.emplace(entry.name, std::move(tensor));
    }
    return result;
}

}  // namespace mlptrain
