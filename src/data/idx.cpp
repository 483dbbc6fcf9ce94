// IDX loader (see idx.hpp): an Input is inflated with zlib when it starts with the gzip magic
// and passed through unchanged otherwise, so one code path reads both, once, front to back. The header is validated first, then the
// payload is read straight into the Dataset's uint8 buffer (one allocation, no copy).
#include "mlptrain/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/data/input.hpp"

namespace mlptrain {
namespace {

constexpr std::uint8_t type_uint8 = 0x08;
constexpr int max_dims = 4;
// Deflate expands at most 1032:1, so a gzip file of S bytes holds at most about 1032·S
// bytes; a header that claims more is certainly truncated and gets no allocation.
constexpr std::uint64_t max_gzip_ratio = 1100;
// zlib takes unsigned int lengths, so large reads are cut into pieces.
constexpr std::size_t max_read = std::size_t{1} << 30;

enum class Role { images, labels };

std::string hex_byte(std::uint8_t b) {
    char text[8];
    std::snprintf(text, sizeof text, "0x%02X", b);
    return text;
}

const char* type_name(std::uint8_t type) {
    switch (type) {
        case 0x08: return "unsigned byte";
        case 0x09: return "signed byte";
        case 0x0B: return "int16";
        case 0x0C: return "int32";
        case 0x0D: return "float32";
        case 0x0E: return "float64";
        default: return "not an IDX type";
    }
}

std::string join_dims(const std::vector<std::uint32_t>& dims) {
    std::string text;
    for (std::size_t i = 0; i < dims.size(); ++i)
        text += (i ? " x " : "") + std::to_string(dims[i]);
    return text;
}

std::string count_dims(const std::vector<std::uint32_t>& dims) {
    return std::to_string(dims.size()) + (dims.size() == 1 ? " dimension (" : " dimensions (") +
           join_dims(dims) + ")";
}

// The content of one Input: a gzip stream (one or more members) inflated with zlib, or raw
// bytes passed through. It reads the Input it is given, front to back, and never reopens a
// path, so an IDX file may come from a pipe, /dev/stdin or <(cmd). Errors name the input.
class IdxStream {
public:
    explicit IdxStream(Input& in) : in_(in) {
        gzip_ = starts_with_gzip_magic(in.peek(2));
        if (!gzip_) return;
        if (::inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK)  // 16: a gzip wrapper, checked
            throw Error("cannot read '" + in.name() + "': out of memory opening the gzip reader");
        z_open_ = true;
        // A small file gets a small buffer: a 1 MiB one per input made fuzzing crawl.
        std::size_t size = input_block;
        if (in.known_size() && in.size() < size)
            size = std::max<std::size_t>(8192, static_cast<std::size_t>(in.size()));
        input_.resize(size);
    }
    ~IdxStream() {
        if (z_open_) ::inflateEnd(&z_);
    }
    IdxStream(const IdxStream&) = delete;
    IdxStream& operator=(const IdxStream&) = delete;

    static bool starts_with_gzip_magic(std::string_view head) {
        return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1F &&
               static_cast<unsigned char>(head[1]) == 0x8B;
    }

    const std::string& path() const { return in_.name(); }

    // Most bytes the (decompressed) content can hold; for a regular file this bounds what a
    // header may claim before anything is allocated for it.
    std::uint64_t content_bound() const {
        if (!in_.known_size() || in_.size() == 0) return std::numeric_limits<std::uint64_t>::max();
        if (!gzip_) return in_.size();
        if (in_.size() > std::numeric_limits<std::uint64_t>::max() / max_gzip_ratio)
            return std::numeric_limits<std::uint64_t>::max();
        return in_.size() * max_gzip_ratio;
    }

    // Reads up to n bytes; fewer only at the end of the content. Throws on a bad gzip stream.
    std::size_t read(void* buffer, std::size_t n) {
        auto* out = static_cast<unsigned char*>(buffer);
        if (!gzip_) return in_.read(reinterpret_cast<char*>(out), n);
        std::size_t total = 0;
        while (total < n && !ended_) total += inflate_some(out + total, n - total);
        return total;
    }

    // Reads and discards the rest of the content; returns how many bytes it held.
    std::uint64_t drain() {
        unsigned char chunk[1 << 16];
        std::uint64_t total = 0;
        for (;;) {
            const std::size_t got = read(chunk, sizeof chunk);
            total += got;
            if (got < sizeof chunk) return total;
        }
    }

