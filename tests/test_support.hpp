// Helpers shared by the tests: paths to the built binary and the bundled data, running the
// CLI and capturing what it printed, and temporary directories that clean up after themselves.
#pragma once

#include <map>
#include <string>

namespace test_support {

// Absolute path of the mlptrain binary under test, and of the source tree's data/ folder.
std::string binary_path();
std::string data_path(const std::string& file);

struct CommandResult {
    int exit_status = -1;  // the process's exit status; 128+N when killed by signal N
    std::string out;       // stdout
    std::string err;       // stderr
};

// Runs `mlptrain <args>` through /bin/sh (args are passed as written) and captures output.
CommandResult run_cli(const std::string& args);
// Runs a whole shell command line and captures its output.
CommandResult run_shell(const std::string& command);

// Single-quoted for /bin/sh (the test paths hold no quotes).
inline std::string q(const std::string& path) { return "'" + path + "'"; }

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The 16 hex digits after "weights fingerprint: " in a run's output; when there are none,
// a text that equals no other call's result, so that two failed runs never compare equal.
std::string fingerprint_of(const std::string& out);

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // Writes `contents` to path()/name and returns the full path.
    std::string write_file(const std::string& name, const std::string& contents) const;

private:
    std::string path_;
};

// CPU ticks (utime + stime) of every thread of this process, by thread id (from
// /proc/self/task): what the thread tests watch to see that no pool thread spins.
std::map<int, long> thread_cpu_ticks();

}  // namespace test_support
