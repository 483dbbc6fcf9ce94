// IDX loader (see idx.hpp): zlib's gz* reader decompresses gzip files and passes raw files
// through unchanged, so one code path reads both. The header is validated first, then the
// payload is read straight into the Dataset's uint8 buffer (one allocation, no copy).
#include "mlptrain/data/idx.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mlptrain/core/error.hpp"

namespace mlptrain {
namespace {

constexpr std::uint8_t type_uint8 = 0x08;
constexpr int max_dims = 4;
// Deflate expands at most 1032:1, so a gzip file of S bytes holds at most about 1032·S
// bytes; a header that claims more is certainly truncated and gets no allocation.
constexpr std::uint64_t max_gzip_ratio = 1100;
// gzread takes an unsigned int length, so large reads are cut into pieces.
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

// A gz* stream over one file with errors turned into Error messages naming the file.
class GzReader {
public:
    explicit GzReader(const std::string& path) : path_(path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            throw Error("cannot open '" + path + "': " + std::strerror(err) +
                        " (hint: check the path and its permissions)");
        }
        struct stat st {};
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
            file_size_ = static_cast<std::uint64_t>(st.st_size);
        file_ = ::gzdopen(fd, "rb");
        if (file_ == nullptr) {
            ::close(fd);
            throw Error("cannot read '" + path + "': out of memory opening the gzip reader");
        }
        // A large buffer makes decompression run in few, big steps; set before the first read.
        ::gzbuffer(file_, 1 << 20);
        direct_ = ::gzdirect(file_) != 0;
    }
    ~GzReader() {
        if (file_ != nullptr) ::gzclose_r(file_);
    }
    GzReader(const GzReader&) = delete;
    GzReader& operator=(const GzReader&) = delete;

    const std::string& path() const { return path_; }

    // Most bytes the (decompressed) content can hold; for a regular file this bounds what a
    // header may claim before anything is allocated for it.
    std::uint64_t content_bound() const {
        if (file_size_ == 0) return std::numeric_limits<std::uint64_t>::max();
        if (direct_) return file_size_;
        if (file_size_ > std::numeric_limits<std::uint64_t>::max() / max_gzip_ratio)
            return std::numeric_limits<std::uint64_t>::max();
        return file_size_ * max_gzip_ratio;
    }

    // Reads up to n bytes; fewer only at the end of the content. Throws on a bad gzip stream.
    std::size_t read(void* buffer, std::size_t n) {
        auto* out = static_cast<unsigned char*>(buffer);
        std::size_t total = 0;
        while (total < n) {
            const std::size_t want = std::min(n - total, max_read);
            const int got = ::gzread(file_, out + total, static_cast<unsigned>(want));
            if (got < 0) fail_stream();
            total += static_cast<std::size_t>(got);
            if (static_cast<std::size_t>(got) < want) {
                // Short read: the end of the content, or a stream error zlib reports only
                // through gzerror (a gzip file cut short gives Z_BUF_ERROR).
                int errnum = Z_OK;
                ::gzerror(file_, &errnum);
                if (errnum != Z_OK) fail_stream();
                break;
            }
        }
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

    // Closes the stream; a gzip member that never reached its end is reported here.
    void close() {
        gzFile file = file_;
        file_ = nullptr;
        const int status = ::gzclose_r(file);
        if (status == Z_ERRNO) {
            throw Error("cannot read '" + path_ + "': " + std::strerror(errno) +
                        " (hint: check the disk and the file's permissions)");
        }
        if (status != Z_OK)
            throw Error(describe(path_, "a complete gzip stream", "one that ends early",
                                 "the file is truncated; download it again"));
    }

    // Before a header complaint: if the stream itself is broken, that is the real problem.
    [[noreturn]] void fail(const std::string& message) {
        drain();
        throw Error(message);
    }

private:
    [[noreturn]] void fail_stream() {
        int errnum = Z_OK;
        std::string message = ::gzerror(file_, &errnum);
        if (errnum == Z_ERRNO)
            throw Error("cannot read '" + path_ + "': " + std::strerror(errno) +
                        " (hint: check the disk and the file's permissions)");
        // zlib prefixes its message with the stream's name, "<fd:N>: ", which says nothing.
        if (message.rfind("<fd:", 0) == 0) {
            const std::size_t colon = message.find(": ");
            if (colon != std::string::npos) message.erase(0, colon + 2);
        }
        const std::string hint = errnum == Z_BUF_ERROR
                                     ? "the gzip file is truncated; download it again"
                                     : "the gzip file is corrupt; download it again";
        throw Error(describe(path_, "a valid gzip stream", "'" + message + "'", hint));
    }

    std::string path_;
    gzFile file_ = nullptr;
    std::uint64_t file_size_ = 0;  // 0 when unknown (not a regular file)
    bool direct_ = false;          // true for a raw (not gzip) file
};

// The dimensions of an IDX file whose header has been read and checked.
struct IdxHeader {
    std::vector<std::uint32_t> dims;
    std::uint64_t payload = 0;  // product of dims: the bytes of uint8 data that must follow
};

// Reads and validates the magic number, the type and the dimensions for `role`.
IdxHeader read_header(GzReader& in, Role role) {
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
void read_payload(GzReader& in, const IdxHeader& header, Role role,
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
    in.close();
}

std::string base_name(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool is_idx_file(const std::string& path) {
    try {
        GzReader in(path);
        unsigned char magic[4] = {0, 0, 0, 0};
        if (in.read(magic, sizeof magic) < sizeof magic) return false;
        // Any IDX element type counts, so that load_idx can name a wrong one.
        const bool known_type =
            magic[2] == 0x08 || magic[2] == 0x09 || (magic[2] >= 0x0B && magic[2] <= 0x0E);
        return magic[0] == 0 && magic[1] == 0 && known_type && magic[3] >= 1;
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

Dataset load_idx_images(const std::string& images_path) {
    Dataset data;
    data.source = images_path;
    GzReader images(images_path);
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

Dataset load_idx(const std::string& images_path, const std::string& labels_path) {
    Dataset data = load_idx_images(images_path);
    const std::uint32_t images = static_cast<std::uint32_t>(data.rows);

    GzReader labels(labels_path);
    const IdxHeader label_header = read_header(labels, Role::labels);
    if (label_header.dims[0] != images)
        labels.fail(describe(
            labels_path, std::to_string(images) + " labels to match the images in " + images_path,
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

}  // namespace mlptrain
