// What this build of mlptrain is: version, git commit, compiler and flags. Part of the
// environment record of a benchmark figure (mlptrain bench --json), so that a reader can
// reproduce it or see why it differs.
#pragma once

#include <string>

namespace mlptrain {

struct BuildInfo {
    std::string version;     // "0.1.0"
    std::string git_commit;  // 40 hex digits, "-dirty" appended when tracked files differed; "unknown"
    std::string compiler;    // "GNU 12.2.0"
    std::string flags;       // "-O3 -DNDEBUG -Wall -Wextra -ffp-contract=off"
    std::string build_type;  // "Release"
};

const BuildInfo& build_info();

}  // namespace mlptrain
