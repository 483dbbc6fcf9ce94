// File identity for outputs and inputs (see file_identity.hpp).
#include "mlptrain/storage/file_identity.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "mlptrain/core/error.hpp"

namespace mlptrain {

bool same_file(const std::string& a, const std::string& b) {
    if (a.empty() || b.empty()) return false;
    struct stat sa {}, sb {};
    // Devices and pipes are not replaced by writing to them (/dev/stdin and /dev/stdout may
    // both be one terminal): only a regular file can be lost.
    if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0)
        return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    // One does not exist (yet): compare where the paths lead.
    std::error_code ea, eb;
    const auto ca = std::filesystem::weakly_canonical(a, ea);
    const auto cb = std::filesystem::weakly_canonical(b, eb);
    return !ea && !eb && ca == cb;
}

void refuse_output_over_input(const std::string& output_what, const std::string& output,
                              const std::vector<std::pair<std::string, std::string>>& inputs) {
    for (const auto& [what, path] : inputs)
        if (same_file(output, path))
            throw Error(describe(output_what + " " + output, "a file that is not one of the inputs",
                                 "the same file as " + what + " " + path,
                                 "write the output to another file; the input would be replaced"));
}

}  // namespace mlptrain
