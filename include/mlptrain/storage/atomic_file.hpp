// The one way mlptrain replaces a file: the bytes go to "<path>.tmp-XXXXXX" beside it, are
// fsynced, renamed over `path`, and the directory is fsynced. Readers — and a crash at any
// moment — see the old file or the whole new one, never a part.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mlptrain {

class AtomicFile {
public:
    // Creates the temporary file now (so a missing or read-only directory fails before any
    // work), with the mode a plain open would give (0666 less the umask). Throws Error.
    explicit AtomicFile(std::string path);
    // Removes the temporary file unless commit() renamed it.
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Appends all `size` bytes (resuming after short writes and signals). Throws Error.
    void write(const void* data, std::size_t size);
    void write(std::string_view text) { write(text.data(), text.size()); }
    // fsync, close, rename over the path, fsync of the directory. Throws Error.
    void commit();

    const std::string& path() const { return target_; }

private:
    [[noreturn]] void fail(const char* action);

    std::string target_;
    std::string temp_;
    int fd_ = -1;
    bool renamed_ = false;
};

// Writes `text` to `path` atomically (AtomicFile).
void write_file_atomically(const std::string& path, std::string_view text);

// Whether `name` is the temporary file of an AtomicFile (a writer killed before its commit
// leaves one behind): "<anything>.tmp-XXXXXX".
bool is_atomic_temp_name(const std::string& name);

}  // namespace mlptrain
