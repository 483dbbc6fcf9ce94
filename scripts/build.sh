#!/usr/bin/env bash
# Builds mlptrain (Release, CMake + Ninja) into build/ via the "release" preset.
# Runs scripts/setup.sh first (skip with MLPTRAIN_SKIP_SETUP=1); configures only when build/
# has no finished configuration. Extra arguments go to `cmake --build` (e.g. --target mlptrain).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${MLPTRAIN_SKIP_SETUP:-0}" != 1 ]]; then
    scripts/setup.sh
fi

# A configure that failed half-way leaves a cache but no build.ninja: configure again then.
if [[ ! -f build/CMakeCache.txt || ! -f build/build.ninja ]]; then
    cmake --preset release
fi
# Ninja re-runs CMake by itself when a CMakeLists.txt or a globbed source list changes.
cmake --build --preset release --parallel "$(nproc)" "$@"

if [[ -x build/mlptrain ]]; then
    echo "build.sh: binary at $PWD/build/mlptrain"
fi
