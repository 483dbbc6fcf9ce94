// The installed package: `cmake --install` puts the binary, the library, its headers and a
// CMake package under a prefix; a project of its own (tests/consumer/) finds it with
// find_package(mlptrain CONFIG), builds, trains on iris through the library API, and ends
// with the weights fingerprint that the command line prints for the same settings.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "test_support.hpp"

using test_support::CommandResult;
using test_support::contains;
using test_support::q;
using test_support::run_shell;
using test_support::TempDir;

namespace {

CommandResult checked(const std::string& command) {
    const CommandResult r = run_shell(command);
    INFO("command: ", command);
    INFO("stdout: ", r.out);
    INFO("stderr: ", r.err);
    REQUIRE(r.exit_status == 0);
    return r;
}

}  // namespace

// A consumer project builds against the installed package, and its run of the API prints the
// same fingerprint as `mlptrain train` with the same settings (the defaults, 30 epochs).
TEST_CASE("a project using the installed package trains like the command line") {
    const TempDir dir;
    const std::string prefix = dir.path() + "/prefix";
    checked("cmake --install " + q(MLPTRAIN_BINARY_DIR) + " --prefix " + q(prefix));
    for (const char* installed : {"bin/mlptrain", "include/mlptrain/mlptrain.hpp", "include/mlptrain/run/fit.hpp"})
        CHECK(std::filesystem::exists(prefix + "/" + installed));

    const std::string build = dir.path() + "/consumer";
    checked("cmake -S " + q(std::string(MLPTRAIN_SOURCE_DIR) + "/tests/consumer") + " -B " + q(build) +
            " -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + q(prefix));
    checked("cmake --build " + q(build));

    const std::string iris = test_support::data_path("iris.csv");
    const CommandResult api = checked(q(build + "/train_iris") + " " + q(iris) + " " + q(dir.path() + "/api-ckpt"));
    CHECK(contains(api.out, "checkpoint at step "));
    const CommandResult cli = checked(q(prefix + "/bin/mlptrain") + " train --data " + q(iris) +
                                      " --epochs 30 --checkpoint-dir " + q(dir.path() + "/cli-ckpt"));
    const std::string fingerprint = test_support::fingerprint_of(cli.out);
    CHECK(fingerprint.size() == 16);
    CHECK(test_support::fingerprint_of(api.out) == fingerprint);
}
