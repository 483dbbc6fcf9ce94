// Input (see input.hpp): a file descriptor read with read(2), or a view of memory, with a
// small look-ahead buffer so that a loader can sniff the format without consuming bytes.
#include "mlptrain/data/input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "mlptrain/core/error.hpp"

namespace mlptrain {

Input Input::open(const std::string& path) {
    Input in;
    in.name_ = path;
    in.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in.fd_ < 0) {
        const int err = errno;
        throw Error("cannot open '" + path + "': " + std::strerror(err) +
                    " (hint: check the path and its permissions)");
    }
    struct stat st {};
    if (::fstat(in.fd_, &st) == 0) {
        // A directory opens for reading; only read(2) would say EISDIR. Say it now, the way
        // read would, so every loader gives the same one-line error.
        if (S_ISDIR(st.st_mode))
            throw Error("cannot read '" + path + "': " + std::strerror(EISDIR) +
                        " (hint: the path must name a readable file)");
        if (S_ISREG(st.st_mode)) {
            in.size_ = static_cast<std::uint64_t>(st.st_size);
            in.known_size_ = true;
        }
    }
    return in;
}

Input Input::memory(std::string_view bytes, std::string name) {
    Input in;
    in.name_ = std::move(name);
    in.memory_ = bytes;
    in.size_ = bytes.size();
    in.known_size_ = true;
    return in;
}

Input::Input(Input&& other) noexcept { *this = std::move(other); }

Input& Input::operator=(Input&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        name_ = std::move(other.name_);
        fd_ = std::exchange(other.fd_, -1);
        memory_ = other.memory_;
        peeked_ = std::move(other.peeked_);
        peeked_pos_ = other.peeked_pos_;
        size_ = other.size_;
        known_size_ = other.known_size_;
    }
    return *this;
}

Input::~Input() {
    if (fd_ >= 0) ::close(fd_);
}

std::size_t Input::read_source(char* buffer, std::size_t n) {
    if (fd_ < 0) {
        const std::size_t got = std::min(n, memory_.size());
        std::memcpy(buffer, memory_.data(), got);
        memory_.remove_prefix(got);
        return got;
    }
    std::size_t total = 0;
    while (total < n) {
        const ssize_t got = ::read(fd_, buffer + total, n - total);
        if (got > 0) {
            total += static_cast<std::size_t>(got);
        } else if (got == 0) {
            break;
        } else if (errno != EINTR) {
            const int err = errno;
            throw Error("cannot read '" + name_ + "': " + std::strerror(err) +
                        " (hint: the path must name a readable file)");
        }
    }
    return total;
}

std::size_t Input::read(char* buffer, std::size_t n) {
    std::size_t total = 0;
    if (peeked_pos_ < peeked_.size()) {
        total = std::min(n, peeked_.size() - peeked_pos_);
        std::memcpy(buffer, peeked_.data() + peeked_pos_, total);
        peeked_pos_ += total;
    }
    if (total < n) total += read_source(buffer + total, n - total);
    return total;
}

std::string_view Input::peek(std::size_t n) {
    // Compact, then top up to n bytes from the source.
    peeked_.erase(0, peeked_pos_);
    peeked_pos_ = 0;
    if (peeked_.size() < n) {
        const std::size_t have = peeked_.size();
        peeked_.resize(n);
        peeked_.resize(have + read_source(peeked_.data() + have, n - have));
    }
    return std::string_view(peeked_).substr(0, n);
}

}  // namespace mlptrain
