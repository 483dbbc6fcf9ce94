// Helpers shared by the tests: paths to the built binary and the bundled data, running the
// CLI and capturing what it printed, and temporary directories that clean up after themselves.
#pragma once

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

}  // namespace test_support
