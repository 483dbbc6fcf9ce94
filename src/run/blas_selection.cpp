// The start-up choice of the BLAS core (see blas_selection.hpp).
#include "mlptrain/run/blas_selection.hpp"

#include <strings.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/blas_self_test.hpp"
#include "mlptrain/core/error.hpp"

namespace mlptrain {
namespace {

// A set, non-empty variable (OpenBLAS takes "" as a request too, but nobody sets that on purpose).
std::optional<std::string> get_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
}

bool same_core(const std::string& a, const std::string& b) {
    return a.size() == b.size() && strncasecmp(a.c_str(), b.c_str(), a.size()) == 0;
}

// What OpenBLAS chose, and the OPENBLAS_CORETYPE value that brings that choice back ("" =
// its own detection). The seam MLPTRAIN_TEST_OPENBLAS_CHOSE replaces the choice for real.
struct Start {
    BlasLibraryState library;
    std::string restore;
};

Start read_library_state() {
    Start s;
    s.library.can_switch = blas_can_switch_core();
    s.library.env_coretype = get_env("OPENBLAS_CORETYPE");
    if (s.library.env_coretype) s.restore = *s.library.env_coretype;
    if (const auto simulated = get_env("MLPTRAIN_TEST_OPENBLAS_CHOSE")) {
        switch_blas_core(*simulated);
        s.library.env_coretype.reset();
        s.restore = *simulated;
    }
    s.library.chosen_core = blas_core_name();
    return s;
}

// Every rank must run the same core: cores differ in their bits (SkylakeX and Cooperlake
// block k differently), and the ranks' gradients are summed as one process's would be. When
// the ranks decided differently (nodes of different CPU types), they take rank 0's core if
// every rank can run it, else the widest generic core that every rank can run.
void agree_across_ranks(BlasCoreDecision& d, const CpuFeatures& cpu, const BlasLibraryState& library,
                        Communicator& comm) {
    const std::vector<BlasCore>& cores = blas_cores();
    const BlasCore* mine = find_blas_core(d.core);
    float index = mine ? static_cast<float>(mine - cores.data()) : -1.0f;
    if (comm.first_disagreeing_rank(static_cast<std::uint64_t>(index + 1.0f)) < 0) return;
    comm.broadcast(&index, 1, 0);  // rank 0's core for everyone
    const float rank0 = index;
    std::vector<const BlasCore*> candidates;
    if (rank0 >= 0) candidates.push_back(&cores[static_cast<std::size_t>(rank0)]);
    for (const char* generic : {"SkylakeX", "Haswell", "Sandybridge", "Prescott"}) candidates.push_back(find_blas_core(generic));
    for (const BlasCore* core : candidates) {
        const bool here = cpu_runs_core(cpu, *core) && (library.can_switch || same_core(library.chosen_core, core->name));
        if (comm.max_over_ranks(here ? 0 : 1) != 0) continue;
        d.reason = "the ranks decided on different cores (this one on " + d.core + "); every rank runs " + core->name;
        d.core = core->name;
        d.switch_needed = !same_core(library.chosen_core, core->name);
        return;
    }
    throw Error(describe("the ranks' BLAS cores", "one core that every rank's CPU can run", "none",
                         "run the job on nodes of one CPU type, or pass " + field_ref("blas_core") + " NAME"));
}

// Switches to the decided core and checks that OpenBLAS took it. A named core that does not
// take is an error; an automatic choice falls back to OpenBLAS's own, with a note.
void apply_switch(const BlasCoreDecision& d, const Start& start, const BlasCoreOption& option, BlasSelection& s) {
    if (!d.switch_needed) return;
    const std::string now = switch_blas_core(d.core);
    s.switched = true;
    if (same_core(now, d.core)) return;
    switch_blas_core(start.restore);
    s.switched = false;
    if (option.mode == BlasCoreOption::Mode::named)
        throw ConfigError("blas_core", "a core this OpenBLAS has", d.core + " (OpenBLAS ran " + now + " instead)",
                          "choose another core, or " + field_ref("blas_core") + " auto");
    s.reason = "OpenBLAS's own choice (it did not take core " + d.core + ")";
    s.note = "OpenBLAS did not switch to " + d.core + " (it ran " + now + "); running its own choice " +
             start.library.chosen_core;
}

// The self-test of the core that runs; MLPTRAIN_TEST_BLAS_CORRUPT corrupts one result
// while the core it names runs.
BlasSelfTestResult test_current(BlasSelection& s) {
    const auto corrupt = get_env("MLPTRAIN_TEST_BLAS_CORRUPT");
    const BlasSelfTestResult r = run_blas_self_test(corrupt && same_core(*corrupt, blas_core_name()));
    s.self_test_calls += r.calls;
    s.self_test_ms += r.milliseconds;
    s.self_test_cpu_ms += r.cpu_milliseconds;
    return r;
}

// A switched core that fails is refused in favour of OpenBLAS's choice; a core that nobody
// switched to and that fails is an error (exit status 3): nothing would compute right.
void verify(const Start& start, const CpuFeatures& cpu, BlasSelection& s) {
    BlasSelfTestResult test = test_current(s);
    if (!test.passed && s.switched) {
        const std::string refused = blas_core_name();
        switch_blas_core(start.restore);
        s.switched = false;
        s.reason = "OpenBLAS's own choice; " + refused + " was refused by the sgemm self-test";
        s.note = "refused OpenBLAS core " + refused + ": its sgemm self-test failed (" + test.failure + "); running " +
                 blas_core_name() + " instead";
        test = test_current(s);
    }
    if (!test.passed)
        throw NumericError("OpenBLAS core " + blas_core_name() + " failed the sgemm self-test: " + test.failure +
                           " (hint: " + field_ref("blas_core") + " with another core, e.g. " + best_blas_core(cpu).name +
                           " or Prescott)");
}

}  // namespace

