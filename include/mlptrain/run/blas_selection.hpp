// The BLAS core a process runs, chosen once at start-up: what OpenBLAS chose, the decision
// (core/blas_core.hpp), the ranks' agreement on one core, the run-time switch
// (core/blas.hpp) and the sgemm self-test (core/blas_self_test.hpp), which refuses a core
// that computes wrong results. fit(), evaluate() and predict() select it themselves; the
// command line does so first for bench and to honour --blas-core.
#pragma once

#include <string>

#include "mlptrain/core/blas_core.hpp"
#include "mlptrain/engine/communicator.hpp"

namespace mlptrain {

struct BlasSelection {
    std::string core;             // the core that runs: what openblas_get_corename() says now
    std::string reason;           // why, one line (field references marked, see field_ref)
    std::string note;             // "" or one line for the user (likewise)
    std::string openblas_choice;  // what OpenBLAS had chosen before mlptrain changed anything
    bool switched = false;        // core differs from OpenBLAS's choice
    int self_test_calls = 0;      // sgemm calls the self-test checked
    double self_test_ms = 0.0;      // wall time
    double self_test_cpu_ms = 0.0;  // CPU time (wall time on a shared machine includes waiting)
    double total_ms = 0.0;        // detection, decision, agreement, switch and self-test
};

// Selects, switches and verifies, every time it is called (the tests' entry point). With a
// communicator of several ranks every rank must call it: the ranks then run one core.
// Not thread-safe: no other thread may be inside BLAS. Throws ConfigError (blas_core) or
// Error for a core this CPU or this OpenBLAS cannot run, NumericError (exit status 3) when
// no acceptable core passes the self-test.
//
// Test seams, read from the environment (for tests only):
//   MLPTRAIN_TEST_OPENBLAS_CHOSE=NAME  first really switch OpenBLAS to NAME and take that as
//       its own choice with OPENBLAS_CORETYPE unset: "OpenBLAS did not know this CPU and
//       chose a generic core", end to end.
//   MLPTRAIN_TEST_BLAS_CORRUPT=NAME    the self-test corrupts one result while NAME runs.
BlasSelection select_blas_core(const BlasCoreOption& option, Communicator* comm = nullptr);

// The process's selection: the first call selects (as select_blas_core); later calls return
// that selection. A later call that names another core than the first is a ConfigError:
// one process runs one core. Thread-safe.
const BlasSelection& process_blas_core(const BlasCoreOption& option = {}, Communicator* comm = nullptr);

}  // namespace mlptrain
