// Implementation of the shared test helpers (see test_support.hpp).
#include "test_support.hpp"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>

namespace test_support {

std::string binary_path() { return MLPTRAIN_BINARY; }

std::string data_path(const std::string& file) {
    return std::string(MLPTRAIN_SOURCE_DIR) + "/data/" + file;
}

static std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

CommandResult run_cli(const std::string& args) { return run_shell("'" + binary_path() + "' " + args); }

CommandResult run_shell(const std::string& command_line) {
    TempDir dir;
    const std::string out_path = dir.path() + "/stdout";
    const std::string err_path = dir.path() + "/stderr";
    const std::string command =
        "( " + command_line + " ) >'" + out_path + "' 2>'" + err_path + "' </dev/null";
    const int status = std::system(command.c_str());
    CommandResult result;
    if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
    else if (status != -1 && WIFSIGNALED(status)) result.exit_status = 128 + WTERMSIG(status);
    result.out = read_all(out_path);
    result.err = read_all(err_path);
    return result;
}

std::string fingerprint_of(const std::string& out) {
    static int missing = 0;
    const std::string label = "weights fingerprint: ";
    const std::size_t at = out.find(label);
    if (at != std::string::npos && out.size() >= at + label.size() + 16) {
        const std::string hex = out.substr(at + label.size(), 16);
        if (hex.find_first_not_of("0123456789abcdef") == std::string::npos) return hex;
    }
    return "(no fingerprint, run " + std::to_string(++missing) + ")";
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mlptrain-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write_file(const std::string& name, const std::string& contents) const {
    const std::string path = path_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << contents;
    return path;
}

std::map<int, long> thread_cpu_ticks() {
    std::map<int, long> ticks;
    if (DIR* dir = opendir("/proc/self/task")) {
        while (dirent* entry = readdir(dir)) {
            if (entry->d_name[0] == '.') continue;
            std::ifstream stat(std::string("/proc/self/task/") + entry->d_name + "/stat");
            std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
            std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "(comm) "
            std::string field;
            long utime = 0, stime = 0;
            for (int i = 3; fields >> field; ++i) {  // field 3 is the state
                if (i == 14) utime = std::stol(field);
                if (i == 15) { stime = std::stol(field); break; }
            }
            ticks[std::stoi(entry->d_name)] = utime + stime;
        }
        closedir(dir);
    }
    return ticks;
}

}  // namespace test_support
