// Atomic file replacement (see atomic_file.hpp).
#include "mlptrain/storage/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "mlptrain/core/error.hpp"

namespace mlptrain {
namespace {

constexpr std::size_t max_write = std::size_t{1} << 30;  // one write(2) call at most
constexpr const char* temp_suffix = ".tmp-";              // then mkstemp's six characters

// The process umask, read without changing it (umask(2) can only set it, which would race
// with other threads creating files). Linux reports it in /proc/self/status since 4.7.
mode_t current_umask() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Umask:", 0) == 0)
            return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
    }
    return 022;
}

std::string parent_directory(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string write_hint(int err) {
    switch (err) {
        case ENOENT: return "the directory does not exist; create it first";
        case EACCES:
        case EPERM:
        case EROFS: return "the directory is not writable; check its permissions";
        case ENOSPC:
        case EDQUOT: return "the disk is full; free space or choose another directory";
        case EISDIR: return "the path names a directory; choose a file name";
        default: return "check that the directory exists, is writable and has free space";
    }
}

[[noreturn]] void fail_io(const std::string& action, const std::string& path, int err) {
    throw Error("cannot " + action + " '" + path + "': " + std::strerror(err) + " (hint: " +
                write_hint(err) + ")");
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : target_(std::move(path)), temp_(target_ + temp_suffix + "XXXXXX") {
    fd_ = ::mkostemp(temp_.data(), O_CLOEXEC);
    if (fd_ < 0) fail_io("create a temporary file for", target_, errno);
    // mkstemp creates the file 0600; give it the mode a plain open would. (A throwing
    // constructor runs no destructor, so clean up here.)
    if (::fchmod(fd_, 0666 & ~current_umask()) != 0) {
        const int err = errno;
        ::close(fd_);
        ::unlink(temp_.c_str());
        fail_io("set the mode of a temporary file for", target_, err);
    }
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!renamed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd_, p, std::min(size, max_write));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("write");
        if (n == 0) {
            errno = ENOSPC;  // write(2) made no progress: treat as a full disk
            fail("write");
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

void AtomicFile::commit() {
    if (::fsync(fd_) != 0) fail("fsync");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("close");  // NFS and quotas may report write errors here
    if (::rename(temp_.c_str(), target_.c_str()) != 0) fail_io("rename '" + temp_ + "' over", target_, errno);
    renamed_ = true;
    // The new directory entry survives a power loss only once the directory is synced.
    const std::string dir = parent_directory(target_);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        throw Error("cannot open the directory '" + dir + "' to fsync it after writing '" + target_ + "': " +
                    std::strerror(errno) + " (hint: the file was written but may not survive a power loss)");
    const int sync_status = ::fsync(dir_fd);
    const int err = errno;
    ::close(dir_fd);
    if (sync_status != 0)
        throw Error("cannot fsync the directory '" + dir + "' after writing '" + target_ + "': " +
                    std::strerror(err) + " (hint: the file was written but may not survive a power loss)");
}

void AtomicFile::fail(const char* action) {
    const int err = errno;
    throw Error("cannot write '" + target_ + "': " + action + " of '" + temp_ + "' failed: " +
                std::strerror(err) + " (hint: " + write_hint(err) + ")");
}

void write_file_atomically(const std::string& path, std::string_view text) {
    AtomicFile file(path);
    file.write(text);
    file.commit();
}

bool is_atomic_temp_name(const std::string& name) {
    const std::size_t at = name.rfind(temp_suffix);
    return at != std::string::npos && name.size() == at + std::strlen(temp_suffix) + 6;
}

}  // namespace mlptrain
