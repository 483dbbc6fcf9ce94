#!/usr/bin/env bash
# Builds mlptrain (scripts/build.sh) and runs the quick test suite with CTest in parallel:
# every test but the job scripts' on a real Slurm (label slurm, scripts/slurm_tests.sh).
# Extra arguments go to ctest (e.g. -R test_rng). Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

report() {
    local status=$?
    if [[ $status -eq 0 ]]; then
        echo "test.sh: passed in ${SECONDS} s"
    else
        echo "test.sh: FAILED (exit status $status) after ${SECONDS} s" >&2
    fi
}
trap report EXIT

scripts/build.sh
# --no-tests=error: a build that registered no tests is a failure, not a pass. The job
# scripts' tests on a real Slurm (label slurm) are scripts/slurm_tests.sh's, not the quick suite's.
ctest --test-dir build --output-on-failure --no-tests=error -j "$(nproc)" -LE slurm "$@"
