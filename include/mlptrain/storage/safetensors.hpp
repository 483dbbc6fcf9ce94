// The safetensors file format (8-byte little-endian header length, JSON header, raw
// little-endian float32 tensors), written atomically and read strictly. checkpoint.hpp
// decides what goes in; this file only guarantees that what is read is what was written.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mlptrain {

// A float32 row-major tensor to write; the data is borrowed.
struct TensorView {
    std::string name;
    std::vector<std::int64_t> shape;
    const float* data = nullptr;
};

struct Tensor {
    std::vector<std::int64_t> shape;
    std::vector<float> data;
};

struct SafetensorsFile {
    std::map<std::string, std::string> metadata;  // "__metadata__": string → string
    std::map<std::string, Tensor> tensors;
};

// CRC-32C (Castagnoli) of `size` bytes, continuing from `crc` (0 to start).
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);

// Writes `path` atomically: a temporary file in the same directory, the header and the
// tensors (in the order given, contiguous), fsync, rename over `path`, fsync of the
// directory. Adds metadata "checksums" (a JSON object: tensor name → CRC-32C as 8 hex
// digits), "format_version" ("1") and "header_checksum" (CRC-32C of the header written
// compactly with sorted keys, this key left out: catches edited metadata and shapes). Throws Error naming the path on any I/O failure and
// leaves no temporary file behind. Names must be unique and non-empty.
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       std::map<std::string, std::string> metadata);

// Reads `path` and validates everything before returning: header length bounded (≤ 100 MB)
// and within the file, the header is a JSON object, __metadata__ maps strings to strings,
// every tensor has dtype "F32", a shape of non-negative dimensions whose element count
// (overflow-checked) matches its data_offsets, offsets in range, contiguous from 0 and
// non-overlapping, covering the data area exactly; "checksums" present and each tensor's
// CRC-32C matching. Any violation (truncation, a flipped bit, an edited header) throws
// Error naming the file and what is wrong; never crashes.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace mlptrain
