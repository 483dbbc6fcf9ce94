// Shared by the libFuzzer targets: the fuzz input as a file that the path-based loaders can
// open. A memfd per slot is rewritten for each input; "/proc/self/fd/N" opens it afresh at
// offset 0 and is a regular file, like a real data file.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace fuzz {

inline std::string as_file(const std::uint8_t* data, std::size_t size, int slot = 0) {
    static int fds[4] = {-1, -1, -1, -1};
    int& fd = fds[slot];
    if (fd < 0) fd = ::memfd_create("mlptrain-fuzz", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, 0) != 0) std::abort();
    for (std::size_t done = 0; done < size;) {
        const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
        if (n <= 0) std::abort();
        done += static_cast<std::size_t>(n);
    }
    return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace fuzz
