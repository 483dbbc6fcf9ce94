// One input, opened once and read front to back: a regular file, a named pipe, /dev/stdin,
// a process substitution (<(cmd)), or bytes in memory (tests and fuzzers). Loaders take an
// Input so that nothing is opened twice: a pipe can be read only once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlptrain {

class Input {
public:
    // Opens `path` for reading. Throws Error naming the path when it cannot be opened or is
    // a directory. A named pipe blocks here until a writer opens it, as `cat` would.
    static Input open(const std::string& path);
    // Reads `bytes` (borrowed: they must outlive the Input); `name` stands for the path.
    static Input memory(std::string_view bytes, std::string name);

    Input(Input&& other) noexcept;
    Input& operator=(Input&& other) noexcept;
    Input(const Input&) = delete;
    Input& operator=(const Input&) = delete;
    ~Input();

    // The path (or name) for messages.
    const std::string& name() const { return name_; }
    // Bytes a regular file held when opened; 0 when unknown (pipes, devices, memory: see
    // known_size()). Bounds what a header may claim before anything is allocated for it.
    std::uint64_t size() const { return size_; }
    bool known_size() const { return known_size_; }

    // Reads up to `n` bytes into `buffer`; fewer only at the end of the input, 0 after it.
    // Throws Error naming the input when the system refuses the read.
    std::size_t read(char* buffer, std::size_t n);
    // The next `n` bytes (fewer at the end) without consuming them: read() returns them again.
    std::string_view peek(std::size_t n);

private:
    Input() = default;
    std::size_t read_source(char* buffer, std::size_t n);

    std::string name_;
    int fd_ = -1;                 // -1 for memory input
    std::string_view memory_;     // the unread rest of memory input
    std::string peeked_;          // bytes peek() took from the source, not yet read
    std::size_t peeked_pos_ = 0;  // how many of them read() has returned
    std::uint64_t size_ = 0;
    bool known_size_ = false;
};

}  // namespace mlptrain