    // Before a header complaint: if the stream itself is broken, that is the real problem.
    [[noreturn]] void fail(const std::string& message) {
        drain();
        throw Error(message);
    }

private:
    static constexpr std::size_t input_block = std::size_t{1} << 20;

    // One inflate step into out[0, n): refills the input, and moves on to the next gzip
    // member at the end of one (as gunzip and zlib's gzread do). Returns the bytes produced.
    std::size_t inflate_some(unsigned char* out, std::size_t n) {
        if (z_.avail_in == 0 && !refill()) {
            // The input ended: fine between members, a truncated file inside one.
            if (in_member_) fail_stream("unexpected end of file", true);
            ended_ = true;
            return 0;
        }
        if (!in_member_ && !start_member()) return 0;
        const auto want = static_cast<uInt>(std::min<std::size_t>(n, max_read));
        z_.next_out = out;
        z_.avail_out = want;
        const int status = ::inflate(&z_, Z_NO_FLUSH);
        if (status == Z_STREAM_END) in_member_ = false;
        else if (status == Z_MEM_ERROR)
            throw Error("cannot read '" + path() + "': out of memory inflating the gzip stream");
        else if (status != Z_OK && status != Z_BUF_ERROR)  // Z_DATA_ERROR, Z_NEED_DICT
            fail_stream(z_.msg != nullptr ? z_.msg : "invalid data", false);
        return want - z_.avail_out;
    }

    // Reads the next block of compressed bytes; false at the end of the input.
    bool refill() {
        const std::size_t got = in_.read(reinterpret_cast<char*>(input_.data()), input_.size());
        z_.next_in = input_.data();
        z_.avail_in = static_cast<uInt>(got);
        return got > 0;
    }

    // At a member boundary: another member follows only if it starts with the gzip magic;
    // anything else after the first member is ignored, as gzread (and gunzip) ignore it.
    bool start_member() {
        if (members_ > 0) {
            if (z_.avail_in < 2) {  // the magic may straddle two blocks
                const unsigned char first = *z_.next_in;
                input_[0] = first;
                const std::size_t got =
                    in_.read(reinterpret_cast<char*>(input_.data()) + 1, input_.size() - 1);
                z_.next_in = input_.data();
                z_.avail_in = static_cast<uInt>(got + 1);
            }
            const std::string_view head(reinterpret_cast<const char*>(z_.next_in), z_.avail_in);
            if (!starts_with_gzip_magic(head)) {
                ended_ = true;
                return false;
            }
            ::inflateReset(&z_);
        }
        ++members_;
        in_member_ = true;
        return true;
    }

    [[noreturn]] void fail_stream(const std::string& message, bool truncated) {
        const std::string hint = truncated ? "the gzip file is truncated; download it again"
                                           : "the gzip file is corrupt; download it again";
        throw Error(describe(path(), "a valid gzip stream", "'" + message + "'", hint));
    }

