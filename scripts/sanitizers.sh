#!/usr/bin/env bash
# The test suite under a sanitizer, in its own build directory (the CMake presets):
#   scripts/sanitizers.sh asan   every test (but the Slurm ones) under AddressSanitizer +
#                                UBSan (preset asan, build-asan/, Debug): ~5-10 min on 2 cores
#   scripts/sanitizers.sh tsan   the engine's tests (trainer, threads, resume, MPI, the
#                                cross-core round trip) under
#                                ThreadSanitizer (preset tsan, build-tsan/): ~5-10 min on 2 cores
# Any sanitizer report fails the test it occurs in (abort_on_error / halt_on_error, set by the
# test presets); tests/lsan.supp and tests/tsan.supp hold the third-party suppressions.
# Extra arguments go to ctest (e.g. -R test_trainer). Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
kind=${1:-}
shift || true
jobs=$(nproc)
case "$kind" in
    asan)
        [[ -f build-asan/build.ninja ]] || cmake --preset asan >/dev/null
        cmake --build build-asan --parallel "$jobs"
        ctest --preset asan -j "$jobs" -LE slurm "$@"
        ;;
    tsan)
        # Only what the TSan tests run is built: the binary (test_resume runs it) and the six tests.
        [[ -f build-tsan/build.ninja ]] || cmake --preset tsan >/dev/null
        targets=(mlptrain test_trainer test_threads test_resume test_core_latency test_shard_team)
        grep -q "build test_mpi:" build-tsan/build.ninja && targets+=(test_mpi)
        cmake --build build-tsan --parallel "$jobs" --target "${targets[@]}"
        ctest --preset tsan -j "$jobs" "$@"
        ;;
    *)
        echo "usage: scripts/sanitizers.sh asan|tsan [ctest arguments]" >&2
        exit 2
        ;;
esac
echo "sanitizers.sh $kind: passed in ${SECONDS} s"
