// Measures of a run: the weights fingerprint (so anyone can compare two runs bit for bit),
// accuracy and the confusion matrix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlptrain {

// FNV-1a 64 over the bytes of `count` floats, as 16 hex digits.
std::string fingerprint(const float* data, std::int64_t count);
// FNV-1a 64 over `size` bytes.
std::uint64_t fingerprint64(const unsigned char* bytes, std::int64_t size);

// counts[true][predicted] for `classes` classes.
std::vector<std::vector<std::int64_t>> confusion_matrix(const std::vector<std::int32_t>& truth,
                                                        const std::vector<std::int32_t>& predicted,
                                                        std::int64_t classes);

}  // namespace mlptrain