    Input& in_;
    bool gzip_ = false;
    z_stream z_{};
    bool z_open_ = false;
    std::vector<unsigned char> input_;  // compressed bytes; z_.next_in points into it
    int members_ = 0;                   // gzip members started
    bool in_member_ = false;            // inside a member: the input must not end here
    bool ended_ = false;                // the content is over
};

// The dimensions of an IDX file whose header has been read and checked.
struct IdxHeader {
    std::vector<std::uint32_t> dims;
    std::uint64_t payload = 0;  // product of dims: the bytes of uint8 data that must follow
};

// Reads and validates the magic number, the type and the dimensions for `role`.
IdxHeader read_header(IdxStream& in, Role role) {
    const std::string& path = in.path();
    const char* expected_header = "an IDX header (0x00 0x00, type, dimension count)";
    unsigned char magic[4] = {0, 0, 0, 0};
    const std::size_t got = in.read(magic, sizeof magic);
    if (got == 0)
        throw Error(describe(path, expected_header, "an empty file",
                             "the file holds no data; download it again"));
    if (got < sizeof magic)
        throw Error(describe(path, expected_header, "only " + std::to_string(got) + " bytes",
                             "the file is truncated; download it again"));
    if (magic[0] != 0 || magic[1] != 0)
        in.fail(describe(path, "the IDX magic number 0x00 0x00 at the start",
                         hex_byte(magic[0]) + " " + hex_byte(magic[1]),
                         "this is not an IDX file; IDX files are named like "
                         "train-images-idx3-ubyte.gz"));
    if (magic[2] != type_uint8)
        in.fail(describe(path, "IDX element type 0x08 (unsigned byte)",
                         "type " + hex_byte(magic[2]) + " (" + type_name(magic[2]) + ")",
                         "mlptrain reads uint8 IDX files only; convert the data to uint8 or to "
                         "CSV"));
    const int ndims = magic[3];
    if (ndims < 1 || ndims > max_dims)
        in.fail(describe(path, "1 to " + std::to_string(max_dims) + " dimensions in the IDX header",
                         std::to_string(ndims), "the header is corrupt"));

    unsigned char raw[4 * max_dims];
    const std::size_t dim_bytes = 4 * static_cast<std::size_t>(ndims);
    const std::size_t got_dims = in.read(raw, dim_bytes);
    if (got_dims < dim_bytes)
        throw Error(describe(path, std::to_string(dim_bytes) + " bytes of dimension sizes",
                             std::to_string(got_dims), "the file is truncated; download it again"));
    IdxHeader header;
    header.payload = 1;
    bool overflow = false;
    for (int d = 0; d < ndims; ++d) {
        const unsigned char* b = raw + 4 * d;  // big-endian, as in every IDX file
        const std::uint32_t size = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                                   (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
        header.dims.push_back(size);
        overflow |= __builtin_mul_overflow(header.payload, std::uint64_t{size}, &header.payload);
    }
    // Rows and features are int64 in the Dataset, so the product must fit in 63 bits too.
    if (overflow ||
        header.payload > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        in.fail(describe(path, "dimensions whose product fits in 63 bits", join_dims(header.dims),
                         "the header is corrupt"));

    const auto& dims = header.dims;
    if (role == Role::images) {
        if (ndims != 2 && ndims != 3)
            in.fail(describe(path,
                             "images with 3 dimensions (count x rows x columns) or 2 (count x "
                             "features)",
                             count_dims(dims),
                             ndims == 1 ? "this looks like a labels file; pass the images file"
                                        : "mlptrain reads images or feature vectors"));
        if (dims[0] == 0)
            in.fail(describe(path, "at least one image", "0", "the file holds no samples"));
        if (header.payload == 0)
            in.fail(describe(path, "at least one pixel per image", count_dims(dims),
                             "the header is corrupt"));
    } else {
        if (ndims != 1)
            in.fail(describe(path, "labels with 1 dimension (count)", count_dims(dims),
                             "this looks like an images file; pass the labels file"));
    }
    return header;
}

// Reads exactly header.payload bytes after the header into `out`; anything more or less
// is an error that says how many bytes there were.
void read_payload(IdxStream& in, const IdxHeader& header, Role role,
                  std::vector<std::uint8_t>& out) {
    const std::string what = role == Role::images ? " bytes of pixel data" : " bytes of label data";
    const std::uint64_t expected = header.payload;
    const std::uint64_t header_bytes = 4 + 4 * header.dims.size();
    std::uint64_t found = 0;
    if (expected > in.content_bound()) {
        // The file cannot hold what the header claims; count what it does hold, unallocated.
        found = in.drain();
    } else {
        out.resize(static_cast<std::size_t>(expected));
        found = in.read(out.data(), out.size());
        if (found == expected) found += in.drain();
    }
    if (found < expected)
        throw Error(
            describe(in.path(), std::to_string(expected) + what + " for " + join_dims(header.dims),
                     std::to_string(found) + " (the file is truncated)", "download it again"));
    if (found > expected)
        throw Error(
            describe(in.path(), std::to_string(expected) + what + " for " + join_dims(header.dims),
                     std::to_string(found) + " (" + std::to_string(found - expected) +
                         " trailing bytes after " + std::to_string(header_bytes + expected) + ")",
                     "the header's dimensions do not match the data; the file is corrupt"));
}

std::string base_name(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

// Any IDX element type counts, so that load_idx can name a wrong one.
bool is_idx_magic(std::string_view head) {
    if (head.size() < 4) return false;
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(head[i]); };
    const bool known_type = byte(2) == 0x08 || byte(2) == 0x09 || (byte(2) >= 0x0B && byte(2) <= 0x0E);
    return byte(0) == 0 && byte(1) == 0 && known_type && byte(3) >= 1;
}

bool is_idx_input(Input& in) {
    // Only IDX is read compressed: a gzip input is IDX unless its first 4 inflated bytes say
    // otherwise (a gzipped CSV). The first 64 KiB are inflated from a peek, consuming nothing.
    const std::string_view head = in.peek(std::size_t{1} << 16);
    if (!IdxStream::starts_with_gzip_magic(head)) return is_idx_magic(head);
    z_stream z{};
    if (::inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return true;
    unsigned char magic[4] = {0, 0, 0, 0};
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(head.data()));
    z.avail_in = static_cast<uInt>(head.size());
    z.next_out = magic;
    z.avail_out = sizeof magic;
    int status = Z_OK;
    while (z.avail_out > 0 && status == Z_OK) status = ::inflate(&z, Z_NO_FLUSH);
    const std::size_t got = sizeof magic - z.avail_out;
    ::inflateEnd(&z);
    // Undecodable or short: the IDX loader reports the gzip stream or the empty file by name.
    if (got < sizeof magic && status != Z_STREAM_END) return true;
    return is_idx_magic(std::string_view(reinterpret_cast<const char*>(magic), got));
}

bool is_idx_file(const std::string& path) {
    try {
        Input in = Input::open(path);
        return is_idx_input(in);
    } catch (const Error&) {
        return false;
    }
}

std::string idx_labels_path_for(const std::string& images_path) {
    // "train-images-idx3-ubyte.gz", and the "train-images.idx3-ubyte" spelling some mirrors use.
    const std::string name = base_name(images_path);
    const std::size_t dir_length = images_path.size() - name.size();
    for (const char* dims : {"idx3", "idx2"}) {
        for (const char separator : {'-', '.'}) {
            const std::string key = std::string("images") + separator + dims;
            const std::size_t at = name.rfind(key);
            if (at == std::string::npos) continue;
            std::string labels = name;
            labels.replace(at, key.size(), std::string("labels") + separator + "idx1");
            return images_path.substr(0, dir_length) + labels;
        }
    }
    return "";
}

Dataset load_idx_images(Input& images_in) {
    Dataset data;
    data.source = images_in.name();
    IdxStream images(images_in);
    const IdxHeader image_header = read_header(images, Role::images);
    const auto& dims = image_header.dims;
    data.rows = static_cast<std::int64_t>(dims[0]);
    data.features = static_cast<std::int64_t>(dims[1]) *
                    (dims.size() == 3 ? static_cast<std::int64_t>(dims[2]) : 1);
    read_payload(images, image_header, Role::images, data.x_u8);
    data.u8_scale = 1.0f / 255.0f;
    data.feature_names.reserve(static_cast<std::size_t>(data.features));
    for (std::int64_t i = 0; i < data.features; ++i)
        data.feature_names.push_back("pixel_" + std::to_string(i));
    return data;
}

Dataset load_idx(Input& images_in, Input& labels_in) {
    Dataset data = load_idx_images(images_in);
    const std::uint32_t images = static_cast<std::uint32_t>(data.rows);

    IdxStream labels(labels_in);
    const IdxHeader label_header = read_header(labels, Role::labels);
    if (label_header.dims[0] != images)
        labels.fail(describe(
            labels_in.name(), std::to_string(images) + " labels to match the images in " + images_in.name(),
            std::to_string(label_header.dims[0]),
            "the images and labels files must come from the same set (train "
            "or t10k)"));
    std::vector<std::uint8_t> raw_labels;
    read_payload(labels, label_header, Role::labels, raw_labels);

    data.labels.assign(raw_labels.begin(), raw_labels.end());
    std::uint8_t max_label = 0;
    for (const std::uint8_t label : raw_labels) max_label = std::max(max_label, label);
    // Class i is named "i", so every label is its own class index and below the class count.
    for (int c = 0; c <= max_label; ++c) data.class_names.push_back(std::to_string(c));
    return data;
}

Dataset load_idx_images(const std::string& images_path) {
    Input images = Input::open(images_path);
    return load_idx_images(images);
}

Dataset load_idx(const std::string& images_path, const std::string& labels_path) {
    Input images = Input::open(images_path);
    Input labels = Input::open(labels_path);
    return load_idx(images, labels);
}

}  // namespace mlptrain
