#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, the `fuzz` preset: clang, ASan + UBSan) and runs
# each for SECONDS (default 60), FUZZ_JOBS targets at a time (default: the CPU count), on a
# scratch corpus seeded from tests/fuzz/corpus/<target>/. Fails on any finding: a crash, a
# sanitizer report, an uncaught exception, a leak, an input slower than 30 s (a hang;
# FUZZ_TIMEOUT) or one needing more than 2 GB. Each target runs with its dictionary (tests/fuzz/<target>.dict). Reproducers land in build-fuzz/findings/; rerun one with
#   build-fuzz/<target> build-fuzz/findings/<target>-crash-...
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=()
    for source in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi

if [[ ! -f build-fuzz/build.ninja ]]; then
    cmake --preset fuzz >/dev/null
fi
cmake --build build-fuzz --parallel "$(nproc)" --target "${targets[@]}"

mkdir -p build-fuzz/findings build-fuzz/logs
run_one() {
    local target=$1 seconds=$2
    local scratch=build-fuzz/corpus/$target
    mkdir -p "$scratch"
    # A dictionary of the format's tokens, where there is one (tests/fuzz/<target>.dict).
    local dict=()
    [[ -f tests/fuzz/$target.dict ]] && dict=(-dict="tests/fuzz/$target.dict")
    # -timeout: an input running longer than FUZZ_TIMEOUT s (default 30) is a hang. It is
    # wall time: on a loaded machine a niced fuzzer was once stalled past 10 s on an input
    # that runs in 8 ms (tests/fuzz/corpus/fuzz_cli/regression-timeout-on-loaded-machine),
    # and a real hang never ends. -rss_limit_mb also caps single allocations
    # (malloc_limit_mb defaults to it); leaks are checked after each input.
    if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "build-fuzz/$target" "$scratch" "tests/fuzz/corpus/$target" \
           -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-30}" -rss_limit_mb=2048 -detect_leaks=1 \
           -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$target-" "${dict[@]}" \
           >"build-fuzz/logs/$target.log" 2>&1; then
        echo "fuzz.sh: $target: ok"
    else
        echo "fuzz.sh: $target: FINDING (log: build-fuzz/logs/$target.log)" >&2
        grep -E "ERROR: |SUMMARY: |Test unit written to" "build-fuzz/logs/$target.log" | head -5 >&2
        return 1
    fi
}
export -f run_one
status=0
printf '%s\n' "${targets[@]}" |
    xargs -P "${FUZZ_JOBS:-$(nproc)}" -I{} bash -c "run_one {} $seconds" || status=1

# Executions per second and coverage (cov: edges, ft: features) each target reached.
printf '%-18s %12s %10s %8s %8s %7s\n' target executions exec/s cov ft corpus
for target in "${targets[@]}"; do
    log=build-fuzz/logs/$target.log
    last=$(grep -E "^#[0-9]+.*cov: " "$log" | tail -1 || true)
    printf '%-18s %12s %10s %8s %8s %7s\n' "$target" \
        "$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")" \
        "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")" \
        "$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")" \
        "$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")" \
        "$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")"
done
exit $status
