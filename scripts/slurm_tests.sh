#!/usr/bin/env bash
# The job scripts (scripts/slurm/*.sbatch) on a real Slurm: installs the slurm package group
# (scripts/setup.sh --with slurm), builds mlptrain, and runs the slurm-labelled tests
# (`ctest -L slurm`, tests/slurm/). They start a private one-node cluster, submit the scripts
# with sbatch, and stop the cluster after the last scenario, also after a failure; nothing
# stays running. They need root (the cluster runs as root); where Slurm cannot be installed
# or this is not root, they report themselves skipped with the reason. Extra arguments go to
# ctest (e.g. -R slurm_preempt). Takes a few minutes; scripts/test.sh is the quick suite.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each passed scenario adds its job ids, restart counts and fingerprints to this file.
MLPTRAIN_SLURM_SUMMARY=$(mktemp "${TMPDIR:-/tmp}/mlptrain-slurm-summary.XXXXXX")
export MLPTRAIN_SLURM_SUMMARY

report() {
    local status=$?
    if [[ -s "$MLPTRAIN_SLURM_SUMMARY" ]]; then
        echo "slurm_tests.sh: scenario, seconds, jobs:"
        cat "$MLPTRAIN_SLURM_SUMMARY"
    fi
    rm -f "$MLPTRAIN_SLURM_SUMMARY"
    if [[ $status -eq 0 ]]; then
        echo "slurm_tests.sh: passed in ${SECONDS} s"
    else
        echo "slurm_tests.sh: FAILED (exit status $status) after ${SECONDS} s" >&2
    fi
}
trap report EXIT

scripts/build.sh
if ! scripts/setup.sh --with slurm; then
    echo "slurm_tests.sh: could not install Slurm (scripts/setup.sh --with slurm); the slurm tests will skip" >&2
fi
# One at a time: the scenarios share one cluster (RESOURCE_LOCK), and their timing checks
# (a time-limit signal, a requeue) should not compete with other tests for the CPUs.
ctest --test-dir build --output-on-failure --no-tests=error -L slurm "$@"