BlasSelection select_blas_core(const BlasCoreOption& option, Communicator* comm) {
    const auto start_time = std::chrono::steady_clock::now();
    const CpuFeatures cpu = detect_cpu_features();
    const Start start = read_library_state();
    BlasCoreDecision decision = decide_blas_core(cpu, start.library, option);
    if (comm && comm->size() > 1) agree_across_ranks(decision, cpu, start.library, *comm);
    BlasSelection s;
    s.openblas_choice = start.library.chosen_core;
    s.reason = decision.reason;
    s.note = decision.note;
    apply_switch(decision, start, option, s);
    verify(start, cpu, s);
    s.core = blas_core_name();
    if (comm && comm->size() > 1) {
        const BlasCore* core = find_blas_core(s.core);
        const int rank = comm->first_disagreeing_rank(core ? static_cast<std::uint64_t>(core - blas_cores().data()) : 999);
        if (rank >= 0)
            throw Error(describe("the BLAS core of rank " + std::to_string(rank), "rank 0's core " + s.core,
                                 "another one after the self-test", "pass " + field_ref("blas_core") + " NAME"));
    }
    s.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_time).count();
    return s;
}

const BlasSelection& process_blas_core(const BlasCoreOption& option, Communicator* comm) {
    static std::mutex mutex;
    static std::optional<BlasSelection> selection;
    static BlasCoreOption first;
    const std::lock_guard<std::mutex> lock(mutex);
    if (!selection) {
        selection = select_blas_core(option, comm);
        first = option;
    } else if (option.mode != BlasCoreOption::Mode::automatic && option != first) {
        throw ConfigError("blas_core", "the core this process already selected (" + selection->core + ", by " +
                                           blas_core_option_name(first) + ")",
                          blas_core_option_name(option), "one process runs one BLAS core");
    }
    return *selection;
}

}  // namespace mlptrain
