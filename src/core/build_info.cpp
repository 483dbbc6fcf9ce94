// The build's record (see build_info.hpp). mlptrain_build_info.h is generated at every build
// by cmake/build_info.cmake; it changes, and this file recompiles, only when the commit does.
#include "mlptrain/core/build_info.hpp"

#include "mlptrain_build_info.h"

namespace mlptrain {

const BuildInfo& build_info() {
    static const BuildInfo info{MLPTRAIN_VERSION, MLPTRAIN_GIT_COMMIT, MLPTRAIN_COMPILER, MLPTRAIN_CXX_FLAGS,
                                MLPTRAIN_BUILD_TYPE};
    return info;
}

}  // namespace mlptrain
